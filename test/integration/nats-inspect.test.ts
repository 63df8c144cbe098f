/**
 * Inspection and the control plane against real processes (issue 7): two canal-ts cluster nodes
 * with --nats on a real ZooKeeper, MariaDB and NATS, and a test subscriber on
 * `canal.inspect.>`. A kill -9 failover must show up on NATS in the order it happened; the
 * control plane answers status, release and stop; `canal-ts status` works from NATS and from
 * ZooKeeper alone.
 */
import { execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { promisify } from "node:util";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { connect } from "@nats-io/transport-node";
import { adminSubject, type AdminReply, type NodeStatus, type TransitionDoc } from "../../src/actors/nats/subjects.js";
import { ZkSessionClient } from "../../src/actors/zk/session-client.js";
import { formatTransition } from "../../src/cli/inspect.js";
import { formatPicture, pictureFromStatuses, statusFromNats, statusFromZooKeeper } from "../../src/cli/status.js";
import { destinationClusterPath } from "../../src/protocol/zk-layout.js";
import { DEFAULT_CLI, startCanalNode, type CanalNode } from "../../src/testkit/canal-node.js";
import { startMariaDB, startNats, startZooKeeper } from "../../src/testkit/index.js";
import { startSequenceLoad } from "../../src/testkit/sequence-load.js";
import { diagnose, followingConsumer, newOwner, nodeArgs, runningAddress, SESSION_TIMEOUT_MS } from "./cluster-kit.js";

const DESTINATION = "seq";

async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Index of the first doc matching, after index `from`; -1 if none. */
function indexOf(docs: readonly TransitionDoc[], match: (d: TransitionDoc) => boolean, from = -1): number {
  for (let i = from + 1; i < docs.length; i++) if (match(docs[i]!)) return i;
  return -1;
}

test("kill -9 failover seen on NATS in order; control plane status, release and stop; canal-ts status from NATS and from ZooKeeper", async () => {
  const [zkServer, db, nats] = await Promise.all([startZooKeeper(), startMariaDB(), startNats()]);
  const nc = await connect({ servers: nats.url });
  const docs: TransitionDoc[] = [];
  nc.subscribe("canal.inspect.>", { callback: (err, msg) => void (err === null && docs.push(msg.json<TransitionDoc>())) });
  await nc.flush();
  // The real `canal-ts inspect`, following node b only, as an operator would run it.
  const inspectCli = spawn(process.execPath, [DEFAULT_CLI, "inspect", "--nats", nats.url, "--node", "b"], { stdio: ["ignore", "pipe", "pipe"] });
  let inspectOut = "";
  inspectCli.stdout.on("data", (d) => (inspectOut += d));
  const zk = await ZkSessionClient.connect({ connectString: zkServer.connectString, sessionTimeoutMs: 10_000 });
  const start = (id: string, port?: number) => startCanalNode({ nodeId: id, port, args: [...nodeArgs(zkServer.connectString, db, DESTINATION), "--nats", nats.url] });
  const nodes: CanalNode[] = [];
  const load = await startSequenceLoad({ server: db, intervalMs: 20, maxRows: 5_000, maxMs: 50_000 });
  let following: Awaited<ReturnType<typeof followingConsumer>> | undefined;
  try {
    nodes.push(await start("a"));
    const first = await runningAddress(zk, DESTINATION);
    nodes.push(await start("b"));
    const [a, b] = nodes as [CanalNode, CanalNode];
    assert.is(first, a.address, "the first node runs the destination");
    following = await followingConsumer(zkServer.connectString, DESTINATION, load.first);
    const { consumer } = following;
    assert.ok(await consumer.caughtUp(load.lastCommitted(), 15_000), `the consumer receives from a: ${diagnose(consumer, nodes)}`);

    // ---- the failover -----------------------------------------------------------------------
    a.kill("SIGKILL");
    await a.exited;
    const killedAt = Date.now();
    assert.is(await newOwner(zk, DESTINATION, a.address, 4 * SESSION_TIMEOUT_MS), b.address);
    assert.ok(await consumer.caughtUp(load.lastCommitted(), 15_000), `the consumer follows to b: ${diagnose(consumer, nodes)}`);
    const isB = (d: TransitionDoc) => d.node === "b";
    await until(() => docs.some((d) => isB(d) && d.actor.startsWith("session-") && (d.fields["subscriptions"] as string[]).includes(`${DESTINATION}/1001`)), 5000, "b's session of the client");

    const aInstance = docs.filter((d) => d.node === "a" && d.actor === "instance");
    assert.ok(aInstance.some((d) => d.to === "active.serving" && d.destination === DESTINATION), "a was seen serving");
    assert.ok(Date.parse(aInstance.at(-1)!.time) <= killedAt, "nothing from a after its kill");
    // b: standby while a runs, contending once a's node went, then running, then the client's session.
    const bDocs = docs.filter(isB);
    const watching = indexOf(bDocs, (d) => d.actor === "instance" && d.to.startsWith("standby") && d.fields["owner"] === a.address);
    const contending = indexOf(bDocs, (d) => d.actor === "instance" && d.to === "contending", watching);
    const starting = indexOf(bDocs, (d) => d.actor === "instance" && d.to === "active.starting", contending);
    const serving = indexOf(bDocs, (d) => d.actor === "instance" && d.to === "active.serving", starting);
    const subscribed = indexOf(bDocs, (d) => d.actor.startsWith("session-") && (d.fields["subscriptions"] as string[]).length > 0, serving - 1);
    assert.ok(watching >= 0 && contending > watching && starting > contending && serving > starting && subscribed > starting, `order on b: ${bDocs.map((d) => `${d.actor}:${d.to}`).join(" | ")}`);
    const claimed = bDocs[serving]!;
    assert.is(claimed.fields["owner"], b.address);
    assert.ok(typeof claimed.fields["epoch"] === "string" && (claimed.fields["epoch"] as string).startsWith("0x"), "the epoch is published");
    assert.ok(Date.parse(bDocs[contending]!.time) >= killedAt, "b contends only after a died");
    // Per boot, seq counts up without gaps (nothing was dropped), and every subject has the right tokens.
    const seqs = bDocs.map((d) => d.seq);
    assert.equal(seqs, seqs.map((_, i) => i + 1), "b's documents 1..n, in order, none missing");
    assert.ok(bDocs.some((d) => d.actor === "zk-session" && d.destination === "_" && d.to === "live.connected"), "the ZooKeeper session is node-level");
    assert.ok(bDocs.some((d) => d.actor === "source" && d.to === "connected"), "the binlog source's status too");
    console.log(bDocs.slice(0, 12).map((d) => `  ${formatTransition(d, false)}`).join("\n"));
    await until(() => inspectOut.includes("b/seq instance active.starting → active.serving"), 5000, `canal-ts inspect shows b serving: ${inspectOut.slice(-500)}`);
    assert.match(inspectOut, /b\/seq instance standby\.waiting → contending on after contendDelay/);
    assert.not.match(inspectOut, /^\S+ a[ /]/m, "--node b shows b only");
    inspectCli.kill("SIGTERM");
    assert.equal((await once(inspectCli, "exit")).slice(0, 1), [0], "canal-ts inspect ends cleanly on SIGTERM");

    // ---- control plane ------------------------------------------------------------------------
    const a2 = await start("a2", a.port);
    nodes.push(a2);
    const ask = async <T>(subject: string, body = "") => (await nc.request(subject, body, { timeout: 5000 })).json<AdminReply<T>>();
    const bStatus = await ask<NodeStatus>(adminSubject("b", "status"));
    assert.ok(bStatus.ok, JSON.stringify(bStatus));
    if (!bStatus.ok) return;
    const bSeq = bStatus.destinations.find((d) => d.name === DESTINATION)!;
    assert.is(bSeq.state, "running");
    assert.ok(bSeq.cursors!.some((c) => c.clientId === 1001 && c.journalName.startsWith("mysql-bin.")), JSON.stringify(bSeq));
    assert.is(bSeq.clients, 1);
    assert.ok(typeof bSeq.lagMs === "number");
    assert.is(bStatus.inspection.dropped, 0);
    await until(() => docs.some((d) => d.node === "a2" && d.actor === "instance" && d.to.startsWith("standby")), 5000, "a2 stands by");

    const statuses = await statusFromNats([nats.url], 500);
    assert.equal(statuses.map((s) => s.node), ["a2", "b"], "every live node answers the scatter-gather");
    const picture = pictureFromStatuses(statuses);
    assert.is(picture.destinations[0]!.running, `b (${b.address})`);
    assert.equal(picture.destinations[0]!.standby, [`a2 (${a2.address})`]);
    console.log(formatPicture(picture));

    const refused = await ask(adminSubject("a2", "release"), JSON.stringify({ destination: DESTINATION }));
    assert.ok(!refused.ok && /does not run on this node/.test(refused.error), JSON.stringify(refused));
    const unknown = await ask(adminSubject("b", "release"), "nope");
    assert.ok(!unknown.ok && /destination nope is not configured/.test(unknown.error), JSON.stringify(unknown));
    const released = await ask(adminSubject("b", "release"), JSON.stringify({ destination: DESTINATION }));
    assert.ok(released.ok, JSON.stringify(released));
    assert.is(await newOwner(zk, DESTINATION, b.address, 5000), a2.address, "release hands over to the standby");
    assert.ok(await consumer.caughtUp(load.lastCommitted(), 15_000), `the consumer follows to a2: ${diagnose(consumer, nodes)}`);

    // From ZooKeeper alone, and through the real command line.
    const fromZk = await statusFromZooKeeper(zkServer.connectString);
    assert.is(fromZk.destinations[0]!.running, a2.address);
    assert.equal(fromZk.destinations[0]!.standby, [b.address]);
    assert.ok(fromZk.destinations[0]!.cursors.some((c) => c.clientId === 1001));
    const { stdout } = await promisify(execFile)(process.execPath, [DEFAULT_CLI, "status", "--zk", zkServer.connectString]);
    console.log(stdout);
    assert.match(stdout, new RegExp(`${DESTINATION}\\s+${a2.address.replace(/\./g, "\\.")}\\s+${b.address.replace(/\./g, "\\.")}\\s+1001:mysql-bin\\.`));

    // stop: b (standing by now) stops contending and leaves the destination's cluster list.
    const stopped = await ask(adminSubject("b", "stop"), DESTINATION);
    assert.ok(stopped.ok, JSON.stringify(stopped));
    assert.equal(await zk.children(destinationClusterPath(DESTINATION)), [a2.address], "b is no longer a candidate");
    const after = await ask<NodeStatus>(adminSubject("b", "status"));
    assert.ok(after.ok && after.destinations[0]!.state === "stopped", JSON.stringify(after));
    await load.stop();
  } finally {
    await load.stop();
    inspectCli.kill("SIGKILL");
    await following?.consumer.stop();
    await following?.discovery.close();
    await zk.close();
    await Promise.all(nodes.map((n) => n.stop()));
    await nc.close();
    await Promise.all([zkServer.stop(), db.stop(), nats.stop()]);
  }
});

test.run();
