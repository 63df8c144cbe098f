/**
 * Everything about a table that is the same for every row, worked out once per table map:
 * how to read each column, and the protobuf bytes of each Column's fixed fields.
 *
 * A Column is, in field order (proto2 presence, fact sheet §2.4):
 *   index=1 | sqlType=2 | name=3 | isKey=4 | updated=5 | isNull=6 | value=8 | mysqlType=10
 * Only sqlType (value-dependent for unsigned integers), updated, isNull and value change from
 * row to row, so a non-NULL column's bytes are `head(sqlType)` value `suffix`, with head =
 * index, sqlType, name, isKey, `28 00 30 00 42` (updated, isNull, the value's tag) and suffix =
 * mysqlType, and a NULL column's are all fixed but `updated`. All precomputed, so a column is
 * written with one or two copies instead of a copy or a store per field.
 */
import { CanalError } from "../../errors.js";
import { tag, varintSize, writeVarint } from "../varint.js";
import { type ViewedBytes, viewed } from "./byte-copy.js";
import type { TableMap } from "./events/table-map.js";
import { type ColumnDef, type ColumnReader, type ReaderOptions, columnDefFromMysqlType, planColumns, textLengthBytes } from "./row-values.js";

/** One column as the database describes it (information_schema / SHOW CREATE TABLE). */
export interface ColumnSchema {
  name: string;
  /** The type as SHOW CREATE TABLE prints it: `int(11)`, `varchar(64)`, `int(10) unsigned`. */
  mysqlType: string;
  /** Part of the primary key. */
  isKey: boolean;
}

/** A table's columns in ordinal order, as the database has them now. */
export interface TableSchema {
  columns: readonly ColumnSchema[];
}

/**
 * The caller's schema source. Called synchronously, once per table map, for tables the filter
 * accepts; it must already hold the table (read it when the table map arrives, and again
 * after DDL on it). Returning undefined makes the writer throw MissingTableSchemaError.
 */
export type SchemaLookup = (schema: string, table: string) => TableSchema | undefined;

/** The schema lookup has no entry for a table the binlog changes: fetch it and write the event again. */
export class MissingTableSchemaError extends CanalError {
  override name = "MissingTableSchemaError";
  constructor(
    readonly schema: string,
    readonly table: string,
  ) {
    super(`no schema for table ${schema}.${table}: read it from the database before its rows are written`, { retriable: true });
  }
}

const enc = new TextEncoder();

/** Where `updated` is in a head: `28 updated 30 00 42` ends it. */
export const HEAD_UPDATED_FROM_END = 4;

export class ColumnPlan {
  /** Column fields 1-6 and the value's tag, for the sqlType a non-null value usually has. */
  readonly valueHead: ViewedBytes;
  /** Column field 10 (mysqlType), or nothing. */
  readonly suffix: ViewedBytes;
  /** A NULL Column's fields, `updated` 0, and where `updated` is in them. */
  readonly nullColumn: ViewedBytes;
  readonly nullUpdatedAt: number;
  /**
   * Numbers the entry writer needs for every value, read here once instead of through
   * `valueHead.bytes.length` and the reader's kind per value: the lengths of the head and the
   * suffix, the width of a text value's length prefix (0: not text), and for other values
   * where in the Column the value starts when it is shorter than 128 bytes (nearly always).
   */
  readonly headLength: number;
  readonly suffixLength: number;
  readonly textLengthBytes: number;
  readonly shortValueAt: number;
  /** `valueHead` as little-endian 32-bit words (x86 stores them without byte swaps), an even number of them, padded with zeros. */
  readonly headWords: Uint32Array;
  private readonly nameAndKey: Uint8Array;
  private readonly otherHeads = new Map<number, ViewedBytes>();

  constructor(
    readonly index: number,
    readonly reader: ColumnReader,
    name: string | undefined,
    isKey: boolean | undefined,
    mysqlType: string | undefined,
    /** False when the field filter drops the column: it is read but makes no Column. */
    readonly kept: boolean,
  ) {
    const parts: Uint8Array[] = [];
    if (name !== undefined) parts.push(stringField(3, name));
    if (isKey !== undefined) parts.push(Uint8Array.of(tag(4, 0), isKey ? 1 : 0));
    this.nameAndKey = concat(parts);
    this.suffix = viewed(mysqlType === undefined ? new Uint8Array(0) : stringField(10, mysqlType));
    this.valueHead = this.buildHead(reader.sqlType);
    const nullPrefix = this.buildPrefix(reader.nullSqlType);
    this.nullColumn = viewed(concat([nullPrefix, Uint8Array.of(tag(5, 0), 0, tag(6, 0), 1), this.suffix.bytes]));
    this.nullUpdatedAt = nullPrefix.length + 1;
    this.headLength = this.valueHead.bytes.length;
    this.suffixLength = this.suffix.bytes.length;
    this.textLengthBytes = textLengthBytes(reader);
    // tag, Column length, head, value length: one byte each of the lengths for a value of 1 byte.
    this.shortValueAt = 1 + varintSize(this.headLength + 2 + this.suffixLength) + this.headLength + 1;
    const padded = new Uint8Array((this.headLength + 7) & ~7);
    padded.set(this.valueHead.bytes);
    const words = new DataView(padded.buffer);
    this.headWords = Uint32Array.from({ length: padded.length >> 2 }, (_, w) => words.getUint32(4 * w, true));
  }

  /** The head for a value's sqlType: the precomputed one, bar unsigned promotion. */
  headFor(sqlType: number): ViewedBytes {
    if (sqlType === this.reader.sqlType) return this.valueHead;
    let head = this.otherHeads.get(sqlType);
    if (head === undefined) this.otherHeads.set(sqlType, (head = this.buildHead(sqlType)));
    return head;
  }

  private buildHead(sqlType: number): ViewedBytes {
    return viewed(concat([this.buildPrefix(sqlType), Uint8Array.of(tag(5, 0), 0, tag(6, 0), 0, tag(8, 2))]));
  }

  /** Fields 1-4. */
  private buildPrefix(sqlType: number): Uint8Array {
    const indexAndType = new Uint8Array(2 + varintSize(this.index) + varintSize(sqlType));
    indexAndType[0] = tag(1, 0);
    let p = writeVarint(indexAndType, 1, this.index);
    indexAndType[p++] = tag(2, 0);
    writeVarint(indexAndType, p, sqlType);
    return concat([indexAndType, this.nameAndKey]);
  }
}

export class TablePlan {
  readonly columns: ColumnPlan[];
  readonly readers: ColumnReader[];
  /** UTF-8 of the header's schemaName and tableName. */
  readonly schemaBytes: Uint8Array;
  readonly tableBytes: Uint8Array;

  /**
   * Column names, keys and mysqlType come from `schema` when given (Canal's TableMeta), else
   * names and keys from FULL binlog metadata with mysqlType unset, else none of them
   * (fact sheet §2.4). Signedness and binary-ness follow the same sources (Canal's rules).
   */
  constructor(
    readonly tableMap: TableMap,
    schema: TableSchema | undefined,
    options: ReaderOptions,
    /** Canal's field filter for the table: which columns make a Column (by name); default all. */
    keepColumn?: (name: string) => boolean,
  ) {
    const mapColumns = tableMap.columns;
    if (schema !== undefined && schema.columns.length < mapColumns.length) {
      throw new CanalError(
        `table ${tableMap.schema}.${tableMap.table}: the binlog has ${mapColumns.length} columns but its schema only ${schema.columns.length}; ` +
          "the schema is out of date",
      );
    }
    const defs = mapColumns.map((c, i): ColumnDef => {
      const known = schema?.columns[i];
      return known !== undefined ? columnDefFromMysqlType(c, known.mysqlType) : { type: c.type, meta: c.meta, unsigned: c.unsigned ?? false };
    });
    this.readers = planColumns(defs, options);
    this.columns = mapColumns.map((c, i) => {
      const known = schema?.columns[i];
      const [name, isKey, mysqlType] =
        known !== undefined ? [known.name, known.isKey, known.mysqlType]
        : tableMap.hasFullMetadata ? [c.name, c.primaryKeyIndex !== undefined, undefined]
        : [undefined, undefined, undefined];
      // Canal's needField: a column without a name never matches a keep list.
      const kept = keepColumn === undefined || (name !== undefined && keepColumn(name));
      return new ColumnPlan(i, this.readers[i]!, name, isKey, mysqlType, kept);
    });
    this.schemaBytes = enc.encode(tableMap.schema);
    this.tableBytes = enc.encode(tableMap.table);
  }
}

/** A length-delimited string field: tag, length, UTF-8. */
function stringField(field: number, text: string): Uint8Array {
  const bytes = enc.encode(text);
  const out = new Uint8Array(1 + varintSize(bytes.length) + bytes.length);
  out[0] = tag(field, 2);
  out.set(bytes, writeVarint(out, 1, bytes.length));
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let p = 0;
  for (const part of parts) {
    out.set(part, p);
    p += part.length;
  }
  return out;
}
