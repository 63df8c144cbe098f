/**
 * TABLE_MAP_EVENT (19): which table the following rows events change, and its column types.
 *
 *   post-header: table_id u48 (u32 when the post-header is 6 bytes) | flags u16
 *   body: schema_len u8 | schema | 0x00 | table_len u8 | table | 0x00 |
 *         column_count lenenc | column_type u8[column_count] |
 *         metadata_len lenenc | metadata (per type, see column-types.ts) |
 *         null_bitmap ((column_count + 7) / 8 bytes, bit i = column i nullable) |
 *         optional metadata: (field_type u8 | length lenenc | value)*     MySQL 8 / MariaDB 10.5+
 *
 * Optional metadata (written with binlog_row_metadata=MINIMAL or FULL) carries what the
 * column types alone do not: signedness, charsets, and under FULL column names, ENUM/SET
 * values and the primary key. Each field describes only the columns of one category (numeric
 * columns for signedness, character columns for charsets…), in column order; see `categories`.
 *
 * A table map is sent before every group of rows events, usually with the same bytes as the
 * last time: `TableMapCache` keeps the decoded form and re-decodes only when the bytes change.
 */
import { ByteReader } from "./byte-reader.js";
import { BinlogFormatError } from "./errors.js";
import { MysqlType, readColumnMetadata } from "../column-types.js";

export interface TableColumn {
  /** Real column type (ENUM/SET resolved from STRING), as column-types.ts `MysqlType`. */
  type: number;
  /** Type metadata, as column-types.ts `ColumnMetadata.meta` explains. */
  meta: number;
  /** The type byte as written in the event (STRING for ENUM/SET and CHAR). */
  binlogType: number;
  nullable: boolean;
  /** From optional metadata; undefined when the server did not write it. */
  name?: string;
  /** Numeric columns only. */
  unsigned?: boolean;
  /** Collation id of a character, ENUM or SET column (63 = binary). */
  collation?: number;
  /** ENUM or SET member strings, in definition order. */
  values?: string[];
  /** GEOMETRY subtype (0 geometry, 1 point, 2 linestring, 3 polygon…). */
  geometryType?: number;
  /** Position within the primary key (0-based), if the column is part of it. */
  primaryKeyIndex?: number;
  /** Prefix length of the key part, when the key indexes only a prefix (0 = whole column). */
  primaryKeyPrefix?: number;
  /** MySQL 8.0.23+ invisible columns. */
  visible?: boolean;
}

export interface TableMap {
  tableId: number;
  flags: number;
  schema: string;
  table: string;
  columns: TableColumn[];
  /** True when the server wrote column names (binlog_row_metadata=FULL). */
  hasFullMetadata: boolean;
}

/** Optional metadata field types. */
const Field = {
  SIGNEDNESS: 1,
  DEFAULT_CHARSET: 2,
  COLUMN_CHARSET: 3,
  COLUMN_NAME: 4,
  SET_STR_VALUE: 5,
  ENUM_STR_VALUE: 6,
  GEOMETRY_TYPE: 7,
  SIMPLE_PRIMARY_KEY: 8,
  PRIMARY_KEY_WITH_PREFIX: 9,
  ENUM_AND_SET_DEFAULT_CHARSET: 10,
  ENUM_AND_SET_COLUMN_CHARSET: 11,
  COLUMN_VISIBILITY: 12,
} as const;

/**
 * Which columns an optional-metadata list covers, by real type. Checked against MariaDB 10.11:
 * YEAR counts as numeric (always flagged unsigned), and GEOMETRY is in the charset lists too
 * (with the binary collation) as well as in its own list. MySQL leaves GEOMETRY out of the
 * charset lists.
 */
interface Categories {
  numeric(c: TableColumn): boolean;
  character(c: TableColumn): boolean;
  enumOrSet(c: TableColumn): boolean;
  geometry(c: TableColumn): boolean;
}

const NUMERIC_TYPES = new Set<number>([
  MysqlType.TINY,
  MysqlType.SHORT,
  MysqlType.INT24,
  MysqlType.LONG,
  MysqlType.LONGLONG,
  MysqlType.FLOAT,
  MysqlType.DOUBLE,
  MysqlType.NEWDECIMAL,
  MysqlType.YEAR,
]);
const CHARACTER_TYPES = new Set<number>([
  MysqlType.STRING,
  MysqlType.VAR_STRING,
  MysqlType.VARCHAR,
  MysqlType.BLOB,
  MysqlType.TINY_BLOB,
  MysqlType.MEDIUM_BLOB,
  MysqlType.LONG_BLOB,
]);

function categories(mariadb: boolean): Categories {
  return {
    numeric: (c) => NUMERIC_TYPES.has(c.type),
    character: (c) => CHARACTER_TYPES.has(c.type) || (mariadb && c.type === MysqlType.GEOMETRY),
    enumOrSet: (c) => c.type === MysqlType.ENUM || c.type === MysqlType.SET,
    geometry: (c) => c.type === MysqlType.GEOMETRY,
  };
}

/** DEFAULT_CHARSET-style field: default collation, then (column index within the list, collation) pairs. */
function readDefaultCharset(r: ByteReader, targets: TableColumn[]): void {
  const defaultCollation = r.lenenc();
  for (const c of targets) c.collation = defaultCollation;
  while (r.remaining > 0) {
    const index = r.lenenc();
    const collation = r.lenenc();
    const target = targets[index];
    if (target === undefined) throw new BinlogFormatError(`table map charset names column ${index} of ${targets.length}`);
    target.collation = collation;
  }
}

/** One value per column of the list; a field longer than the list is an error, not ignored. */
function forEachTarget(r: ByteReader, targets: TableColumn[], read: (c: TableColumn) => void): void {
  for (const c of targets) {
    if (r.remaining === 0) return;
    read(c);
  }
  if (r.remaining > 0) throw new BinlogFormatError(`table map optional metadata has ${r.remaining} bytes past its ${targets.length} columns`);
}

function readStringList(r: ByteReader): string[] {
  const values: string[] = [];
  for (let n = r.lenenc(); n > 0; n--) values.push(r.lenencString());
  return values;
}

function readOptionalMetadata(r: ByteReader, columns: TableColumn[], mariadb: boolean): boolean {
  const is = categories(mariadb);
  let hasNames = false;
  while (r.remaining > 0) {
    const field = r.u8();
    const length = r.lenenc();
    const fieldStart = r.take(length);
    const f = new ByteReader(r.buf, fieldStart, fieldStart + length);
    switch (field) {
      case Field.SIGNEDNESS: {
        const numeric = columns.filter(is.numeric);
        numeric.forEach((c, i) => (c.unsigned = (f.buf[f.pos + (i >> 3)]! & (0x80 >> (i & 7))) !== 0));
        break;
      }
      case Field.DEFAULT_CHARSET:
        readDefaultCharset(f, columns.filter(is.character));
        break;
      case Field.COLUMN_CHARSET:
        forEachTarget(f, columns.filter(is.character), (c) => (c.collation = f.lenenc()));
        break;
      case Field.ENUM_AND_SET_DEFAULT_CHARSET:
        readDefaultCharset(f, columns.filter(is.enumOrSet));
        break;
      case Field.ENUM_AND_SET_COLUMN_CHARSET:
        forEachTarget(f, columns.filter(is.enumOrSet), (c) => (c.collation = f.lenenc()));
        break;
      case Field.COLUMN_NAME:
        forEachTarget(f, columns, (c) => (c.name = f.lenencString()));
        hasNames = true;
        break;
      case Field.SET_STR_VALUE:
        forEachTarget(f, columns.filter((c) => c.type === MysqlType.SET), (c) => (c.values = readStringList(f)));
        break;
      case Field.ENUM_STR_VALUE:
        forEachTarget(f, columns.filter((c) => c.type === MysqlType.ENUM), (c) => (c.values = readStringList(f)));
        break;
      case Field.GEOMETRY_TYPE:
        forEachTarget(f, columns.filter(is.geometry), (c) => (c.geometryType = f.lenenc()));
        break;
      case Field.SIMPLE_PRIMARY_KEY:
      case Field.PRIMARY_KEY_WITH_PREFIX:
        for (let k = 0; f.remaining > 0; k++) {
          const column = columns[f.lenenc()];
          if (column === undefined) throw new BinlogFormatError("table map primary key names a column past the last");
          column.primaryKeyIndex = k;
          column.primaryKeyPrefix = field === Field.PRIMARY_KEY_WITH_PREFIX ? f.lenenc() : 0;
        }
        break;
      case Field.COLUMN_VISIBILITY:
        columns.forEach((c, i) => (c.visible = (f.buf[f.pos + (i >> 3)]! & (0x80 >> (i & 7))) !== 0));
        break;
      default:
        break; // a field from a newer server: its length let us step over it
    }
  }
  return hasNames;
}

/**
 * Decodes the body [start, end) of a table map event. `postHeaderLength` is 6 or 8; `mariadb`
 * selects MariaDB's column lists for the optional metadata (see `categories`).
 */
export function decodeTableMap(buf: Buffer, start: number, end: number, postHeaderLength = 8, mariadb = true): TableMap {
  const r = new ByteReader(buf, start, end);
  const tableIdBytes = postHeaderLength === 6 ? 4 : 6;
  const tableId = r.uint(tableIdBytes);
  const flags = r.u16();
  r.skip(postHeaderLength - tableIdBytes - 2);
  const schema = r.string(r.u8());
  r.skip(1);
  const table = r.string(r.u8());
  r.skip(1);
  const columnCount = r.lenenc();
  const binlogTypes = r.bytes(columnCount);
  const metaLength = r.lenenc();
  const metaStart = r.take(metaLength);
  const described = readColumnMetadata(binlogTypes, buf, metaStart, metaStart + metaLength);
  const nullBitmap = r.take((columnCount + 7) >> 3);
  const columns = described.map(
    (d, i): TableColumn => ({
      type: d.type,
      meta: d.meta,
      binlogType: binlogTypes[i]!,
      nullable: (buf[nullBitmap + (i >> 3)]! & (1 << (i & 7))) !== 0,
    }),
  );
  const hasFullMetadata = readOptionalMetadata(r, columns, mariadb);
  return {
    tableId,
    flags,
    schema,
    table,
    columns,
    hasFullMetadata,
  };
}

/**
 * Decoded table maps by table id. A table map whose bytes equal the previous one for its id
 * is not decoded again (the common case: one per transaction, unchanged between DDLs).
 */
export class TableMapCache {
  private readonly byId = new Map<number, { bytes: Buffer; map: TableMap }>();

  /** Decodes (or reuses) the table map in body [start, end) and remembers it under its id. */
  update(buf: Buffer, start: number, end: number, postHeaderLength = 8, mariadb = true): TableMap {
    const tableId = postHeaderLength === 6 ? buf.readUInt32LE(start) : buf.readUIntLE(start, 6);
    const known = this.byId.get(tableId);
    if (known !== undefined && known.bytes.equals(buf.subarray(start, end))) return known.map;
    const map = decodeTableMap(buf, start, end, postHeaderLength, mariadb);
    this.byId.set(tableId, { bytes: Buffer.from(buf.subarray(start, end)), map });
    return map;
  }

  get(tableId: number): TableMap | undefined {
    return this.byId.get(tableId)?.map;
  }

  /**
   * Forgets every table. A rows event always follows its own table map within the same
   * transaction, so at a file boundary nothing is lost; it keeps the cache from growing with
   * every table id a long-running server hands out (ids change after DDL and FLUSH TABLES).
   */
  clear(): void {
    this.byId.clear();
  }
}
