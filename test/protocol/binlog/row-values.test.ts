import { test } from "uvu";
import * as assert from "uvu/assert";
import { CanalProtocolError } from "../../../src/errors.js";
import { MysqlType as M, SqlType as S, readColumnMetadata, resolveStringType } from "../../../src/protocol/binlog/column-types.js";
import { type ColumnDef, charsetFromName, createColumnValue, planColumn, readColumnValue } from "../../../src/protocol/binlog/row-values.js";

/** Reads one value of `def` from `bytes`, checking that exactly all bytes were used. */
function read(def: ColumnDef, bytes: number[] | Buffer): [string | null, number] {
  const buf = Buffer.from(bytes);
  const out = createColumnValue();
  const next = readColumnValue(planColumn(def), buf, 0, buf.length, out);
  assert.is(next, buf.length, "bytes consumed");
  return [out.value, out.sqlType];
}
const le = (v: bigint, n: number) => Array.from({ length: n }, (_, i) => Number((BigInt.asUintN(64, v) >> BigInt(8 * i)) & 0xffn));

test("integers: value-dependent promotion of unsigned columns", () => {
  const int = (type: number, n: number, v: bigint, unsigned = false) => read({ type, meta: 0, unsigned }, le(v, n));
  assert.equal(int(M.TINY, 1, 100n, true), ["100", S.TINYINT]);
  assert.equal(int(M.TINY, 1, 200n, true), ["200", S.SMALLINT]);
  assert.equal(int(M.TINY, 1, -56n), ["-56", S.TINYINT]);
  assert.equal(int(M.SHORT, 2, 32767n, true), ["32767", S.SMALLINT]);
  assert.equal(int(M.SHORT, 2, 65535n, true), ["65535", S.INTEGER]);
  assert.equal(int(M.INT24, 3, 16777215n, true), ["16777215", S.INTEGER]);
  assert.equal(int(M.INT24, 3, -8388608n), ["-8388608", S.INTEGER]);
  assert.equal(int(M.LONG, 4, 2147483647n, true), ["2147483647", S.INTEGER]);
  assert.equal(int(M.LONG, 4, 4294967295n, true), ["4294967295", S.BIGINT]);
  assert.equal(int(M.LONG, 4, -1n), ["-1", S.INTEGER]);
  assert.equal(int(M.LONGLONG, 8, 9223372036854775807n, true), ["9223372036854775807", S.BIGINT]);
  assert.equal(int(M.LONGLONG, 8, 18446744073709551615n, true), ["18446744073709551615", S.DECIMAL]);
  assert.equal(int(M.LONGLONG, 8, 9223372036854775808n, true), ["9223372036854775808", S.DECIMAL]);
  assert.equal(int(M.LONGLONG, 8, -9223372036854775808n), ["-9223372036854775808", S.BIGINT]);
  assert.equal(int(M.LONGLONG, 8, -9007199254740993n), ["-9007199254740993", S.BIGINT]);
  assert.equal(int(M.LONGLONG, 8, 9007199254740993n), ["9007199254740993", S.BIGINT]);
  assert.equal(int(M.LONGLONG, 8, 1234567890123n), ["1234567890123", S.BIGINT]);
});

test("FLOAT and DOUBLE use Java's formatting", () => {
  const f = Buffer.alloc(4);
  f.writeFloatLE(0.1);
  assert.equal(read({ type: M.FLOAT, meta: 4 }, f), ["0.1", S.REAL]);
  const d = Buffer.alloc(8);
  d.writeDoubleLE(1e10);
  assert.equal(read({ type: M.DOUBLE, meta: 8 }, d), ["1.0E10", S.DOUBLE]);
});

test("BIT is big-endian unsigned; BIT(1) is the byte", () => {
  assert.equal(read({ type: M.BIT, meta: 1 }, [1]), ["1", S.BIT]);
  assert.equal(read({ type: M.BIT, meta: 3 }, [0b101]), ["5", S.BIT]);
  assert.equal(read({ type: M.BIT, meta: 16 }, [0x01, 0x00]), ["256", S.BIT]);
  assert.equal(read({ type: M.BIT, meta: 64 }, new Array(8).fill(0xff)), ["18446744073709551615", S.BIT]);
  assert.equal(read({ type: M.BIT, meta: 50 }, [0x02, 0, 0, 0, 0, 0, 1]), ["562949953421313", S.BIT]);
});

test("ENUM index, SET bitmask", () => {
  assert.equal(read({ type: M.ENUM, meta: 1 }, [2]), ["2", S.INTEGER]);
  assert.equal(read({ type: M.ENUM, meta: 2 }, [0x2c, 0x01]), ["300", S.INTEGER]);
  assert.equal(read({ type: M.SET, meta: 1 }, [21]), ["21", S.BIT]);
  assert.equal(read({ type: M.SET, meta: 8 }, new Array(8).fill(0xff)), ["18446744073709551615", S.BIT]);
});

test("strings: length prefix from the max length, charset vs ISO-8859-1", () => {
  const text = Buffer.from("héllo", "utf8");
  assert.equal(read({ type: M.VARCHAR, meta: 80 }, [text.length, ...text]), ["héllo", S.VARCHAR]);
  assert.equal(read({ type: M.VARCHAR, meta: 1200 }, [text.length, 0, ...text]), ["héllo", S.VARCHAR]);
  assert.equal(read({ type: M.STRING, meta: 40 }, [2, 0x61, 0x20]), ["a ", S.CHAR]);
  assert.equal(read({ type: M.VARCHAR, meta: 10, binary: true }, [2, 0xc3, 0xa9]), ["\u00c3\u00a9", S.BLOB]);
  assert.equal(read({ type: M.STRING, meta: 4, binary: true }, [1, 0xff]), ["\u00ff", S.BLOB]);
  assert.equal(read({ type: M.BLOB, meta: 2 }, [2, 0, 0x00, 0xfe]), ["\u0000\u00fe", S.BLOB]);
  assert.equal(read({ type: M.BLOB, meta: 3, binary: false }, [text.length, 0, 0, ...text]), ["héllo", S.CLOB]);
  assert.equal(read({ type: M.GEOMETRY, meta: 4, binary: false }, [1, 0, 0, 0, 0x80]), ["\u0080", S.BLOB]);
  assert.equal(read({ type: M.JSON, meta: 4 }, [0, 0, 0, 0]), ["", S.VARCHAR]);
});

test("the sqlType of NULL follows Canal's declared mapping", () => {
  const nullType = (def: ColumnDef) => planColumn(def).nullSqlType;
  assert.is(nullType({ type: M.TINY, meta: 0, unsigned: true }), S.TINYINT);
  assert.is(nullType({ type: M.LONGLONG, meta: 0, unsigned: true }), S.BIGINT);
  assert.is(nullType({ type: M.SET, meta: 1 }), S.BLOB);
  assert.is(nullType({ type: M.JSON, meta: 4 }), S.OTHER);
  assert.is(nullType({ type: M.ENUM, meta: 1 }), S.INTEGER);
  assert.is(nullType({ type: M.YEAR, meta: 0 }), S.VARCHAR);
  assert.is(nullType({ type: M.BLOB, meta: 2, binary: false }), S.CLOB);
  assert.is(nullType({ type: M.VARCHAR, meta: 10, binary: true }), S.BLOB);
  assert.is(nullType({ type: M.TIME2, meta: 0 }), S.TIME);
});

test("table map metadata: widths per type and the STRING real-type packing", () => {
  const types = [M.LONG, M.VARCHAR, M.NEWDECIMAL, M.BIT, M.STRING, M.STRING, M.STRING, M.DATETIME2, M.BLOB, M.DOUBLE];
  const meta = Buffer.from([0x2c, 0x01, 10, 2, 3, 1, 0xfe, 40, 0xf7, 1, 0xee, 0x20, 6, 2, 8]);
  assert.equal(readColumnMetadata(types, meta, 0, meta.length), [
    { type: M.LONG, meta: 0 },
    { type: M.VARCHAR, meta: 300 },
    { type: M.NEWDECIMAL, meta: (10 << 8) | 2 },
    { type: M.BIT, meta: 11 },
    { type: M.STRING, meta: 40 },
    { type: M.ENUM, meta: 1 },
    { type: M.STRING, meta: 288 }, // CHAR(96) utf8mb3: (0x30 ^ 0x20) << 4 | 0x20
    { type: M.DATETIME2, meta: 6 },
    { type: M.BLOB, meta: 2 },
    { type: M.DOUBLE, meta: 8 },
  ]);
  assert.throws(() => readColumnMetadata([M.VARCHAR], Buffer.from([1]), 0, 1), (e: unknown) => e instanceof CanalProtocolError && /truncated/.test(e.message));
  assert.throws(() => readColumnMetadata([M.LONG], Buffer.from([1]), 0, 1), (e: unknown) => e instanceof CanalProtocolError && /left over/.test(e.message));
  assert.throws(() => resolveStringType(0xfd, 1), (e: unknown) => e instanceof CanalProtocolError && /real type 253/.test(e.message));
});

test("truncated row images and undecodable types are CanalProtocolErrors", () => {
  const out = createColumnValue();
  const err = (pattern: RegExp) => (e: unknown) => e instanceof CanalProtocolError && pattern.test(e.message);
  assert.throws(() => readColumnValue(planColumn({ type: M.LONG, meta: 0 }), Buffer.alloc(8), 0, 3, out), err(/needs 4 bytes, 3 left/));
  assert.throws(() => readColumnValue(planColumn({ type: M.VARCHAR, meta: 10 }), Buffer.from([5, 0x61]), 0, 2, out), err(/needs 6 bytes, 2 left/));
  assert.throws(() => planColumn({ type: M.NEWDATE, meta: 0 }), err(/type 14 cannot be decoded/));
  assert.throws(() => planColumn({ type: M.DATETIME2, meta: 7 }), err(/fsp of 0..6/));
  assert.throws(() => charsetFromName("GBK"), /connection charset "GBK"/);
});

test.run();
