/**
 * The instance machine as the oracle of a real node (issue 8): one canal-ts node process is
 * driven through the model's states with real stimuli — its ZooKeeper connection cut and healed
 * through a relay, another node taking the destination and being killed, Canal's switch
 * (`canal-ts release`), SIGTERM — while every instance transition it makes is read from its
 * live feed (`/charts/events`). Each observed transition must be one the model has (same event
 * type, from the observed state or one of its ancestors, to the observed state or one of its
 * ancestors), and the model states the script aims at must all be visited for real. At every
 * step ZooKeeper's running node must agree with the node's own view: serving implies owning it.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { TransitionDoc } from "../../src/actors/nats/subjects.js";
import { ZkSessionClient } from "../../src/actors/zk/session-client.js";
import { runRelease } from "../../src/cli/release.js";
import { instanceMachine } from "../../src/machines/instance.js";
import { startCanalNode, type CanalNode } from "../../src/testkit/canal-node.js";
import { startMariaDB, startZooKeeper, TcpRelay } from "../../src/testkit/index.js";
import { followTransitions, newOwner, nodeArgs, runningAddress } from "./cluster-kit.js";

const DESTINATION = "model";

/** Whether the model has a transition on `event` from `from` (or an ancestor) into `to` (or an ancestor of it). */
function modelAllows(from: string, to: string, event: string): boolean {
  for (let node: typeof instanceMachine.root | undefined = instanceMachine.getStateNodeById(`instance.${from}`); node; node = node.parent) {
    for (const t of node.transitions.get(event) ?? []) {
      for (const target of t.target ?? []) {
        const path = target.path.join(".");
        if (to === path || to.startsWith(`${path}.`)) return true;
      }
    }
  }
  return false;
}

async function reaches(docs: TransitionDoc[], state: string, timeoutMs: number, since = 0): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const i = docs.findIndex((d, k) => k >= since && d.actor === "instance" && d.to === state);
    if (i >= 0) return i + 1;
    if (Date.now() > deadline) throw new Error(`the node's instance never reached ${state} within ${timeoutMs} ms; it went ${instanceStates(docs).join(" → ")}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const instanceStates = (docs: TransitionDoc[]) => docs.filter((d) => d.actor === "instance").map((d) => `${d.to} (${d.event})`);

test("the oracle: transitions of the model are allowed, others are not", () => {
  assert.ok(modelAllows("standby.watching", "contending", "RUNNING.ABSENT"));
  assert.ok(modelAllows("active.serving", "fenced", "SESSION.GONE"), "from an ancestor's transition");
  assert.ok(modelAllows("contending", "active.starting", "xstate.done.actor.0.instance.contending"), "into a compound state's initial child");
  assert.not.ok(modelAllows("offline", "active.serving", "RUNNING.ABSENT"));
  assert.not.ok(modelAllows("standby.watching", "active.serving", "SESSION.LIVE"));
});

test("a real node follows the instance model through start, a partition, a switch, a takeover and a stop", async () => {
  await using zkServer = await startZooKeeper();
  await using db = await startMariaDB();
  const relay = await TcpRelay.start(zkServer.port);
  const zk = await ZkSessionClient.connect({ connectString: zkServer.connectString, sessionTimeoutMs: 10_000 });
  let docs: TransitionDoc[] = [];
  const nodes: CanalNode[] = [];
  let unfollow = () => undefined as void;
  try {
    const sut = await startCanalNode({ nodeId: "sut", args: [...nodeArgs(relay.connectString, db, DESTINATION), "--zk-session-timeout", "4000"] });
    nodes.push(sut);
    const feed = followTransitions(sut.metricsPort);
    docs = feed.docs;
    unfollow = feed.stop;
    // Start: first look finds no running node → contend → run.
    let at = await reaches(docs, "active.serving", 15_000);
    assert.is(await runningAddress(zk, DESTINATION), sut.address, "serving ⇒ it owns the running node");
    const other = await startCanalNode({ nodeId: "other", args: [...nodeArgs(zkServer.connectString, db, DESTINATION), "--zk-session-timeout", "4000"] });
    nodes.push(other);

    // A partition shorter than the session: suspended → fenced → back live → take its node back.
    relay.refuse();
    at = await reaches(docs, "active.suspended", 5000, at);
    at = await reaches(docs, "fenced", 5000, at);
    relay.heal();
    at = await reaches(docs, "active.serving", 10_000, at);
    assert.is(await runningAddress(zk, DESTINATION), sut.address);

    // Canal's switch: {"active":false} → releasing → standby; the other node takes it.
    await runRelease([DESTINATION, "--zk", zkServer.connectString, "--wait", "0"], () => undefined);
    at = await reaches(docs, "active.releasing", 5000, at);
    at = await reaches(docs, "standby.watching", 5000, at);
    assert.is(await newOwner(zk, DESTINATION, sut.address, 10_000), other.address);

    // The owner dies: the standby waits out the anti-flap delay, contends and runs.
    other.kill("SIGKILL");
    at = await reaches(docs, "standby.waiting", 10_000, at);
    at = await reaches(docs, "contending", 5000, at);
    at = await reaches(docs, "active.serving", 10_000, at);
    assert.is(await runningAddress(zk, DESTINATION), sut.address);

    // SIGTERM: hand over and end.
    const stopped = sut.stop();
    await reaches(docs, "active.releasing", 5000, at);
    await stopped;

    const observed = docs.filter((d) => d.actor === "instance" && d.from !== null);
    const foreign = observed.filter((d) => !modelAllows(d.from!, d.to, d.event)).map((d) => `${d.from} → ${d.to} on ${d.event}`);
    assert.equal(foreign, [], `transitions the model does not have: ${foreign.join("; ")}`);
    const visited = new Set(observed.map((d) => d.to));
    for (const state of ["standby.watching", "standby.waiting", "contending", "active.starting", "active.serving", "active.suspended", "active.releasing", "fenced"]) {
      assert.ok(visited.has(state), `visited ${state}: ${instanceStates(docs).join(" → ")}`);
    }
  } finally {
    unfollow();
    await relay.stop();
    await zk.close();
    await Promise.all(nodes.map((n) => n.stop()));
  }
});

test.run();
