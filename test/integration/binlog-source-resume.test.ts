/**
 * Where the source starts and how it carries on, against real MariaDB servers (one per test):
 * resuming from a file/offset and from a MariaDB GTID position handed out by an earlier
 * source, carrying on after `kill -9` of the database and its restart, across binlog
 * rotations, and stopping with the position of a corrupted event. "No loss, no repeat" is
 * checked against what the database committed: the ids in the table.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type mysql from "mysql2/promise";
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { BinlogSource } from "../../src/actors/binlog-source.js";
import { BinlogChecksumError } from "../../src/protocol/binlog/events/errors.js";
import { EntryType } from "../../src/protocol/entry.js";
import { Collector, connect, masterPosition, startSource, withServer } from "./source-helpers.js";

/** Commits transaction `n`: ids n*10 .. n*10+9. */
async function commitTransaction(db: mysql.Connection, n: number): Promise<void> {
  const values = Array.from({ length: 10 }, (_, k) => `(${n * 10 + k}, REPEAT('p', 100))`).join(",");
  await db.query(`BEGIN; INSERT INTO r.t VALUES ${values}; COMMIT`);
}

async function committedIds(db: mysql.Connection): Promise<number[]> {
  const [rows] = (await db.query("SELECT id FROM r.t ORDER BY id")) as unknown as [Array<{ id: number }>];
  return rows.map((r) => r.id);
}

const deliveredIds = (c: Collector) => c.values("t", "id").map(Number);
const sorted = (ids: number[]) => [...ids].sort((a, b) => a - b);

test("a new source started at the last batch's resumeAfter (file/offset) delivers exactly what follows", async () => {
  await withServer({}, async (db, server) => {
    const start = await masterPosition(db);
    for (let n = 0; n < 3; n++) await commitTransaction(db, n);
    const first = new Collector();
    let source: BinlogSource = await startSource(server, first, { start });
    await first.until(() => deliveredIds(first).length === 30);
    const resumeAfter = first.batches.at(-1)!.resumeAfter!;
    assert.equal(source.position, resumeAfter);
    await source.stop();

    for (let n = 3; n < 5; n++) await commitTransaction(db, n);
    const second = new Collector();
    source = await startSource(server, second, { start: { file: resumeAfter.file, position: resumeAfter.position } });
    await second.until(() => deliveredIds(second).length === 20);
    await source.stop();
    assert.equal(deliveredIds(second), Array.from({ length: 20 }, (_, i) => 30 + i));
    const keys = [...first.entries, ...second.entries].map((e) => e.key);
    assert.is(new Set(keys).size, keys.length, "no entry key twice");
  });
});

test("a source started from a MariaDB GTID hands out GTID positions to resume from", async () => {
  await withServer({}, async (db, server) => {
    const [[{ pos }]] = (await db.query("SELECT @@gtid_binlog_pos AS pos")) as unknown as [[{ pos: string }]];
    await commitTransaction(db, 0);
    await commitTransaction(db, 1);
    const first = new Collector();
    let source: BinlogSource = await startSource(server, first, { start: { mariadbGtid: pos } });
    await first.until(() => deliveredIds(first).length === 20);
    const resumeAfter = first.batches.at(-1)!.resumeAfter!;
    await source.stop();
    assert.match(resumeAfter.mariadbGtid!, /^0-1-\d+$/);
    assert.ok(first.entries.every((e) => /^0-1-\d+#\d+$/.test(e.key)), "GTID keys");

    await commitTransaction(db, 2);
    const second = new Collector();
    source = await startSource(server, second, { start: { mariadbGtid: resumeAfter.mariadbGtid! } });
    await second.until(() => deliveredIds(second).length === 10);
    await source.stop();
    assert.equal(deliveredIds(second), Array.from({ length: 10 }, (_, i) => 20 + i));
  });
});

test("kill -9 of MariaDB mid-stream and its restart: every committed transaction arrives once", async () => {
  await withServer({}, async (db, server) => {
    const start = await masterPosition(db);
    const collector = new Collector();
    const source = await startSource(server, collector, { start, heartbeatPeriodMs: 500 });
    let again: mysql.Connection | undefined;
    try {
      let n = 0;
      const writer = (async () => {
        for (;;) await commitTransaction(db, n++);
      })().catch(() => {}); // the connection dies with the server
      await collector.until(() => deliveredIds(collector).length >= 100);
      await server.kill();
      await writer;
      await server.start();
      again = await connect(server);
      const afterRestart = n + 1;
      for (let k = afterRestart; k < afterRestart + 5; k++) await commitTransaction(again, k);
      const committed = await committedIds(again);
      await collector.until(() => deliveredIds(collector).length >= committed.length);
      assert.equal(sorted(deliveredIds(collector)), committed, "each committed row once, nothing else");
      assert.ok(source.stats.stream.reconnects >= 1);
      const files = new Set(collector.entries.map((e) => e.entry.header!.logfileName));
      assert.ok(files.size >= 2, `the restart began a new binlog file (${[...files]})`);
    } finally {
      await again?.end();
      await source.stop();
    }
  });
});

test("across binlog rotations (FLUSH BINARY LOGS, and a tiny max_binlog_size) nothing is lost or repeated", async () => {
  await withServer({ extraArgs: ["--max-binlog-size=4096"] }, async (db, server) => {
    const start = await masterPosition(db);
    const collector = new Collector();
    const source = await startSource(server, collector, { start });
    try {
      for (let n = 0; n < 20; n++) {
        await commitTransaction(db, n);
        if (n === 7) await db.query("FLUSH BINARY LOGS");
      }
      await collector.until(() => deliveredIds(collector).length === 200);
      assert.equal(deliveredIds(collector), Array.from({ length: 200 }, (_, i) => i));
      const files = new Set(collector.entries.map((e) => e.entry.header!.logfileName));
      assert.ok(files.size >= 5, `rotated through ${files.size} files`);
      const ends = collector.entries.filter((e) => e.entry.entryType === EntryType.TRANSACTIONEND);
      assert.is(ends.length, 20);
    } finally {
      await source.stop();
    }
  });
});

test("a consumer that answers \"full\" stops the reading until resume(); nothing is lost", async () => {
  await withServer({}, async (db, server) => {
    const start = await masterPosition(db);
    for (let n = 0; n < 50; n++) await commitTransaction(db, n);
    const collector = new Collector();
    let saidFull = false;
    const source = await startSource(server, collector, {
      start,
      onBatch(batch) {
        collector.onBatch(batch);
        if (saidFull || deliveredIds(collector).length < 100) return "ok";
        saidFull = true;
        return "full";
      },
    });
    try {
      await collector.until(() => deliveredIds(collector).length >= 100);
      await new Promise((resolve) => setTimeout(resolve, 300));
      const whileFull = deliveredIds(collector).length;
      assert.ok(whileFull < 120, `reading stopped (${whileFull} rows delivered while full)`);
      source.resume();
      await collector.until(() => deliveredIds(collector).length === 500);
      assert.equal(deliveredIds(collector), Array.from({ length: 500 }, (_, i) => i));
    } finally {
      await source.stop();
    }
  });
});

test("a flipped byte in a closed binlog stops the source with a checksum error at that event", async () => {
  await withServer({}, async (db, server) => {
    const start = await masterPosition(db);
    await commitTransaction(db, 0);
    await db.query("FLUSH BINARY LOGS");
    const clean = new Collector();
    let source = await startSource(server, clean, { start });
    await clean.until(() => deliveredIds(clean).length === 10);
    await source.stop();
    const rowsOffset = clean.entries.find((e) => e.rowChange?.rowDatas)!.entry.header!.logfileOffset!;

    const path = join(server.dir, "data", start.file);
    const bytes = readFileSync(path);
    bytes[rowsOffset + 30]! ^= 0x01; // inside the rows event's body
    writeFileSync(path, bytes);

    const broken = new Collector();
    source = await startSource(server, broken, { start });
    await source.closed.catch(() => {});
    assert.instance(broken.error, BinlogChecksumError);
    assert.equal((broken.error as BinlogChecksumError).location, { file: start.file, offset: rowsOffset });
    assert.is(deliveredIds(broken).length, 0, "nothing of the broken transaction was handed on");
  });
});

test.run();
