/**
 * Where column values are rendered: as the UTF-8 bytes of Canal's `Column.value` string, which
 * are exactly the bytes a protobuf string field carries. Rendering bytes instead of JS strings
 * lets the entry writer copy them straight into an Entry and compare them for `updated`
 * without creating a string per value.
 *
 * A rendered value is a range appended to `scratch`; text taken from the row image as it is
 * (valid UTF-8, or ASCII binary data) is copied there and checked in the same pass. Scratch
 * only grows until `reset()`, so everything rendered since then stays where it is: the entry
 * writer uses it as the buffer it builds an entry in, and renders each value in place.
 */
import { isUtf8 } from "node:buffer";
import { asciiEnd, copyAscii, viewOf } from "./byte-copy.js";

export class ValueBytes {
  scratch: Buffer;
  /** A DataView over `scratch`, for the word-at-a-time copies of byte-copy.ts. */
  view: DataView;
  /** Append position in `scratch`. */
  pos = 0;
  /** The last rendered value is `scratch[start, end)`. */
  start = 0;
  end = 0;
  /** java.sql.Types code of the last rendered value. */
  sqlType = 0;
  /** Growing keeps only `scratch[floor, pos)` (at the same offsets): what lies below belongs to someone else. */
  floor = 0;

  constructor(initialSize = 64 * 1024) {
    this.scratch = Buffer.allocUnsafe(initialSize);
    this.view = new DataView(this.scratch.buffer, this.scratch.byteOffset, this.scratch.byteLength);
  }

  /** Forgets every value rendered so far. */
  reset(): void {
    this.pos = 0;
    this.floor = 0;
  }

  /**
   * Appends from now on to `buf` (with `view` over it) at `pos`, keeping only what is written
   * from there on when it has to grow: the entry writer renders into the memory entries are
   * handed out in, behind the entries already there.
   */
  adopt(buf: Buffer, view: DataView, pos: number): void {
    this.scratch = buf;
    this.view = view;
    this.pos = pos;
    this.floor = pos;
  }

  /** Makes room for `n` more bytes, keeping what is there. */
  reserve(n: number): void {
    if (this.pos + n <= this.scratch.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.scratch.length * 2, this.pos + n));
    this.scratch.copy(grown, this.floor, this.floor, this.pos);
    this.scratch = grown;
    this.view = new DataView(grown.buffer, grown.byteOffset, grown.byteLength);
  }

  /** Starts a value appended to scratch; `finish()` ends it. */
  begin(): void {
    this.start = this.pos;
  }

  finish(): void {
    this.end = this.pos;
  }

  /** Appends a string whose characters are all below U+0080 (numbers, dates). */
  ascii(s: string): void {
    const n = s.length;
    this.reserve(n);
    const out = this.scratch;
    let p = this.pos;
    for (let i = 0; i < n; i++) out[p++] = s.charCodeAt(i);
    this.pos = p;
  }

  /** Appends any string as UTF-8 (decoded text never holds the lone surrogates encoders disagree on). */
  utf8(s: string): void {
    this.reserve(s.length * 3);
    this.pos += this.scratch.write(s, this.pos, "utf8");
  }

  /** Appends the decimal digits of a non-negative safe integer. */
  digits(n: number): void {
    if (n < 0x80000000) return this.int32Digits(n, decimalLength(n));
    // Two int32 halves: the division-free digit loop below needs n < 2^31 (Math.floor per
    // digit on a double costs ~3× as much, measured on BIGINT columns).
    const high = Math.floor(n / 1e8); // < 2^53 / 10^8 < 2^31
    this.int32Digits(high, decimalLength(high));
    this.int32Digits(n - high * 1e8, 8);
  }

  /** Appends exactly `width` digits of 0 <= n < 10^width, zero-padded. */
  padded(n: number, width: number): void {
    if (n < 0x80000000) return this.int32Digits(n, width);
    const high = Math.floor(n / 1e8);
    this.int32Digits(high, width - 8);
    this.int32Digits(n - high * 1e8, 8);
  }

  /** Appends a safe integer in decimal, with "-" when negative. */
  integer(n: number): void {
    if (n < 0) {
      this.reserve(1);
      this.scratch[this.pos++] = 45;
      n = -n;
    }
    this.digits(n);
  }

  /** Appends exactly `width` (>= the digits of n) digits of 0 <= n < 2^31, two at a time from a table. */
  private int32Digits(n: number, width: number): void {
    this.reserve(width);
    const view = this.view;
    const start = this.pos;
    let p = start + width;
    this.pos = p;
    while (n >= 100) {
      const q = (n / 100) | 0;
      p -= 2;
      view.setUint16(p, pair(n - q * 100), true);
      n = q;
    }
    if (n >= 10) {
      p -= 2;
      view.setUint16(p, pair(n), true);
    } else view.setUint8(--p, 48 + n);
    while (p > start) view.setUint8(--p, 48);
  }

  /** Appends the two digits of 0 <= n < 100. */
  twoDigits(n: number): void {
    this.reserve(2);
    this.view.setUint16(this.pos, pair(n), true);
    this.pos += 2;
  }

  // A time and a date are put together in 32-bit words of character codes, stored little-endian
  // (the first character in the low byte) through the DataView, fewer stores than pairs and
  // bytes; a date-time is written byte by byte (see dateTime).

  /** Appends "aa" sep "bb" sep "cc", two digits each of 0 <= a, b, c < 100: a time's eight characters. */
  threePairs(a: number, sep: number, b: number, c: number): void {
    this.reserve(8);
    const view = this.view;
    const p = this.pos;
    const pb = pair(b);
    view.setUint32(p, pair(a) | (sep << 16) | (pb << 24), true);
    view.setUint32(p + 4, (pb >>> 8) | (sep << 8) | (pair(c) << 16), true);
    this.pos = p + 8;
  }

  /** Appends "YYYY-MM-DD" of 0 <= year < 10000 and 0 <= month, day < 100. */
  date(year: number, month: number, day: number): void {
    this.reserve(10);
    const p = this.pos;
    yearMonthAt(this.view, p, year, month);
    this.view.setUint16(p + 8, pair(day), true);
    this.pos = p + 10;
  }

  /**
   * Appends "YYYY-MM-DD hh:mm:ss" of 0 <= year < 10000 and the other fields in 0..99: a
   * DATETIME's or TIMESTAMP's 19 characters in one call, a byte at a time into the Buffer:
   * measured (callgrind), 19 Buffer element stores cost fewer instructions than the 6
   * DataView stores of words put together, which the shorter values above still use.
   */
  dateTime(year: number, month: number, day: number, hours: number, minutes: number, seconds: number): void {
    this.reserve(19);
    const b = this.scratch;
    const p = this.pos;
    const century = (year / 100) | 0;
    twoAt(b, p, century);
    twoAt(b, p + 2, year - century * 100);
    b[p + 4] = DASH;
    twoAt(b, p + 5, month);
    b[p + 7] = DASH;
    twoAt(b, p + 8, day);
    b[p + 10] = SPACE;
    twoAt(b, p + 11, hours);
    b[p + 13] = COLON;
    twoAt(b, p + 14, minutes);
    b[p + 16] = COLON;
    twoAt(b, p + 17, seconds);
    this.pos = p + 19;
  }

  /** Appends "." and exactly `width` (1..9) digits of 0 <= n < 10^width, zero-padded: a fraction. */
  fraction(n: number, width: number): void {
    this.reserve(1 + width);
    this.scratch[this.pos++] = DOT;
    this.int32Digits(n, width);
  }

  byte(b: number): void {
    this.reserve(1);
    this.scratch[this.pos++] = b;
  }

  /**
   * A value that is `source[start, end)` decoded as ISO-8859-1 (binary data, or text under a
   * latin1 connection charset): each byte is one character, so bytes 0x80-0xFF take two bytes
   * in UTF-8.
   */
  latin1(source: Buffer, start: number, end: number): void {
    this.begin();
    this.reserve(2 * (end - start));
    const out = this.scratch;
    if (copyAscii(source, viewOf(source), start, end, out, this.view, this.pos)) {
      this.pos += end - start;
    } else {
      // The ASCII run before the first high byte is copied already.
      let i = asciiEnd(source, start, end);
      let p = this.pos + (i - start);
      for (; i < end; i++) {
        const b = source[i]!;
        if (b < 0x80) out[p++] = b;
        else {
          out[p++] = 0xc0 | (b >> 6);
          out[p++] = 0x80 | (b & 0x3f);
        }
      }
      this.pos = p;
    }
    this.finish();
  }

  /**
   * A value that is `source[start, end)` decoded as UTF-8. Canal decodes with Java's charset
   * and protobuf re-encodes the string, which gives back the same bytes whenever they are
   * valid UTF-8 (4-byte sequences included), so valid text is copied as it is; anything else
   * goes through a real decode, which replaces malformed sequences with U+FFFD.
   */
  utf8Text(source: Buffer, start: number, end: number): void {
    this.begin();
    this.reserve(end - start);
    if (copyAscii(source, viewOf(source), start, end, this.scratch, this.view, this.pos) || isUtf8(source.subarray(start, end))) {
      this.pos += end - start;
    } else this.utf8(source.toString("utf8", start, end));
    this.finish();
  }
}

/**
 * The two digits of 0 <= n < 100 as character codes in a little-endian 16-bit word ("07" is
 * 0x3730), stored with one DataView#setUint16(…, true): computed, as cheap as a table load.
 */
function pair(n: number): number {
  const tens = (n * 103) >>> 10; // n / 10 for n < 180
  return 0x3030 + tens + ((n - tens * 10) << 8);
}

const DASH = 45;
const DOT = 46;
const COLON = 58;
const SPACE = 32;

/** Writes the two digits of 0 <= n < 100 at `p` (room checked by the caller). */
function twoAt(b: Buffer, p: number, n: number): void {
  const tens = (n * 103) >>> 10; // n / 10 for n < 180
  b[p] = 48 + tens;
  b[p + 1] = 48 + n - tens * 10;
}

/** Writes "YYYY-MM-" at `p` (room checked by the caller). */
function yearMonthAt(view: DataView, p: number, year: number, month: number): void {
  const century = (year / 100) | 0;
  view.setUint32(p, pair(century) | (pair(year - century * 100) << 16), true);
  view.setUint32(p + 4, DASH | (pair(month) << 8) | (DASH << 24), true);
}

/** Decimal digits of 0 <= n < 2^31. */
function decimalLength(n: number): number {
  if (n < 100000) return n < 100 ? (n < 10 ? 1 : 2) : n < 1000 ? 3 : n < 10000 ? 4 : 5;
  return n < 10000000 ? (n < 1000000 ? 6 : 7) : n < 100000000 ? 8 : n < 1000000000 ? 9 : 10;
}
