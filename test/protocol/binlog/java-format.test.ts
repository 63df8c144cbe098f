import { readFileSync } from "node:fs";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { javaDoubleToString, javaFloatToString } from "../../../src/protocol/binlog/java-format.js";

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

test.run();
