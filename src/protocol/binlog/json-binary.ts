/**
 * MySQL's binary JSON (the JSON column type, `json_binary`) rendered as Canal prints it:
 * `{"k": v, "a": [1, 2]}` with ", " and ": " separators, keys in stored order, doubles via
 * Java Double.toString, and strings escaped as in escapeJsonString.
 *
 * MariaDB has no binary JSON: its JSON type is LONGTEXT with a check constraint, so its rows
 * carry plain text and go through the BLOB/TEXT path, not through here.
 *
 * Layout: a value is a type byte followed by its data. Objects and arrays are
 *   count, size                              (2-byte "small" or 4-byte "large" unsigned LE)
 *   key entries (objects): key offset, key length (2 bytes)
 *   value entries: type byte, then either the value inlined (literals and 16-bit ints; 32-bit
 *                  ints too in the large format) or its offset
 *   keys, then values
 * with offsets counted from the start of the object (after its type byte). Strings are a
 * length in 7-bit groups (low first, high bit = more) followed by the bytes. Opaque values are
 * a MySQL column type byte, a 7-bit-group length and the data: DECIMAL (precision, scale,
 * binary decimal) and DATE/TIME/DATETIME/TIMESTAMP (8-byte packed) are rendered as values,
 * anything else as its bytes in a JSON string.
 */
import { CanalProtocolError } from "../../errors.js";
import { MysqlType } from "./column-types.js";
import { decimalLayout, readDecimal } from "./decimal.js";
import { int64ToString, uint64ToString } from "./int64.js";
import { javaDoubleToString } from "./java-format.js";
import type { Charset } from "./row-values.js";
import { renderPackedDatetime, renderPackedTime } from "./temporal.js";

const SMALL_OBJECT = 0x0;
const LARGE_OBJECT = 0x1;
const SMALL_ARRAY = 0x2;
const LARGE_ARRAY = 0x3;
const LITERAL = 0x4;
const INT16 = 0x5;
const UINT16 = 0x6;
const INT32 = 0x7;
const UINT32 = 0x8;
const INT64 = 0x9;
const UINT64 = 0xa;
const DOUBLE = 0xb;
const STRING = 0xc;
const OPAQUE = 0xf;

/** Renders the JSON document in `buf[start, end)`; an empty value is "". */
export function renderJsonBinary(buf: Buffer, start: number, end: number, charset: Charset): string {
  if (start === end) return "";
  return renderValue(buf, buf[start]!, start + 1, end, charset);
}

function malformed(what: string): CanalProtocolError {
  return new CanalProtocolError(`JSON: ${what}`);
}

/** The value of `type` whose data starts at `pos`; `end` bounds the enclosing container. */
function renderValue(buf: Buffer, type: number, pos: number, end: number, charset: Charset): string {
  switch (type) {
    case SMALL_OBJECT:
    case LARGE_OBJECT:
    case SMALL_ARRAY:
    case LARGE_ARRAY:
      return renderContainer(buf, type, pos, end, charset);
    case LITERAL:
      need(pos, 1, end, "literal");
      return renderLiteral(buf[pos]!);
    case INT16:
      need(pos, 2, end, "int16");
      return String(buf.readInt16LE(pos));
    case UINT16:
      need(pos, 2, end, "uint16");
      return String(buf.readUInt16LE(pos));
    case INT32:
      need(pos, 4, end, "int32");
      return String(buf.readInt32LE(pos));
    case UINT32:
      need(pos, 4, end, "uint32");
      return String(buf.readUInt32LE(pos));
    case INT64:
      need(pos, 8, end, "int64");
      return int64ToString(buf.readInt32LE(pos + 4), buf.readUInt32LE(pos));
    case UINT64:
      need(pos, 8, end, "uint64");
      return uint64ToString(buf.readUInt32LE(pos + 4), buf.readUInt32LE(pos));
    case DOUBLE:
      need(pos, 8, end, "double");
      return javaDoubleToString(buf.readDoubleLE(pos));
    case STRING: {
      const { start, end: stringEnd } = readVarLength(buf, pos, end);
      return '"' + escapeJsonString(buf.toString(charset, start, stringEnd)) + '"';
    }
    case OPAQUE:
      return renderOpaque(buf, pos, end, charset);
    default:
      throw malformed(`unknown value type 0x${type.toString(16)}`);
  }
}

function need(pos: number, n: number, end: number, what: string): void {
  if (pos + n > end) throw malformed(`${what} needs ${n} bytes, ${end - pos} left`);
}

function renderLiteral(byte: number): string {
  switch (byte) {
    case 0:
      return "null";
    case 1:
      return "true";
    case 2:
      return "false";
    default:
      throw malformed(`literal byte ${byte}; expected 0 (null), 1 (true) or 2 (false)`);
  }
}

function renderContainer(buf: Buffer, type: number, base: number, end: number, charset: Charset): string {
  const large = type === LARGE_OBJECT || type === LARGE_ARRAY;
  const isObject = type === SMALL_OBJECT || type === LARGE_OBJECT;
  const offsetSize = large ? 4 : 2;
  need(base, 2 * offsetSize, end, "container header");
  const count = large ? buf.readUInt32LE(base) : buf.readUInt16LE(base);
  const size = large ? buf.readUInt32LE(base + 4) : buf.readUInt16LE(base + 2);
  if (base + size > end) throw malformed(`container of ${size} bytes, ${end - base} left`);
  const limit = base + size;
  const keyEntries = base + 2 * offsetSize;
  const keyEntrySize = offsetSize + 2;
  const valueEntries = keyEntries + (isObject ? count * keyEntrySize : 0);
  const valueEntrySize = 1 + offsetSize;
  if (valueEntries + count * valueEntrySize > limit) throw malformed(`container header of ${count} entries exceeds its ${size} bytes`);

  let text = isObject ? "{" : "[";
  for (let i = 0; i < count; i++) {
    if (i > 0) text += ", ";
    if (isObject) {
      const entry = keyEntries + i * keyEntrySize;
      const keyStart = base + (large ? buf.readUInt32LE(entry) : buf.readUInt16LE(entry));
      const keyEnd = keyStart + buf.readUInt16LE(entry + offsetSize);
      if (keyEnd > limit) throw malformed(`key ${i} runs past its object`);
      text += '"' + escapeJsonString(buf.toString(charset, keyStart, keyEnd)) + '": ';
    }
    const entry = valueEntries + i * valueEntrySize;
    const valueType = buf[entry]!;
    const inlined = valueType === LITERAL || valueType === INT16 || valueType === UINT16 || (large && (valueType === INT32 || valueType === UINT32));
    if (inlined) {
      text += renderValue(buf, valueType, entry + 1, entry + valueEntrySize, charset);
    } else {
      const at = base + (large ? buf.readUInt32LE(entry + 1) : buf.readUInt16LE(entry + 1));
      if (at >= limit) throw malformed(`value ${i} at offset ${at - base} is outside its ${size}-byte container`);
      text += renderValue(buf, valueType, at, limit, charset);
    }
  }
  return text + (isObject ? "}" : "]");
}

/** Byte range filled by readVarLength; one shared object, read before the next call. */
const span = { start: 0, end: 0 };

/** A 7-bit-group length at `pos` and the byte range it announces. */
function readVarLength(buf: Buffer, pos: number, end: number): typeof span {
  let length = 0;
  for (let i = 0; i < 5; i++) {
    if (pos + i >= end) break;
    const b = buf[pos + i]!;
    length += (b & 0x7f) * 2 ** (7 * i);
    if ((b & 0x80) === 0) {
      span.start = pos + i + 1;
      span.end = span.start + length;
      if (span.end > end) throw malformed(`string of ${length} bytes, ${end - span.start} left`);
      return span;
    }
  }
  throw malformed("unterminated length");
}

function renderOpaque(buf: Buffer, pos: number, end: number, charset: Charset): string {
  need(pos, 1, end, "opaque type");
  const fieldType = buf[pos]!;
  const { start, end: dataEnd } = readVarLength(buf, pos + 1, end);
  const length = dataEnd - start;
  switch (fieldType) {
    case MysqlType.NEWDECIMAL: {
      if (length < 2) throw malformed(`opaque DECIMAL of ${length} bytes`);
      const layout = decimalLayout(buf[start]!, buf[start + 1]!);
      if (2 + layout.size > length) throw malformed(`opaque DECIMAL(${layout.precision},${layout.scale}) needs ${layout.size} bytes, has ${length - 2}`);
      return readDecimal(buf, start + 2, layout);
    }
    case MysqlType.TIME:
      if (length < 8) throw malformed(`opaque TIME of ${length} bytes; expected 8`);
      return '"' + renderPackedTime(buf, start) + '"';
    case MysqlType.DATE:
    case MysqlType.DATETIME:
    case MysqlType.TIMESTAMP:
      if (length < 8) throw malformed(`opaque date-time of ${length} bytes; expected 8`);
      return '"' + renderPackedDatetime(buf, start) + '"';
    default:
      return '"' + escapeJsonString(buf.toString(charset, start, dataEnd)) + '"';
  }
}

/**
 * Canal's JSON string escaping: `"` `\` and \n \r \t get a backslash, every other character
 * below U+0020 and U+007F..U+00A0 become \u00xx (lowercase hex); the rest is kept as is.
 */
export function escapeJsonString(s: string): string {
  let i = 0;
  while (i < s.length && !needsEscape(s.charCodeAt(i))) i++;
  if (i === s.length) return s;
  let out = s.slice(0, i);
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (!needsEscape(c)) out += s[i];
    else if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += "\\\\";
    else if (c === 0x0a) out += "\\n";
    else if (c === 0x0d) out += "\\r";
    else if (c === 0x09) out += "\\t";
    else out += (c < 16 ? "\\u000" : "\\u00") + c.toString(16);
  }
  return out;
}

function needsEscape(c: number): boolean {
  return c < 0x20 || c === 0x22 || c === 0x5c || (c >= 0x7f && c <= 0xa0);
}
