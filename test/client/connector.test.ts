/**
 * The connector against a LIVE canal-ts server (CanalServer over TCP on 127.0.0.1, a real
 * EventStore holding encoded Canal entries): auth, subscribe, typed batches, ack, rollback and
 * redelivery, late errors of fire-and-forget acks, reconnects across a dropped connection and a
 * restarted server, the batch iterator, and bounded waits. Every wait in here is bounded.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { CanalConnector, type CanalConnectorOptions, type ConnectorEvents } from "../../src/client/connector.js";
import { CanalLateReplyError, CanalStaleBatchError } from "../../src/client/errors.js";
import { CanalAuthError, CanalConfigError, CanalConnectionError, CanalProtocolError } from "../../src/errors.js";
import { TimeUnit } from "../../src/protocol/index.js";
import { beginEntry, ddlEntry, deleteEntry, endEntry, insertEntry, transaction, updateEntry } from "./entries.js";
import { DESTINATION, startLiveServer, type LiveServer } from "./live-server.js";

const CLIENT = 1001;
const FAST_RECONNECT = { initialDelayMs: 20, maxDelayMs: 100 };

function connectorFor(server: LiveServer, options: Partial<CanalConnectorOptions> = {}): CanalConnector {
  return new CanalConnector({ host: "127.0.0.1", port: server.port, destination: DESTINATION, soTimeoutMs: 5000, ...options });
}

/** Resolves with the next event of this type; fails the test after `ms`. */
function next<K extends keyof ConnectorEvents>(connector: CanalConnector, type: K, ms = 5000): Promise<ConnectorEvents[K]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${String(type)} event within ${ms} ms`)), ms);
    connector.once(type, (event) => (clearTimeout(timer), resolve(event)));
  });
}

async function rejects<E>(promise: Promise<unknown>, type: new (...args: never[]) => E, pattern?: RegExp): Promise<E> {
  try {
    await promise;
  } catch (err) {
    assert.instance(err, type);
    if (pattern) assert.match((err as Error).message, pattern);
    return err as E;
  }
  throw new assert.Assertion({ message: `expected a ${type.name}`, generated: false, operator: "rejects", expects: type.name, actual: "resolved" });
}

/**
 * The server's outstanding batch ids once they stop changing to `expected`: acks and rollbacks
 * get no reply, so the test waits (bounded) for the server to have read them.
 */
async function outstanding(expected: number[], ms = 2000): Promise<void> {
  const until = Date.now() + ms;
  let actual = server.store.outstandingBatches(CLIENT);
  while (JSON.stringify(actual) !== JSON.stringify(expected) && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 10));
    actual = server.store.outstandingBatches(CLIENT);
  }
  assert.equal(actual, expected);
}

const ids = (batch: { changes: readonly { after?: Record<string, { value: string | null }>; before?: Record<string, { value: string | null }> }[] }) =>
  batch.changes.map((c) => (c.after ?? c.before)!["id"]!.value);

let server: LiveServer;
test.before.each(async () => {
  server = await startLiveServer({ user: "canal", password: "canal" });
});
test.after.each(async () => {
  await server.close();
});

const auth = { username: "canal", password: "canal" };

test("connects with the right password; a wrong or missing password is CanalAuthError", async () => {
  const good = connectorFor(server, auth);
  const connected = next(good, "connected");
  await good.connect();
  assert.equal(await connected, { connection: 1, address: `127.0.0.1:${server.port}`, reconnect: false });
  assert.is(good.state, "connected");
  await good.disconnect();

  await rejects(connectorFor(server, { username: "canal", password: "wrong" }).connect(), CanalAuthError, /auth failed for user:canal/);
  await rejects(connectorFor(server, { username: "canal", password: null }).connect(), CanalAuthError, /as user "canal"/);
  const stranger = connectorFor(server, { username: "other", password: "canal" });
  await rejects(stranger.connect(), CanalAuthError);
  assert.is(stranger.state, "disconnected");
});

test("a server without a password accepts a client with none", async () => {
  const open = await startLiveServer();
  try {
    const connector = connectorFor(open);
    await connector.connect();
    await connector.subscribe();
    await connector.disconnect();
  } finally {
    await open.close();
  }
});

test("subscribe, then batches carry typed changes; ack frees them on the server", async () => {
  server.put([
    ...transaction(4, [{ id: 1, name: "tea" }, { id: 2, name: null }], 77),
    beginEntry(400),
    updateEntry(500, [[{ id: 1, name: "tea" }, { id: 1, name: "coffee" }]]),
    deleteEntry(600, [{ id: 2, name: null }]),
    endEntry(700, 78),
    ddlEntry(800, "ALTER TABLE t1 ADD c INT"),
  ]);
  const connector = connectorFor(server, auth);
  await connector.connect();
  await connector.subscribe("test\\..*");

  const first = await connector.getWithoutAck(3, 1000);
  assert.is(first.id, 1);
  assert.is(first.connection, 1);
  assert.is(first.raw.length, 3);
  assert.equal(ids(first), ["1", "2"]);
  const [tea, nothing] = first.changes;
  assert.is(tea!.type, "INSERT");
  assert.is(tea!.database, "test");
  assert.is(tea!.table, "t1");
  assert.equal(tea!.position, { file: "mysql-bin.000003", offset: 104 });
  assert.equal(tea!.after!["name"], { value: "tea", sqlType: 12, mysqlType: "varchar(20)", isKey: false, updated: true, index: 1 });
  assert.is(nothing!.after!["name"]!.value, null);

  const second = await connector.getWithoutAck(10, 1000);
  assert.is(second.id, 2);
  assert.equal(second.changes.map((c) => c.type), ["UPDATE", "DELETE", "ALTER"]);
  const update = second.changes[0]!;
  assert.is(update.before!["name"]!.value, "tea");
  assert.is(update.after!["name"]!.value, "coffee");
  assert.is(update.after!["name"]!.updated, true);
  assert.is(second.changes[2]!.sql, "ALTER TABLE t1 ADD c INT");

  await outstanding([1, 2]);
  await first.ack();
  await connector.ack(2);
  // No reply comes for a successful ack: the next request's reply is its own.
  const empty = await connector.getWithoutAck(10);
  assert.is(empty.id, -1);
  assert.is(empty.isEmpty, true);
  await outstanding([]);
  await connector.disconnect();
});

test("rollback: the batch comes again under a new batch id", async () => {
  server.put(transaction(4, [{ id: 1, name: "a" }], 1));
  const connector = connectorFor(server, auth);
  await connector.connect();
  await connector.subscribe();
  const batch = await connector.getWithoutAck(3, 500);
  await batch.rollback();
  const again = await connector.getWithoutAck(3, 500);
  assert.is(again.id, batch.id + 1);
  assert.equal(ids(again), ids(batch));
  await connector.rollback();
  const third = await connector.getWithoutAck(3, 500);
  assert.equal(ids(third), ["1"]);
  await connector.ack(third);
  await outstanding([]);
  await connector.disconnect();
});

test("get() acks what it returns, including the empty batch", async () => {
  server.put(transaction(4, [{ id: 5, name: "x" }], 1));
  const connector = connectorFor(server, auth);
  await connector.connect();
  await connector.subscribe();
  const batch = await connector.get(10, 500);
  assert.equal(ids(batch), ["5"]);
  await outstanding([]);
  assert.is((await connector.get(10)).id, -1);
  await connector.disconnect();
});

test("acks of unknown batches are dropped locally with CanalStaleBatchError; batch ids 0 and below -1 are refused", async () => {
  const connector = connectorFor(server, auth);
  await connector.connect();
  await connector.subscribe();
  const err = await rejects(connector.ack(7), CanalStaleBatchError, /ack of batch 7 dropped, not sent/);
  assert.is(err.batchId, 7);
  await rejects(connector.ack(0), CanalConfigError, /ack of batch id 0: expected a batch id from a get/);
  await rejects(connector.rollback(-5), CanalConfigError, /rollback of batch id -5/);
  assert.is((await connector.getWithoutAck(10)).id, -1);
  await connector.disconnect();
});

test("a server error for an ack surfaces on the next call as CanalLateReplyError, and replies stay in step", async () => {
  server.put([...transaction(4, [{ id: 1, name: "a" }], 1), ...transaction(400, [{ id: 2, name: "b" }], 2), ...transaction(800, [{ id: 3, name: "c" }], 3)]);
  const connector = connectorFor(server, auth);
  await connector.connect();
  await connector.subscribe();
  const b1 = await connector.getWithoutAck(3, 500);
  const b2 = await connector.getWithoutAck(3, 500);
  await b2.ack(); // not the oldest: the server answers with an error, later
  const late = await rejects(connector.getWithoutAck(3, 500), CanalLateReplyError, /the ack of batch 2/);
  assert.is(late.code, 400);
  assert.is(late.exact, true);
  assert.equal(late.requests, [{ type: "ack", batchId: 2 }]);
  assert.match(late.replies[0]!.message, /not the firstly/);
  assert.is(late.requestError, undefined);
  // The get that threw did receive batch 3; the next get returns it, without asking the server.
  const b3 = await connector.getWithoutAck(3, 500);
  assert.is(b3.id, 3);
  assert.equal(ids(b3), ["3"]);
  await outstanding([1, 2, 3]);
  await b1.ack();
  // b2's ack was consumed by the failed attempt: acking it again is refused locally.
  await rejects(b2.ack(), CanalStaleBatchError);
  await connector.rollback();
  const all = await connector.getWithoutAck(9, 500);
  assert.equal(ids(all), ["2", "3"]);
  await all.ack();
  await outstanding([]);
  await connector.disconnect();
});

test("a late error and the request's own error are both reported, in one error", async () => {
  server.put(transaction(4, [{ id: 1, name: "a" }], 1));
  const connector = connectorFor(server, auth);
  await connector.connect();
  await connector.subscribe();
  const batch = await connector.getWithoutAck(10, 500);
  await connector.unsubscribe();
  await batch.ack(); // the server no longer knows the client: error, later
  const late = await rejects(connector.getWithoutAck(10), CanalLateReplyError, /the ack of batch 1, sent earlier .*should subscribe first/);
  assert.instance(late.requestError, CanalProtocolError);
  assert.match(late.requestError!.message, /should subscribe first/);
  // Nothing is pending any more: the next failure is the request's own, plainly.
  const own = await rejects(connector.getWithoutAck(10), CanalProtocolError, /should subscribe first/);
  assert.not.instance(own, CanalLateReplyError);
  await connector.disconnect();
});

test("rollback on connect: a new connection gets the unacked batches again; without it, not", async () => {
  server.put(transaction(4, [{ id: 1, name: "a" }], 1));
  const first = connectorFor(server, auth);
  await first.connect();
  await first.subscribe();
  const unacked = await first.getWithoutAck(10, 500);
  await first.disconnect();

  const keeping = connectorFor(server, { ...auth, rollbackOnConnect: false });
  await keeping.connect();
  assert.is((await keeping.getWithoutAck(10)).id, -1);
  await keeping.disconnect();

  const second = connectorFor(server, auth);
  await second.connect();
  const again = await second.getWithoutAck(10, 500);
  assert.equal(ids(again), ids(unacked));
  assert.is(again.id > unacked.id, true);
  await again.ack();
  await second.disconnect();
});

test("reconnect after the server drops the connection: subscribe again, roll back, redeliver; the old batch is never acked", async () => {
  server.put(transaction(4, [{ id: 1, name: "a" }], 1));
  const connector = connectorFor(server, { ...auth, reconnect: FAST_RECONNECT, random: () => 1 });
  const seen: string[] = [];
  for (const type of ["connected", "disconnected", "reconnecting", "closed"] as const) connector.on(type, () => seen.push(type));
  await connector.connect();
  await connector.subscribe();
  const old = await connector.getWithoutAck(10, 500);
  assert.is(old.id, 1);

  const reconnected = next(connector, "connected");
  const port = server.port;
  await server.close();
  server = await startLiveServer({ ...{ user: "canal", password: "canal" }, port, store: server.store });
  const event = await reconnected;
  assert.equal(event, { connection: 2, address: `127.0.0.1:${port}`, reconnect: true });
  assert.equal(seen.slice(0, 4), ["connected", "disconnected", "reconnecting", "connected"]);

  const stale = await rejects(old.ack(), CanalStaleBatchError, /received on connection #1 .* now on connection #2/);
  assert.is(stale.batchConnection, 1);
  const again = await connector.getWithoutAck(10, 500);
  assert.equal(ids(again), ["1"]);
  assert.is(again.id, 2);
  await outstanding([2]);
  await again.ack();
  await outstanding([]);
  await connector.disconnect();
});

test("after a server restart batch ids start again at 1: the old batch 1 is refused, the new batch 1 stays unacked until acked", async () => {
  server.put(transaction(4, [{ id: 1, name: "a" }], 1));
  const connector = connectorFor(server, { ...auth, reconnect: FAST_RECONNECT });
  await connector.connect();
  await connector.subscribe();
  const old = await connector.getWithoutAck(10, 500);
  assert.is(old.id, 1);

  const reconnected = next(connector, "connected");
  const port = server.port;
  await server.close();
  server = await startLiveServer({ user: "canal", password: "canal", port });
  server.put(transaction(4, [{ id: 1, name: "a" }], 1));
  await reconnected; // subscribed again: the new server had never heard of this client
  const fresh = await connector.getWithoutAck(10, 500);
  assert.is(fresh.id, 1);
  await rejects(connector.ack(old), CanalStaleBatchError);
  await outstanding([1]);
  await connector.ack(fresh);
  await outstanding([]);
  await connector.disconnect();
});

test("a get waiting when the connection drops is retried on the new connection", async () => {
  const connector = connectorFor(server, { ...auth, reconnect: FAST_RECONNECT });
  await connector.connect();
  await connector.subscribe();
  const waiting = connector.getWithoutAck(3, 4000); // returns as soon as the 3 entries are there
  await new Promise((r) => setTimeout(r, 50));
  const port = server.port;
  const store = server.store;
  await server.close();
  server = await startLiveServer({ user: "canal", password: "canal", port, store });
  server.put(transaction(4, [{ id: 9, name: "late" }], 1));
  const batch = await waiting;
  assert.equal(ids(batch), ["9"]);
  assert.is(batch.connection, 2);
  await batch.ack();
  await connector.disconnect();
});

test("without reconnect a lost connection closes the connector and calls fail with CanalConnectionError", async () => {
  const connector = connectorFor(server, auth);
  await connector.connect();
  await connector.subscribe();
  const closed = next(connector, "closed");
  await server.close();
  const { error } = await closed;
  assert.instance(error, CanalConnectionError);
  assert.is(connector.state, "disconnected");
  await rejects(connector.getWithoutAck(10), CanalConnectionError, /closed by the server/);
  server = await startLiveServer({ user: "canal", password: "canal" });
});

test("batches(): for await with ack and rollback; a rolled back batch comes again", async () => {
  server.put([...transaction(4, [{ id: 1, name: "a" }], 1), ...transaction(400, [{ id: 2, name: "b" }], 2)]);
  const connector = connectorFor(server, auth);
  await connector.connect();
  await connector.subscribe();
  const stop = new AbortController();
  const delivered: string[][] = [];
  let rolledBack = false;
  for await (const batch of connector.batches({ batchSize: 3, timeoutMs: 50, signal: stop.signal })) {
    delivered.push(ids(batch) as string[]);
    if (!rolledBack && ids(batch)[0] === "2") {
      rolledBack = true;
      await batch.rollback();
      continue;
    }
    await batch.ack();
    if (delivered.length === 3) stop.abort();
  }
  assert.equal(delivered, [["1"], ["2"], ["2"]]);
  await outstanding([]);
  await connector.disconnect();
});

test("batches() ends when the connector is disconnected", async () => {
  const connector = connectorFor(server, auth);
  await connector.connect();
  await connector.subscribe();
  setTimeout(() => void connector.disconnect(), 100);
  let count = 0;
  for await (const _ of connector.batches({ timeoutMs: 1000 })) count++;
  assert.is(count, 0);
});

test("bounded waits: an empty get returns batch -1 after its timeout; soTimeout and AbortSignal end waits", async () => {
  const connector = connectorFor(server, { ...auth, soTimeoutMs: 300 });
  await connector.connect();
  await connector.subscribe();
  let started = Date.now();
  const empty = await connector.getWithoutAck(10, 100, TimeUnit.MILLISECONDS);
  assert.is(empty.id, -1);
  assert.ok(Date.now() - started >= 90, "the server waited for the timeout");

  // A get with a long server-side wait is not cut by soTimeout: the wait is added to it.
  started = Date.now();
  assert.is((await connector.getWithoutAck(10, 1, TimeUnit.SECONDS)).id, -1);
  assert.ok(Date.now() - started >= 900);

  // Timeout 0 asks the server to wait for a full batch: only soTimeout bounds it, as in Java.
  await rejects(connector.getWithoutAck(10, 0), CanalConnectionError, /no reply .* within 300 ms/);
  assert.is(connector.state, "disconnected");

  const aborting = connectorFor(server, auth);
  await aborting.connect();
  await aborting.subscribe();
  const stop = new AbortController();
  setTimeout(() => stop.abort(), 50);
  started = Date.now();
  await rejects(aborting.getWithoutAck(10, 5000, TimeUnit.MILLISECONDS, { signal: stop.signal }), CanalConnectionError, /aborted/);
  assert.ok(Date.now() - started < 2000);
  await aborting.disconnect();
});

test("a connect to a closed port fails fast with a retriable CanalConnectionError", async () => {
  const port = server.port;
  await server.close();
  const err = await rejects(new CanalConnector({ host: "127.0.0.1", port, destination: DESTINATION }).connect(), CanalConnectionError, /cannot connect/);
  assert.is(err.retriable, true);
  server = await startLiveServer();
});

test("invalid options name the value and what was expected", () => {
  assert.throws(() => new CanalConnector({ host: "127.0.0.1", port: 70000, destination: "d" }), /port 70000: expected an integer from 1 to 65535/);
  assert.throws(() => new CanalConnector({ host: "127.0.0.1", port: 1, destination: "d", clientId: 40000 }), /clientId 40000/);
  assert.throws(() => new CanalConnector({ host: "127.0.0.1", port: 1, destination: "" }), /destination/);
});

test("the server logged no problem in any of this", () => {
  assert.equal(server.problems, []);
});

test.run();
