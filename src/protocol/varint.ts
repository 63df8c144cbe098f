/**
 * Hand-written protobuf varints for the few places that build packets without protobufjs (the
 * Packet envelope and the raw MESSAGES reply, the hot data path). Semantics are those of
 * int32/int64 fields: a negative value is sign-extended to 64 bits and takes 10 bytes, so batch
 * id -1 is `ff ff ff ff ff ff ff ff ff 01`. Values must be safe integers.
 */

const TWO_32 = 2 ** 32;

/** Splits a safe integer into the low and high 32 bits of its 64-bit two's complement. */
function split(value: number): [lo: number, hi: number] {
  const hi = Math.floor(value / TWO_32);
  return [(value - hi * TWO_32) >>> 0, hi >>> 0];
}

export function varintSize(value: number): number {
  if (value >= 0 && value < 0x80) return 1;
  let [lo, hi] = split(value);
  let size = 1;
  while (hi !== 0) {
    lo = ((lo >>> 7) | (hi << 25)) >>> 0;
    hi >>>= 7;
    size++;
  }
  while (lo > 0x7f) {
    lo >>>= 7;
    size++;
  }
  return size;
}

/** Writes `value` at `pos` and returns the position after it. */
export function writeVarint(buf: Uint8Array, pos: number, value: number): number {
  let [lo, hi] = split(value);
  while (hi !== 0) {
    buf[pos++] = (lo & 0x7f) | 0x80;
    lo = ((lo >>> 7) | (hi << 25)) >>> 0;
    hi >>>= 7;
  }
  while (lo > 0x7f) {
    buf[pos++] = (lo & 0x7f) | 0x80;
    lo >>>= 7;
  }
  buf[pos++] = lo;
  return pos;
}

/** A field's tag; one byte for the field numbers below 16 that we write by hand. */
export function tag(fieldNumber: number, wireType: 0 | 2): number {
  return (fieldNumber << 3) | wireType;
}
