/**
 * Reads one column value of a row image and renders it as Canal's `Column.value` with its
 * `sqlType` (fact sheet §2.5, §11.9-12), as the UTF-8 bytes of that string.
 *
 * Everything that depends only on the table map (sizes, decimal layout, length-prefix width,
 * charset, null sqlType…) is worked out once in planColumn; renderColumnValue is then a switch
 * that writes into a caller-owned ValueBytes, so a row costs no allocation beyond the odd
 * intermediate string (floats, JSON). readColumnValue gives the same value as a JS string.
 *
 * Row-image value layouts not covered by the type modules:
 *   TINY/SHORT/INT24/LONG/LONGLONG  1/2/3/4/8 bytes LE two's complement (unsigned columns
 *                                   store the same bits)
 *   FLOAT/DOUBLE                    4/8 bytes LE IEEE 754
 *   BIT(n)                          (n+7)/8 bytes, big-endian
 *   STRING, VARCHAR                 length (1 byte, or 2 LE when the max length > 255), bytes
 *   BLOB, TEXT, GEOMETRY, JSON      length (1-4 bytes LE, count from metadata), bytes
 *   ENUM                            1 or 2 bytes LE: the 1-based member index
 *   SET                             1-8 bytes LE: bitmask of members
 */
import { CanalConfigError, CanalProtocolError } from "../../errors.js";
import { viewOf } from "./byte-copy.js";
import { type ColumnMetadata, MysqlType, SqlType } from "./column-types.js";
import { type DecimalLayout, decimalLayout, writeDecimal } from "./decimal.js";
import { int64ToString, uint64ToString } from "./int64.js";
import { javaFloatToString, writeJavaDouble } from "./java-format.js";
import { renderJsonBinary } from "./json-binary.js";
import {
  TimestampFormatter,
  fractionBytes,
  writeDate,
  writeDatetime,
  writeDatetime2,
  writeTime,
  writeTime2,
  writeTimestamp,
  writeTimestamp2,
  writeYear,
} from "./temporal.js";
import { ValueBytes } from "./value-bytes.js";

/** How character data is decoded: Canal's `connectionCharset`, for every text column. */
export type Charset = "utf8" | "latin1";

/** Maps a Canal `canal.instance.connectionCharset` value to a Charset. */
export function charsetFromName(name: string): Charset {
  switch (name.toUpperCase().replace(/[-_]/g, "")) {
    case "UTF8":
    case "UTF8MB4":
      return "utf8";
    case "ISO88591":
    case "LATIN1":
      return "latin1";
    default:
      throw new CanalConfigError(`connection charset ${JSON.stringify(name)}: expected UTF-8 (or UTF8MB4) or ISO-8859-1 (latin1)`);
  }
}

/** One column as the row decoder knows it: table-map type and metadata plus two flags. */
export interface ColumnDef extends ColumnMetadata {
  /** UNSIGNED integer column (from `mysqlType` or FULL binlog metadata). Default false. */
  unsigned?: boolean;
  /**
   * The bytes are binary data rather than characters: BINARY/VARBINARY and BLOB types (vs
   * CHAR/VARCHAR/TEXT). Binary values are rendered byte-for-char (ISO-8859-1) with sqlType
   * BLOB. Default: true for the BLOB types (Canal treats a BLOB as binary unless its
   * mysqlType is a TEXT type), false otherwise. Ignored by the other types.
   */
  binary?: boolean;
}

/**
 * Canal's own rules for the two flags from a column's DDL type (`mysqlType`, e.g.
 * "int(10) unsigned", "varbinary(16)", "mediumtext").
 */
export function columnDefFromMysqlType(column: ColumnMetadata, mysqlType: string): ColumnDef {
  const lower = mysqlType.toLowerCase();
  const text = lower === "tinytext" || lower === "text" || lower === "mediumtext" || lower === "longtext";
  return { ...column, unsigned: lower.includes("unsigned"), binary: isBlobType(column.type) ? !text : lower.includes("binary") };
}

export interface ReaderOptions {
  charset?: Charset;
  /** Zone for TIMESTAMP columns; default: the process's zone (Canal uses the JVM's). */
  timestamps?: TimestampFormatter;
}

/** Where readColumnValue puts its result; reuse one per decoder. */
export interface ColumnValue {
  value: string | null;
  sqlType: number;
}

export function createColumnValue(): ColumnValue {
  return { value: null, sqlType: SqlType.OTHER };
}

/** How to read one column; built once per table map by planColumn. */
export interface ColumnReader {
  readonly kind: Kind;
  /** sqlType of a NULL value (no unsigned promotion; binary types become BLOB/CLOB). */
  readonly nullSqlType: number;
  /** sqlType of a non-null value (integers may still be promoted per value). */
  readonly sqlType: number;
  /** Bytes of a fixed-size value, or of the length prefix of a variable-size one. */
  readonly size: number;
  readonly unsigned: boolean;
  /** Decoding of STRING/VARCHAR/BLOB bytes: the charset, or latin1 for binary data. */
  readonly encoding: Charset;
  /** fsp of TIME2/DATETIME2/TIMESTAMP2. */
  readonly fsp: number;
  readonly decimal: DecimalLayout | null;
  readonly timestamps: TimestampFormatter | null;
  /** The connection charset, for strings inside binary JSON. */
  readonly charset: Charset;
  /** The binlog type and metadata, for error messages and the BIT width. */
  readonly type: number;
  readonly meta: number;
}

const enum Kind {
  Tiny,
  Short,
  Int24,
  Long,
  LongLong,
  Float,
  Double,
  Decimal,
  Bit,
  Date,
  Datetime,
  Datetime2,
  Time,
  Time2,
  Timestamp,
  Timestamp2,
  Year,
  /** STRING and VARCHAR: 1- or 2-byte length, then bytes. */
  Chars,
  /** BLOB/TEXT and GEOMETRY: 1-4 byte length, then bytes. */
  Blob,
  Json,
  Enum,
  Set,
}

let defaultTimestamps: TimestampFormatter | undefined;

export function planColumns(columns: readonly ColumnDef[], options: ReaderOptions = {}): ColumnReader[] {
  return columns.map((c) => planColumn(c, options));
}

export function planColumn(column: ColumnDef, options: ReaderOptions = {}): ColumnReader {
  const { type, meta } = column;
  const charset = options.charset ?? "utf8";
  const binary = column.binary ?? isBlobType(type);
  let kind: Kind;
  let size: number;
  let sqlType: number;
  let nullSqlType: number | undefined;
  let fsp = 0;
  let decimal: DecimalLayout | null = null;
  let timestamps: TimestampFormatter | null = null;
  let encoding = charset;

  switch (type) {
    case MysqlType.TINY:
      [kind, size, sqlType] = [Kind.Tiny, 1, SqlType.TINYINT];
      break;
    case MysqlType.SHORT:
      [kind, size, sqlType] = [Kind.Short, 2, SqlType.SMALLINT];
      break;
    case MysqlType.INT24:
      [kind, size, sqlType] = [Kind.Int24, 3, SqlType.INTEGER];
      break;
    case MysqlType.LONG:
      [kind, size, sqlType] = [Kind.Long, 4, SqlType.INTEGER];
      break;
    case MysqlType.LONGLONG:
      [kind, size, sqlType] = [Kind.LongLong, 8, SqlType.BIGINT];
      break;
    case MysqlType.FLOAT:
      [kind, size, sqlType] = [Kind.Float, 4, SqlType.REAL];
      break;
    case MysqlType.DOUBLE:
      [kind, size, sqlType] = [Kind.Double, 8, SqlType.DOUBLE];
      break;
    case MysqlType.NEWDECIMAL:
      decimal = decimalLayout(meta >> 8, meta & 0xff);
      [kind, size, sqlType] = [Kind.Decimal, decimal.size, SqlType.DECIMAL];
      break;
    case MysqlType.BIT:
      if (meta < 1 || meta > 64) throw badMeta(column, "1..64 bits");
      [kind, size, sqlType] = [Kind.Bit, (meta + 7) >> 3, SqlType.BIT];
      break;
    case MysqlType.DATE:
      [kind, size, sqlType] = [Kind.Date, 3, SqlType.DATE];
      break;
    case MysqlType.DATETIME:
      [kind, size, sqlType] = [Kind.Datetime, 8, SqlType.TIMESTAMP];
      break;
    case MysqlType.TIME:
      [kind, size, sqlType] = [Kind.Time, 3, SqlType.TIME];
      break;
    case MysqlType.TIMESTAMP:
      [kind, size, sqlType] = [Kind.Timestamp, 4, SqlType.TIMESTAMP];
      timestamps = options.timestamps ?? (defaultTimestamps ??= new TimestampFormatter());
      break;
    case MysqlType.DATETIME2:
    case MysqlType.TIME2:
    case MysqlType.TIMESTAMP2:
      if (meta > 6) throw badMeta(column, "an fsp of 0..6");
      fsp = meta;
      if (type === MysqlType.DATETIME2) [kind, size, sqlType] = [Kind.Datetime2, 5, SqlType.TIMESTAMP];
      else if (type === MysqlType.TIME2) [kind, size, sqlType] = [Kind.Time2, 3, SqlType.TIME];
      else {
        [kind, size, sqlType] = [Kind.Timestamp2, 4, SqlType.TIMESTAMP];
        timestamps = options.timestamps ?? (defaultTimestamps ??= new TimestampFormatter());
      }
      size += fractionBytes(fsp);
      break;
    case MysqlType.YEAR:
      [kind, size, sqlType] = [Kind.Year, 1, SqlType.VARCHAR];
      break;
    case MysqlType.STRING:
    case MysqlType.VARCHAR:
    case MysqlType.VAR_STRING:
      [kind, size] = [Kind.Chars, meta > 255 ? 2 : 1];
      sqlType = binary ? SqlType.BLOB : type === MysqlType.STRING ? SqlType.CHAR : SqlType.VARCHAR;
      if (binary) encoding = "latin1";
      break;
    case MysqlType.BLOB:
    case MysqlType.TINY_BLOB:
    case MysqlType.MEDIUM_BLOB:
    case MysqlType.LONG_BLOB:
    case MysqlType.GEOMETRY:
      if (meta < 1 || meta > 4) throw badMeta(column, "a length prefix of 1..4 bytes");
      [kind, size] = [Kind.Blob, meta];
      // Text is CLOB in the connection charset; blobs and geometry are BLOB, byte per char.
      sqlType = binary || type === MysqlType.GEOMETRY ? SqlType.BLOB : SqlType.CLOB;
      if (sqlType === SqlType.BLOB) encoding = "latin1";
      break;
    case MysqlType.JSON:
      if (meta < 1 || meta > 4) throw badMeta(column, "a length prefix of 1..4 bytes");
      // NULL JSON is OTHER: Canal's NULL type mapping has no JSON entry.
      [kind, size, sqlType, nullSqlType] = [Kind.Json, meta, SqlType.VARCHAR, SqlType.OTHER];
      break;
    case MysqlType.ENUM:
      if (meta !== 1 && meta !== 2) throw badMeta(column, "a pack length of 1 or 2");
      [kind, size, sqlType] = [Kind.Enum, meta, SqlType.INTEGER];
      break;
    case MysqlType.SET:
      if (meta < 1 || meta > 8) throw badMeta(column, "a pack length of 1..8");
      // A NULL SET is BLOB: Canal maps it through BINARY.
      [kind, size, sqlType, nullSqlType] = [Kind.Set, meta, SqlType.BIT, SqlType.BLOB];
      break;
    default:
      // DECIMAL (old), NULL, NEWDATE and unknown codes never appear in a row image, and
      // without a size nothing after them could be read.
      throw new CanalProtocolError(`column type ${type} cannot be decoded from a row image`);
  }
  return {
    kind, nullSqlType: nullSqlType ?? sqlType, sqlType, size, unsigned: column.unsigned ?? false,
    encoding, fsp, decimal, timestamps, charset, type, meta,
  };
}

function isBlobType(type: number): boolean {
  return type === MysqlType.BLOB || type === MysqlType.TINY_BLOB || type === MysqlType.MEDIUM_BLOB || type === MysqlType.LONG_BLOB;
}

function badMeta(column: ColumnMetadata, expected: string): CanalProtocolError {
  return new CanalProtocolError(`column type ${column.type} has metadata ${column.meta}; expected ${expected}`);
}

/**
 * Renders the non-null value at `buf[offset]` (the row image ends at `end`) as UTF-8 bytes into
 * `out` (see ValueBytes), sets `out.sqlType`, and returns the offset after the value.
 */
export function renderColumnValue(reader: ColumnReader, buf: Buffer, offset: number, end: number, out: ValueBytes): number {
  let next = offset + reader.size;
  if (next > end) throw truncated(reader, reader.size, end - offset);
  out.sqlType = reader.sqlType;
  switch (reader.kind) {
    case Kind.Chars:
    case Kind.Blob:
    case Kind.Json: {
      const length = lengthPrefix(buf, offset, reader.size);
      if (next + length > end) throw truncated(reader, reader.size + length, end - offset);
      if (reader.kind === Kind.Json) {
        out.begin();
        out.utf8(renderJsonBinary(buf, next, next + length, reader.charset));
        out.finish();
      } else if (reader.encoding === "utf8") out.utf8Text(buf, next, next + length);
      else out.latin1(buf, next, next + length);
      return next + length;
    }
  }
  out.begin();
  // Numbers are read through a DataView, which TurboFan inlines: Buffer#readDoubleLE and
  // readInt32LE/readUInt32LE showed in the decode benchmark's profile as calls of their own.
  const view = viewOf(buf);
  switch (reader.kind) {
    case Kind.Tiny: {
      const v = view.getInt8(offset);
      if (reader.unsigned && v < 0) {
        out.digits(v + 0x100);
        out.sqlType = SqlType.SMALLINT;
      } else out.integer(v);
      break;
    }
    case Kind.Short: {
      const v = view.getInt16(offset, true);
      if (reader.unsigned && v < 0) {
        out.digits(v + 0x10000);
        out.sqlType = SqlType.INTEGER;
      } else out.integer(v);
      break;
    }
    case Kind.Int24: {
      const v = buf.readIntLE(offset, 3);
      out.integer(reader.unsigned && v < 0 ? v + 0x1000000 : v);
      break;
    }
    case Kind.Long: {
      const v = view.getInt32(offset, true);
      if (reader.unsigned && v < 0) {
        out.digits(v + 0x100000000);
        out.sqlType = SqlType.BIGINT;
      } else out.integer(v);
      break;
    }
    case Kind.LongLong: {
      const hi = view.getInt32(offset + 4, true);
      const lo = view.getUint32(offset, true);
      if (reader.unsigned && hi < 0) {
        out.ascii(uint64ToString(hi >>> 0, lo));
        out.sqlType = SqlType.DECIMAL;
      } else if (hi >= -0x200000 && hi < 0x200000) out.integer(hi * 0x100000000 + lo);
      else out.ascii(int64ToString(hi, lo));
      break;
    }
    case Kind.Float:
      out.ascii(javaFloatToString(view.getFloat32(offset, true)));
      break;
    case Kind.Double:
      writeJavaDouble(out, view.getFloat64(offset, true));
      break;
    case Kind.Decimal:
      writeDecimal(out, buf, offset, reader.decimal!);
      break;
    case Kind.Bit:
      // BIT(1) is read as a signed byte, wider BITs as unsigned big-endian.
      if (reader.meta === 1) out.integer(buf.readInt8(offset));
      else if (reader.size <= 6) out.digits(buf.readUIntBE(offset, reader.size));
      else out.ascii(uint64ToString(buf.readUIntBE(offset, reader.size - 4), buf.readUInt32BE(next - 4)));
      break;
    case Kind.Date:
      writeDate(out, buf, offset);
      break;
    case Kind.Datetime:
      writeDatetime(out, buf, offset);
      break;
    case Kind.Datetime2:
      writeDatetime2(out, buf, offset, reader.fsp);
      break;
    case Kind.Time:
      writeTime(out, buf, offset);
      break;
    case Kind.Time2:
      writeTime2(out, buf, offset, reader.fsp);
      break;
    case Kind.Timestamp:
      writeTimestamp(out, buf, offset, reader.timestamps!);
      break;
    case Kind.Timestamp2:
      writeTimestamp2(out, buf, offset, reader.fsp, reader.timestamps!);
      break;
    case Kind.Year:
      writeYear(out, buf[offset]!);
      break;
    case Kind.Enum:
      out.digits(reader.size === 1 ? buf[offset]! : buf.readUInt16LE(offset));
      break;
    case Kind.Set:
      if (reader.size <= 6) out.digits(buf.readUIntLE(offset, reader.size));
      else out.ascii(uint64ToString(buf.readUIntLE(offset + 4, reader.size - 4), buf.readUInt32LE(offset)));
      break;
  }
  out.finish();
  return next;
}

/**
 * The width of the length prefix of a text or binary column, or 0 for other kinds: the entry
 * writer reads the length to frame the value before it is copied (the row image's bytes as they
 * are, usually: valid UTF-8, ASCII binary data).
 */
export function textLengthBytes(reader: ColumnReader): number {
  return reader.kind === Kind.Chars || reader.kind === Kind.Blob ? reader.size : 0;
}

const stringScratch = new ValueBytes(1024);

/**
 * renderColumnValue with the value as a JS string in `out.value`, for tests and callers off
 * the hot path; the entry writer uses the bytes.
 */
export function readColumnValue(reader: ColumnReader, buf: Buffer, offset: number, end: number, out: ColumnValue): number {
  stringScratch.reset();
  const next = renderColumnValue(reader, buf, offset, end, stringScratch);
  out.value = stringScratch.scratch.toString("utf8", stringScratch.start, stringScratch.end);
  out.sqlType = stringScratch.sqlType;
  return next;
}

/**
 * The `size`-byte little-endian length before a text, blob or JSON value, read byte by byte:
 * Buffer#readUIntLE showed in the decode benchmark's profile as a call of its own for the
 * 4-byte lengths of LONGTEXT (MariaDB's JSON) columns.
 */
export function lengthPrefix(buf: Buffer, offset: number, size: number): number {
  const low = size === 1 ? buf[offset]! : size === 2 ? buf[offset]! | (buf[offset + 1]! << 8) : buf[offset]! | (buf[offset + 1]! << 8) | (buf[offset + 2]! << 16);
  return size === 4 ? low + buf[offset + 3]! * 0x1000000 : low;
}

function truncated(reader: ColumnReader, needed: number, left: number): CanalProtocolError {
  return new CanalProtocolError(`row image truncated: column type ${reader.type} (metadata ${reader.meta}) needs ${needed} bytes, ${left} left`);
}
