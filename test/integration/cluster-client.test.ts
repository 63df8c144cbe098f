/**
 * The cluster client (issue 6) against real processes: canal-ts nodes in cluster mode on a real
 * ZooKeeper, a real MariaDB under a continuous sequence load, and createCanalClient consuming in
 * this process. It follows the running node across kill -9 and SIGTERM failovers, and a client
 * started while no node runs the destination waits and then receives. The sequence checker
 * judges every row.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ZkSessionClient } from "../../src/actors/zk/session-client.js";
import { createCanalClient } from "../../src/client/cluster-client.js";
import { clientRunningPath, parseClientRunning } from "../../src/protocol/zk-layout.js";
import { startMariaDB, startZooKeeper, startZooKeeperEnsemble } from "../../src/testkit/index.js";
import { SequenceChecker } from "../../src/testkit/sequence-check.js";
import { startSequenceLoad, type SequenceLoad } from "../../src/testkit/sequence-load.js";
import { parseTailArgs, runTail } from "../../src/cli/tail.js";
import { assertDelivered, consumeClient, eventually, newOwner, runningAddress, SESSION_TIMEOUT_MS, startNode } from "./cluster-kit.js";

const DESTINATION = "seq";
const FAST = { initialDelayMs: 20, maxDelayMs: 200 };

test("a cluster client keeps consuming across kill -9 and SIGTERM failovers: every row, in order, repeats only of unacked batches", async () => {
  await using zkServer = await startZooKeeperEnsemble();
  await using db = await startMariaDB();
  const zk = await ZkSessionClient.connect({ connectString: zkServer.connectString, sessionTimeoutMs: 10_000 });
  const nodes = [await startNode("a", zkServer.connectString, db, DESTINATION), await startNode("b", zkServer.connectString, db, DESTINATION)];
  const load = await startSequenceLoad({ server: db, intervalMs: 10, maxRows: 20_000, maxMs: 60_000 });
  const checker = new SequenceChecker({ first: load.first });
  const client = createCanalClient({ zk: zkServer.connectString, destination: DESTINATION, batchSize: 16, pollMs: 50, soTimeoutMs: 5000, reconnect: FAST, zkSessionTimeoutMs: 4000 });
  const states: string[] = [];
  client.on("state", ({ state }) => states.push(state));
  const consumer = consumeClient(client, checker);
  const caughtUp = (timeoutMs: number) => eventually(() => checker.maxReceived() >= load.lastCommitted(), timeoutMs);
  try {
    assert.ok(await caughtUp(15_000), `the client receives from the first owner (states ${states.join(" ")})`);
    const node = await zk.read(clientRunningPath(DESTINATION, 1001));
    const running = parseClientRunning(node!.data!);
    assert.match(running.address, /^127\.0\.0\.1:\d+$/, "the client node holds the local socket ip:port once connected");
    assert.is(running.identity, client.identity);
    assert.ok(node!.stat.ephemeralOwner !== "0x0", "the client node is ephemeral");

    const first = await runningAddress(zk, DESTINATION);
    const victim = nodes.find((n) => n.address === first)!;
    victim.kill("SIGKILL");
    await victim.exited;
    const second = await newOwner(zk, DESTINATION, first, 4 * SESSION_TIMEOUT_MS);
    assert.ok(await caughtUp(15_000), "the client follows to the new owner after kill -9");
    assert.is(client.status.server, second);

    const restarted = await startNode("a2", zkServer.connectString, db, DESTINATION, victim.port);
    nodes.push(restarted);
    await nodes.find((n) => n.address === second)!.stop();
    const third = await newOwner(zk, DESTINATION, second, 4 * SESSION_TIMEOUT_MS);
    assert.ok(await caughtUp(15_000), "and after SIGTERM");
    assert.is(client.status.server, third);

    const { lastCommitted } = await load.stop();
    assert.ok(await eventually(() => checker.maxReceived() >= lastCommitted, 15_000), "every committed row arrives");
    const report = checker.report(lastCommitted);
    assertDelivered(report, true);
    // The restarted node has the killed one's port: three owners, two addresses, three connections at least.
    assert.ok(report.connections >= 3, `served by three owners: ${report.summary}`);
    assert.is(client.status.activations, 1, "one activation: failovers of the server do not cost the client its node");
  } finally {
    await load.stop();
    await client.close();
    await consumer.done;
    assert.is(await zk.read(clientRunningPath(DESTINATION, 1001)), undefined, "close() deletes the client node");
    await zk.close();
    await Promise.all(nodes.map((n) => n.stop()));
  }
});

test("a client started while no node runs the destination waits, then receives once one does, without a restart", async () => {
  await using zkServer = await startZooKeeper();
  await using db = await startMariaDB();
  const load = await startSequenceLoad({ server: db, intervalMs: 20, maxRows: 10_000, maxMs: 40_000 });
  const checker = new SequenceChecker({ first: load.first });
  const client = createCanalClient({ zk: zkServer.connectString, destination: DESTINATION, batchSize: 16, pollMs: 50, reconnect: FAST });
  const states: string[] = [];
  client.on("state", ({ state }) => states.push(state));
  const consumer = consumeClient(client, checker);
  const nodes = [];
  try {
    assert.ok(await eventually(() => client.state === "discovering", 10_000), `it is elected and looks for a server (states ${states.join(" ")})`);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.is(checker.maxReceived(), -Infinity, "nothing yet");
    // The node starts from the end of the binlog: rows written from now on reach the client.
    nodes.push(await startNode("a", zkServer.connectString, db, DESTINATION));
    const zk = await ZkSessionClient.connect({ connectString: zkServer.connectString, sessionTimeoutMs: 10_000 });
    await runningAddress(zk, DESTINATION).finally(() => zk.close());
    const from = load.lastCommitted();
    assert.ok(await eventually(() => checker.maxReceived() > from, 15_000), `rows arrive once a node runs it (states ${states.join(" ")}; errors ${consumer.errors.join("; ")})`);
    assert.ok(states.filter((s) => s === "electing").length === 1, `elected once, no restart: ${states.join(" ")}`);
  } finally {
    await load.stop();
    await client.close();
    await consumer.done;
    await Promise.all(nodes.map((n) => n.stop()));
  }
});

test("Canal's client switch: {\"active\":false} written into the active client's node makes it resign, and the standby client takes over", async () => {
  await using zkServer = await startZooKeeper();
  await using db = await startMariaDB();
  await using node = await startNode("a", zkServer.connectString, db, DESTINATION);
  const zk = await ZkSessionClient.connect({ connectString: zkServer.connectString, sessionTimeoutMs: 10_000 });
  await runningAddress(zk, DESTINATION);
  const consuming = ["ready", "fetching", "delivered", "acking"];
  const clients = ["one", "two"].map((identity) => {
    const client = createCanalClient({ zk: zkServer.connectString, destination: DESTINATION, identity, batchSize: 16, pollMs: 50, reconnect: FAST });
    const states: string[] = [];
    client.on("state", ({ state }) => states.push(state));
    return { client, states, consumer: consumeClient(client, new SequenceChecker()) };
  });
  try {
    // Whichever won the election consumes; the other stands by.
    assert.ok(
      await eventually(() => clients.some((c) => consuming.includes(c.client.state)) && clients.some((c) => c.client.state === "standby"), 15_000),
      `one consumes, one stands by (${clients.map((c) => c.states.join(" ")).join(" | ")})`,
    );
    const active = clients.find((c) => consuming.includes(c.client.state))!;
    const standby = clients.find((c) => c !== active)!;
    const path = clientRunningPath(DESTINATION, 1001);
    const held = (await zk.read(path))!;
    const before = parseClientRunning(held.data!);
    // What Canal's tooling writes to switch clients: the same JSON with "active":false.
    const text = new TextDecoder().decode(held.data!).replace('"active":true', '"active":false');
    assert.ok(text.includes('"active":false'), text);
    await zk.setData(path, new TextEncoder().encode(text), held.stat.version);
    assert.ok(await eventually(() => active.states.includes("resigning"), 5000), `the active client resigns (${active.states.join(" ")})`);
    assert.ok(await eventually(() => consuming.includes(standby.client.state), 10_000), `the standby takes over (${standby.states.join(" ")})`);
    const after = parseClientRunning((await zk.read(path))!.data!);
    assert.is(after.active, true);
    assert.is.not(after.address, before.address, "the node now names the other client's connection");
  } finally {
    for (const c of clients) await c.client.close();
    for (const c of clients) await c.consumer.done;
    await zk.close();
  }
});

test("canal-ts tail --zk finds the running node and prints changes as JSON lines; Ctrl-C releases its client node", async () => {
  await using zkServer = await startZooKeeper();
  await using db = await startMariaDB();
  await using node = await startNode("a", zkServer.connectString, db, DESTINATION);
  const zk = await ZkSessionClient.connect({ connectString: zkServer.connectString, sessionTimeoutMs: 10_000 });
  const options = parseTailArgs([DESTINATION, "--zk", zkServer.connectString, "--format", "json"]);
  const stop = new AbortController();
  let text = "";
  const log: string[] = [];
  const out = { write: (chunk: string, callback: (err?: Error | null) => void) => ((text += chunk), callback()) };
  const tail = runTail({ ...options, signal: stop.signal, log: (line) => log.push(line), pollMs: 50 }, out);
  let load: SequenceLoad | undefined;
  try {
    // "connected to" is said once the subscription holds: rows written from then on must all arrive.
    assert.ok(await eventually(async () => (await zk.read(clientRunningPath(DESTINATION, 1001))) !== undefined && log.some((l) => l.startsWith("connected to")), 15_000), log.join(" | "));
    load = await startSequenceLoad({ server: db, intervalMs: 20, maxRows: 20, maxMs: 10_000 });
    const { rows } = await load.done;
    assert.is(rows, 20);
    assert.ok(await eventually(() => text.split("\n").filter((l) => l.includes('"type":"INSERT"')).length >= rows, 15_000), text.slice(-400));
    assert.match(log.join("\n"), new RegExp(`connected to ${node.address.replace(/\./g, "\\.")}`));
    stop.abort();
    await tail;
    assert.is(await zk.read(clientRunningPath(DESTINATION, 1001)), undefined, "the tail released its client node");
  } finally {
    stop.abort();
    await tail.catch(() => undefined);
    await load?.stop();
    // An open session would keep reconnecting to the stopped server and the file would never end.
    await zk.close();
  }
});

test.run();
