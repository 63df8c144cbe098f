import { test } from "uvu";
import * as assert from "uvu/assert";
import { CanalProtocolError } from "../../../src/errors.js";
import { escapeJsonString, renderJsonBinary } from "../../../src/protocol/binlog/json-binary.js";

/** Values of the test encoder: plain JSON, or tagged scalars for the exact binary type. */
type J = null | boolean | string | number | J[] | { [k: string]: J } | Tagged;
type Tagged = { $: "int64" | "uint64" | "uint16" | "uint32" | "double"; v: bigint | number } | { $: "opaque"; type: number; data: Buffer };

const T = { sobj: 0, lobj: 1, sarr: 2, larr: 3, lit: 4, i16: 5, u16: 6, i32: 7, u32: 8, i64: 9, u64: 10, dbl: 11, str: 12, opaque: 15 };

function varLength(n: number): number[] {
  const out: number[] = [];
  do {
    out.push((n & 0x7f) | (n >= 0x80 ? 0x80 : 0));
    n >>>= 7;
  } while (n > 0);
  return out;
}

/** MySQL json_binary from the documented layout; `large` picks the 4-byte offset format. */
function encode(v: J, large = false): [number, Buffer] {
  if (v === null || typeof v === "boolean") return [T.lit, Buffer.from([v === null ? 0 : v ? 1 : 2])];
  if (typeof v === "string") {
    const bytes = Buffer.from(v, "utf8");
    return [T.str, Buffer.concat([Buffer.from(varLength(bytes.length)), bytes])];
  }
  if (typeof v === "number") {
    const b = Buffer.alloc(v >= -32768 && v <= 32767 ? 2 : 4);
    if (b.length === 2) b.writeInt16LE(v);
    else b.writeInt32LE(v);
    return [b.length === 2 ? T.i16 : T.i32, b];
  }
  if (!Array.isArray(v) && "$" in v) {
    const tagged = v as Tagged;
    const b = Buffer.alloc(8);
    switch (tagged.$) {
      case "int64": b.writeBigInt64LE(BigInt(tagged.v)); return [T.i64, b];
      case "uint64": b.writeBigUInt64LE(BigInt(tagged.v)); return [T.u64, b];
      case "double": b.writeDoubleLE(Number(tagged.v)); return [T.dbl, b];
      case "uint16": b.writeUInt16LE(Number(tagged.v)); return [T.u16, b.subarray(0, 2)];
      case "uint32": b.writeUInt32LE(Number(tagged.v)); return [T.u32, b.subarray(0, 4)];
      case "opaque": return [T.opaque, Buffer.concat([Buffer.from([tagged.type, ...varLength(tagged.data.length)]), tagged.data])];
    }
  }
  const isArray = Array.isArray(v);
  const entries: [string | undefined, J][] = isArray ? v.map((x) => [undefined, x]) : Object.entries(v as object);
  const os = large ? 4 : 2;
  const put = (b: Buffer, at: number, n: number) => (large ? b.writeUInt32LE(n, at) : b.writeUInt16LE(n, at));
  const header = 2 * os + (isArray ? 0 : entries.length * (os + 2)) + entries.length * (1 + os);
  const keys = entries.map(([k]) => Buffer.from(k ?? "", "utf8"));
  let cursor = header + keys.reduce((n, k) => n + k.length, 0);
  const head = Buffer.alloc(header);
  const tails: Buffer[] = [...keys];
  let keyAt = header;
  entries.forEach(([, value], i) => {
    if (!isArray) {
      put(head, 2 * os + i * (os + 2), keyAt);
      head.writeUInt16LE(keys[i]!.length, 2 * os + i * (os + 2) + os);
      keyAt += keys[i]!.length;
    }
    const [type, data] = encode(value, large);
    const entry = 2 * os + (isArray ? 0 : entries.length * (os + 2)) + i * (1 + os);
    head[entry] = type;
    const inlined = type === T.lit || type === T.i16 || type === T.u16 || (large && (type === T.i32 || type === T.u32));
    if (inlined) data.copy(head, entry + 1);
    else {
      put(head, entry + 1, cursor);
      tails.push(data);
      cursor += data.length;
    }
  });
  put(head, 0, entries.length);
  put(head, os, cursor);
  return [isArray ? (large ? T.larr : T.sarr) : large ? T.lobj : T.sobj, Buffer.concat([head, ...tails])];
}

const render = (v: J, large = false) => {
  const [type, data] = encode(v, large);
  const buf = Buffer.concat([Buffer.from([0xee, type]), data, Buffer.from([0xee])]); // guard bytes around
  return renderJsonBinary(buf, 1, buf.length - 1, "utf8");
};

test("objects, arrays and nesting with MySQL's separators", () => {
  for (const large of [false, true]) {
    assert.is(render({ k: [1, 2, "s"], n: null }, large), '{"k": [1, 2, "s"], "n": null}');
    assert.is(render([], large), "[]");
    assert.is(render({}, large), "{}");
    assert.is(render([[[true, false]], { a: { b: {} } }], large), '[[[true, false]], {"a": {"b": {}}}]');
    assert.is(render({ big: 100000, neg: -7 }, large), '{"big": 100000, "neg": -7}');
  }
});

test("scalars: ints of every width, doubles in Java format, literals", () => {
  assert.is(render(5), "5");
  assert.is(render(-40000), "-40000");
  assert.is(render({ $: "uint16", v: 65535 }), "65535");
  assert.is(render({ $: "uint32", v: 4294967295 }), "4294967295");
  assert.is(render({ $: "int64", v: -9223372036854775808n }), "-9223372036854775808");
  assert.is(render({ $: "uint64", v: 18446744073709551615n }), "18446744073709551615");
  assert.is(render([{ $: "double", v: 2.5 }, { $: "double", v: 1 }, { $: "double", v: 1e-5 }, { $: "double", v: 1e21 }]), "[2.5, 1.0, 1.0E-5, 1.0E21]");
  assert.is(render(null), "null");
  assert.is(render(true), "true");
  assert.is(render([{ $: "uint32", v: 4000000000 }], true), "[4000000000]"); // inlined in the large format
});

test("strings are escaped like Canal: backslash forms and \\u00xx", () => {
  assert.is(render('tab\there "q" \\ line\nnext\r'), '"tab\\there \\"q\\" \\\\ line\\nnext\\r"');
  assert.is(render("\u0000\u0008\u000c\u001f\u007f\u0080\u00a0\u00a1é世😀"), '"\\u0000\\u0008\\u000c\\u001f\\u007f\\u0080\\u00a0¡é世😀"');
  assert.is(render({ 'k"\n': "v" }), '{"k\\"\\n": "v"}');
  assert.is(render("x".repeat(300)), `"${"x".repeat(300)}"`); // two-byte length
  assert.is(escapeJsonString("plain"), "plain");
});

test("opaque DECIMAL, DATETIME, DATE and TIME", () => {
  // DECIMAL(4,2) 12.50: precision, scale, then decimal2bin (0x80|12, 50)
  assert.is(render({ $: "opaque", type: 246, data: Buffer.from([4, 2, 0x8c, 0x32]) }), "12.50");
  const packed = (v: bigint) => {
    const b = Buffer.alloc(8);
    b.writeBigInt64LE(v);
    return b;
  };
  const dt = ((((2024n * 13n + 2n) << 5n) | 29n) << 17n | (13n << 12n) | (14n << 6n) | 15n) << 24n | 123456n;
  assert.is(render({ $: "opaque", type: 12, data: packed(dt) }), '"2024-02-29 13:14:15.123456"');
  assert.is(render({ $: "opaque", type: 10, data: packed((((2024n * 13n + 2n) << 5n) | 29n) << 41n) }), '"2024-02-29 00:00:00.000000"');
  assert.is(render({ $: "opaque", type: 7, data: packed(0n) }), '"0000-00-00 00:00:00"');
  const time = ((838n << 12n) | (59n << 6n) | 59n) << 24n | 1n;
  assert.is(render({ $: "opaque", type: 11, data: packed(-time) }), '"-838:59:59.000001"');
  assert.is(render({ $: "opaque", type: 11, data: packed(0n) }), '"00:00:00"');
  assert.is(render({ $: "opaque", type: 253, data: Buffer.from("raw\n") }), '"raw\\n"');
});

test("empty value, and malformed documents are CanalProtocolErrors", () => {
  assert.is(renderJsonBinary(Buffer.alloc(0), 0, 0, "utf8"), "");
  const bad = (hex: string, pattern: RegExp) =>
    assert.throws(() => renderJsonBinary(Buffer.from(hex, "hex"), 0, hex.length / 2, "utf8"), (e: unknown) => e instanceof CanalProtocolError && pattern.test(e.message));
  bad("0e", /unknown value type 0xe/);
  bad("0409", /literal byte 9/);
  bad("020100ff00", /container of 255 bytes/);
  bad("0c05616263", /string of 5 bytes/);
  bad("0b0000", /double needs 8 bytes/);
});

test.run();
