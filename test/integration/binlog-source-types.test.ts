/**
 * The type matrix through the whole source against a real MariaDB 10.11: a table of every
 * column type (column-values.sql, whose expected strings and sqlTypes were produced by
 * Canal's own Java classes, see column-values.json) inserted, updated and deleted; plus
 * binary bytes 0x00-0xFF, nested JSON with escapes and multibyte text. Every Entry is decoded
 * from its bytes and compared field by field with canal-facts.md §2.2-§2.5.
 */
import { readFileSync } from "node:fs";
import type mysql from "mysql2/promise";
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { BinlogSource, SourceStatus } from "../../src/actors/binlog-source.js";
import { SchemaReader } from "../../src/actors/schema-reader.js";
import { type Column, EntryType, EventType } from "../../src/protocol/entry.js";
import { type MariaDBServer, startMariaDB } from "../../src/testkit/index.js";
import { Collector, connect, masterPosition, startSource } from "./source-helpers.js";

const fixtures = new URL("../fixtures/binlog/", import.meta.url);
const fixture = JSON.parse(readFileSync(new URL("column-values.json", fixtures), "utf8")) as {
  columns: Array<{ name: string; mysqlType: string }>;
  expected: Record<string, Array<Array<[string | null, number]>>>;
};
const expectedUtc = fixture.expected.UTC!;

let server: MariaDBServer;
let db: mysql.Connection;

test.before(async () => {
  server = await startMariaDB();
  db = await connect(server);
});

test.after(async () => {
  await db?.end();
  await server?.stop();
});

/** Reads the binlog events of `file` from `position` as the server lists them. */
async function binlogEvents(file: string, position: number): Promise<Array<{ Pos: number; End_log_pos: number; Event_type: string }>> {
  const [rows] = (await db.query(`SHOW BINLOG EVENTS IN '${file}' FROM ${position}`)) as unknown as [
    Array<{ Pos: number; End_log_pos: number; Event_type: string }>,
  ];
  return rows.map((r) => ({ ...r, Pos: Number(r.Pos), End_log_pos: Number(r.End_log_pos) }));
}

/** The columns Canal would send for one image, compared as [name, value, sqlType, isNull, isKey, updated, mysqlType, index]. */
const shape = (columns: Column[]) =>
  columns.map((c) => [c.name, c.value ?? null, c.sqlType, c.isNull, c.isKey, c.updated, c.mysqlType, c.index, c.length]);

test("every column type: insert, update and delete entries match Canal's rendering", async () => {
  const start = await masterPosition(db);
  const statuses: SourceStatus[] = [];
  const collector = new Collector();
  const source = await startSource(server, collector, { start, timeZone: "UTC", onStatus: (s) => statuses.push(s) });
  try {
    const sql = readFileSync(new URL("column-values.sql", fixtures), "utf8");
    await db.query("SET sql_mode = '', time_zone = '+00:00'");
    await db.query(sql);
    await db.query("UPDATE cv.t SET ti = 5, vc = vc WHERE id = 1");
    await db.query("DELETE FROM cv.t WHERE id = 2");
    await collector.until(() => collector.entries.filter((e) => e.entry.header?.tableName === "t" && e.rowChange?.rowDatas).length === 3);
  } finally {
    await source.stop();
  }

  const rows = collector.entries.filter((e) => e.entry.header?.tableName === "t" && e.rowChange?.rowDatas !== undefined);
  const [inserted, updated, deleted] = rows;
  const names = fixture.columns.map((c) => c.name);
  const types = fixture.columns.map((c) => c.mysqlType);
  const image = (row: Array<[string | null, number]>, updatedFlags: (i: number) => boolean) =>
    row.map(([value, sqlType], i) => [names[i], value, sqlType, value === null, i === 0, updatedFlags(i), types[i], i, undefined]);

  // INSERT: after images only, every column updated=true (§2.4).
  assert.is(inserted!.rowChange!.eventType, EventType.INSERT);
  assert.is(inserted!.rowChange!.isDdl, false);
  assert.is(inserted!.rowChange!.sql, undefined, "rows entries carry no sql");
  const insertedRows = inserted!.rowChange!.rowDatas!;
  assert.is(insertedRows.length, 4);
  insertedRows.forEach((r, n) => {
    assert.is(r.beforeColumns, undefined);
    assert.equal(shape(r.afterColumns!), image(expectedUtc[n]!, () => true), `inserted row ${n + 1}`);
  });

  // UPDATE: before image all updated=false; after image updated only where the value changed.
  const pair = updated!.rowChange!.rowDatas![0]!;
  assert.is(updated!.rowChange!.eventType, EventType.UPDATE);
  assert.equal(shape(pair.beforeColumns!), image(expectedUtc[0]!, () => false));
  const after = expectedUtc[0]!.map(([v, t], i): [string | null, number] => (i === 1 ? ["5", t] : [v, t]));
  assert.equal(shape(pair.afterColumns!), image(after, (i) => i === 1));

  // DELETE: before images only, updated=false.
  const gone = deleted!.rowChange!.rowDatas![0]!;
  assert.is(deleted!.rowChange!.eventType, EventType.DELETE);
  assert.is(gone.afterColumns, undefined);
  assert.equal(shape(gone.beforeColumns!), image(expectedUtc[1]!, () => false));

  // Headers (§2.2): start offset, length and time of the rows event itself.
  const listed = await binlogEvents(start.file, start.position);
  const rowsEvents = listed.filter((e) => /^(Write|Update|Delete)_rows/.test(e.Event_type));
  for (const [k, e] of rows.entries()) {
    const h = e.entry.header!;
    const event = rowsEvents[k]!;
    assert.is(h.logfileName, start.file);
    assert.is(h.logfileOffset, event.Pos, "the event's start offset");
    assert.is(h.eventLength, event.End_log_pos - event.Pos);
    assert.is(h.version, 1);
    assert.is(h.serverId, server.serverId);
    assert.is(h.serverenCode, "UTF-8");
    assert.is(h.sourceType, 2);
    assert.is(h.schemaName, "cv");
    assert.is(h.executeTime! % 1000, 0, "seconds × 1000");
    assert.ok(Math.abs(h.executeTime! - Date.now()) < 60_000);
    assert.equal(h.props, [{ key: "rowsCount", value: String(e.rowChange!.rowDatas!.length) }]);
    assert.is(e.entry.entryType, EntryType.ROWDATA);
  }

  // MariaDB has no BEGIN query for GTID-aware replicas: a transaction ends with an XID entry.
  const ends = collector.entries.filter((e) => e.entry.entryType === EntryType.TRANSACTIONEND);
  assert.ok(ends.length >= 3 && ends.every((e) => /^\d+$/.test(e.xid!) && e.entry.header!.eventType === undefined));
  assert.equal(statuses.filter((s) => s.type === "schemaMode"), [{ type: "schemaMode", mode: "binlog", table: "cv.t" }]);
});

test("binary bytes 0x00-0xFF, nested JSON with escapes, multibyte text, extreme integers", async () => {
  const start = await masterPosition(db);
  const collector = new Collector();
  const source = await startSource(server, collector, { start });
  const json = '{"a": {"b": [1, -2.5e-3, "x\\"y\\n\\u0001"], "c": null}, "d": "ü\\t😀"}';
  try {
    await db.query("CREATE DATABASE bin");
    await db.query(
      "CREATE TABLE bin.t (id BIGINT UNSIGNED PRIMARY KEY, vb VARBINARY(256), bl LONGBLOB, j JSON, tx VARCHAR(20) CHARACTER SET utf8mb4, n TINYINT UNSIGNED)",
    );
    await db.query("INSERT INTO bin.t VALUES (18446744073709551615, ?, ?, ?, ?, 255)", [allBytes(), allBytes().reverse(), json, "日本語 ẞ 🚀"]);
    await collector.until(() => collector.entries.some((e) => e.entry.header?.tableName === "t" && e.rowChange?.rowDatas));
  } finally {
    await source.stop();
  }
  const entry = collector.entries.find((e) => e.entry.header?.tableName === "t" && e.rowChange?.rowDatas)!;
  const columns = entry.rowChange!.rowDatas![0]!.afterColumns!;
  const latin1 = (b: Buffer) => b.toString("latin1");
  assert.equal(shape(columns), [
    // BIGINT UNSIGNED ≥ 2^63 is promoted to DECIMAL (§2.5).
    ["id", "18446744073709551615", 3, false, true, true, "bigint(20) unsigned", 0, undefined],
    // Binary data: byte i becomes U+00ii, sqlType BLOB.
    ["vb", latin1(allBytes()), 2004, false, false, true, "varbinary(256)", 1, undefined],
    ["bl", latin1(allBytes().reverse()), 2004, false, false, true, "longblob", 2, undefined],
    // MariaDB's JSON is LONGTEXT: the text as stored, CLOB.
    ["j", json, 2005, false, false, true, "longtext", 3, undefined],
    ["tx", "日本語 ẞ 🚀", 12, false, false, true, "varchar(20)", 4, undefined],
    // TINYINT UNSIGNED 255: raw -1, so promoted to SMALLINT.
    ["n", "255", 5, false, false, true, "tinyint(3) unsigned", 5, undefined],
  ]);
});

test("the schema reader's mysqlType is the type SHOW CREATE TABLE prints; the key is the PRIMARY KEY only", async () => {
  await db.query("CREATE DATABASE IF NOT EXISTS sr");
  await db.query(
    "CREATE TABLE sr.t (a INT(10) UNSIGNED ZEROFILL, b DECIMAL(10), c FLOAT(30), d DOUBLE(10,2), e ENUM('x','y''z'), f SET('p','q'), g YEAR, h BIT, i TIMESTAMP(3) NULL, j JSON, k CHAR(3) CHARACTER SET latin1, u BIGINT NOT NULL UNIQUE)",
  );
  await db.query("CREATE TABLE sr.pk (x INT, y VARCHAR(5), z INT, PRIMARY KEY (y, x))");
  const reader = new SchemaReader(server);
  try {
    const t = (await reader.read("sr", "t"))!;
    const [[create]] = (await db.query("SHOW CREATE TABLE sr.t")) as unknown as [[Record<string, string>]];
    const printed = [...create!["Create Table"]!.matchAll(/^\s+`(\w+)` ((?:[a-z]+(?:\((?:'(?:[^']|'')*'|[^)])*\))?)(?: unsigned)?(?: zerofill)?)/gm)].map((m) => [m[1], m[2]]);
    assert.equal(t.columns.map((c) => [c.name, c.mysqlType]), printed);
    assert.equal(t.columns.map((c) => c.isKey), Array(12).fill(false), "a UNIQUE NOT NULL column is not a key");
    assert.equal((await reader.read("sr", "pk"))!.columns.map((c) => c.isKey), [true, true, false]);
    assert.is(await reader.read("sr", "missing"), null);
    assert.is(reader.reads, 3);
    await reader.read("sr", "t");
    assert.is(reader.reads, 3, "cached");
    reader.invalidate("sr", "t");
    await reader.read("sr", "t");
    assert.is(reader.reads, 4, "read again after invalidation");
  } finally {
    await reader.close();
  }
});

test("without FULL metadata the names, keys and mysqlType come from the database, and the mode says so", async () => {
  const minimal = await startMariaDB({ binlogRowMetadata: "NO_LOG" });
  const conn = await connect(minimal);
  let source: BinlogSource | undefined;
  try {
    const start = await masterPosition(conn);
    const statuses: SourceStatus[] = [];
    const collector = new Collector();
    source = await startSource(minimal, collector, { start, onStatus: (s) => statuses.push(s) });
    await conn.query("CREATE DATABASE m");
    await conn.query("CREATE TABLE m.t (id INT UNSIGNED PRIMARY KEY, name VARCHAR(10))");
    await conn.query("INSERT INTO m.t VALUES (4294967295, 'x')");
    await collector.until(() => collector.entries.some((e) => e.rowChange?.rowDatas));
    const columns = collector.entries.find((e) => e.rowChange?.rowDatas)!.rowChange!.rowDatas![0]!.afterColumns!;
    assert.equal(shape(columns), [
      ["id", "4294967295", -5, false, true, true, "int(10) unsigned", 0, undefined],
      ["name", "x", 12, false, false, true, "varchar(10)", 1, undefined],
    ]);
    assert.equal(statuses.filter((s) => s.type === "schemaMode"), [{ type: "schemaMode", mode: "database", table: "m.t" }]);
    assert.is(source.schemaMode, "database");
  } finally {
    await source?.stop();
    await conn.end();
    await minimal.stop();
  }
});

function allBytes(): Buffer {
  return Buffer.from(Array.from({ length: 256 }, (_, i) => i));
}

test.run();
