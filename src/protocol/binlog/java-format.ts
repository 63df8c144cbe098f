/**
 * Java's `Double.toString(double)` and `Float.toString(float)`, which is how Canal renders
 * FLOAT and DOUBLE columns (and doubles inside JSON).
 *
 * We follow the JDK 19+ specification (Raffaello Giulietti's shortest-decimal algorithm,
 * JDK-4511638), i.e. what Canal prints on JDK 21 or later:
 *   - the digits are the shortest decimal that rounds back to the same double (float), with at
 *     least 2 significant digits considered: when 1 digit suffices, the closest decimal of 1 or
 *     2 digits is chosen (Double.MIN_VALUE is "4.9E-324", not "5.0E-324");
 *   - among equally short decimals the one closest to the exact value wins;
 *   - 1e-3 <= |v| < 1e7 is written plain with at least one fraction digit ("100.0", "0.001"),
 *     anything else as d.ddd"E"n ("1.0E7", "1.0E-4"); "-0.0", "NaN", "Infinity".
 * JDK 17 (FloatingDecimal) agrees on nearly every value but sometimes prints a longer or
 * different digit string: 1.0E23 is "9.999999999999999E22", 2.82879384806159E17 is
 * "2.82879384806159008E17", 2×Double.MIN_VALUE is "1.0E-323" and Float.MIN_NORMAL is
 * "1.17549435E-38". Those cases are pinned in test/fixtures/binlog/java-number-format.json.
 *
 * JavaScript's Number#toString already yields the shortest, closest digits for a double
 * (ECMA-262 Number::toString), so doubles only need Java's layout. Floats need the shortest
 * decimal that rounds to the same float32, which JavaScript has no primitive for: we try
 * correctly rounded candidates of increasing length and test them against the float's
 * rounding interval.
 */
import type { ValueBytes } from "./value-bytes.js";

const MIN_NORMAL_DOUBLE = 2.2250738585072014e-308;

export function javaDoubleToString(v: number): string {
  if (v !== v) return "NaN";
  if (v === 0) return 1 / v < 0 ? "-0.0" : "0.0";
  const abs = v < 0 ? -v : v;
  if (abs === Infinity) return v < 0 ? "-Infinity" : "Infinity";
  if (abs >= 1e-3 && abs < 1e7) {
    // JavaScript writes this range in plain notation too, with the same digits.
    const s = String(v);
    return Number.isInteger(v) ? s + ".0" : s;
  }
  // "d.ddde±x"; for a one-digit result below the normal range the closest two-digit decimal
  // may differ from "d.0" (Java's two-digit rule), and toExponential(1) finds it.
  let s = abs.toExponential();
  const e = s.indexOf("e");
  if (e === 1 && abs < MIN_NORMAL_DOUBLE) s = abs.toExponential(1);
  return javaScientific(v < 0, s);
}

/**
 * javaDoubleToString(v) as bytes appended to `out`, without making a string for the common
 * case: a normal double with 1e-3 <= |v| < 1e7, which Java and JavaScript both write plainly
 * ("523.4567891234567"). There the integer part is exact and the fraction digits come from
 * Steele & White's free-format digit generation (Burger & Dybvig's shortest-digits loop) in
 * exact integer arithmetic: the fraction, scaled by 2^t so that half an ulp is 1, is kept as
 * two limbs (a multiple of 2^26 plus a remainder), which stay below 2^53 for t <= 63. Digits
 * are generated until the decimal so far is within half an ulp of v (inside the rounding
 * interval: shortest), the last digit rounded to the closer side (closest), which is what
 * ECMA-262 Number::toString and JDK 19+ Double.toString both print. An exact tie between two
 * last digits, a power of two (asymmetric interval) and everything outside the range go
 * through javaDoubleToString. Measured: String(v) costs ~550 ns for a 16-17 digit double on
 * the project's machines (a runtime call, a string and the number-string cache); this ~100 ns
 * (~135 ns when it generated one digit per step).
 * test/protocol/binlog/java-format.test.ts compares it with String(v) on millions of values.
 */
export function writeJavaDouble(out: ValueBytes, v: number): void {
  f64[0] = v;
  const hiWord = f64words[HI]!;
  const loWord = f64words[LO]!;
  const biased = (hiWord >>> 20) & 0x7ff;
  // 1e-3 > 2^-10 (biased 1013) and 1e7 < 2^24 (biased 1047); the range test below is exact.
  const abs = v < 0 ? -v : v;
  const mantissaZero = (hiWord & 0xfffff) === 0 && loWord === 0;
  if (!(abs >= 1e-3 && abs < 1e7) || mantissaZero || !writePlainDouble(out, v < 0, abs, 1076 - biased, (loWord & 1) === 0)) {
    out.ascii(javaDoubleToString(v));
  }
}

/**
 * Writes [-]I.ddd for abs = v's magnitude, its fraction scaled by 2^t (t = 53 − exponent, so
 * that 1 unit = half an ulp); `even`: v's significand is even, so the rounding interval is
 * closed (round-half-even parses a midpoint to v). Returns false, having written nothing, on a
 * tie between two closest last digits (rare: the caller falls back).
 */
function writePlainDouble(out: ValueBytes, negative: boolean, abs: number, t: number, even: boolean): boolean {
  const intPart = Math.floor(abs);
  const frac = abs - intPart; // exact
  // R = frac × 2^t as H × 2^26 + L; S = 2^t = SH × 2^26 (t >= 30).
  const sh = POW2[t - 26]!;
  const inverseSh = INVERSE_POW2[t - 26]!;
  const scaled = frac * sh; // exact: a power-of-two scaling
  let h = Math.floor(scaled);
  let l = (scaled - h) * TWO26; // exact integer < 2^26
  const start = out.pos;
  out.reserve(32); // sign, 7 integer digits, ".", at most 22 fraction digits
  if (negative) out.scratch[out.pos++] = 45;
  out.digits(intPart);
  const b = out.scratch;
  let p = out.pos;
  b[p++] = 46; // "."
  if (frac === 0) {
    b[p++] = 48;
    out.pos = p;
    return true;
  }
  for (let k = 0; k < 22; ) {
    // Two digits at a time while 10^(k+2) < S: R ×= 100, then the pair is R / S. Then no
    // digit of the two can end the number unless the second does (with a second digit of 0
    // or 9; see roundsDown), so when neither bound test passes both digits are final.
    if (k <= 20 && POW10_HIGH[k + 2]! < sh) {
      const l100 = l * 100; // < 2^33
      const carry = Math.floor(l100 * INVERSE_TWO26);
      const l2 = l100 - carry * TWO26;
      let h2 = h * 100 + carry;
      const pair = Math.floor(h2 * inverseSh); // exact: S is a power of two
      h2 -= pair * sh;
      if (!roundsDown(h2, l2, k + 2, even) && !roundsUp(h2, l2, k + 2, sh, even)) {
        const tens = (pair / 10) | 0;
        b[p++] = 48 + tens;
        b[p++] = 48 + pair - tens * 10;
        h = h2;
        l = l2;
        k += 2;
        continue;
      }
    }
    // One digit: R ×= 10, then the digit is R / S and R keeps the rest (int32 ops on the low limb: < 2^30).
    k++;
    const l10 = l * 10;
    l = l10 & 0x3ffffff;
    h = h * 10 + (l10 >>> 26);
    const d = Math.floor(h * inverseSh);
    h -= d * sh;
    const low = roundsDown(h, l, k, even);
    const high = roundsUp(h, l, k, sh, even);
    if (!low && !high) {
      b[p++] = 48 + d;
      continue;
    }
    let last = d;
    if (low && high) {
      // Both d and d + 1 are in the interval: the closer one; 2R against S.
      const dl = 2 * l;
      const dh = 2 * h + (dl >>> 26);
      if (dh === sh && (dl & 0x3ffffff) === 0) break; // a tie: written the slow way
      if (dh >= sh) last = d + 1;
    } else if (high) last = d + 1;
    if (last > 9) break; // cannot happen (the previous digit would have stopped); written the slow way
    b[p++] = 48 + last;
    out.pos = p;
    return true;
  }
  out.pos = start;
  return false;
}

/**
 * After k fraction digits, with the rest R = h × 2^26 + l and the half ulp M = 10^k in the same
 * units: whether rounding down stays within v's rounding interval, R < M (R <= M when even).
 * With R' and d' the rest and digit one step later and 10M <= S: R < M exactly when d' is 0
 * and R' < 10M, since R' = 10R − d'S.
 */
function roundsDown(h: number, l: number, k: number, even: boolean): boolean {
  const mh = POW10_HIGH[k]!;
  return h < mh || (h === mh && (even ? l <= POW10_LOW[k]! : l < POW10_LOW[k]!));
}

/**
 * Whether rounding up stays within the interval, R + M > S (>= when even), S = sh × 2^26. One
 * step later (10M <= S) that holds exactly when d' is 9 and R' + 10M > S.
 */
function roundsUp(h: number, l: number, k: number, sh: number, even: boolean): boolean {
  const sl = l + POW10_LOW[k]!;
  const shi = h + POW10_HIGH[k]! + (sl >>> 26);
  return shi > sh || (shi === sh && (even || (sl & 0x3ffffff) > 0));
}

const f64 = new Float64Array(1);
const f64words = new Uint32Array(f64.buffer);
const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;
const LO = LITTLE_ENDIAN ? 0 : 1;
const HI = LITTLE_ENDIAN ? 1 : 0;
const TWO26 = 2 ** 26;
const INVERSE_TWO26 = 2 ** -26;
const POW2 = Array.from({ length: 64 }, (_, i) => 2 ** i);
const INVERSE_POW2 = Array.from({ length: 64 }, (_, i) => 2 ** -i);
/** 10^k = POW10_HIGH[k] × 2^26 + POW10_LOW[k], exact for k <= 22. */
const POW10_HIGH = Array.from({ length: 23 }, (_, k) => Math.floor(10 ** k / TWO26));
const POW10_LOW = Array.from({ length: 23 }, (_, k) => 10 ** k - Math.floor(10 ** k / TWO26) * TWO26);

/** `v` must already be a float32 value (e.g. from `readFloatLE` or `Math.fround`). */
export function javaFloatToString(v: number): string {
  if (v !== v) return "NaN";
  if (v === 0) return 1 / v < 0 ? "-0.0" : "0.0";
  const abs = v < 0 ? -v : v;
  if (abs === Infinity) return v < 0 ? "-Infinity" : "Infinity";
  const digits = shortestFloatDigits(abs);
  if (abs >= 1e-3 && abs < 1e7) return javaPlain(v < 0, digits.digits, digits.exponent);
  const rest = digits.digits.length > 1 ? digits.digits.slice(1) : "0";
  return (v < 0 ? "-" : "") + digits.digits[0] + "." + rest + "E" + digits.exponent;
}

/** Turns JavaScript's "d[.ddd]e±x" into Java's "d.ddd" "E" "x". */
function javaScientific(negative: boolean, s: string): string {
  const e = s.indexOf("e");
  const mantissa = e === 1 ? s[0] + ".0" : s.slice(0, e);
  const exp = s.charCodeAt(e + 1) === 43 /* + */ ? s.slice(e + 2) : s.slice(e + 1);
  return (negative ? "-" : "") + mantissa + "E" + exp;
}

/** `digits` (no trailing zeros) × 10^(exponent − digits.length + 1), written plainly. */
function javaPlain(negative: boolean, digits: string, exponent: number): string {
  const sign = negative ? "-" : "";
  if (exponent < 0) return sign + "0." + "0".repeat(-exponent - 1) + digits;
  if (digits.length <= exponent + 1) return sign + digits + "0".repeat(exponent + 1 - digits.length) + ".0";
  return sign + digits.slice(0, exponent + 1) + "." + digits.slice(exponent + 1);
}

interface DecimalDigits {
  /** Significant digits, no trailing zeros. */
  digits: string;
  /** Decimal exponent of the first digit: value = d.ddd × 10^exponent. */
  exponent: number;
}

const f32 = new Float32Array(1);
const f32bits = new Uint32Array(f32.buffer);

/**
 * Shortest decimal (at least two digits tried, see the module comment) that rounds to the
 * float `f` > 0, closest to `f` among those of that length.
 */
function shortestFloatDigits(f: number): DecimalDigits {
  f32[0] = f;
  const bits = f32bits[0]!;
  const biased = bits >>> 23;
  const fraction = bits & 0x7fffff;
  // Distance to the neighbouring floats; at a power of two the one below is half as far.
  const ulp = biased === 0 ? 2 ** -149 : 2 ** (biased - 150);
  const below = fraction === 0 && biased > 1 ? ulp / 2 : ulp;
  // Round-half-even: the midpoints belong to f when its significand is even. All of these
  // are exact in a double (a float has 24 significant bits).
  const interval: RoundingInterval = { low: f - below / 2, high: f + ulp / 2, closed: (fraction & 1) === 0 };
  // Whether some n-digit decimal rounds to f is monotonic in n, so binary search the length.
  let lo = 2;
  let hi = 9; // 9 digits always suffice for a float
  let found = candidateOfLength(f, hi, interval)!;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const c = candidateOfLength(f, mid, interval);
    if (c) {
      found = c;
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  return found;
}

interface RoundingInterval {
  low: number;
  high: number;
  closed: boolean;
}

/**
 * The n-digit decimal closest to `f` that lies in its rounding interval (ties to an even last
 * digit, as Java), or undefined. Only the n-digit decimals just below and just above `f` can
 * qualify: toExponential gives the nearer one (the upper on a tie), and the other one matters
 * on a tie or when the interval is asymmetric (at a power of two).
 */
function candidateOfLength(f: number, n: number, interval: RoundingInterval): DecimalDigits | undefined {
  const s = f.toExponential(n - 1);
  const e = s.indexOf("e");
  const near = Number(n === 1 ? s.slice(0, e) : s[0] + s.slice(2, e));
  const nearExp = Number(s.slice(e + 1)) - (n - 1);
  const nearValue = Number(near + "e" + nearExp);
  const nearIn = inInterval(near, nearExp, interval);
  // Parsing to f itself means the decimal is far closer than any tie or asymmetry could matter.
  if (nearValue === f) return nearIn ? toDigits(near, nearExp) : undefined;

  const lowest = POW10[n - 1]!;
  let far: number;
  let farExp = nearExp;
  if (nearValue > f) {
    far = near - 1;
    if (far < lowest) [far, farExp] = [POW10[n]! - 1, nearExp - 1];
  } else {
    far = near + 1;
    if (far === POW10[n]) [far, farExp] = [lowest, nearExp + 1];
  }
  const farIn = inInterval(far, farExp, interval);
  if (nearIn && farIn && nearValue > f) {
    // On an exact tie toExponential picked the upper one; Java wants the even one.
    const midpoint = near * 10 ** (nearExp - farExp) + far; // × 10^farExp / 2
    if (isHalfOf(f, midpoint, farExp) && near % 2 === 1) return toDigits(far, farExp);
  }
  if (nearIn) return toDigits(near, nearExp);
  if (farIn) return toDigits(far, farExp);
  return undefined;
}

const POW10 = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10] as const;

/**
 * Whether the float `f` equals exactly n × 10^q / 2 for an odd n. With f = m × 2^k (m odd),
 * n × 10^q / 2 = n × 5^q × 2^(q−1), so k must be q − 1 and the odd parts must match. The
 * products are exact whenever they could be equal (m < 2^24, n < 2^35).
 */
function isHalfOf(f: number, n: number, q: number): boolean {
  f32[0] = f;
  const bits = f32bits[0]!;
  const biased = bits >>> 23;
  let m = biased === 0 ? bits & 0x7fffff : (bits & 0x7fffff) | 0x800000;
  let k = (biased === 0 ? 1 : biased) - 150;
  while (m % 2 === 0) {
    m /= 2;
    k++;
  }
  if (k !== q - 1) return false;
  return q >= 0 ? n * 5 ** q === m : n === m * 5 ** -q;
}

function toDigits(significand: number, exp10: number): DecimalDigits {
  let d = significand;
  let e = exp10;
  while (d % 10 === 0) {
    d /= 10;
    e++;
  }
  const digits = String(d);
  return { digits, exponent: e + digits.length - 1 };
}

/**
 * Whether significand × 10^exp10 lies in the interval. Parsing to the nearest double decides
 * it unless the decimal parses to a bound itself; then the exact comparison is made with
 * BigInt (essentially never: a ≤9-digit decimal within half a double ulp of a float midpoint).
 */
function inInterval(significand: number, exp10: number, interval: RoundingInterval): boolean {
  const x = Number(significand + "e" + exp10);
  if (x > interval.low && x < interval.high) return true;
  if (x !== interval.low && x !== interval.high) return false;
  const c = compareExact(significand, exp10, x);
  if (c === 0) return interval.closed;
  return x === interval.low ? c > 0 : c < 0;
}

/** Sign of (significand × 10^exp10 − d) for a finite double d > 0, computed exactly. */
function compareExact(significand: number, exp10: number, d: number): number {
  // d = m × 2^k with integer m.
  let k = 0;
  let m = d;
  while (!Number.isInteger(m)) {
    m *= 2;
    k--;
  }
  let left = BigInt(significand);
  let right = BigInt(m);
  if (exp10 >= 0) left *= 10n ** BigInt(exp10);
  else right *= 10n ** BigInt(-exp10);
  if (k >= 0) right <<= BigInt(k);
  else left <<= BigInt(-k);
  return left === right ? 0 : left > right ? 1 : -1;
}
