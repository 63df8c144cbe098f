import { test } from "uvu";
import * as assert from "uvu/assert";
import { CanalProtocolError } from "../../../src/errors.js";
import { decimalLayout, readDecimal } from "../../../src/protocol/binlog/decimal.js";

const DIGIT_BYTES = [0, 1, 1, 2, 2, 3, 3, 4, 4, 4];

/** decimal2bin for a plain decimal string, from the documented layout. */
function encode(text: string, precision: number, scale: number): Buffer {
  const negative = text.startsWith("-");
  const [int = "", frac = ""] = text.replace("-", "").split(".");
  const intDigits = int.padStart(precision - scale, "0");
  const fracDigits = frac.padEnd(scale, "0");
  const bytes: number[] = [];
  const put = (digits: string) => {
    const n = DIGIT_BYTES[digits.length]!;
    let v = Number(digits);
    const group: number[] = [];
    for (let i = 0; i < n; i++, v = Math.floor(v / 256)) group.unshift(v % 256);
    bytes.push(...group);
  };
  const lead = intDigits.length % 9;
  if (lead) put(intDigits.slice(0, lead));
  for (let i = lead; i < intDigits.length; i += 9) put(intDigits.slice(i, i + 9));
  for (let i = 0; i + 9 <= fracDigits.length; i += 9) put(fracDigits.slice(i, i + 9));
  if (fracDigits.length % 9) put(fracDigits.slice(fracDigits.length - (fracDigits.length % 9)));
  bytes[0]! ^= 0x80;
  return Buffer.from(negative ? bytes.map((b) => b ^ 0xff) : bytes);
}

const render = (text: string, p: number, s: number) => readDecimal(encode(text, p, s), 0, decimalLayout(p, s));

test("layout sizes follow decimal2bin", () => {
  assert.is(decimalLayout(10, 2).size, 5); // 8 digits → 4 bytes, 2 digits → 1 byte
  assert.is(decimalLayout(5, 0).size, 3);
  assert.is(decimalLayout(65, 30).size, 30); // 35 = 8+27 digits → 4+12, 30 = 27+3 → 12+2
  assert.equal([...encode("5.4567", 10, 4)], [0x80, 0x00, 0x05, 0x11, 0xd7]);
});

test("fraction digits as Canal prints them", () => {
  assert.is(render("12.50", 10, 2), "12.50");
  assert.is(render("0.05", 10, 2), "0.05");
  assert.is(render("-12.34", 10, 2), "-12.34");
  // Canal drops a zero trailing fraction group: "-3.0", not "-3.00".
  assert.is(render("-3.00", 10, 2), "-3.0");
  assert.is(render("7", 10, 2), "7.0");
  assert.is(render("1", 20, 10), "1.000000000");
  assert.is(render("1.0000000001", 20, 10), "1.0000000001");
  assert.is(render("1", 18, 9), "1.000000000");
});

test("integer decimals, leading zeros, zero and negative zero", () => {
  assert.is(render("42", 5, 0), "42");
  assert.is(render("-99999", 5, 0), "-99999");
  assert.is(render("0", 5, 0), "0");
  assert.is(render("0.00", 10, 2), "0.0");
  assert.is(render("-0.00", 10, 2), "0.0"); // BigDecimal has no negative zero
  assert.is(render("1000000000", 12, 0), "1000000000");
  assert.is(render("123456789012345678", 20, 0), "123456789012345678");
});

test("DECIMAL(65,30) extremes", () => {
  const max = "9".repeat(35) + "." + "9".repeat(30);
  assert.is(render(max, 65, 30), max);
  assert.is(render("-" + max, 65, 30), "-" + max);
  assert.is(render("-0." + "0".repeat(29) + "1", 65, 30), "-0." + "0".repeat(29) + "1");
  assert.is(render("3.141592653589793238462643383280", 65, 30), "3.141592653589793238462643383280");
});

test("malformed groups and metadata are CanalProtocolErrors", () => {
  const isProtocolError = (pattern: RegExp) => (e: unknown) => e instanceof CanalProtocolError && pattern.test(e.message);
  // 0x3fffffff does not fit an 8-digit group
  const tooBig = Buffer.from([0xbf, 0xff, 0xff, 0xff, 0x00]);
  assert.throws(() => readDecimal(tooBig, 0, decimalLayout(10, 2)), isProtocolError(/DECIMAL\(10,2\): a 8-digit group holds 1073741823/));
  assert.throws(() => decimalLayout(66, 0), isProtocolError(/DECIMAL metadata \(66,0\)/));
  assert.throws(() => decimalLayout(10, 11), isProtocolError(/expected precision/));
});

test.run();
