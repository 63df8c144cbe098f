/**
 * Where column values are rendered: as the UTF-8 bytes of Canal's `Column.value` string, which
 * are exactly the bytes a protobuf string field carries. Rendering bytes instead of JS strings
 * lets the entry writer copy them straight into an Entry and compare them for `updated`
 * without creating a string per value.
 *
 * A rendered value is either a range of the row image itself (text in the connection charset
 * that is already valid UTF-8, binary data that is plain ASCII: no copy at all) or a range
 * appended to `scratch`. Scratch only grows until `reset()`, so every value rendered since then
 * stays readable: the entry writer renders all rows of an event first and encodes them after.
 */
import { isUtf8 } from "node:buffer";

export class ValueBytes {
  scratch: Buffer;
  /** Append position in `scratch`. */
  pos = 0;
  /** The last rendered value: true when it lies in the row image, else in `scratch`. */
  inSource = false;
  start = 0;
  end = 0;
  /** java.sql.Types code of the last rendered value. */
  sqlType = 0;

  constructor(initialSize = 64 * 1024) {
    this.scratch = Buffer.allocUnsafe(initialSize);
  }

  /** Forgets every value rendered so far. */
  reset(): void {
    this.pos = 0;
  }

  /** The buffer holding the last rendered value, given the row image it was read from. */
  bufferOf(source: Buffer): Buffer {
    return this.inSource ? source : this.scratch;
  }

  /** Makes room for `n` more bytes, keeping what is there. */
  reserve(n: number): void {
    if (this.pos + n <= this.scratch.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.scratch.length * 2, this.pos + n));
    this.scratch.copy(grown, 0, 0, this.pos);
    this.scratch = grown;
  }

  /** The value is `source[start, end)` of the row image, as it is. */
  fromSource(start: number, end: number): void {
    this.inSource = true;
    this.start = start;
    this.end = end;
  }

  /** Starts a value appended to scratch; `finish()` ends it. */
  begin(): void {
    this.inSource = false;
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
    let len = 1;
    for (let t = n; t >= 10; t = Math.floor(t / 10)) len++;
    this.reserve(len);
    const out = this.scratch;
    let p = this.pos + len;
    this.pos = p;
    if (n < 0x80000000) {
      do {
        const q = (n / 10) | 0;
        out[--p] = 48 + n - q * 10;
        n = q;
      } while (n !== 0);
    } else {
      do {
        const q = Math.floor(n / 10);
        out[--p] = 48 + n - q * 10;
        n = q;
      } while (n !== 0);
    }
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

  /** Appends exactly `width` digits of 0 <= n < 10^width, zero-padded. */
  padded(n: number, width: number): void {
    this.reserve(width);
    const out = this.scratch;
    let p = this.pos + width;
    this.pos = p;
    for (let i = 0; i < width; i++) {
      const q = n < 0x80000000 ? (n / 10) | 0 : Math.floor(n / 10);
      out[--p] = 48 + n - q * 10;
      n = q;
    }
  }

  byte(b: number): void {
    this.reserve(1);
    this.scratch[this.pos++] = b;
  }

  /**
   * A value that is `source[start, end)` decoded as ISO-8859-1 (binary data, or text under a
   * latin1 connection charset): each byte is one character, so bytes 0x80-0xFF take two bytes
   * in UTF-8. Plain ASCII is used in place.
   */
  latin1(source: Buffer, start: number, end: number): void {
    let i = start;
    while (i < end && source[i]! < 0x80) i++;
    if (i === end) return this.fromSource(start, end);
    this.begin();
    this.reserve(2 * (end - start));
    const out = this.scratch;
    let p = this.pos;
    p += source.copy(out, p, start, i);
    for (; i < end; i++) {
      const b = source[i]!;
      if (b < 0x80) out[p++] = b;
      else {
        out[p++] = 0xc0 | (b >> 6);
        out[p++] = 0x80 | (b & 0x3f);
      }
    }
    this.pos = p;
    this.finish();
  }

  /**
   * A value that is `source[start, end)` decoded as UTF-8. Canal decodes with Java's charset
   * and protobuf re-encodes the string, which gives back the same bytes whenever they are
   * valid UTF-8 (4-byte sequences included), so valid text is used in place; anything else
   * goes through a real decode, which replaces malformed sequences with U+FFFD.
   */
  utf8Text(source: Buffer, start: number, end: number): void {
    let i = start;
    while (i < end && source[i]! < 0x80) i++;
    if (i === end || isUtf8(source.subarray(i, end))) return this.fromSource(start, end);
    this.begin();
    this.utf8(source.toString("utf8", start, end));
    this.finish();
  }
}
