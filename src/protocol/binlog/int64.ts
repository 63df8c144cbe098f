/**
 * Decimal strings of 64-bit integers given as two 32-bit halves, without BigInt: values within
 * ±2^53 go through a double exactly, larger ones are split by 10^6 so every step stays exact.
 */

const TWO_32 = 4294967296;

/** Unsigned 64-bit `hi`·2^32 + `lo`, both halves unsigned 32-bit. */
export function uint64ToString(hi: number, lo: number): string {
  if (hi < 0x200000) return String(hi * TWO_32 + lo);
  // hi·2^32 + lo = (q·10^6 + r)·2^32 + lo; r·2^32 + lo < 2^53, and the quotient < 2^45.
  const q = Math.floor(hi / 1e6);
  const t = (hi - q * 1e6) * TWO_32 + lo;
  const low = t % 1e6;
  const high = q * TWO_32 + (t - low) / 1e6;
  return String(high) + String(low).padStart(6, "0");
}

/** Signed 64-bit two's complement: `hi` signed 32-bit, `lo` unsigned 32-bit. */
export function int64ToString(hi: number, lo: number): string {
  if (hi >= -0x200000 && hi < 0x200000) return String(hi * TWO_32 + lo);
  if (hi >= 0) return uint64ToString(hi, lo);
  // Negate: the magnitude is ~x + 1.
  const negLo = (~lo >>> 0) + 1;
  return "-" + uint64ToString((~hi >>> 0) + (negLo === TWO_32 ? 1 : 0), negLo >>> 0);
}
