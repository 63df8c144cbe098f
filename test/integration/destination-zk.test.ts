/**
 * A Destination whose cursors live in ZooKeeper (cluster mode), against a real MariaDB and a
 * real ZooKeeper: acked cursors go to `<d>/<clientId>/cursor` in Canal's typed JSON, and a
 * second Destination on a new session (another node taking over) resumes after the last ack,
 * while the first node's store can no longer move the cursor.
 */
import mysql from "mysql2/promise";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Destination } from "../../src/actors/destination.js";
import type { Batch } from "../../src/actors/event-store.js";
import { ZkSessionClient } from "../../src/actors/zk/session-client.js";
import { CursorFencedError, ZkCursorStore } from "../../src/actors/zk/cursor-store.js";
import { configFromFlags } from "../../src/config/index.js";
import { parseCursorJson } from "../../src/protocol/cursor-json.js";
import { decodeEntry, decodeRowChange, EntryType } from "../../src/protocol/entry.js";
import { startMariaDB, startZooKeeper, type MariaDBServer, type ZooKeeperServer } from "../../src/testkit/index.js";

const CLIENT = 1001;
const CURSOR = `/otter/canal/destinations/example/${CLIENT}/cursor`;

function destinationConfig(db: MariaDBServer) {
  return configFromFlags({ destination: "example", source: db.uri(), filter: "shop\\..*" }).config.destinations[0]!;
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

async function insert(sql: mysql.Connection, from: number, count: number): Promise<void> {
  const values = Array.from({ length: count }, (_, i) => `(${from + i}, 'item ${from + i}')`).join(",");
  await sql.query(`INSERT INTO shop.orders VALUES ${values}`);
}

/** Gets batches until `count` ids arrived, acking each (the cursor is in ZooKeeper before the next get). */
async function receive(destination: Destination, count: number): Promise<number[]> {
  const ids: number[] = [];
  const deadline = Date.now() + 20_000;
  while (ids.length < count && Date.now() < deadline) {
    const batch = await destination.store.get(CLIENT, { batchSize: 100, timeoutMs: 200 });
    if (!batch) continue;
    ids.push(...insertedIds(batch));
    const cursor = destination.store.ack(CLIENT, batch.id);
    if (cursor) await destination.acked(CLIENT, cursor);
  }
  return ids;
}

/** One node's view: a session, the cursors taken over on it, the destination started from them. */
async function startNode(zk: ZooKeeperServer, db: MariaDBServer) {
  const session = await ZkSessionClient.connect({ connectString: zk.connectString, sessionTimeoutMs: 4000 });
  const config = destinationConfig(db);
  const cursors = await ZkCursorStore.takeOver(session, config.name, { address: config.source.host, port: config.source.port });
  const destination = await Destination.start({ config, cursors });
  return { session, cursors, destination };
}

test("cursors in ZooKeeper: acked positions land as Canal's cursor JSON; a node taking over on a new session resumes after the last ack", async () => {
  const [db, zk] = await Promise.all([startMariaDB(), startZooKeeper()]);
  const sql = await mysql.createConnection({ host: db.host, port: db.port, user: db.user, password: db.password, multipleStatements: true });
  try {
    await sql.query("CREATE DATABASE shop; CREATE TABLE shop.orders (id INT PRIMARY KEY, item VARCHAR(40))");

    const first = await startNode(zk, db);
    try {
      assert.is(first.destination.startPosition().from, "end of binlog", "no cursor in ZooKeeper yet");
      await first.destination.subscribe(CLIENT, "shop\\.orders");
      for (let t = 0; t < 5; t++) await insert(sql, t * 10, 10);
      assert.equal(await receive(first.destination, 50), Array.from({ length: 50 }, (_, i) => i));
      await first.destination.stop();
    } finally {
      await first.session.close();
    }

    const probe = await ZkSessionClient.connect({ connectString: zk.connectString, sessionTimeoutMs: 4000 });
    try {
      const node = await probe.read(CURSOR);
      const text = new TextDecoder().decode(node!.data!);
      assert.ok(text.startsWith('{"@type":"com.alibaba.otter.canal.protocol.position.LogPosition","identity":{"slaveId":-1,"sourceAddress":'), text);
      const cursor = parseCursorJson(text);
      assert.is(cursor.journalName, "mysql-bin.000001");
      assert.ok(cursor.position > 4);
      assert.equal(cursor.sourceAddress, { address: db.host, port: db.port });
      assert.is(new TextDecoder().decode((await probe.read(`/otter/canal/destinations/example/${CLIENT}/filter`))!.data!), "shop\\.orders");
    } finally {
      await probe.close();
    }

    for (let t = 5; t < 8; t++) await insert(sql, t * 10, 10);
    const second = await startNode(zk, db);
    try {
      assert.is(second.destination.startPosition().from, "cursor");
      assert.ok(second.destination.isSubscribed(CLIENT), "the subscription survived the takeover");
      assert.is(second.cursors.get(CLIENT)?.filter, "shop\\.orders", "and its filter");
      assert.equal(await receive(second.destination, 30), Array.from({ length: 30 }, (_, i) => 50 + i), "exactly the rows after the acked ones");
    } finally {
      await second.destination.stop();
      await second.session.close();
    }
  } finally {
    await sql.end();
    await Promise.all([db.stop(), zk.stop()]);
  }
});

test("two nodes on one destination: once the second took over, the first one's acks are refused and do not move the cursor", async () => {
  const [db, zk] = await Promise.all([startMariaDB(), startZooKeeper()]);
  const sql = await mysql.createConnection({ host: db.host, port: db.port, user: db.user, password: db.password, multipleStatements: true });
  try {
    await sql.query("CREATE DATABASE shop; CREATE TABLE shop.orders (id INT PRIMARY KEY, item VARCHAR(40))");
    const stale = await startNode(zk, db);
    try {
      await stale.destination.subscribe(CLIENT, "");
      await insert(sql, 0, 10);
      assert.equal(await receive(stale.destination, 10), Array.from({ length: 10 }, (_, i) => i));

      // The second node takes over while the first, unaware, still serves a batch.
      await insert(sql, 10, 10);
      const batch = await stale.destination.store.get(CLIENT, { batchSize: 100, timeoutMs: 5000 });
      const taker = await startNode(zk, db);
      try {
        const taken = taker.cursors.get(CLIENT)!.cursor!;
        const cursor = stale.destination.store.ack(CLIENT, batch!.id)!;
        const err = await stale.destination.acked(CLIENT, cursor).then(
          () => undefined,
          (e: unknown) => e,
        );
        assert.instance(err, CursorFencedError);
        assert.instance(await stale.cursors.fenced, CursorFencedError);
        const node = await taker.session.read(CURSOR);
        assert.equal(parseCursorJson(new TextDecoder().decode(node!.data!)), taken, "the cursor still holds what the takeover read");
        // The new owner redelivers the rows the stale ack tried to skip (at-least-once, Decision 4).
        assert.equal(await receive(taker.destination, 10), Array.from({ length: 10 }, (_, i) => 10 + i));
      } finally {
        await taker.destination.stop();
        await taker.session.close();
      }
    } finally {
      await stale.destination.stop().catch(() => undefined); // its final flush is fenced
      await stale.session.close();
    }
  } finally {
    await sql.end();
    await Promise.all([db.stop(), zk.stop()]);
  }
});

test.run();
