/**
 * The binlog source against a real MariaDB 10.11 (ROW binlog, FULL row metadata, CRC32),
 * started by this file on a free loopback port: event order and positions, table maps with
 * FULL metadata, row images walked with the value renderer, resuming from a file/offset and
 * from a GTID, backpressure, reconnecting mid-transaction, and a corrupted event.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import mysql from "mysql2/promise";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { BinlogStream, type BinlogStreamOptions, binlogEvents } from "../../src/actors/binlog-stream.js";
import { MysqlType } from "../../src/protocol/binlog/column-types.js";
import type { BinlogEvent } from "../../src/protocol/binlog/events/decoder.js";
import { BinlogChecksumError } from "../../src/protocol/binlog/events/errors.js";
import { RowCursor } from "../../src/protocol/binlog/events/rows.js";
import type { TableMap } from "../../src/protocol/binlog/events/table-map.js";
import { createColumnValue, planColumns, readColumnValue } from "../../src/protocol/binlog/row-values.js";
import { type MariaDBServer, startMariaDB } from "../../src/testkit/index.js";

let server: MariaDBServer;
let db: mysql.Connection;
let replicaId = 100;

test.before(async () => {
  server = await startMariaDB();
  db = await mysql.createConnection({ host: server.host, port: server.port, user: server.user, password: server.password });
});

test.after(async () => {
  await db?.end();
  await server?.stop();
});

function connection(): Omit<BinlogStreamOptions, "onEvent" | "start"> {
  return { host: server.host, port: server.port, user: server.user, password: server.password, serverId: replicaId++, reconnect: false };
}

async function masterPosition(): Promise<{ file: string; position: number }> {
  const [rows] = (await db.query("SHOW MASTER STATUS")) as unknown as [Array<{ File: string; Position: number }>];
  return { file: rows[0]!.File, position: Number(rows[0]!.Position) };
}

/** Reads events from `start` until `until` accepts one (included). */
async function readUntil(start: BinlogStreamOptions["start"], until: (e: BinlogEvent) => boolean): Promise<BinlogEvent[]> {
  const events: BinlogEvent[] = [];
  for await (const e of binlogEvents({ ...connection(), start })) {
    events.push(e);
    if (until(e)) break;
  }
  return events;
}

/** Renders every image of a rows event: one array of column strings per image. */
function renderImages(e: Extract<BinlogEvent, { kind: "rows" }>): Array<Array<string | null>> {
  const readers = planColumns(e.tableMap.columns.map((c) => ({ type: c.type, meta: c.meta, unsigned: c.unsigned ?? false })));
  const out = createColumnValue();
  const values: Array<string | null> = [];
  const cursor = new RowCursor((buf, offset, end, column) => {
    const next = readColumnValue(readers[column]!, buf, offset, end, out);
    values[column] = out.value;
    return next;
  });
  cursor.begin(e.rows, e.tableMap);
  const images: Array<Array<string | null>> = [];
  while (cursor.next()) {
    images.push(e.tableMap.columns.map((_, i) => (cursor.valueStart[i]! < 0 ? null : values[i]!)));
  }
  return images;
}

const isDdl = (sql: string) => (e: BinlogEvent) => e.kind === "query" && e.query.sql.includes(sql);

test("a transaction and a DDL arrive in order, with positions, FULL table maps, row images and XIDs", async () => {
  const start = await masterPosition();
  await db.query("CREATE DATABASE shop");
  await db.query(
    "CREATE TABLE shop.items (id INT PRIMARY KEY, qty INT UNSIGNED, born YEAR, name VARCHAR(32), price DECIMAL(8,2), tag ENUM('a','b'), note TEXT) DEFAULT CHARSET=utf8mb4",
  );
  await db.query("BEGIN");
  await db.query("INSERT INTO shop.items VALUES (1, 10, 2020, 'one', 1.50, 'a', NULL), (2, 20, 2021, 'two', 2.50, 'b', 'x'), (3, 4294967295, 2022, 'ünï', -3.25, NULL, '')");
  await db.query("UPDATE shop.items SET name = CONCAT(name, '!') WHERE id <= 2");
  await db.query("DELETE FROM shop.items WHERE id = 3");
  await db.query("COMMIT");
  await db.query("ALTER TABLE shop.items ADD COLUMN extra INT");

  const events = await readUntil(start, isDdl("ADD COLUMN extra"));
  // Positions: every real event starts where the one before it ended.
  const real = events.filter((e) => e.nextOffset > e.offset);
  assert.is(real[0]!.offset, start.position);
  for (let i = 1; i < real.length; i++) assert.is(real[i]!.offset, real[i - 1]!.nextOffset, `event ${i} (${real[i]!.kind})`);
  assert.ok(real.every((e) => e.file === start.file));
  assert.ok(events.every((e) => e.header.serverId === server.serverId));

  const kinds = events.filter((e) => e.nextOffset > e.offset).map((e) => e.kind);
  assert.equal(kinds, [
    "mariadbGtid", "query", // CREATE DATABASE
    "mariadbGtid", "query", // CREATE TABLE
    "mariadbGtid", "annotateRows", "tableMap", "rows", "annotateRows", "tableMap", "rows", "annotateRows", "tableMap", "rows", "xid",
    "mariadbGtid", "query", // ALTER TABLE
  ]);
  const boundaries = events.filter((e) => e.boundary).map((e) => e.kind);
  assert.equal(boundaries, ["query", "query", "xid", "query"]);

  const gtids = events.flatMap((e) => (e.kind === "mariadbGtid" ? [e.mariadbGtid] : []));
  const txGtid = `0-${server.serverId}-${gtids[2]!.sequence}`;
  const tx = events.filter((e) => e.gtid === txGtid);
  assert.equal(tx.map((e) => e.kind).at(-1), "xid");
  assert.ok(gtids.every((g, i) => i === 0 || g.sequence === gtids[i - 1]!.sequence + 1n));

  const map = events.find((e): e is Extract<BinlogEvent, { kind: "tableMap" }> => e.kind === "tableMap")!.tableMap as TableMap;
  assert.is(map.schema, "shop");
  assert.is(map.table, "items");
  assert.ok(map.hasFullMetadata);
  assert.equal(map.columns.map((c) => c.name), ["id", "qty", "born", "name", "price", "tag", "note"]);
  assert.equal(map.columns.map((c) => c.type), [
    MysqlType.LONG, MysqlType.LONG, MysqlType.YEAR, MysqlType.VARCHAR, MysqlType.NEWDECIMAL, MysqlType.ENUM, MysqlType.BLOB,
  ]);
  assert.equal(map.columns.map((c) => c.unsigned), [false, true, true, undefined, false, undefined, undefined]);
  assert.equal(map.columns.map((c) => c.primaryKeyIndex), [0, undefined, undefined, undefined, undefined, undefined, undefined]);
  assert.equal(map.columns.map((c) => c.nullable), [false, true, true, true, true, true, true]);
  assert.equal(map.columns[5]!.values, ["a", "b"]);
  assert.is(map.columns[3]!.meta, 32 * 4, "varchar(32) in utf8mb4: 128 bytes");
  assert.type(map.columns[3]!.collation, "number");

  const rows = events.filter((e): e is Extract<BinlogEvent, { kind: "rows" }> => e.kind === "rows");
  assert.equal(rows.map((e) => e.rows.action), ["insert", "update", "delete"]);
  const [inserted, updated, deleted] = rows.map(renderImages);
  assert.equal(inserted, [
    ["1", "10", "2020", "one", "1.50", "1", null],
    ["2", "20", "2021", "two", "2.50", "2", "x"],
    ["3", "4294967295", "2022", "ünï", "-3.25", null, ""],
  ]);
  assert.is(updated!.length, 4, "2 rows = before and after images");
  assert.equal(updated![1]!.slice(0, 4), ["1", "10", "2020", "one!"]);
  assert.equal(deleted!.map((r) => r[0]), ["3"]);
  assert.ok(rows.every((e) => e.rows.version === 1), "MariaDB writes v1 rows events");
});

test("dumping from a mid-binlog file/offset starts exactly there", async () => {
  const start = await masterPosition();
  await db.query("CREATE DATABASE IF NOT EXISTS mid");
  await db.query("CREATE TABLE mid.t (id INT PRIMARY KEY)");
  await db.query("INSERT INTO mid.t VALUES (1)");
  await db.query("INSERT INTO mid.t VALUES (2)");
  let xids = 0;
  const all = await readUntil(start, (e) => e.kind === "xid" && ++xids === 2);
  const firstInsertEnd = all.find((e) => e.kind === "xid")!;
  const tail = await readUntil({ file: firstInsertEnd.file, position: firstInsertEnd.nextOffset }, (e) => e.kind === "xid");
  const real = tail.filter((e) => e.nextOffset > e.offset);
  assert.is(real[0]!.offset, firstInsertEnd.nextOffset);
  assert.equal(
    real.map((e) => [e.kind, e.offset]),
    all.filter((e) => e.nextOffset > e.offset && e.offset >= firstInsertEnd.nextOffset).map((e) => [e.kind, e.offset]),
  );
});

test("dumping from a MariaDB GTID starts at the next transaction and tracks the GTID position", async () => {
  await db.query("CREATE DATABASE IF NOT EXISTS g");
  await db.query("CREATE TABLE g.t (id INT PRIMARY KEY)");
  const [rows] = (await db.query("SELECT @@gtid_binlog_pos AS pos")) as unknown as [Array<{ pos: string }>];
  const startGtid = rows[0]!.pos;
  await db.query("INSERT INTO g.t VALUES (1)");
  const events = await readUntil({ mariadbGtid: startGtid }, (e) => e.kind === "xid");
  const [domain, serverId, seq] = startGtid.split("-").map(Number);
  const first = events.find((e) => e.kind === "mariadbGtid")!;
  assert.is(first.gtid, `${domain}-${serverId}-${seq! + 1}`);
  assert.equal(
    events.filter((e) => e.kind === "tableMap").map((e) => (e.kind === "tableMap" ? e.tableMap.table : "")),
    ["t"],
  );
});

test("pause() stops delivery until resume(); nothing is lost", async () => {
  const start = await masterPosition();
  await db.query("CREATE DATABASE IF NOT EXISTS bp");
  await db.query("CREATE TABLE bp.t (id INT PRIMARY KEY, pad VARCHAR(200))");
  await db.query("BEGIN");
  for (let i = 0; i < 20; i++) {
    await db.query("INSERT INTO bp.t VALUES " + Array.from({ length: 100 }, (_, k) => `(${i * 100 + k}, REPEAT('x', 200))`).join(","));
  }
  await db.query("COMMIT");
  const events: BinlogEvent[] = [];
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const stream = await BinlogStream.open({
    ...connection(),
    start,
    onEvent(e) {
      events.push(e);
      if (events.length === 3) stream.pause();
      if (e.kind === "xid") done();
    },
  });
  await sleep(300);
  assert.is(events.length, 3, "nothing delivered while paused");
  stream.resume();
  await finished;
  await stream.close();
  const rowsEvents = events.filter((e) => e.kind === "rows");
  assert.ok(rowsEvents.length > 20, `2000 rows split over many rows events (${rowsEvents.length})`);
  const total = rowsEvents.reduce((n, e) => n + (e.kind === "rows" ? renderImages(e).length : 0), 0);
  assert.is(total, 2000);
});

test("after the dump connection is killed mid-transaction, the stream resumes at the boundary without repeats", async () => {
  const start = await masterPosition();
  await db.query("CREATE DATABASE IF NOT EXISTS rc");
  await db.query("CREATE TABLE rc.t (id INT PRIMARY KEY, pad VARCHAR(1000))");
  // Large enough (~20 MiB) that the server is still sending when its dump thread is killed.
  await db.query("BEGIN");
  for (let i = 0; i < 20; i++) {
    await db.query("INSERT INTO rc.t VALUES " + Array.from({ length: 1000 }, (_, k) => `(${i * 1000 + k}, REPEAT('y', 1000))`).join(","));
  }
  await db.query("COMMIT");
  const events: BinlogEvent[] = [];
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  let killed = false;
  const stream = await BinlogStream.open({
    ...connection(),
    reconnect: { minDelayMs: 50 },
    start,
    onEvent(e) {
      events.push(e);
      if (e.kind === "rows" && !killed) {
        killed = true;
        stream.pause(); // hold the stream mid-transaction while its connection is killed
        void killDumpThreads().then(() => stream.resume());
      }
      if (e.kind === "xid" && e.offset > start.position) done();
    },
  });
  await finished;
  await stream.close();
  assert.is(stream.stats.reconnects, 1);
  assert.ok(stream.stats.replayedEvents > 0, "the partial transaction was read again and not handed on");
  const keys = events.filter((e) => e.nextOffset > e.offset).map((e) => `${e.file}:${e.offset}`);
  assert.is(new Set(keys).size, keys.length, "no event handed on twice");
  const total = events.reduce((n, e) => n + (e.kind === "rows" ? renderImages(e).length : 0), 0);
  assert.is(total, 20_000);
});

async function killDumpThreads(): Promise<void> {
  const [rows] = (await db.query("SHOW PROCESSLIST")) as unknown as [Array<{ Id: number; Command: string }>];
  for (const r of rows.filter((r) => r.Command === "Binlog Dump")) await db.query(`KILL ${r.Id}`);
}

test("a flipped byte in a closed binlog file stops the source with a checksum error at that event", async () => {
  await db.query("CREATE DATABASE IF NOT EXISTS crc");
  await db.query("CREATE TABLE crc.t (id INT PRIMARY KEY, v VARCHAR(20))");
  const start = await masterPosition();
  await db.query("INSERT INTO crc.t VALUES (1, 'hello')");
  await db.query("FLUSH BINARY LOGS");
  const clean = await readUntil(start, (e) => e.kind === "xid");
  const target = clean.find((e) => e.kind === "rows")!;
  const [rows] = (await db.query("SELECT @@log_bin_basename AS base")) as unknown as [Array<{ base: string }>];
  const path = `${rows[0]!.base.replace(/mysql-bin$/, "")}${start.file}`;
  const bytes = readFileSync(path);
  bytes[target.offset + 25]! ^= 0x01; // inside the rows event body
  writeFileSync(path, bytes);

  let failure: unknown;
  const stream = await BinlogStream.open({ ...connection(), start, onEvent() {}, onError: (err) => (failure = err) });
  await stream.closed.catch(() => {});
  assert.instance(failure, BinlogChecksumError);
  const err = failure as BinlogChecksumError;
  assert.equal(err.location, { file: start.file, offset: target.offset });
  assert.match(err.message, `${start.file}:${target.offset}`);
});

test.run();
