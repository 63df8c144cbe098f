/**
 * MySQL binary DECIMAL (NEWDECIMAL, `decimal2bin`) to the string Canal prints.
 *
 * Canal (LogBuffer.getDecimal, unchanged since 2014, still so in 1.1.8 and HEAD) writes the
 * digits into a string and returns `new BigDecimal(s).toPlainString()`. Its fraction is not
 * always `scale` digits: the full 9-digit fraction groups are always written, but the trailing
 * partial group is written only when it is not zero, and a fraction left empty becomes "0".
 * So DECIMAL(10,2) prints 12.50 as "12.50" and 0.05 as "0.05", but -3.00 as "-3.0" and 7 as
 * "7.0"; DECIMAL(20,10) prints 1 as "1.000000000" (nine zeros). This was checked by running
 * Canal's own class on bytes captured from MariaDB (test/fixtures/binlog/column-values.json);
 * the fact sheet's "exactly scale digits" is wrong for these values. No leading zeros, "0"
 * before the point when the integer part is empty, "-" for negatives, and no sign on zero
 * (BigDecimal has no negative zero).
 *
 * Layout: the integer digits (precision − scale) and the fraction digits (scale) are each cut
 * into groups of 9 decimal digits stored as 4-byte big-endian integers; the leftover digits
 * take 1-4 bytes (see DIGIT_BYTES), placed first for the integer part and last for the
 * fraction. The top bit of the first byte is set for non-negative values; a negative value has
 * every byte inverted. Example, DECIMAL(10,4) 5.4567: 80 00 05 | 11 d7 (6 integer digits →
 * 3 bytes, sign bit set; 4 fraction digits → 2 bytes, 0x11d7 = 4567).
 */
import { CanalProtocolError } from "../../errors.js";
import { ValueBytes } from "./value-bytes.js";

const DIGITS_PER_GROUP = 9;
/** Bytes used by a group of 0..9 decimal digits. */
const DIGIT_BYTES = [0, 1, 1, 2, 2, 3, 3, 4, 4, 4] as const;
const POW10 = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9] as const;

/** What a column's (precision, scale) implies, computed once per table map. */
export interface DecimalLayout {
  precision: number;
  scale: number;
  /** Digits in the leading partial integer group, then the number of full integer groups. */
  intLeading: number;
  intGroups: number;
  /** Full fraction groups, then digits in the trailing partial fraction group. */
  fracGroups: number;
  fracTrailing: number;
  /** Total bytes in the row image. */
  size: number;
}

export function decimalLayout(precision: number, scale: number): DecimalLayout {
  if (!(precision >= 1 && precision <= 65 && scale >= 0 && scale <= 30 && scale <= precision)) {
    throw new CanalProtocolError(`DECIMAL metadata (${precision},${scale}): expected precision 1..65 and scale 0..min(30, precision)`);
  }
  const intDigits = precision - scale;
  const intGroups = Math.floor(intDigits / DIGITS_PER_GROUP);
  const intLeading = intDigits - intGroups * DIGITS_PER_GROUP;
  const fracGroups = Math.floor(scale / DIGITS_PER_GROUP);
  const fracTrailing = scale - fracGroups * DIGITS_PER_GROUP;
  const size = DIGIT_BYTES[intLeading]! + intGroups * 4 + fracGroups * 4 + DIGIT_BYTES[fracTrailing]!;
  return { precision, scale, intLeading, intGroups, fracGroups, fracTrailing, size };
}

/** Renders the decimal at `buf[offset]`; the caller checks that `layout.size` bytes are there. */
export function readDecimal(buf: Buffer, offset: number, layout: DecimalLayout): string {
  text.reset();
  writeDecimal(text, buf, offset, layout);
  return text.scratch.toString("latin1", 0, text.pos);
}

const text = new ValueBytes(128);

/** readDecimal as bytes into `out`. */
export function writeDecimal(out: ValueBytes, buf: Buffer, offset: number, layout: DecimalLayout): void {
  const negative = (buf[offset]! & 0x80) === 0;
  // BigDecimal has no negative zero: the sign is printed only for a non-zero magnitude.
  if (negative && !isZero(buf, offset, layout.size)) out.byte(45);
  let pos = offset;
  let printed = false;
  if (layout.intLeading > 0) {
    const v = readGroup(buf, pos, layout.intLeading, offset, negative, layout);
    pos += DIGIT_BYTES[layout.intLeading]!;
    if (v !== 0) {
      out.digits(v);
      printed = true;
    }
  }
  for (let i = 0; i < layout.intGroups; i++, pos += 4) {
    const v = readGroup(buf, pos, DIGITS_PER_GROUP, offset, negative, layout);
    if (printed) out.padded(v, DIGITS_PER_GROUP);
    else if (v !== 0) {
      out.digits(v);
      printed = true;
    }
  }
  if (!printed) out.byte(48);
  if (layout.scale === 0) return;
  out.byte(46);
  for (let i = 0; i < layout.fracGroups; i++, pos += 4) out.padded(readGroup(buf, pos, DIGITS_PER_GROUP, offset, negative, layout), DIGITS_PER_GROUP);
  if (layout.fracTrailing > 0) {
    const v = readGroup(buf, pos, layout.fracTrailing, offset, negative, layout);
    if (v !== 0) out.padded(v, layout.fracTrailing);
    else if (layout.fracGroups === 0) out.byte(48);
  }
}

/** Whether the stored magnitude is zero: every byte 0 (positive) or 0xff (negative), bar the sign bit. */
function isZero(buf: Buffer, offset: number, size: number): boolean {
  const zero = (buf[offset]! & 0x80) === 0 ? 0xff : 0;
  if (((buf[offset]! ^ 0x80) & 0xff) !== zero) return false;
  for (let i = 1; i < size; i++) if (buf[offset + i] !== zero) return false;
  return true;
}

/** One big-endian group of `digits` digits at `pos`, sign bit cleared and inversion undone. */
function readGroup(buf: Buffer, pos: number, digits: number, signAt: number, negative: boolean, layout: DecimalLayout): number {
  const n = DIGIT_BYTES[digits]!;
  let v = 0;
  for (let i = 0; i < n; i++) {
    let b = buf[pos + i]!;
    if (pos + i === signAt) b ^= 0x80;
    v = v * 256 + (negative ? 255 - b : b);
  }
  if (v >= POW10[digits]!) {
    throw new CanalProtocolError(
      `DECIMAL(${layout.precision},${layout.scale}): a ${digits}-digit group holds ${v}; expected a value below ${POW10[digits]}`,
    );
  }
  return v;
}
