import { readFileSync } from "node:fs";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { javaDoubleToString, javaFloatToString, writeJavaDouble } from "../../../src/protocol/binlog/java-format.js";
import { ValueBytes } from "../../../src/protocol/binlog/value-bytes.js";
import { prng } from "../../../src/testkit/prng.js";

const fixture = JSON.parse(readFileSync(new URL("../../fixtures/binlog/java-number-format.json", import.meta.url), "utf8")) as {
  double: { bits: string; jdk21: string }[];
  float: { bits: string; jdk21: string }[];
};
const view = new DataView(new ArrayBuffer(8));
const doubleOf = (bits: string) => (view.setBigUint64(0, BigInt("0x" + bits)), view.getFloat64(0));
const floatOf = (bits: string) => (view.setUint32(0, parseInt(bits, 16)), view.getFloat32(0));

test("Double.toString: Java's layout", () => {
  const cases: [number, string][] = [
    [1.5, "1.5"], [0.1, "0.1"], [1, "1.0"], [1e10, "1.0E10"], [1e-5, "1.0E-5"], [1e7, "1.0E7"],
    [9999999, "9999999.0"], [0.001, "0.001"], [1e-4, "1.0E-4"], [0.002, "0.002"], [-0, "-0.0"], [0, "0.0"],
    [Number.MIN_VALUE, "4.9E-324"], [Number.MAX_VALUE, "1.7976931348623157E308"], [-2.5, "-2.5"],
    [123456789, "1.23456789E8"], [1e21, "1.0E21"], [1e23, "1.0E23"], [NaN, "NaN"], [Infinity, "Infinity"], [-Infinity, "-Infinity"],
  ];
  for (const [v, s] of cases) assert.is(javaDoubleToString(v), s, String(v));
});

test("Float.toString: shortest decimal for the float, not the double", () => {
  const cases: [number, string][] = [
    [0.1, "0.1"], [16777216, "1.6777216E7"], [1.5, "1.5"], [1e10, "1.0E10"], [1e-5, "1.0E-5"], [0.001, "0.001"],
    [9999999, "9999999.0"], [1e7, "1.0E7"], [3.4028234663852886e38, "3.4028235E38"], [1.401298464324817e-45, "1.4E-45"],
    [-0, "-0.0"], [0.000244140625, "2.4414062E-4"], [4177209.25, "4177209.2"], [123456.79, "123456.79"],
  ];
  for (const [v, s] of cases) assert.is(javaFloatToString(Math.fround(v)), s, String(v));
});

test("matches JDK 21+ output for every value in the fixture", () => {
  for (const { bits, jdk21 } of fixture.double) assert.is(javaDoubleToString(doubleOf(bits)), jdk21, `double ${bits}`);
  for (const { bits, jdk21 } of fixture.float) assert.is(javaFloatToString(floatOf(bits)), jdk21, `float ${bits}`);
});

/** writeJavaDouble's bytes as a string. */
const out = new ValueBytes(64);
function written(v: number): string {
  out.reset();
  out.pos = 3; // not at the start of the buffer
  writeJavaDouble(out, v);
  return out.scratch.toString("latin1", 3, out.pos);
}

test("writeJavaDouble: the same bytes as javaDoubleToString, on the fixture and edge values", () => {
  for (const { bits, jdk21 } of fixture.double) assert.is(written(doubleOf(bits)), jdk21, `double ${bits}`);
  const bits = new DataView(new ArrayBuffer(8));
  const step = (v: number, by: number) => (bits.setFloat64(0, v), bits.setBigInt64(0, bits.getBigInt64(0) + BigInt(by)), bits.getFloat64(0));
  const edges = [0, 1e-3, 1e7, 1, 2, 0.5, 0.1, 0.2, 0.3, 0.1 + 0.2, 1.005, 2.5, 123456.789, 9999999, 9999999.999999998, 4194304.5, 1e-4, 1e21, NaN, Infinity, Number.MIN_VALUE];
  for (const v of edges) {
    for (const w of [v, -v, step(v, 1), step(v, -1), -step(v, 1)]) assert.is(written(w), javaDoubleToString(w), String(w));
  }
});

test("writeJavaDouble: the same bytes as javaDoubleToString on 600k values (random, short decimals, dyadic, neighbours)", () => {
  const random = prng(0xd0b1e);
  const bits = new DataView(new ArrayBuffer(8));
  const near = (v: number, by: number) => (bits.setFloat64(0, v), bits.setBigInt64(0, bits.getBigInt64(0) + BigInt(by)), bits.getFloat64(0));
  const values: number[] = [];
  for (let i = 0; i < 50_000; i++) {
    const short = Math.round(random() * 1e5) / 1e3;
    values.push(
      random() * 1000, // the decode benchmark's DOUBLE column
      -random() * 1e7,
      Math.exp(Math.log(1e-3) + random() * Math.log(1e10)), // log-uniform over the plain range
      Math.round(random() * 1e6) / 100,
      Math.round(random() * 1e7) / 2 ** 11, // dyadic: ties between two last digits
      Math.round(random() * 1e4) / 2 ** 20,
      Math.floor(random() * 1e7),
      short, near(short, 1), near(short, -1),
    );
    bits.setUint32(0, ((1013 + Math.floor(random() * 35)) << 20) | Math.floor(random() * 0x100000)); // any significand in range
    bits.setUint32(4, Math.floor(random() * 2 ** 32));
    values.push(bits.getFloat64(0));
    bits.setUint32(4, 0);
    values.push(bits.getFloat64(0));
  }
  for (const v of values) {
    const want = javaDoubleToString(v);
    if (written(v) !== want) assert.is(written(v), want, `${v}`);
  }
});

test.run();
