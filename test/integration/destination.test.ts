/**
 * A standalone destination against a real MariaDB: binlog → store → get/ack, cursors in
 * meta.dat, a restart that resumes at the last acked boundary, and a client that never acks
 * while the database keeps writing (the store stays within its bound, nothing is lost).
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mysql from "mysql2/promise";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { CursorFile } from "../../src/actors/cursor-file.js";
import { Destination } from "../../src/actors/destination.js";
import type { Batch } from "../../src/actors/event-store.js";
import { configFromFlags } from "../../src/config/index.js";
import { decodeEntry, decodeRowChange, EntryType } from "../../src/protocol/entry.js";
import { startMariaDB, type MariaDBServer } from "../../src/testkit/index.js";

const CLIENT = 1001;

function destinationConfig(db: MariaDBServer, dataDir: string, extra: Record<string, string> = {}) {
  return configFromFlags({ destination: "example", source: db.uri(), "data-dir": dataDir, filter: "shop\\..*", ...extra }).config.destinations[0]!;
}

/** The ids of the inserted rows in a batch, in order. */
function insertedIds(batch: Batch): number[] {
  return batch.entries.flatMap((bytes) => {
    const entry = decodeEntry(bytes);
    if (entry.entryType !== EntryType.ROWDATA) return [];
    const change = decodeRowChange(entry.storeValue!);
    return (change.rowDatas ?? []).flatMap((row) => (row.afterColumns ?? []).filter((c) => c.name === "id").map((c) => Number(c.value)));
  });
}

async function withDatabase(body: (db: MariaDBServer, sql: mysql.Connection, dataDir: string) => Promise<void>): Promise<void> {
  const db = await startMariaDB();
  const dataDir = mkdtempSync(join(tmpdir(), "canal-destination-"));
  const sql = await mysql.createConnection({ host: db.host, port: db.port, user: db.user, password: db.password, multipleStatements: true });
  try {
    await sql.query("CREATE DATABASE shop; CREATE TABLE shop.orders (id INT PRIMARY KEY, item VARCHAR(40))");
    await body(db, sql, dataDir);
  } finally {
    await sql.end();
    await db.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function insert(sql: mysql.Connection, from: number, count: number): Promise<void> {
  const values = Array.from({ length: count }, (_, i) => `(${from + i}, 'item ${from + i}')`).join(",");
  await sql.query(`INSERT INTO shop.orders VALUES ${values}`);
}

/** Gets batches until `ids` holds `count` ids, acking each when `ack` is true. */
async function receive(destination: Destination, count: number, ack: boolean): Promise<number[]> {
  const ids: number[] = [];
  const deadline = Date.now() + 20_000;
  while (ids.length < count && Date.now() < deadline) {
    const batch = await destination.store.get(CLIENT, { batchSize: 100, timeoutMs: 200 });
    if (!batch) continue;
    ids.push(...insertedIds(batch));
    if (ack) {
      const cursor = destination.store.ack(CLIENT, batch.id);
      if (cursor) await destination.acked(CLIENT, cursor);
    }
  }
  return ids;
}

test("rows arrive in commit order; acked cursors go to meta.dat in Canal's JSON; a restart resumes after the last ack", async () => {
  await withDatabase(async (db, sql, dataDir) => {
    const first = await Destination.start({ config: destinationConfig(db, dataDir), cursors: await CursorFile.open(dataDir, "example") });
    try {
      await first.subscribe(CLIENT, "");
      for (let t = 0; t < 5; t++) await insert(sql, t * 10, 10);
      assert.equal(await receive(first, 50, true), Array.from({ length: 50 }, (_, i) => i));
    } finally {
      await first.stop();
    }
    const meta = JSON.parse(readFileSync(join(dataDir, "example", "meta.dat"), "utf8"));
    assert.is(meta.destination, "example");
    assert.is(meta.clientDatas[0].clientIdentity.clientId, CLIENT);
    assert.is(meta.clientDatas[0].cursor.postion.journalName, "mysql-bin.000001");
    assert.ok(meta.clientDatas[0].cursor.postion.position > 4);

    for (let t = 5; t < 8; t++) await insert(sql, t * 10, 10);
    const second = await Destination.start({ config: destinationConfig(db, dataDir), cursors: await CursorFile.open(dataDir, "example") });
    try {
      assert.is(second.startPosition().from, "cursor");
      assert.ok(second.isSubscribed(CLIENT), "the subscription survived the restart");
      assert.equal(await receive(second, 30, true), Array.from({ length: 30 }, (_, i) => 50 + i), "exactly the rows after the acked ones");
    } finally {
      await second.stop();
    }
  });
});

test("a client that subscribed before any row and acked nothing loses nothing after a restart: its first cursor is where the source read", async () => {
  await withDatabase(async (db, sql, dataDir) => {
    const first = await Destination.start({ config: destinationConfig(db, dataDir), cursors: await CursorFile.open(dataDir, "example") });
    try {
      await first.subscribe(CLIENT, "");
      assert.ok(first.store.firstPosition() === undefined, "subscribed while the store was empty");
      await insert(sql, 0, 10);
      assert.equal(await receive(first, 10, false), Array.from({ length: 10 }, (_, i) => i), "received, never acked");
    } finally {
      await first.stop();
    }
    await insert(sql, 10, 10);
    const second = await Destination.start({ config: destinationConfig(db, dataDir), cursors: await CursorFile.open(dataDir, "example") });
    try {
      assert.is(second.startPosition().from, "cursor", "not the end of the binlog");
      assert.equal(await receive(second, 20, true), Array.from({ length: 20 }, (_, i) => i), "every row, the unacked ones again");
    } finally {
      await second.stop();
    }
  });
});

test("a client that never acks: the store stays within its bound while the database writes, and nothing is lost", async () => {
  await withDatabase(async (db, sql, dataDir) => {
    // 64 entries at most: each 10-row insert is one rows entry (+ the annotation and commit entries).
    const destination = await Destination.start({ config: { ...destinationConfig(db, dataDir), store: { maxEntries: 64, maxBytes: 64 * 1024, batchMode: "ITEMSIZE", memUnit: 1024 } }, cursors: await CursorFile.open(dataDir, "example") });
    try {
      await destination.subscribe(CLIENT, "");
      for (let t = 0; t < 100; t++) await insert(sql, t * 10, 10);
      await new Promise((r) => setTimeout(r, 500));
      const held = destination.store.stats();
      assert.ok(held.heldEntries <= 64 && held.heldBytes <= 64 * 1024, `held ${held.heldEntries} entries, ${held.heldBytes} bytes`);
      assert.ok(held.refusedPuts > 0, "the source was held back");
      const unacked = await receive(destination, 50, false);
      assert.ok(unacked.length < 1000, "without acks the client cannot see everything");
      destination.store.rollback(CLIENT);
      assert.equal(await receive(destination, 1000, true), Array.from({ length: 1000 }, (_, i) => i), "with acks every row arrives, once, in order");
    } finally {
      await destination.stop();
    }
  });
});

test.run();
