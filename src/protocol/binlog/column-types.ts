/**
 * Column type codes of the binlog (MySQL `enum_field_types`, shared by MariaDB), how a table
 * map event carries each column's metadata, and the java.sql.Types codes Canal reports.
 *
 * Table map metadata layout (one entry per column, in column order, after a packed-int total
 * length that the table map decoder reads):
 *   FLOAT, DOUBLE                     1 byte: pack length (4 / 8)
 *   BLOB, GEOMETRY, JSON              1 byte: number of length bytes before the value (1..4)
 *   TIMESTAMP2, DATETIME2, TIME2      1 byte: fractional-second precision (0..6)
 *   VARCHAR, VAR_STRING               2 bytes little-endian: max length in bytes
 *   BIT                               2 bytes: bits % 8, then whole bytes
 *   NEWDECIMAL                        2 bytes: precision, then scale
 *   STRING                            2 bytes: real type, then length; see readColumnMetadata
 *   everything else                   nothing
 */
import { CanalProtocolError } from "../../errors.js";

/** Binlog column type codes (`enum_field_types`). */
export const MysqlType = {
  DECIMAL: 0,
  TINY: 1,
  SHORT: 2,
  LONG: 3,
  FLOAT: 4,
  DOUBLE: 5,
  NULL: 6,
  TIMESTAMP: 7,
  LONGLONG: 8,
  INT24: 9,
  DATE: 10,
  TIME: 11,
  DATETIME: 12,
  YEAR: 13,
  NEWDATE: 14,
  VARCHAR: 15,
  BIT: 16,
  TIMESTAMP2: 17,
  DATETIME2: 18,
  TIME2: 19,
  JSON: 245,
  NEWDECIMAL: 246,
  ENUM: 247,
  SET: 248,
  TINY_BLOB: 249,
  MEDIUM_BLOB: 250,
  LONG_BLOB: 251,
  BLOB: 252,
  VAR_STRING: 253,
  STRING: 254,
  GEOMETRY: 255,
} as const;

/** The java.sql.Types codes that appear in Canal's `Column.sqlType`. */
export const SqlType = {
  BIT: -7,
  TINYINT: -6,
  BIGINT: -5,
  BINARY: -2,
  CHAR: 1,
  DECIMAL: 3,
  INTEGER: 4,
  SMALLINT: 5,
  REAL: 7,
  DOUBLE: 8,
  VARCHAR: 12,
  DATE: 91,
  TIME: 92,
  TIMESTAMP: 93,
  OTHER: 1111,
  BLOB: 2004,
  CLOB: 2005,
} as const;

/** One column as the table map describes it, with STRING resolved to its real type. */
export interface ColumnMetadata {
  /** The real type: ENUM and SET appear here as themselves, not as STRING. */
  type: number;
  /**
   * The type's metadata as one number:
   * NEWDECIMAL `precision << 8 | scale`; BIT the total number of bits; STRING the max length
   * in bytes; ENUM/SET the pack length in bytes; VARCHAR the max length in bytes;
   * BLOB/GEOMETRY/JSON the length-prefix size; FLOAT/DOUBLE the pack length;
   * TIMESTAMP2/DATETIME2/TIME2 the fsp; 0 for the other types.
   */
  meta: number;
}

/**
 * Reads the metadata block of a table map event: `types` are the column type bytes, and the
 * block spans `[start, end)` of `buf`. Throws CanalProtocolError when the block is shorter or
 * longer than the types call for.
 */
export function readColumnMetadata(types: ArrayLike<number>, buf: Buffer, start: number, end: number): ColumnMetadata[] {
  const columns: ColumnMetadata[] = [];
  let pos = start;
  const need = (n: number, type: number): number => {
    if (pos + n > end) {
      throw new CanalProtocolError(`table map metadata truncated: column ${columns.length} (type ${type}) needs ${n} bytes, ${end - pos} left`);
    }
    const at = pos;
    pos += n;
    return at;
  };
  for (let i = 0; i < types.length; i++) {
    const type = types[i]!;
    switch (type) {
      case MysqlType.FLOAT:
      case MysqlType.DOUBLE:
      case MysqlType.BLOB:
      case MysqlType.TINY_BLOB:
      case MysqlType.MEDIUM_BLOB:
      case MysqlType.LONG_BLOB:
      case MysqlType.GEOMETRY:
      case MysqlType.JSON:
      case MysqlType.TIMESTAMP2:
      case MysqlType.DATETIME2:
      case MysqlType.TIME2:
        columns.push({ type, meta: buf[need(1, type)]! });
        break;
      case MysqlType.VARCHAR:
      case MysqlType.VAR_STRING:
        columns.push({ type, meta: buf.readUInt16LE(need(2, type)) });
        break;
      case MysqlType.BIT: {
        const at = need(2, type);
        columns.push({ type, meta: buf[at + 1]! * 8 + buf[at]! });
        break;
      }
      case MysqlType.NEWDECIMAL: {
        const at = need(2, type);
        columns.push({ type, meta: (buf[at]! << 8) | buf[at + 1]! });
        break;
      }
      case MysqlType.STRING:
      case MysqlType.ENUM:
      case MysqlType.SET: {
        const at = need(2, type);
        columns.push(resolveStringType(buf[at]!, buf[at + 1]!));
        break;
      }
      default:
        columns.push({ type, meta: 0 });
    }
  }
  if (pos !== end) {
    throw new CanalProtocolError(`table map metadata has ${end - pos} bytes left over after ${types.length} columns`);
  }
  return columns;
}

/**
 * STRING metadata is `byte0, byte1`. When the top two bits of the type nibble (0x30) are both
 * set, byte0 is the real type (STRING, ENUM or SET) and byte1 the length (for ENUM/SET the pack
 * length). Otherwise the column is a CHAR longer than 255 bytes (MySQL bug #37426): those two
 * bits hold bits 8-9 of the length, inverted, and the real type is byte0 with them set.
 */
export function resolveStringType(byte0: number, byte1: number): ColumnMetadata {
  if ((byte0 & 0x30) !== 0x30) {
    return { type: byte0 | 0x30, meta: byte1 | (((byte0 & 0x30) ^ 0x30) << 4) };
  }
  if (byte0 === MysqlType.STRING || byte0 === MysqlType.ENUM || byte0 === MysqlType.SET) {
    return { type: byte0, meta: byte1 };
  }
  throw new CanalProtocolError(`STRING column metadata names real type ${byte0}; expected STRING (254), ENUM (247) or SET (248)`);
}
