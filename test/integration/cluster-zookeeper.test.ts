/**
 * High availability when ZooKeeper itself fails (issue 5), on a real 3-member ensemble with
 * three canal-ts nodes serving three destinations: the destinations spread over the nodes;
 * losing a follower and then the leader never makes two nodes run one destination and the
 * stream goes on; the whole ensemble down past the session timeout fences every node, and when
 * it returns one node per destination runs again with nothing lost.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ZkSessionClient } from "../../src/actors/zk/session-client.js";
import type { CanalNode } from "../../src/testkit/canal-node.js";
import { startMariaDB, startZooKeeperEnsemble } from "../../src/testkit/index.js";
import { startSequenceLoad } from "../../src/testkit/sequence-load.js";
import { assertDelivered, assertOneRunner, diagnose, followingConsumer, runningAddress, SESSION_TIMEOUT_MS, startNode } from "./cluster-kit.js";

const DESTINATIONS = ["d1", "d2", "d3"];

async function owners(zk: ZkSessionClient): Promise<string[]> {
  return Promise.all(DESTINATIONS.map((d) => runningAddress(zk, d, 20_000)));
}

async function until(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

test("three nodes, three destinations on an ensemble: spread, one runner each through a follower and a leader loss, fenced while ZooKeeper is down, nothing lost", async () => {
  await using ensemble = await startZooKeeperEnsemble();
  await using db = await startMariaDB();
  const zk = await ZkSessionClient.connect({ connectString: ensemble.connectString, sessionTimeoutMs: 20_000 });
  const nodes: CanalNode[] = [];
  let load: Awaited<ReturnType<typeof startSequenceLoad>> | undefined;
  let following: Awaited<ReturnType<typeof followingConsumer>> | undefined;
  try {
    for (const id of ["a", "b", "c"]) nodes.push(await startNode(id, ensemble.connectString, db, DESTINATIONS.join(",")));
    // The first node up takes everything; the balance hands two over, one at a time.
    await until(async () => new Set(await owners(zk)).size === 3, 30_000, "one destination per node");
    load = await startSequenceLoad({ server: db, intervalMs: 10, maxRows: 30_000, maxMs: 120_000 });
    following = await followingConsumer(ensemble.connectString, "d1", load.first);
    assert.ok(await following.consumer.caughtUp(load.lastCommitted(), 15_000), "d1's consumer receives");

    // A follower, then the leader: the ensemble keeps a quorum of two, then re-elects.
    const modes = await Promise.all(ensemble.members.map((m) => m.mode()));
    const follower = ensemble.members[modes.indexOf("follower")]!;
    await follower.kill();
    await new Promise((resolve) => setTimeout(resolve, SESSION_TIMEOUT_MS));
    assert.ok(await following.consumer.caughtUp(load.lastCommitted(), 15_000), "service continues without a follower");
    await follower.start();
    const leader = ensemble.members[(await Promise.all(ensemble.members.map((m) => m.mode()))).indexOf("leader")]!;
    await leader.kill();
    await until(async () => (await owners(zk)).length === 3, 30_000, "every destination runs after the leader's loss");
    assert.ok(await following.consumer.caughtUp(load.lastCommitted(), 20_000), `service continues after the leader's loss: ${diagnose(following.consumer, nodes)}`);
    await leader.start();

    // All of ZooKeeper down for twice the session timeout: every running instance fences.
    const before = nodes.map((n) => n.logs.length);
    await Promise.all(ensemble.members.map((m) => m.stop()));
    await new Promise((resolve) => setTimeout(resolve, 2 * SESSION_TIMEOUT_MS));
    for (const [i, node] of nodes.entries()) {
      const fenced = node.logs.slice(before[i]).filter((l) => l.msg === "instance fenced").map((l) => l.fields["destination"]);
      const ran = node.logs.slice(0, before[i]).filter((l) => l.msg === "instance running").length > 0;
      if (ran) assert.ok(fenced.length > 0, `${node.address} fenced its destinations while ZooKeeper was down`);
    }
    await Promise.all(ensemble.members.map((m) => m.start()));
    await until(async () => (await owners(zk)).length === 3, 40_000, "one node per destination runs again");

    const { lastCommitted } = await load.stop();
    assert.ok(await following.consumer.caughtUp(lastCommitted, 30_000), "every committed row arrives");
    assertDelivered(following.consumer.checker.report(lastCommitted), true);
    assertOneRunner(nodes, DESTINATIONS);
  } finally {
    await load?.stop();
    await following?.consumer.stop();
    await following?.discovery.close();
    await zk.close();
    await Promise.all(nodes.map((n) => n.stop()));
  }
});

test.run();
