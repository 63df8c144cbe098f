/**
 * The binlog source in a thread of its own (what a node runs), against a real MariaDB: it hands
 * on exactly what the source in-process does, stops reading while its consumer is full, and
 * fails to start with the source's own typed errors.
 */
import type mysql from "mysql2/promise";
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { BinlogSourceOptions, SourceBatch } from "../../src/actors/binlog-source.js";
import { ThreadedBinlogSource } from "../../src/actors/source-thread/threaded-source.js";
import { CanalAuthError, CanalConfigError } from "../../src/errors.js";
import type { MariaDBServer } from "../../src/testkit/index.js";
import { Collector, masterPosition, startSource, withServer } from "./source-helpers.js";

/** Transactions `from` .. `from + count - 1` of 10 rows each (ids n*10 .. n*10+9), in one round trip. */
async function commitTransactions(db: mysql.Connection, from: number, count: number, padBytes: number): Promise<void> {
  const statements: string[] = [];
  for (let n = from; n < from + count; n++) {
    const values = Array.from({ length: 10 }, (_, k) => `(${n * 10 + k}, REPEAT('p', ${padBytes}))`).join(",");
    statements.push(`BEGIN; INSERT INTO r.t VALUES ${values}; COMMIT;`);
  }
  await db.query(statements.join(" "));
}

/** The ids withTwentyMiB commits, in order. */
const TWENTY_MIB_IDS = Array.from({ length: 10_000 }, (_, i) => i);

/** Runs `body` on a fresh server after 1000 transactions of 10 rows with 2000-byte pads (~20 MiB of entries) from `start`. */
async function withTwentyMiB(body: (server: MariaDBServer, start: { file: string; position: number }) => Promise<void>): Promise<void> {
  await withServer({ padLength: 2000 }, async (db, server) => {
    const start = await masterPosition(db);
    await commitTransactions(db, 0, 1000, 2000);
    await body(server, start);
  });
}

function startThreaded(server: MariaDBServer, collector: Collector, options: Partial<BinlogSourceOptions> & Pick<BinlogSourceOptions, "start">) {
  return startSource(server, collector, options, (o) => ThreadedBinlogSource.start(o));
}

const ids = (c: Collector) => c.values("t", "id").map(Number);

/** The value of `read()` once it has not changed for `quietMs` (at most 20 s). */
async function settled(read: () => number, quietMs: number): Promise<number> {
  const deadline = Date.now() + 20_000;
  let value = read();
  let since = Date.now();
  while (Date.now() - since < quietMs) {
    if (Date.now() > deadline) throw new Error(`still changing after 20 s: ${value}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
    if (read() !== value) [value, since] = [read(), Date.now()];
  }
  return value;
}
/** Batches as plain data: entry bytes as arrays, everything else as it is. */
const plain = (batches: SourceBatch[]) => batches.map((b) => ({ ...b, entries: b.entries.map((e) => ({ ...e, bytes: [...e.bytes] })) }));

test("the thread hands on the same batches as the source in-process: entries, bytes, keys, resume points", async () => {
  await withServer({ padLength: 2000 }, async (db, server) => {
    const start = await masterPosition(db);
    await commitTransactions(db, 0, 40, 50);
    await db.query("ALTER TABLE r.t ADD COLUMN note TEXT; UPDATE r.t SET note = 'x' WHERE id < 15; DELETE FROM r.t WHERE id >= 390");
    const end = await masterPosition(db);
    const atEnd = (c: Collector) => () => c.batches.at(-1)?.resumeAfter?.position === end.position;

    const inline = new Collector();
    const inProcess = await startSource(server, inline, { start });
    await inline.until(atEnd(inline));
    await inProcess.stop();

    const threaded = new Collector();
    const source = await startThreaded(server, threaded, { start });
    try {
      await threaded.until(atEnd(threaded));
      assert.equal(plain(threaded.batches), plain(inline.batches));
      assert.is(ids(threaded).length, 400 + 15 + 10);
      assert.equal(source.position, end, "the position is the last batch's resume point");
      assert.is(source.schemaMode, "binlog");
      assert.ok((source.stats?.entries ?? 0) >= threaded.entries.length, `stats come across: ${JSON.stringify(source.stats)}`);
    } finally {
      await source.stop();
    }
  });
});

test("a consumer that answers \"full\" stops the thread's reading until resume(); nothing is lost, nothing repeated", async () => {
  // Far more than the thread may have in flight (a few MiB).
  await withTwentyMiB(async (server, start) => {
    const collector = new Collector();
    let full = false;
    const source = await startThreaded(server, collector, {
      start,
      onBatch(batch) {
        collector.onBatch(batch);
        if (ids(collector).length < 100) return "ok";
        full = true;
        return "full";
      },
    });
    try {
      await collector.until(() => full);
      // What the thread had posted before it heard "full" still arrives: wait until it stops.
      const whileFull = await settled(() => ids(collector).length, 1000);
      assert.ok(whileFull < 5000, `reading stopped: ${whileFull} of 10000 rows arrived`);
      let resumed = 0;
      while (ids(collector).length < TWENTY_MIB_IDS.length && resumed++ < 1000) {
        source.resume();
        await collector.until(() => ids(collector).length > whileFull, 10_000);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      assert.equal(ids(collector), TWENTY_MIB_IDS);
    } finally {
      await source.stop();
    }
  });
});

test("entry bytes stay as the thread wrote them until released, and released chunks are written again", async () => {
  // The thread's 1 MiB chunks come round again many times.
  await withTwentyMiB(async (server, start) => {
    const collector = new Collector();
    /** Every entry handed on: a view of the thread's memory, and a copy made on arrival. */
    const entries: Array<{ view: Uint8Array; copy: Buffer }> = [];
    let released = 0;
    let changedBeforeRelease = 0;
    let source: ThreadedBinlogSource | undefined;
    // Released ~300 entries (~100 transactions, ~2 MiB) behind what arrived, each checked just before.
    const releaseUpTo = (count: number) => {
      for (; released < count; released++) if (!entries[released]!.copy.equals(entries[released]!.view)) changedBeforeRelease++;
      source?.release(count);
    };
    source = await startThreaded(server, collector, {
      start,
      onBatch(batch) {
        for (const e of batch.entries) entries.push({ view: e.bytes, copy: Buffer.from(e.bytes) });
        if (entries.length > 300) releaseUpTo(entries.length - 300);
        return collector.onBatch(batch);
      },
    });
    try {
      await collector.until(() => ids(collector).length === TWENTY_MIB_IDS.length);
      releaseUpTo(entries.length);
      assert.is(changedBeforeRelease, 0, "no entry changed while it was held");
      assert.equal(ids(collector), TWENTY_MIB_IDS);
      // A released chunk is written again; the old views into it then show newer entries.
      const shared = entries.filter((e) => e.view.buffer instanceof SharedArrayBuffer);
      const rewritten = shared.filter((e) => !e.copy.equals(e.view)).length;
      assert.ok(rewritten > shared.length / 2, `released chunks are used again: ${rewritten} of ${shared.length} entries in shared memory were written over`);
    } finally {
      await source.stop();
    }
  });
});

test("start fails with the source's own typed error: a wrong password, an invalid filter; setFilter checks before sending", async () => {
  await withServer({ padLength: 2000 }, async (db, server) => {
    const start = await masterPosition(db);
    const refused = await startThreaded(server, new Collector(), { start, password: "wrong" }).then(
      () => undefined,
      (err: unknown) => err,
    );
    assert.instance(refused, CanalAuthError);
    const badFilter = await startThreaded(server, new Collector(), { start, filters: { regex: "r\\.(" } }).then(
      () => undefined,
      (err: unknown) => err,
    );
    assert.instance(badFilter, CanalConfigError);
    assert.match((badFilter as Error).message, /r\\\.\(/);

    const source = await startThreaded(server, new Collector(), { start });
    try {
      assert.throws(() => source.setFilter("("), (err: unknown) => err instanceof CanalConfigError);
    } finally {
      await source.stop();
    }
  });
});

test("with a spare thread kept (a cluster node), each start takes the spare and another is made ready: sources in a row all deliver", async () => {
  await withServer({ padLength: 2000 }, async (db, server) => {
    const start = await masterPosition(db);
    await commitTransactions(db, 0, 3, 10);
    ThreadedBinlogSource.keepSpare();
    for (let round = 0; round < 3; round++) {
      const collector = new Collector();
      const source = await startThreaded(server, collector, { start });
      try {
        await collector.until(() => ids(collector).length === 30);
        assert.equal(ids(collector), Array.from({ length: 30 }, (_, i) => i));
      } finally {
        await source.stop();
      }
    }
  });
});

test.run();
