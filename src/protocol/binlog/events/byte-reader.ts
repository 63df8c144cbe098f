/**
 * A bounds-checked little-endian reader over one event's bytes, for the events that are decoded
 * into objects (table maps, queries, GTIDs…). The rows hot path does not use it: it walks the
 * buffer with plain offsets so that no object is made per row.
 */
import { BinlogFormatError } from "./errors.js";

export class ByteReader {
  constructor(
    readonly buf: Buffer,
    public pos: number,
    readonly end: number,
  ) {}

  get remaining(): number {
    return this.end - this.pos;
  }

  /** Throws unless `n` more bytes are there; returns the offset they start at. */
  take(n: number): number {
    if (n < 0 || this.pos + n > this.end) {
      throw new BinlogFormatError(`event truncated: need ${n} bytes at offset ${this.pos}, ${this.end - this.pos} left`);
    }
    const at = this.pos;
    this.pos += n;
    return at;
  }

  u8(): number {
    return this.buf[this.take(1)]!;
  }
  u16(): number {
    return this.buf.readUInt16LE(this.take(2));
  }
  u32(): number {
    return this.buf.readUInt32LE(this.take(4));
  }
  /** Unsigned 1..6-byte integer (table ids are 6 bytes). */
  uint(bytes: number): number {
    return this.buf.readUIntLE(this.take(bytes), bytes);
  }
  u64(): bigint {
    return this.buf.readBigUInt64LE(this.take(8));
  }
  i64(): bigint {
    return this.buf.readBigInt64LE(this.take(8));
  }
  /** u64 where the protocol's values fit in a JS number (positions, counts, lengths). */
  u64Number(): number {
    const v = this.u64();
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new BinlogFormatError(`64-bit value ${v} too large at offset ${this.pos - 8}`);
    return Number(v);
  }

  /** MySQL length-encoded integer: < 0xfb in one byte, 0xfc/0xfd/0xfe prefix 2/3/8 bytes. */
  lenenc(): number {
    const first = this.u8();
    if (first < 0xfb) return first;
    if (first === 0xfc) return this.uint(2);
    if (first === 0xfd) return this.uint(3);
    if (first === 0xfe) return this.u64Number();
    throw new BinlogFormatError(`bad length-encoded integer prefix 0x${first.toString(16)} at offset ${this.pos - 1}`);
  }

  /** A view of the next `n` bytes (no copy). */
  bytes(n: number): Buffer {
    const at = this.take(n);
    return this.buf.subarray(at, at + n);
  }
  string(n: number, encoding: BufferEncoding = "utf8"): string {
    const at = this.take(n);
    return this.buf.toString(encoding, at, at + n);
  }
  lenencString(): string {
    return this.string(this.lenenc());
  }
  /** The rest of the event as text. */
  restString(encoding: BufferEncoding = "utf8"): string {
    return this.string(this.remaining, encoding);
  }
  skip(n: number): void {
    this.take(n);
  }
}
