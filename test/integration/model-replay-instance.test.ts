/**
 * The instance machine's model walks, replayed against a real node (issue 8). A canal-ts node
 * runs as a process against a 3-member ZooKeeper ensemble, each member behind a relay (cutting
 * them all is a partition from the whole ensemble); the test holds a ZooKeeper
 * session of its own as "another node". The walks come from the model × a model of the world
 * around the node: who holds the running node (nobody, the other node, the node itself),
 * whether the relay lets the node through, and whether a look at the running node is due (the
 * watch reports by itself whenever the node enters standby, so the walk must take what the
 * world says there). Every event is produced for real:
 *
 *   SESSION.SUSPENDED   the relays refuse (connections reset)
 *   SESSION.LIVE        the relays heal (same session within the timeout; a new one after it)
 *   SESSION.GONE        the relays stay refused past the session timeout
 *   RUNNING.HELD        the other node creates or takes the running node (a multi: delete +
 *                       create); Canal's switch writes {"active":false} into the node's own
 *   RUNNING.ABSENT      the running node is deleted (after {"active":false}: a handover)
 *   RELEASE             the control plane's release request over NATS
 *   STOP                SIGTERM
 *   done/after events   what the node does by itself: the harness waits for them
 *
 * After every step the real node's instance must be in the model's state (its live feed,
 * /charts/events), and ZooKeeper must agree with the world the walk expects: who holds the
 * running node, and a node that serves holds it.
 */
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { stateString } from "../../src/actors/nats/inspector.js";
import { adminSubject, type TransitionDoc } from "../../src/actors/nats/subjects.js";
import { ZkSessionClient } from "../../src/actors/zk/session-client.js";
import { formatServerRunning, parseServerRunning, runningPath } from "../../src/protocol/zk-layout.js";
import { startCanalNode, type CanalNode } from "../../src/testkit/canal-node.js";
import { startMariaDB, startNats, startZooKeeperEnsemble, TcpRelayGroup } from "../../src/testkit/index.js";
import { coveringWalks, type Step } from "../machines/model.js";
import { environment, NOT_REPLAYED, type World } from "./instance-world.js";
import { specOf } from "../machines/specs.js";
import { followTransitions, nodeArgs } from "./cluster-kit.js";
import { replayWalk, type RealSystem, type RealTransition } from "./model-replay.js";

const DESTINATION = "replay";
const SESSION_TIMEOUT_MS = 4000;
const OTHER = "127.0.0.2:11111";

/** A node under test, its ZooKeeper through `relay`, followed through its live feed. */
class RealNode implements RealSystem<World> {
  private docs: TransitionDoc[] = [];
  private node: CanalNode | undefined;
  private unfollow = () => undefined as void;
  private world: World = environment.initial;
  /** The model's state after the step being replayed. */
  private expected = "offline";

  constructor(
    private readonly args: string[],
    private readonly relay: TcpRelayGroup,
    private readonly zk: ZkSessionClient,
    private readonly nats: NatsConnection,
  ) {}

  async start(): Promise<void> {
    this.world = environment.initial;
    this.relay.refuse();
    await this.zk.delete(runningPath(DESTINATION), -1).catch(() => undefined);
    this.node = await startCanalNode({ nodeId: "sut", args: this.args });
    const feed = followTransitions(this.node.metricsPort);
    this.docs = feed.docs;
    this.unfollow = feed.stop;
  }

  get transitions(): RealTransition[] {
    return this.docs.filter((d) => d.actor === "instance").map((d) => ({ to: d.to, event: d.event }));
  }

  async produce(walk: Step<World>[], i: number): Promise<void> {
    const { event: e } = walk[i]!;
    const before = this.world;
    this.world = walk[i]!.world;
    this.expected = stateString(walk[i]!.state.value);
    if (before.look && e.type.startsWith("RUNNING.")) return; // the watch reports what the world already is
    const path = runningPath(DESTINATION);
    switch (e.type) {
      case "SESSION.SUSPENDED":
        return this.relay.refuse();
      case "SESSION.LIVE":
        return before.relay === "refused" ? this.relay.heal() : undefined;
      case "RUNNING.HELD":
        if (!e.ours) return this.holdAsOther(before.holder);
        // Canal's switch: the owner's own node, marked inactive.
        return void (await this.zk.setData(path, text(formatServerRunning({ active: false, address: this.node!.address })), -1));
      case "RUNNING.ABSENT":
        if (e.handover) await this.zk.setData(path, text(formatServerRunning({ active: false, address: OTHER })), -1);
        return this.zk.delete(path, -1);
      case "RELEASE": {
        const reply = (await this.nats.request(adminSubject("sut", "release"), JSON.stringify({ destination: DESTINATION }), { timeout: 5000 })).json<{ ok: boolean }>();
        assert.ok(reply.ok, `release refused: ${JSON.stringify(reply)}`);
        return;
      }
      case "STOP":
        return this.node!.kill("SIGTERM");
      default:
        return; // the node's own work, or a delay: the harness waits
    }
  }

  /** The other node takes the running node: creates it, or replaces the owner's in one multi, or rewrites its own (the watch fires on the change). */
  private async holdAsOther(holder: World["holder"]): Promise<void> {
    const path = runningPath(DESTINATION);
    const data = text(formatServerRunning({ active: true, address: OTHER }));
    if (holder === "other") await this.zk.setData(path, data, -1);
    else if (holder === "none") await this.zk.create(path, data, "ephemeral");
    else await this.zk.multi([{ op: "delete", path, version: -1 }, { op: "create", path, data, mode: "ephemeral" }]);
  }

  async invariants(): Promise<void> {
    const node = await this.zk.read(runningPath(DESTINATION));
    const holder = node === undefined ? "none" : node.stat.ephemeralOwner === this.zk.sessionId ? "other" : "node";
    if (holder === "node") assert.is(parseServerRunning(node!.data!).address, this.node!.address, "the running node names the node");
    // In the states the node leaves by itself (claiming, starting, releasing, halting, or a
    // standby whose watch is about to report) ZooKeeper may be a step ahead; where it stays,
    // ZooKeeper must be as the walk expects.
    if (SETTLED.has(this.expected) && !this.world.look) assert.is(holder, this.world.holder, `ZooKeeper holds the running node for ${holder}, the walk expects ${this.world.holder}`);
    if (this.expected === "active.serving") assert.is(holder, "node", "a serving node holds the running node");
  }

  async stop(): Promise<void> {
    this.unfollow();
    await this.node?.stop();
  }
}

const text = (s: string) => new TextEncoder().encode(s);
/** The instance states a node stays in until something happens to it. */
const SETTLED = new Set(["offline", "standby.watching", "active.serving", "active.suspended", "stopped"]);

test("every transition of the instance chart that can be caused for real is taken by a walk, the rest are listed with why", () => {
  const { uncovered } = coveringWalks(specOf("instance"), environment);
  assert.equal(uncovered.sort(), Object.keys(NOT_REPLAYED).sort());
});

test("the walks, replayed against a real node: at every step it is where the model is, and ZooKeeper agrees", async () => {
  const { initial, walks } = coveringWalks(specOf("instance"), environment);
  const [zkServer, db, natsServer] = await Promise.all([startZooKeeperEnsemble(), startMariaDB(), startNats()]);
  const relay = await TcpRelayGroup.start(zkServer.members.map((m) => m.port));
  const zk = await ZkSessionClient.connect({ connectString: zkServer.connectString, sessionTimeoutMs: 30_000 });
  const nats = await connect({ servers: natsServer.url });
  const args = [...nodeArgs(relay.connectString, db, DESTINATION), "--zk-session-timeout", String(SESSION_TIMEOUT_MS), "--nats", natsServer.url];
  const verbose = process.env.TEST_VERBOSE ? (line: string) => console.log(line) : undefined;
  try {
    for (const [n, walk] of walks.entries()) {
      verbose?.(`walk ${n + 1}/${walks.length}, ${walk.length} steps`);
      const real = new RealNode(args, relay, zk, nats);
      try {
        await replayWalk(walk, stateString(initial.value), real, { stepTimeoutMs: 3 * SESSION_TIMEOUT_MS, settleMs: 300, log: verbose });
      } finally {
        await real.stop();
      }
    }
  } finally {
    await nats.close();
    await zk.close();
    await relay.stop();
    await Promise.all([zkServer.stop(), db.stop(), natsServer.stop()]);
  }
});

test.run();
