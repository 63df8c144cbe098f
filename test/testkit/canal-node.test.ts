/**
 * The test kit's canal-ts node process and sequence load, against a real MariaDB and the built
 * CLI (dist/cli.js, `npm run build`): log lines as they come, real signals, clean-up, and a load
 * that commits consecutive numbers within its bounds.
 */
import { existsSync } from "node:fs";
import mysql from "mysql2/promise";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { CanalConnector } from "../../src/client/index.js";
import { CanalConfigError, CanalConnectionError } from "../../src/errors.js";
import { isPidAlive, type MariaDBServer, startMariaDB } from "../../src/testkit/index.js";
import { startCanalNode } from "../../src/testkit/canal-node.js";
import { startSequenceLoad } from "../../src/testkit/sequence-load.js";

let db: MariaDBServer;
test.before(async () => {
  db = await startMariaDB();
});
test.after(async () => {
  await db?.stop();
});

const nodeArgs = (destination = "example") => ["--source", db.uri(), "--destination", destination];

test("a node starts on a free loopback port, its JSON log lines are parsed, SIGTERM stops it with exit 0 and its dir goes", async () => {
  const node = await startCanalNode({ nodeId: "a", args: nodeArgs() });
  try {
    assert.match(node.address, /^127\.0\.0\.1:\d+$/);
    assert.ok(node.isAlive());
    const ready = node.logs.find((l) => l.msg === "node ready");
    assert.ok(ready, "the ready line was read");
    assert.is(ready.level, "info");
    assert.type(ready.fields["time"], "string");
    // The port is really open: a Canal client connects.
    const connector = new CanalConnector({ host: "127.0.0.1", port: node.port, destination: "example", soTimeoutMs: 5000 });
    await connector.connect();
    await connector.disconnect();
  } finally {
    assert.equal(await node.stop(), { code: 0, signal: null });
  }
  assert.not.ok(existsSync(node.dir), "the node's temp dir is removed");
  assert.not.ok(isPidAlive(node.pid));
  assert.ok(node.logs.some((l) => l.msg === "stopped"), "the last lines are read after the exit");
  assert.equal(await node.stop(), { code: 0, signal: null }, "stop is idempotent");
});

test("kill -9 ends the node at once; waitForLog after the exit fails naming what it waited for", async () => {
  await using node = await startCanalNode({ args: nodeArgs() });
  node.kill("SIGKILL");
  assert.equal(await node.exited, { code: null, signal: "SIGKILL" });
  try {
    await node.waitForLog("never logged", 1000);
    assert.unreachable("expected a rejection");
  } catch (err) {
    assert.instance(err, CanalConnectionError);
    assert.match((err as Error).message, /exited \(signal SIGKILL\) without logging a line with msg "never logged"/);
  }
  node.kill("SIGKILL"); // a gone process is no error
});

test("a frozen node (SIGSTOP) does not answer; SIGCONT brings it back; stop() ends even a frozen node", async () => {
  await using node = await startCanalNode({ args: nodeArgs(), stopGraceMs: 5000 });
  node.kill("SIGSTOP");
  const frozen = new CanalConnector({ host: "127.0.0.1", port: node.port, destination: "example", soTimeoutMs: 300, connectTimeoutMs: 1000 });
  // The kernel still accepts the TCP connection, but no handshake comes.
  await frozen.connect().then(
    () => assert.unreachable("a frozen node answered"),
    (err: unknown) => assert.instance(err, CanalConnectionError),
  );
  node.kill("SIGCONT");
  const thawed = new CanalConnector({ host: "127.0.0.1", port: node.port, destination: "example", soTimeoutMs: 5000 });
  await thawed.connect();
  await thawed.disconnect();
  node.kill("SIGSTOP");
  const started = Date.now();
  assert.equal(await node.stop(), { code: 0, signal: null }, "SIGTERM is acted on once continued");
  assert.ok(Date.now() - started < 5000, "well before the SIGKILL bound");
});

test("waitForLog waits for a later line, from a given index, with a regex or a predicate, and times out naming it", async () => {
  await using node = await startCanalNode({ args: nodeArgs() });
  const since = node.logs.length;
  const waiting = node.waitForLog(/"msg":"stopping"/, 10_000, { since });
  const byPredicate = node.waitForLog((l) => l.fields["signal"] === "SIGTERM", 10_000, { since });
  node.kill("SIGTERM");
  const line = await waiting;
  assert.is(line.msg, "stopping");
  assert.is((await byPredicate).msg, "stopping");
  await node.exited;

  await using other = await startCanalNode({ args: nodeArgs() });
  try {
    await other.waitForLog("not a line", 100, { since: other.logs.length });
    assert.unreachable("expected a timeout");
  } catch (err) {
    assert.match((err as Error).message, /logged no a line with msg "not a line" within 100 ms; last lines of .*node\.log/);
  }
});

test("a node that cannot start fails the start with the tail of its log, and is not left running", async () => {
  try {
    await startCanalNode({ args: ["--source", "mysql://canal:canal@127.0.0.1:1/", "--destination", "bad name!"] });
    assert.unreachable("expected the start to fail");
  } catch (err) {
    assert.instance(err, CanalConnectionError);
    assert.match((err as Error).message, /canal-ts node on 127\.0\.0\.1:\d+ exited \(code 1\) without logging a line with msg "node ready"; last lines of/);
  }
  try {
    await startCanalNode({ args: [], cli: "/nonexistent/cli.js" });
    assert.unreachable("expected a config error");
  } catch (err) {
    assert.instance(err, CanalConfigError);
    assert.match((err as Error).message, /\/nonexistent\/cli\.js does not exist: expected a built CLI/);
  }
});

test("the sequence load commits consecutive numbers in K-row transactions, bounded by count, and a second load continues", async () => {
  const load = await startSequenceLoad({ server: db, database: "seqtest", rowsPerTransaction: 3, intervalMs: 1, maxRows: 20, maxMs: 20_000 });
  assert.is(load.first, 1);
  const result = await load.done;
  assert.equal(result, { lastCommitted: 20, first: 1, rows: 20, transactions: 7, reason: "maxRows" });
  assert.is(load.lastCommitted(), 20);
  assert.type(load.committedAt(20), "number");
  const sql = await mysql.createConnection({ host: db.host, port: db.port, user: db.user, password: db.password });
  try {
    const [rows] = await sql.query<mysql.RowDataPacket[]>("SELECT n FROM seqtest.seq ORDER BY n");
    assert.equal(rows.map((r) => Number(r["n"])), Array.from({ length: 20 }, (_, i) => i + 1));
    const next = await startSequenceLoad({ server: db, database: "seqtest", intervalMs: 1, maxRows: 5, maxMs: 20_000 });
    assert.is(next.first, 21);
    assert.is((await next.done).lastCommitted, 25);
  } finally {
    await sql.end();
  }
});

test("the sequence load ends by time, and stop() waits for the transaction in flight", async () => {
  const timed = await startSequenceLoad({ server: db, database: "seqtime", intervalMs: 20, maxRows: 1_000_000, maxMs: 300 });
  const byTime = await timed.done;
  assert.is(byTime.reason, "maxMs");
  assert.ok(byTime.rows >= 5 && byTime.rows <= 20, `about 15 rows in 300 ms at one per 20 ms, got ${byTime.rows}`);

  const stopped = await startSequenceLoad({ server: db, database: "seqstop", intervalMs: 2, maxRows: 1_000_000, maxMs: 60_000 });
  await new Promise((r) => setTimeout(r, 100));
  const result = await stopped.stop();
  assert.is(result.reason, "stopped");
  const sql = await mysql.createConnection({ host: db.host, port: db.port, user: db.user, password: db.password });
  try {
    const [rows] = await sql.query<mysql.RowDataPacket[]>("SELECT COUNT(*) AS c, MAX(n) AS top FROM seqstop.seq");
    assert.is(Number(rows[0]!["top"]), result.lastCommitted, "lastCommitted is what the table holds");
    assert.is(Number(rows[0]!["c"]), result.lastCommitted);
  } finally {
    await sql.end();
  }
});

test("bad sequence load options name the value and what was expected", async () => {
  const bad = async (opts: Partial<Parameters<typeof startSequenceLoad>[0]>): Promise<string> => {
    try {
      await startSequenceLoad({ server: db, maxRows: 10, maxMs: 1000, ...opts });
    } catch (err) {
      assert.instance(err, CanalConfigError);
      return (err as Error).message;
    }
    throw new Error("expected a config error");
  };
  assert.match(await bad({ rowsPerTransaction: 0 }), "rowsPerTransaction 0: expected an integer from 1 to 10000");
  assert.match(await bad({ database: "x; DROP" }), 'database "x; DROP": expected a plain identifier');
  assert.match(await bad({ maxRows: Infinity }), "maxRows Infinity: expected an integer ≥ 1");
  assert.match(await bad({ maxMs: 0 }), "maxMs 0: expected a number of ms > 0");
});

test.run();
