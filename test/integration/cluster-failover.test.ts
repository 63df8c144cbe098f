/**
 * High availability against real processes (issue 5): two canal-ts nodes in cluster mode on a
 * real ZooKeeper, a real MariaDB under a continuous sequence load, and a consumer that follows
 * the running node. kill -9 and SIGTERM of the running node move the destination; SIGSTOP past
 * the session timeout leaves a zombie that must never deliver again. The sequence checker
 * (src/testkit/sequence-check.ts) judges what the consumer received.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ZkSessionClient } from "../../src/actors/zk/session-client.js";
import { CanalConnector } from "../../src/client/connector.js";
import { clientCursorPath, runningPath as runningPathOf } from "../../src/protocol/zk-layout.js";
import { freePort, startMariaDB, startZooKeeper, TcpRelay } from "../../src/testkit/index.js";
import { SequenceChecker } from "../../src/testkit/sequence-check.js";
import { startSequenceLoad } from "../../src/testkit/sequence-load.js";
import { runRelease } from "../../src/cli/release.js";
import { startCanalNode } from "../../src/testkit/canal-node.js";
import {
  assertCanalTree,
  assertDelivered,
  assertOneRunner,
  followingConsumer,
  newOwner,
  nodeArgs,
  runningAddress,
  SESSION_TIMEOUT_MS,
  startNode,
  TABLE,
} from "./cluster-kit.js";

const DESTINATION = "seq";

test("kill -9 then SIGTERM of the running node: the standby takes over, the tree is Canal's, every row arrives in order", async () => {
  await using zkServer = await startZooKeeper();
  await using db = await startMariaDB();
  const zk = await ZkSessionClient.connect({ connectString: zkServer.connectString, sessionTimeoutMs: 10_000 });
  // The nodes first: a destination without a cursor starts at the end of the binlog.
  const nodes = [await startNode("a", zkServer.connectString, db, DESTINATION), await startNode("b", zkServer.connectString, db, DESTINATION)];
  const first = await runningAddress(zk, DESTINATION);
  const load = await startSequenceLoad({ server: db, intervalMs: 10, maxRows: 20_000, maxMs: 90_000 });
  const { consumer, discovery } = await followingConsumer(zkServer.connectString, DESTINATION, load.first);
  try {
    assert.ok(await consumer.caughtUp(load.lastCommitted(), 15_000), "the consumer receives from the first owner");
    await assertCanalTree(zk, DESTINATION, nodes, first);

    // kill -9: the standby runs once the dead node's session expires (plus the anti-flap delay).
    const victim = nodes.find((n) => n.address === first)!;
    victim.kill("SIGKILL");
    const killedAt = Date.now();
    await victim.exited;
    const second = await newOwner(zk, DESTINATION, first, 4 * SESSION_TIMEOUT_MS);
    assert.ok(await consumer.caughtUp(load.lastCommitted(), 15_000), "the consumer follows to the new owner");
    const cursor = await zk.read(clientCursorPath(DESTINATION, 1001));

    // The killed node comes back as a standby; then SIGTERM of the owner hands over at once.
    const restarted = await startNode("a2", zkServer.connectString, db, DESTINATION, victim.port);
    nodes.push(restarted);
    const owner = nodes.find((n) => n.address === second)!;
    const since = restarted.logs.length;
    await owner.stop();
    const third = await newOwner(zk, DESTINATION, second, 4 * SESSION_TIMEOUT_MS);
    assert.is(third, restarted.address);
    const contended = await restarted.waitForLog("instance contending", 5000, { since });
    assert.ok((contended.fields["from"] as string) === "standby", "the standby contended straight from standby");
    assert.ok(await consumer.caughtUp(load.lastCommitted(), 15_000), "and the consumer follows again");
    const after = await zk.read(clientCursorPath(DESTINATION, 1001));
    assert.ok(after!.stat.version > cursor!.stat.version, "the new owner moves the shared cursor");

    const { lastCommitted } = await load.stop();
    assert.ok(await consumer.caughtUp(lastCommitted, 15_000), "every committed row arrives");
    const report = consumer.checker.report(lastCommitted);
    assertDelivered(report, true);
    assert.ok(report.connections >= 3, `the consumer followed three owners: ${report.summary}`);
    assertOneRunner(nodes, [DESTINATION], new Map([[victim, killedAt]]));
  } finally {
    await load.stop();
    await consumer.stop();
    await discovery.close();
    await zk.close();
    await Promise.all(nodes.map((n) => n.stop()));
  }
});

test("SIGSTOP of the running node past the session timeout: the zombie never delivers or moves the cursor again, and stands by", async () => {
  await using zkServer = await startZooKeeper();
  await using db = await startMariaDB();
  const zk = await ZkSessionClient.connect({ connectString: zkServer.connectString, sessionTimeoutMs: 10_000 });
  const nodes = [await startNode("a", zkServer.connectString, db, DESTINATION), await startNode("b", zkServer.connectString, db, DESTINATION)];
  const firstAddress = await runningAddress(zk, DESTINATION);
  const zombie = nodes.find((n) => n.address === firstAddress)!;
  const load = await startSequenceLoad({ server: db, intervalMs: 10, maxRows: 20_000, maxMs: 90_000 });
  // A client stuck to the first owner, with a GET always waiting there: whatever the zombie
  // would hand out after it wakes, this client would receive. Its batches go to the same
  // checker as the following consumer's, which takes over the same client identity later.
  const [host, port] = firstAddress.split(":");
  const sticky = new CanalConnector({ host: host!, port: Number(port), destination: DESTINATION, soTimeoutMs: 60_000 });
  await sticky.connect();
  await sticky.subscribe();
  const checker = new SequenceChecker({ first: load.first });
  const stickyBatches: { at: number; rows: number }[] = [];
  const stickyErrors: string[] = [];
  let stickyDone = false;
  const stickyLoop = (async () => {
    while (!stickyDone) {
      try {
        const batch = await sticky.getWithoutAck(16, 200);
        if (batch.isEmpty) continue;
        stickyBatches.push({ at: Date.now(), rows: batch.changes.length });
        const ns = batch.changes.filter((c) => c.table === TABLE && c.type === "INSERT").map((c) => Number(c.after!["n"]!.value));
        await batch.ack();
        checker.add({ batchId: batch.id, connection: -batch.connection, server: firstAddress, ns, acked: true, at: Date.now() });
      } catch (err) {
        stickyErrors.push((err as Error).message);
        return;
      }
    }
  })();
  let following: Awaited<ReturnType<typeof followingConsumer>> | undefined;
  try {
    await until(() => checker.maxReceived() >= load.lastCommitted() && load.lastCommitted() > 20, 15_000);
    const cursorAtFreeze = await zk.read(clientCursorPath(DESTINATION, 1001));

    zombie.kill("SIGSTOP");
    const second = await newOwner(zk, DESTINATION, firstAddress, 4 * SESSION_TIMEOUT_MS);
    following = await followingConsumer(zkServer.connectString, DESTINATION, load.first, checker);
    assert.ok(await following.consumer.caughtUp(load.lastCommitted(), 15_000), "the consumer is served by the new owner");
    const cursorBefore = await zk.read(clientCursorPath(DESTINATION, 1001));
    assert.ok(cursorBefore!.stat.version > cursorAtFreeze!.stat.version, "the new owner moves the cursor");

    const wokeAt = Date.now();
    zombie.kill("SIGCONT");
    await zombie.waitForLog("instance fenced", 5000);
    await zombie.waitForLog("instance standby", 5000);
    await until(() => stickyErrors.length > 0, 5000);
    assert.equal(stickyBatches.filter((b) => b.at >= wokeAt), [], "no batch from the zombie after it woke");
    // Refused ("should start first") or closed: the fenced node closes the sessions of a destination it no longer runs.
    assert.match(stickyErrors.join("; "), /should start first|closed|lost/i, `its client is cut off: ${stickyErrors.join("; ")}`);
    assert.is(await runningAddress(zk, DESTINATION), second, "the new owner keeps running");

    const { lastCommitted } = await load.stop();
    assert.ok(await following.consumer.caughtUp(lastCommitted, 15_000));
    const cursorAfter = await zk.read(clientCursorPath(DESTINATION, 1001));
    assert.ok(cursorAfter!.stat.mzxid >= cursorBefore!.stat.mzxid, "the cursor never went back to the zombie's");
    assertDelivered(checker.report(lastCommitted), false);
  } finally {
    stickyDone = true;
    zombie.kill("SIGCONT");
    await sticky.disconnect().catch(() => undefined);
    await stickyLoop;
    await load.stop();
    await following?.consumer.stop();
    await following?.discovery.close();
    await zk.close();
    await Promise.all(nodes.map((n) => n.stop()));
  }
});

test("canal-ts release: Canal's switch moves the destination to the standby, which takes it without the anti-flap wait", async () => {
  await using zkServer = await startZooKeeper();
  await using db = await startMariaDB();
  const zk = await ZkSessionClient.connect({ connectString: zkServer.connectString, sessionTimeoutMs: 10_000 });
  // A long anti-flap delay: only a handover can move the destination quickly.
  const slow = ["--zk-anti-flap-delay", "10000"];
  const nodes = [
    await startCanalNode({ nodeId: "a", args: [...nodeArgs(zkServer.connectString, db, DESTINATION), ...slow] }),
    await startCanalNode({ nodeId: "b", args: [...nodeArgs(zkServer.connectString, db, DESTINATION), ...slow] }),
  ];
  try {
    const first = await runningAddress(zk, DESTINATION);
    const lines: string[] = [];
    const started = Date.now();
    const result = await runRelease([DESTINATION, "--zk", zkServer.connectString, "--wait", "5000"], (line) => lines.push(line));
    assert.is(result.from, first);
    assert.ok(result.to !== undefined && result.to !== first, `moved: ${lines.join(" / ")}`);
    assert.ok(Date.now() - started < 5000, "well before the 10 s anti-flap delay");
    const releaser = nodes.find((n) => n.address === first)!;
    await releaser.waitForLog("instance releasing", 1000);
    await releaser.waitForLog("instance standby", 1000);
    assertOneRunner(nodes, [DESTINATION]);
    const refused = await runRelease(["nope", "--zk", zkServer.connectString], () => undefined).then(
      () => "no error",
      (err: Error) => err.message,
    );
    assert.match(refused, /destination nope is not running on any node/);
  } finally {
    await zk.close();
    await Promise.all(nodes.map((n) => n.stop()));
  }
});

test("preferredNode: the destination goes to its preferred node once it is up, by handover", async () => {
  await using zkServer = await startZooKeeper();
  await using db = await startMariaDB();
  const zk = await ZkSessionClient.connect({ connectString: zkServer.connectString, sessionTimeoutMs: 10_000 });
  const homePort = await freePort();
  const prefer = ["--prefer", `127.0.0.1:${homePort}`];
  const nodes = [await startCanalNode({ nodeId: "a", args: [...nodeArgs(zkServer.connectString, db, DESTINATION), ...prefer] })];
  try {
    assert.is(await runningAddress(zk, DESTINATION), nodes[0]!.address, "with its preferred node away, another runs it");
    nodes.push(await startCanalNode({ nodeId: "home", port: homePort, args: [...nodeArgs(zkServer.connectString, db, DESTINATION), ...prefer] }));
    assert.is(await newOwner(zk, DESTINATION, nodes[0]!.address, 10_000), `127.0.0.1:${homePort}`);
    await nodes[0]!.waitForLog((l) => l.msg === "releasing for balance" && l.fields["preferredNode"] === `127.0.0.1:${homePort}`, 1000);
    assertOneRunner(nodes, [DESTINATION]);
  } finally {
    await zk.close();
    await Promise.all(nodes.map((n) => n.stop()));
  }
});

test("a partition shorter than the session: the owner fences, then takes its own node back when ZooKeeper returns; nobody else runs meanwhile", async () => {
  await using zkServer = await startZooKeeper();
  await using db = await startMariaDB();
  const relay = await TcpRelay.start(zkServer.port);
  const zk = await ZkSessionClient.connect({ connectString: zkServer.connectString, sessionTimeoutMs: 10_000 });
  // 4 s sessions: the owner fences after 2 s without ZooKeeper; the partition ends at 3 s, before expiry.
  const session = ["--zk-session-timeout", "4000"];
  const owner = await startCanalNode({ nodeId: "a", args: [...nodeArgs(relay.connectString, db, DESTINATION), ...session] });
  const nodes = [owner];
  try {
    assert.is(await runningAddress(zk, DESTINATION), owner.address);
    const epoch = (await zk.read(runningPathOf(DESTINATION)))!.stat.czxid;
    nodes.push(await startCanalNode({ nodeId: "b", args: [...nodeArgs(zkServer.connectString, db, DESTINATION), ...session] }));
    const since = owner.logs.length;
    const cut = Date.now();
    relay.refuse();
    await owner.waitForLog("instance fenced", 4000, { since });
    assert.ok(Date.now() - cut < 3000, "fenced after fenceAfterMs (2 s), well before the session can expire (4 s)");
    await new Promise((resolve) => setTimeout(resolve, cut + 3000 - Date.now()));
    relay.heal();
    await owner.waitForLog("instance running", 8000, { since });
    assert.is((await zk.read(runningPathOf(DESTINATION)))!.stat.czxid, epoch, "the same running node: the session never expired");
    assert.is(nodes[1]!.logs.filter((l) => l.msg === "instance running").length, 0, "the standby never ran");
    assertOneRunner(nodes, [DESTINATION]);
  } finally {
    await relay.stop();
    await zk.close();
    await Promise.all(nodes.map((n) => n.stop()));
  }
});

async function until(check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

test.run();
