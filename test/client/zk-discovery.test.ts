/**
 * Server discovery through a real ZooKeeper (standalone, from the test kit), with the running
 * node written by hand the way a canal-ts or Canal server writes it: the address is read, the
 * look-up waits while no node runs (or the node is inactive or unreadable), waits are bounded,
 * and a connector with the discovery's resolver follows the running node between two live
 * Canal servers.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ZkSessionClient } from "../../src/actors/zk/session-client.js";
import { CanalConnector, type ConnectorEvents } from "../../src/client/connector.js";
import { RunningServerDiscovery, runningServer } from "../../src/client/zk-discovery.js";
import { CanalConfigError, CanalConnectionError } from "../../src/errors.js";
import { formatServerRunning, runningPath } from "../../src/protocol/zk-layout.js";
import { startZooKeeper, type ZooKeeperServer } from "../../src/testkit/index.js";
import { transaction } from "./entries.js";
import { DESTINATION, startLiveServer } from "./live-server.js";

let zk: ZooKeeperServer;
/** The hand-made "server": writes the running nodes. */
let writer: ZkSessionClient;
let discovery: RunningServerDiscovery;

test.before(async () => {
  zk = await startZooKeeper();
  writer = await ZkSessionClient.connect({ connectString: zk.connectString, sessionTimeoutMs: 4000 });
  discovery = await RunningServerDiscovery.connect(zk.connectString);
});
test.after(async () => {
  await discovery?.close();
  await writer?.close();
  await zk?.stop();
});

let destinationSeq = 0;
/** A fresh destination per test, so no test sees another's running node. */
function freshDestination(): string {
  return `d${++destinationSeq}`;
}

async function setRunning(destination: string, address: string, active = true): Promise<void> {
  const path = runningPath(destination);
  const data = new TextEncoder().encode(formatServerRunning({ active, address }));
  const existing = await writer.read(path);
  if (existing !== undefined) {
    await writer.setData(path, data, -1);
    return;
  }
  await writer.ensurePath(path.slice(0, path.lastIndexOf("/")));
  await writer.create(path, data, "ephemeral");
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error("expected a rejection");
}

const settledWithin = async <T>(promise: Promise<T>, ms: number): Promise<boolean> =>
  Promise.race([promise.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);

test("the running node's address, from Canal's JSON", async () => {
  const d = freshDestination();
  await setRunning(d, "127.0.0.1:11111");
  assert.equal(await discovery.runningServer(d), { host: "127.0.0.1", port: 11111, address: "127.0.0.1:11111" });
  // The one-off form opens and closes its own session.
  assert.equal(await runningServer(zk.connectString, d), { host: "127.0.0.1", port: 11111, address: "127.0.0.1:11111" });
});

test("a look-up waits while no node runs, and answers as soon as one does", async () => {
  const d = freshDestination();
  const looking = discovery.runningServer(d, { timeoutMs: 10_000 });
  assert.not.ok(await settledWithin(looking, 200), "no answer while no node runs");
  const created = Date.now();
  await setRunning(d, "127.0.0.1:22222");
  assert.equal(await looking, { host: "127.0.0.1", port: 22222, address: "127.0.0.1:22222" });
  assert.ok(Date.now() - created < 1000, "woken by the watch, not by polling");
});

test("an inactive running node (Canal's manual switch) counts as none until it is active again", async () => {
  const d = freshDestination();
  await setRunning(d, "127.0.0.1:33333", false);
  const looking = discovery.runningServer(d, { timeoutMs: 10_000 });
  assert.not.ok(await settledWithin(looking, 200));
  await setRunning(d, "127.0.0.1:44444", true);
  assert.is((await looking).port, 44444);
});

test("a wait is bounded: the timeout names the destination, the path and what was there; an abort rejects with its reason", async () => {
  const d = freshDestination();
  const err = await rejection(discovery.runningServer(d, { timeoutMs: 150 }));
  assert.instance(err, CanalConnectionError);
  assert.ok((err as CanalConnectionError).retriable);
  assert.match(err.message, `no canal-ts server is running destination "${d}": ZooKeeper ${zk.connectString} has no running node at /otter/canal/destinations/${d}/running after 150 ms`);

  await setRunning(d, "127.0.0.1:1", false);
  assert.match((await rejection(discovery.runningServer(d, { timeoutMs: 100 }))).message, "has an inactive running node (127.0.0.1:1 is releasing)");

  const path = runningPath(d);
  await writer.setData(path, new TextEncoder().encode("{not json"), -1);
  assert.match((await rejection(discovery.runningServer(d, { timeoutMs: 100 }))).message, "has an unreadable running node");

  const stop = new AbortController();
  const aborted = rejection(discovery.runningServer(freshDestination(), { signal: stop.signal }));
  stop.abort(new CanalConnectionError("caller gave up"));
  assert.match((await aborted).message, /^caller gave up$/);
});

test("a bad destination or timeout is a CanalConfigError", async () => {
  assert.instance(await rejection(discovery.runningServer("a/b")), CanalConfigError);
  assert.throws(() => discovery.resolver(""), (e: Error) => e instanceof CanalConfigError);
  assert.instance(await rejection(discovery.runningServer("x", { timeoutMs: -1 })), CanalConfigError);
});

test("a connector resolving through the discovery follows the running node from one server to another", async () => {
  const d = DESTINATION; // the live servers serve this one destination
  const a = await startLiveServer();
  const b = await startLiveServer();
  const connector = new CanalConnector({ resolve: discovery.resolver(d), destination: d, soTimeoutMs: 5000, reconnect: { initialDelayMs: 10, maxDelayMs: 50 } });
  try {
    a.put(transaction(4, [{ id: 1, name: "on a" }], 1));
    b.put(transaction(4, [{ id: 2, name: "on b" }], 1));
    await setRunning(d, `127.0.0.1:${a.port}`);
    await connector.connect();
    await connector.subscribe();
    const first = await connector.getWithoutAck(10, 300);
    assert.equal(first.changes.map((c) => c.after!["id"]!.value), ["1"]);

    // A graceful handover: the running node goes first, then the old server closes, then the new one takes over.
    const moved = new Promise<ConnectorEvents["connected"]>((resolve) => connector.on("connected", (e) => e.reconnect && resolve(e)));
    await writer.delete(runningPath(d));
    await a.close();
    await new Promise((r) => setTimeout(r, 100)); // a while with no running node: the resolver waits
    await setRunning(d, `127.0.0.1:${b.port}`);
    assert.is((await moved).address, `127.0.0.1:${b.port}`);
    const second = await connector.getWithoutAck(10, 300);
    assert.equal(second.changes.map((c) => c.after!["id"]!.value), ["2"]);
    await second.ack();
  } finally {
    await connector.disconnect();
    await writer.delete(runningPath(d));
    await b.close();
    await a.close().catch(() => undefined);
  }
});

test("after close, look-ups fail instead of waiting", async () => {
  const own = await RunningServerDiscovery.connect(zk.connectString);
  const waiting = rejection(own.runningServer(freshDestination(), { timeoutMs: 10_000 }));
  await new Promise((r) => setTimeout(r, 50));
  await own.close();
  const err = await waiting;
  assert.instance(err, CanalConnectionError);
  assert.match(err.message, /was closed/);
});

test.run();
