/**
 * The whole standalone path as a user runs it: a real MariaDB, `canal-ts server` as its own
 * process, and the client library. Rows arrive with their values in commit order across many
 * transactions and a DDL; after kill -9 or SIGTERM of the node and its restart, every
 * committed row arrives, and only batches the node cannot know were acked come again.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mysql from "mysql2/promise";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { CanalConnector } from "../../src/client/index.js";
import { EntryType } from "../../src/protocol/entry.js";
import type { Batch } from "../../src/client/batch.js";
import type { Change } from "../../src/client/changes.js";
import { freePort, startMariaDB, type MariaDBServer } from "../../src/testkit/index.js";

interface Node {
  process: ChildProcess;
  port: number;
}

/** Starts `canal-ts server` for destination "example" and waits until it logs that it is ready. */
async function startNode(db: MariaDBServer, dataDir: string, port: number, start: string): Promise<Node> {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", "src/cli/main.ts", "server", "--source", db.uri(), "--destination", "example", "--bind", "127.0.0.1", "--port", String(port), "--metrics-port", "0", "--data-dir", dataDir, "--filter", "shop\\..*", "--start", start],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let log = "";
  await new Promise<void>((resolve, reject) => {
    child.stderr!.on("data", (chunk: Buffer) => {
      log += chunk;
      if (log.includes('"node ready"')) resolve();
    });
    child.once("exit", (code) => reject(new Error(`canal-ts server exited with ${code} before it was ready:\n${log}`)));
  });
  return { process: child, port };
}

async function stopNode(node: Node, signal: NodeJS.Signals): Promise<number | null> {
  if (node.process.exitCode !== null) return node.process.exitCode;
  const exited = once(node.process, "exit");
  node.process.kill(signal);
  const [code] = await exited;
  return code as number | null;
}

interface Received {
  /** Inserted row ids and transaction ends ("end"), in order. */
  items: (number | "end")[];
  acked: boolean;
}

const ids = (r: Received) => r.items.filter((i): i is number => i !== "end");

/**
 * Consumes batches, acking each, until `done()`; records every batch's rows and transaction
 * ends. Batch size 1 (1 KiB in MEMSIZE mode) makes about one transaction a batch, so a stop
 * falls between many acked batches.
 */
async function consume(connector: CanalConnector, received: Received[], done: () => boolean, signal: AbortSignal): Promise<void> {
  for await (const batch of connector.batches({ batchSize: 1, timeoutMs: 200, signal })) {
    const record: Received = { items: batchItems(batch), acked: false };
    received.push(record);
    try {
      await batch.ack();
      record.acked = true;
    } catch {
      // The node went away between get and ack: this batch is unacked and comes again.
    }
    if (done()) return;
  }
}

/** A batch's inserted ids and transaction ends, in entry order. */
function batchItems(batch: Batch): (number | "end")[] {
  return batch.entries.flatMap((entry): (number | "end")[] => {
    if (entry.entryType === EntryType.TRANSACTIONEND) return ["end"];
    const rows = batch.changes.filter((c) => c.type === "INSERT" && c.position.offset === entry.header?.logfileOffset);
    return rows.map((c) => Number(c.after!.id!.value));
  });
}

/**
 * The rows a restart may deliver again (fact sheet §6.3, design decision 4): the cursor moves
 * only at a transaction end in an acked batch, so every row of a transaction whose end was not
 * acked comes again. After kill -9 the last acked transaction may come again too: the node may
 * have died before reading that ack or writing its cursor. A graceful stop takes the acks
 * already on the wire and writes every cursor, so nothing acked comes again.
 */
function mayComeAgain(before: Received[], crashed: boolean): Set<number> {
  const rows = new Map<number, number[]>(); // transaction (id / 10) -> its rows
  const endedInAckedBatch = new Set<number>();
  let lastAckedEnd = -1;
  let current = -1;
  for (const batch of before) {
    for (const item of batch.items) {
      if (item === "end") {
        if (batch.acked) endedInAckedBatch.add(current), (lastAckedEnd = current);
      } else {
        current = Math.floor(item / 10);
        rows.set(current, [...(rows.get(current) ?? []), item]);
      }
    }
  }
  if (crashed) endedInAckedBatch.delete(lastAckedEnd);
  return new Set([...rows].filter(([txn]) => !endedInAckedBatch.has(txn)).flatMap(([, r]) => r));
}

async function withSetup(body: (db: MariaDBServer, sql: mysql.Connection, dataDir: string, start: string) => Promise<void>): Promise<void> {
  const db = await startMariaDB();
  const dataDir = mkdtempSync(join(tmpdir(), "canal-node-"));
  const sql = await mysql.createConnection({ host: db.host, port: db.port, user: db.user, password: db.password, multipleStatements: true });
  try {
    await sql.query("CREATE DATABASE shop; CREATE TABLE shop.orders (id INT PRIMARY KEY, item VARCHAR(40), amount DECIMAL(10,2))");
    const [status] = await sql.query<mysql.RowDataPacket[]>("SHOW MASTER STATUS");
    await body(db, sql, dataDir, `${status[0]!.File}:${status[0]!.Position}`);
  } finally {
    await sql.end();
    await db.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function commit(sql: mysql.Connection, n: number, rows = 10): Promise<void> {
  const values = Array.from({ length: rows }, (_, k) => `(${n * rows + k}, 'item-${n * rows + k}', ${n}.${String(k).padStart(2, "0")})`).join(",");
  await sql.query(`BEGIN; INSERT INTO shop.orders (id, item, amount) VALUES ${values}; COMMIT`);
}

test("rows written to MariaDB reach a Canal client through canal-ts server with their values, in commit order, across a DDL", async () => {
  await withSetup(async (db, sql, dataDir, start) => {
    const node = await startNode(db, dataDir, await freePort(), start);
    const connector = new CanalConnector({ host: "127.0.0.1", port: node.port, destination: "example" });
    try {
      await connector.connect();
      await connector.subscribe("");
      for (let n = 0; n < 20; n++) await commit(sql, n);
      await sql.query("ALTER TABLE shop.orders ADD COLUMN note VARCHAR(20) DEFAULT 'new'");
      await sql.query("INSERT INTO shop.orders (id, item, amount, note) VALUES (1000, 'after ddl', 9.99, 'ddl')");
      const changes: Change[] = [];
      const deadline = Date.now() + 20_000;
      while (!changes.some((c) => c.after?.id?.value === "1000") && Date.now() < deadline) {
        const batch = await connector.getWithoutAck(100, 200);
        changes.push(...batch.changes);
        await connector.ack(batch);
      }
      const inserts = changes.filter((c) => c.type === "INSERT");
      assert.equal(inserts.map((c) => Number(c.after!.id!.value)), [...Array.from({ length: 200 }, (_, i) => i), 1000]);
      assert.equal(inserts[37]!.after!.item!.value, "item-37");
      assert.equal(inserts[37]!.after!.amount!.value, "3.07");
      assert.is(inserts[37]!.after!.amount!.mysqlType, "decimal(10,2)");
      assert.is(inserts[37]!.database, "shop");
      const ddlAt = changes.findIndex((c) => c.isDdl && /ALTER TABLE/i.test(c.sql ?? ""));
      assert.ok(ddlAt > changes.indexOf(inserts[199]!) && ddlAt < changes.indexOf(inserts[200]!), "the DDL sits between the rows it came between");
      assert.is(inserts[200]!.after!.note!.value, "ddl");
    } finally {
      await connector.disconnect();
      assert.is(await stopNode(node, "SIGTERM"), 0, "SIGTERM exits 0");
    }
  });
});

for (const signal of ["SIGKILL", "SIGTERM"] as const) {
  test(`${signal} of the node mid-stream, then a restart: every committed row arrives; only transactions not acked come again`, async () => {
    await withSetup(async (db, sql, dataDir, start) => {
      const port = await freePort();
      let node = await startNode(db, dataDir, port, start);
      const connector = new CanalConnector({ host: "127.0.0.1", port, destination: "example", reconnect: { initialDelayMs: 50, maxDelayMs: 200 } });
      const received: Received[] = [];
      const stop = new AbortController();
      const total = 60 * 10;
      const seen = () => new Set(received.flatMap(ids)).size >= total;
      try {
        await connector.connect();
        await connector.subscribe("");
        const consuming = consume(connector, received, seen, stop.signal);
        for (let n = 0; n < 30; n++) await commit(sql, n);
        const deadline = Date.now() + 10_000;
        while (new Set(received.flatMap(ids)).size < 100 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        assert.is(await stopNode(node, signal), signal === "SIGTERM" ? 0 : null);
        const beforeRestart = received.length;
        assert.ok(received.filter((r) => r.acked).length >= 5, `several acked batches before the stop (${beforeRestart} batches)`);
        for (let n = 30; n < 60; n++) await commit(sql, n);
        node = await startNode(db, dataDir, port, start);
        await Promise.race([consuming, new Promise((_, reject) => setTimeout(() => reject(new Error("not every row arrived within 30 s")), 30_000))]);

        const all = received.flatMap(ids);
        assert.equal([...new Set(all)].sort((a, b) => a - b), Array.from({ length: total }, (_, i) => i), "every committed row arrived");
        const counts = new Map<number, number>();
        for (const id of all) counts.set(id, (counts.get(id) ?? 0) + 1);
        const repeated = [...counts].filter(([, c]) => c > 1).map(([id]) => id);
        const mayRepeat = mayComeAgain(received.slice(0, beforeRestart), signal === "SIGKILL");
        assert.ok(repeated.every((id) => mayRepeat.has(id)), `repeated ${repeated.length} rows of acked transactions: ${repeated.filter((id) => !mayRepeat.has(id)).slice(0, 10)}`);
      } finally {
        stop.abort();
        await connector.disconnect();
        await stopNode(node, "SIGTERM");
      }
    });
  });
}

test.run();
