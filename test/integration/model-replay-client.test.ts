/**
 * The client machine (src/machines/client.ts) as the oracle of the real cluster client (issue 8):
 * covering walks of the model (@xstate/graph, test/machines/model.ts) are replayed step by step
 * against createCanalClient, used in this process, over a real ZooKeeper, a real MariaDB and
 * real canal-ts node processes. Every model event is made to happen for real, and the client's
 * own transitions (XState inspection) must follow the model state for state, and event for event.
 *
 * The world the client lives in, and what the test turns in it:
 *   - A 3-member ZooKeeper ensemble, each member behind a relay (the client's session only): refused = the session is suspended,
 *     and gone after its timeout; healed = back, with the same session or a new one.
 *   - Nodes A and B run the destination in cluster mode and register as 127.0.0.2:<port>; a
 *     ServerPath listening there relays to them, so the test can cut the client's connections,
 *     refuse or hold its connects, freeze a connection, or route it to the node that does not run
 *     the destination, or to C, a standalone node that refuses the client's credentials.
 *   - The destination's running node: "parked" (held by the test's own session with
 *     {"active":false}, readable or not) means no server runs it; unparked, A or B takes it. The
 *     servers' registrations under the destination's cluster are removed, so that a parked
 *     destination has no server at all (Canal's fallback would pick one that does not run it).
 *   - The client node: held by the test's session with another identity (another client) or
 *     with the client's own (its stale node from a previous run); deleted; replaced; asked to
 *     release with {"active":false}; ACLs that make ZooKeeper refuse a create, a delete or a write.
 *   - Rows inserted into MariaDB (non-empty gets); Canal's unsubscribe of the clientId from a
 *     connection of the test (the client's next get fails "should subscribe first").
 */
import { createHash } from "node:crypto";
import { connect as tcpConnect, createServer, type Server, type Socket } from "node:net";
import mysql from "mysql2/promise";
import zookeeper from "node-zookeeper-client";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { transition, type AnyEventObject, type AnyMachineSnapshot, type InspectionEvent } from "xstate";
import { stateString } from "../../src/actors/nats/inspector.js";
import { ZkSessionClient } from "../../src/actors/zk/session-client.js";
import type { Batch } from "../../src/client/batch.js";
import { createCanalClient, type CanalClient } from "../../src/client/cluster-client.js";
import { CanalConnector } from "../../src/client/connector.js";
import { CanalStaleBatchError } from "../../src/client/errors.js";
import { isRetriable } from "../../src/errors.js";
import type { ClientSnapshot } from "../../src/machines/client.js";
import { parseCursorJson } from "../../src/protocol/cursor-json.js";
import {
  clientCursorPath,
  clientPath,
  clientRunningPath,
  destinationClusterPath,
  formatClientRunning,
  formatServerRunning,
  parseClientRunning,
  parseServerRunning,
  runningPath,
} from "../../src/protocol/zk-layout.js";
import { startCanalNode, type CanalNode } from "../../src/testkit/canal-node.js";
import { startMariaDB, startZooKeeperEnsemble, TcpRelayGroup, type MariaDBServer } from "../../src/testkit/index.js";
import { coveringWalks, eventsFor, type Step } from "../machines/model.js";
import { specOf } from "../machines/specs.js";
import { eventually } from "./cluster-kit.js";
import { describeStep, replayWalk, type RealSystem, type RealTransition } from "./model-replay.js";

const DESTINATION = "replay";
const CLIENT_ID = 1001;
const SUT_IDENTITY = "model-client";
const OTHER_IDENTITY = "model-other";
/** The identity the model's samples give the client itself (test/machines/specs.ts). */
const MODEL_IDENTITY = "host-a";
const SESSION_MS = 3000;
const STANDBY_TIMEOUT_MS = 1500;
const SERVER_IP = "127.0.0.2";
const PARKED = formatServerRunning({ active: false, address: "127.0.0.1:1" });
const VERBOSE = process.env.TEST_VERBOSE !== undefined;
const log = (line: string) => VERBOSE && console.log(line);
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const encode = (text: string) => new TextEncoder().encode(text);

/**
 * Chart transitions no walk takes for real. A transition added to the machine fails the test
 * until it is replayed or listed here with its reason.
 */
const NOT_REPLAYED: Record<string, string> = {
  "standby>electing:CLIENT.HELD [guard]":
    "unreachable: a standby creates nothing, and a claim whose create reply was lost finds its own node on its next read and wins, so a standby never sees its own session's node",
  "active.lease.suspended>electing:ZK.LIVE":
    "unreachable: a new session comes only after the old one is lost, which the session actor reports first as ZK.GONE (and FENCE_AFTER, half the timeout, has taken the client offline before)",
  "active.link.subscribing>failing:subscribe error":
    "unreachable: classify() makes every subscribe failure retriable but auth and config errors, which a subscribe on an authenticated connection with validated options cannot raise",
  "active.link.fetching>failing:fetch error": "unreachable, as for subscribe: a get with validated options fails only retriably",
  "active.link.acking>active.link.reconnecting:ack error":
    "an ack is written without a reply and fails only on a failed socket, whose close the connector reports synchronously as CONNECTION.LOST, before the failed write can settle (same target)",
  "active.link.rollingBack>active.link.reconnecting:rollback error": "as the ack: the socket's close reaches the machine first as CONNECTION.LOST (same target)",
};

// ---- which model events can be made to happen for real -----------------------------------------

/** Link states where the client sits until told otherwise: nothing of it touches ZooKeeper there. */
const STABLE_LINK = ["ready", "delivered", "fetching"];

interface SettledStep {
  outcome: "done" | "error";
  /** The invoking state's name: electing, discovering, closing, … */
  state: string;
}

function settledOf(event: AnyEventObject): SettledStep | undefined {
  const m = /^xstate\.(done|error)\.actor\.\d+\.client\.(?:.*\.)?([A-Za-z]+)$/.exec(event.type);
  return m ? { outcome: m[1] as "done" | "error", state: m[2]! } : undefined;
}

const isDelay = (event: AnyEventObject) => event.type.startsWith("xstate.after.");

/**
 * Whether the model event can be produced deterministically for real in this model state. The
 * client reads ZooKeeper while discovering and in its transient states, so ZooKeeper trouble is
 * made only where it is idle; a CLIENT.HELD by its own session while it stands by has no real
 * cause; and `next()` refuses while a batch is outstanding, so no PULL in `delivered`.
 */
function allowed(snapshot: AnyMachineSnapshot, event: AnyEventObject): boolean {
  const value = snapshot.value as string | { active: { link: string; lease: string } };
  const top = typeof value === "string" ? value : "active";
  const link = typeof value === "string" ? undefined : value.active.link;
  const lease = typeof value === "string" ? undefined : value.active.lease;
  const c = snapshot.context as ClientSnapshot["context"];
  const live = c.session === "live";
  const idle = top === "active" && lease === "held" && live && link !== undefined && STABLE_LINK.includes(link);
  const parked = top === "active" && lease === "held" && live && link === "discovering";
  const settled = settledOf(event);
  if (settled) return settledAllowed(settled, event, c);
  if (isDelay(event)) return true;
  switch (event.type) {
    case "ZK.LIVE":
      return liveAllowed(top, lease, c, event.sessionId as string);
    case "ZK.SUSPENDED":
      return live && (top === "standby" || top === "retrying" || idle);
    case "ZK.GONE":
      return c.session === "suspended" && (top === "standby" || top === "offline");
    case "CLIENT.ABSENT":
      return live && (top === "standby" || idle || parked);
    case "CLIENT.HELD":
      if (top === "standby") return live && !event.ours;
      return (idle || parked) && (!event.ours || !event.active);
    case "SERVER.MOVED":
    case "CONNECTION.LOST":
      return idle;
    case "PULL":
      return !c.wanted && ((top === "offline" && !live) || top === "standby" || link === "ready" || parked);
    case "BATCH.ACK":
    case "BATCH.ROLLBACK":
      return link === "delivered";
    case "CLOSE":
      return (top === "offline" && !live) || top === "standby" || top === "retrying" || (top === "active" && (idle || parked || link === "reconnecting"));
  }
  return false;
}

function liveAllowed(top: string, lease: string | undefined, c: ClientSnapshot["context"], sessionId: string): boolean {
  if (c.session === "suspended") return sessionId === c.sessionId && (top === "offline" || top === "standby" || lease === "suspended");
  const fresh = ["s1", "s2"].find((id) => id !== c.sessionId && !c.pastSessions.includes(id));
  return c.session === "gone" && top === "offline" && sessionId === fresh;
}

function settledAllowed(settled: SettledStep, event: AnyEventObject, c: ClientSnapshot["context"]): boolean {
  const { outcome, state } = settled;
  if (state === "acking" || state === "rollingBack") return outcome === "done";
  if (state === "subscribing" || state === "fetching") return outcome === "done" || isRetriable(event.error);
  // A standby after the election was lost can only be made by a node already there, which would
  // also keep the CLIENT.ABSENT that led back here from being real.
  if (state === "electing" && outcome === "done") return (event.output as { won: boolean }).won || c.holder === undefined;
  if (state === "closing" || state === "failing" || state === "resigning") {
    // A release waits on a suspended session until it is lost: then it fails.
    if (outcome === "done") return c.session !== "suspended";
    if (c.sessionId === undefined) return false;
    // Closing: the session is cut as the release starts. Failing and resigning: a delete refused,
    // which needs the node to be ours (it is when the client was active, where holder is unset).
    return c.session === "suspended" || state === "closing" || c.holder === undefined;
  }
  return true;
}

// ---- the network between the client and the servers ---------------------------------------------

interface Pair {
  down: Socket;
  up: Socket | undefined;
  /** The client's local port: which connection of the client this is. */
  clientPort: number;
  backendPort: number;
  /** Nothing passes either way, and the server's close does not reach the client. */
  frozen: boolean;
}

/**
 * What a node registers (127.0.0.2:<port>), relayed to the node itself (127.0.0.1:<port>) or to
 * another server. New connections pass, are refused, or are held (accepted, not yet relayed)
 * until `release()`.
 */
class ServerPath {
  mode: "pass" | "refuse" | "hold" = "pass";
  route: number;
  private readonly pairs = new Set<Pair>();
  private held: Socket[] = [];
  /** Backend of every connection the client made, by its local port (kept after it closes). */
  readonly backends = new Map<number, number>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {
    this.route = port;
  }

  static async start(port: number): Promise<ServerPath> {
    const server = createServer();
    const path = new ServerPath(server, port);
    server.on("connection", (down) => path.accept(down));
    await new Promise<void>((resolve, reject) => server.once("error", reject).listen(port, SERVER_IP, resolve));
    return path;
  }

  cut(): void {
    for (const pair of this.pairs) pair.down.destroy(), pair.up?.destroy();
  }

  freeze(): void {
    for (const pair of this.pairs) pair.frozen = true;
  }

  release(): void {
    this.mode = "pass";
    for (const down of this.held.splice(0)) if (!down.destroyed) this.relay(down);
  }

  async stop(): Promise<void> {
    this.cut();
    for (const down of this.held.splice(0)) down.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(down: Socket): void {
    down.on("error", () => undefined);
    if (this.mode === "refuse") return void down.destroy();
    if (this.mode === "hold") return void this.held.push(down);
    this.relay(down);
  }

  private relay(down: Socket): void {
    const pair: Pair = { down, up: undefined, clientPort: down.remotePort ?? 0, backendPort: this.route, frozen: false };
    this.backends.set(pair.clientPort, pair.backendPort);
    const up = tcpConnect(this.route, "127.0.0.1");
    pair.up = up;
    this.pairs.add(pair);
    down.on("data", (chunk: Buffer) => void (pair.frozen || up.write(chunk)));
    up.on("data", (chunk: Buffer) => void (pair.frozen || down.write(chunk)));
    const end = () => {
      down.destroy();
      up.destroy();
      this.pairs.delete(pair);
    };
    down.on("close", end);
    up.on("error", () => undefined).on("close", () => void (pair.frozen || end()));
  }
}

// ---- the servers and what the test does to them ------------------------------------------------

type Route = "own" | "swap" | "auth";

const perms = zookeeper.Permission;
const ACLS = {
  open: perms.ALL,
  noCreate: perms.ALL & ~perms.CREATE,
  noDelete: perms.ALL & ~perms.DELETE,
  noWrite: perms.ALL & ~perms.WRITE,
  noRead: perms.ALL & ~perms.READ,
} as const;

class World {
  /** The last row number inserted, and the last one acked by the client. */
  inserted = 0;
  acked = 0;

  constructor(
    readonly zk: ZkSessionClient,
    private readonly admin: zookeeper.Client,
    private readonly db: mysql.Connection,
    readonly nodes: readonly CanalNode[],
    readonly paths: readonly ServerPath[],
    readonly authNode: CanalNode,
    readonly zkRelay: TcpRelayGroup,
  ) {}

  setAcl(path: string, acl: keyof typeof ACLS): Promise<void> {
    const acls = [new zookeeper.ACL(ACLS[acl], new zookeeper.Id("world", "anyone"))];
    return new Promise((resolve, reject) => this.admin.setACL(path, acls, -1, (err) => (err ? reject(err) : resolve())));
  }

  async clientNode() {
    const node = await this.zk.read(clientRunningPath(DESTINATION, CLIENT_ID));
    return node && { ...node, running: parseClientRunning(node.data!) };
  }

  /** The client node as another client (or the client's previous run, by identity) holds it: the test's session. */
  async holdClientNode(identity: string): Promise<void> {
    const path = clientRunningPath(DESTINATION, CLIENT_ID);
    const node = await this.clientNode();
    if (node?.stat.ephemeralOwner === this.zk.sessionId && node.running.identity === identity) return;
    const data = encode(formatClientRunning({ active: true, address: `${identity}-address`, clientId: CLIENT_ID, identity }));
    await this.zk.multi([...(node ? [{ op: "delete" as const, path, version: -1 }] : []), { op: "create", path, data, mode: "ephemeral" }]);
  }

  /**
   * No client node, unless the client's current session holds one that is not asked to release;
   * the ACL of its parent set first (a client standing by elects the moment the node goes).
   */
  async freeClientNode(sessionId: string | undefined, acl: "open" | "noCreate" = "open"): Promise<void> {
    await this.setAcl(clientPath(DESTINATION, CLIENT_ID), acl);
    const node = await this.clientNode();
    if (node && (node.stat.ephemeralOwner !== sessionId || !node.running.active)) await this.zk.delete(clientRunningPath(DESTINATION, CLIENT_ID));
  }

  async askRelease(): Promise<void> {
    const node = (await this.clientNode())!;
    const text = new TextDecoder().decode(node.data!).replace('"active":true', '"active":false');
    await this.zk.setData(clientRunningPath(DESTINATION, CLIENT_ID), encode(text), node.stat.version);
  }

  async runningNode() {
    const node = await this.zk.read(runningPath(DESTINATION));
    return node && { ...node, running: parseServerRunning(node.data!), parked: node.stat.ephemeralOwner === this.zk.sessionId };
  }

  /** No server runs the destination: the test's session holds its running node (unreadable when `readable` is false). */
  async park(readable: boolean): Promise<void> {
    const path = runningPath(DESTINATION);
    // A node whose session was renewed registers again: Canal's fallback would find it.
    await this.forgetRegistrations();
    for (;;) {
      const node = await this.zk.read(path).catch(() => "unreadable" as const);
      if (node === "unreadable" || node?.stat.ephemeralOwner === this.zk.sessionId) break;
      const ops = [...(node ? [{ op: "delete" as const, path, version: node.stat.version }] : []), { op: "create" as const, path, data: encode(PARKED), mode: "ephemeral" as const }];
      // A node may claim it between the read and the multi: read again.
      if (await this.zk.multi(ops).then(() => true, () => false)) break;
    }
    await this.setAcl(path, readable ? "open" : "noRead");
  }

  async unpark(): Promise<void> {
    const path = runningPath(DESTINATION);
    await this.setAcl(path, "open").catch(() => undefined);
    const node = await this.zk.read(path);
    if (node?.stat.ephemeralOwner === this.zk.sessionId) await this.zk.delete(path, node.stat.version);
  }

  /** The port of the node running the destination, once one does. */
  async ownerPort(timeoutMs = 15_000): Promise<number> {
    let port: number | undefined;
    const found = await eventually(async () => {
      const node = await this.runningNode().catch(() => undefined);
      port = node && !node.parked && node.running.active ? node.running.port : undefined;
      return port !== undefined;
    }, timeoutMs);
    if (!found) throw new Error(`no node ran ${DESTINATION} within ${timeoutMs} ms`);
    return port!;
  }

  /** Canal's switch, while the client's connections are frozen: the owner hands over, the other node takes it. */
  async moveServer(): Promise<void> {
    for (const path of this.paths) path.freeze();
    const node = (await this.runningNode())!;
    const off = encode(formatServerRunning({ active: false, address: node.running.address }));
    await this.zk.setData(runningPath(DESTINATION), off, node.stat.version);
  }

  network(mode: ServerPath["mode"], route: Route = "own"): void {
    for (const path of this.paths) {
      path.mode = mode;
      path.route = route === "own" ? path.port : route === "auth" ? this.authNode.port : this.paths.find((p) => p !== path)!.port;
    }
  }

  routeAll(route: Route): void {
    this.network(this.paths[0]!.mode, route);
  }

  backendOf(clientPort: number): number | undefined {
    for (const path of this.paths) if (path.backends.has(clientPort)) return path.backends.get(clientPort);
    return undefined;
  }

  async insertRow(): Promise<void> {
    await this.db.query("INSERT INTO replay.rows (n) VALUES (?)", [++this.inserted]);
  }

  get pending(): boolean {
    return this.inserted > this.acked;
  }

  /**
   * Canal's unsubscribe of the client's clientId, from a connection of the test's own: the node
   * forgets the subscription at once, and the client's next get fails "should subscribe first".
   * Canal's unsubscribe also deletes the clientId's subtree, the client node with it (the client
   * would see CLIENT.ABSENT first); ZooKeeper refuses that delete here, so only the get fails.
   */
  async unsubscribe(): Promise<void> {
    const connector = this.connector(await this.ownerPort());
    await connector.connect();
    await this.setAcl(clientPath(DESTINATION, CLIENT_ID), "noDelete");
    try {
      await connector.unsubscribe().catch(() => undefined);
    } finally {
      await this.setAcl(clientPath(DESTINATION, CLIENT_ID), "open");
      await connector.disconnect();
    }
  }

  /** Acks whatever the client left unacked, so the next walk starts with nothing to fetch. */
  async drain(): Promise<void> {
    const connector = this.connector(await this.ownerPort());
    await connector.connect();
    await connector.subscribe("");
    await connector.rollback();
    for (;;) {
      const batch = await connector.getWithoutAck(100, 300);
      if (batch.isEmpty) break;
      await connector.ack(batch);
    }
    await connector.disconnect();
    this.acked = this.inserted;
  }

  async cursor(): Promise<{ journalName: string; position: number } | undefined> {
    const node = await this.zk.read(clientCursorPath(DESTINATION, CLIENT_ID));
    return node?.data ? parseCursorJson(new TextDecoder().decode(node.data)) : undefined;
  }

  /** Between walks: nothing cut, no ACL, no client node, the destination running on a node. */
  async reset(): Promise<void> {
    this.zkRelay.heal();
    this.network("pass");
    for (const path of this.paths) path.cut();
    await this.unpark();
    await this.freeClientNode(undefined);
    await this.forgetRegistrations();
  }

  private async forgetRegistrations(): Promise<void> {
    for (const member of await this.zk.children(destinationClusterPath(DESTINATION))) await this.zk.delete(`${destinationClusterPath(DESTINATION)}/${member}`);
  }

  async close(): Promise<void> {
    this.admin.close();
    await this.db.end();
    await this.zk.close();
  }

  private connector(port: number): CanalConnector {
    return new CanalConnector({ host: "127.0.0.1", port, destination: DESTINATION, clientId: CLIENT_ID, rollbackOnConnect: false, soTimeoutMs: 5000 });
  }
}

// ---- the real client, replaying one walk -------------------------------------------------------

interface Recorded {
  to: string;
  event: AnyEventObject;
  snapshot: ClientSnapshot;
}

/** A state string with its parallel regions in one order, to compare real and model strings. */
const canonical = (s: string) => s.replace(/\(([^()]*)\)/g, (_, inner: string) => `(${inner.split(",").sort().join(",")})`);

class ClientReplay implements RealSystem {
  private client: CanalClient | undefined;
  private readonly recorded: Recorded[] = [];
  /** The model's spelling of each state of the walk (the order of parallel regions varies). */
  private spelling = new Map<string, string>();
  private walk: Step[] = [];
  private at = -1;
  /** Index in `recorded` after the last transition matched to a step. */
  private matched = 0;
  private previous = "offline";
  private readonly sessions = new Map<string, string>();
  private batch: Batch | undefined;
  private pulling: Promise<void> | undefined;
  private settling: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  private highestCursor: { journalName: string; position: number } | undefined;
  private checkedDelivery = -1;
  readonly problems: string[] = [];
  /** How often each invariant had something to check, so that none passes by checking nothing. */
  readonly checks = { consuming: 0, delivery: 0, cursor: 0, stale: 0 };

  constructor(private readonly world: World) {}

  get transitions(): readonly RealTransition[] {
    return this.recorded.map((r) => ({ to: this.spelling.get(canonical(r.to)) ?? r.to, event: r.event.type }));
  }

  private get snapshot(): ClientSnapshot {
    return this.recorded[this.recorded.length - 1]!.snapshot;
  }

  async start(walk: Step[]): Promise<void> {
    this.walk = walk;
    this.at = -1;
    this.matched = 0;
    this.previous = "offline";
    this.recorded.length = 0;
    this.sessions.clear();
    this.batch = undefined;
    this.spelling = new Map(walk.map((s) => stateString(s.state.value)).map((s) => [canonical(s), s]));
    await this.world.reset();
    // The first ZK.LIVE is the relay healing.
    this.world.zkRelay.refuse();
    this.client = createCanalClient({
      zk: this.world.zkRelay.connectString,
      destination: DESTINATION,
      clientId: CLIENT_ID,
      identity: SUT_IDENTITY,
      batchSize: 100,
      pollMs: 200,
      soTimeoutMs: 3000,
      connectTimeoutMs: 2000,
      zkSessionTimeoutMs: SESSION_MS,
      reconnect: { initialDelayMs: 600, maxDelayMs: 600, factor: 1 },
      random: () => 0.5,
      clusterFallbackMs: 1000,
      standbyTimeoutMs: walk.some((s) => s.event.type.includes("STANDBY_TIMEOUT")) ? STANDBY_TIMEOUT_MS : undefined,
      inspect: (e) => this.record(e),
    });
    assert.ok(await eventually(() => this.recorded.length > 0, 5000), "the client machine started");
  }

  private record(e: InspectionEvent): void {
    if (e.type !== "@xstate.snapshot" || e.actorRef.sessionId !== e.rootId) return;
    const snapshot = e.snapshot as ClientSnapshot;
    this.recorded.push({ to: stateString(snapshot.value), event: e.event, snapshot });
  }

  async produce(walk: Step[], i: number): Promise<void> {
    this.matchEvent();
    this.at = i;
    // Before the world is arranged: arranging may already make the event (a node deleted).
    const mark = this.recorded.length;
    const step = walk[i]!;
    const settled = settledOf(step.event);
    if (settled) return this.produceSettled(i, settled);
    if (isDelay(step.event)) return this.arrange(i + 1);
    // The world for what follows a change is made before the event, which starts it at once;
    // after a step that stays, it is made when the next step comes (else it would move now).
    if (!this.stayed(i)) await this.arrange(i + 1);
    await this.act(step, i);
    await this.processed(step.event.type, mark);
    if (step.event.type === "ZK.LIVE") this.checkSession(step.event.sessionId as string);
  }

  private async produceSettled(i: number, settled: SettledStep): Promise<void> {
    const { outcome, state } = settled;
    if (state === "fetching" && outcome === "error") return this.world.unsubscribe();
    if (state === "fetching" && !(this.walk[i]!.event.output as { empty: boolean }).empty) return this.world.insertRow();
    if (state === "connecting" && this.world.paths[0]!.mode === "hold") {
      await this.arrange(i + 1);
      for (const path of this.world.paths) path.release();
      return;
    }
    // A chain of the client's own steps after a step that stayed: its world is made now.
    if (i > 0 && this.stayed(i - 1)) await this.arrange(i);
  }

  private stayed(i: number): boolean {
    const before = i > 0 ? stateString(this.walk[i - 1]!.state.value) : "offline";
    return stateString(this.walk[i]!.state.value) === before;
  }

  /** Makes the world such that the client's own steps from `from` on come out as the model says. */
  private async arrange(from: number): Promise<void> {
    let k = from;
    for (; k < this.walk.length; k++) {
      const settled = settledOf(this.walk[k]!.event);
      if (!settled) break;
      log(`     (world for step ${k + 1}: ${settled.state} ${settled.outcome})`);
      if (!(await this.prepare(k, settled))) return;
    }
    await this.holdStill(k - 1);
  }

  /**
   * Where the chain ends, the client must stay until the next step is made: a discovering
   * client finds no server, a fetching one no rows.
   */
  private async holdStill(k: number): Promise<void> {
    const state = k >= 0 ? this.walk[k]!.state : undefined;
    if (state?.matches({ active: { link: "discovering" } })) await this.world.park(true);
    if (state?.matches({ active: { link: "fetching" } }) && this.world.pending) {
      throw new Error(`after step ${k + 1} the client must fetch nothing, but rows it has not acked are still to come`);
    }
  }

  /** The world for step k; false when the chain stops here (the step is made at its time). */
  private async prepare(k: number, { outcome, state }: SettledStep): Promise<boolean> {
    const { event } = this.walk[k]!;
    const next = this.walk[k + 1]?.event;
    const world = this.world;
    const clientNode = clientRunningPath(DESTINATION, CLIENT_ID);
    switch (state) {
      case "electing": {
        if (outcome === "error") await world.freeClientNode(undefined, "noCreate");
        else if ((event.output as { won: boolean }).won) {
          // After a takeover the client has deleted the stale node itself: the node is there until then.
          const takenOver = settledOf(this.walk[k - 1]?.event ?? { type: "" })?.state === "takingOver";
          if (!takenOver) await world.freeClientNode(this.snapshot.context.sessionId);
        } else {
          await world.setAcl(clientPath(DESTINATION, CLIENT_ID), "open");
          await world.holdClientNode((event.output as { identity: string }).identity === MODEL_IDENTITY ? SUT_IDENTITY : OTHER_IDENTITY);
        }
        return true;
      }
      case "takingOver":
        await world.setAcl(clientPath(DESTINATION, CLIENT_ID), outcome === "done" ? "open" : "noDelete");
        return true;
      case "discovering":
        if (outcome === "done") await world.unpark();
        else await world.park(isRetriable(event.error));
        return true;
      case "connecting":
        if (outcome === "error") world.network(isRetriable(event.error) ? "refuse" : "pass", isRetriable(event.error) ? "own" : "auth");
        else if (next !== undefined && settledOf(next)?.state === "announcing" && settledOf(next)?.outcome === "error") {
          world.network("hold");
          return false;
        } else world.network("pass");
        return true;
      case "announcing":
        // Before the claim the node may not exist yet: the client creates it open.
        if (outcome === "done") await world.setAcl(clientNode, "open").catch(() => undefined);
        else await world.setAcl(clientNode, "noWrite");
        return true;
      case "subscribing":
        world.routeAll(outcome === "done" ? "own" : "swap");
        return true;
      case "fetching":
        if (outcome === "error" || !(event.output as { empty: boolean }).empty) return false;
        if (world.pending) throw new Error(`step ${k + 1} wants an empty get, but rows the client has not acked are still to come`);
        return true;
      case "closing":
      case "failing":
      case "resigning":
        // A closing release fails because the session is cut as it starts (see act CLOSE).
        if (outcome === "error" && state !== "closing" && this.snapshot.context.session === "live") await world.setAcl(clientPath(DESTINATION, CLIENT_ID), "noDelete");
        if (outcome === "done") await world.setAcl(clientPath(DESTINATION, CLIENT_ID), "open");
        return true;
    }
    return true;
  }

  private async act(step: Step, i: number): Promise<void> {
    const { event } = step;
    const world = this.world;
    const client = this.client!;
    switch (event.type) {
      case "ZK.LIVE":
        return world.zkRelay.heal();
      case "ZK.SUSPENDED":
        return world.zkRelay.refuse();
      case "ZK.GONE":
        return; // it comes by itself: the session is declared lost once its timeout has passed
      case "CLIENT.ABSENT":
        return world.zk.delete(clientRunningPath(DESTINATION, CLIENT_ID));
      case "CLIENT.HELD":
        if (event.ours) return world.askRelease();
        // Another session's node in place of the one there, at once (a delete alone would be seen as CLIENT.ABSENT).
        await world.zk.multi([
          { op: "delete", path: clientRunningPath(DESTINATION, CLIENT_ID), version: -1 },
          { op: "create", path: clientRunningPath(DESTINATION, CLIENT_ID), data: encode(formatClientRunning({ active: true, address: `other-${i}`, clientId: CLIENT_ID, identity: OTHER_IDENTITY })), mode: "ephemeral" },
        ]);
        return;
      case "SERVER.MOVED":
        return world.moveServer();
      case "CONNECTION.LOST":
        for (const path of world.paths) path.cut();
        return;
      case "PULL":
        this.pulling = client.next().then(
          (batch) => void (this.batch = batch),
          (err: Error) => {
            // A client that fails ends the wait with its error; anything else is a problem.
            const failure = this.snapshot.context.error;
            if (!(this.snapshot.status === "done" && err === failure)) this.problems.push(`next() failed: ${err.message}`);
          },
        );
        return;
      case "BATCH.ACK":
      case "BATCH.ROLLBACK":
        return this.settle(event.type === "BATCH.ACK");
      case "CLOSE": {
        const release = settledOf(this.walk[i + 1]?.event ?? { type: "" });
        if (release?.outcome === "error" && this.snapshot.context.session === "live") world.zkRelay.refuse();
        this.closing = client.close();
        return;
      }
    }
    throw new Error(`no way to produce ${event.type}`);
  }

  private settle(ack: boolean): void {
    const batch = this.batch!;
    this.batch = undefined;
    const rows = batch.changes.map((c) => Number(c.after?.["n"]?.value)).filter((n) => Number.isFinite(n));
    this.settling = (ack ? batch.ack() : batch.rollback()).then(
      () => void (ack && (this.world.acked = Math.max(this.world.acked, ...rows))),
      (err: Error) => void this.problems.push(`${ack ? "ack" : "rollback"} of batch ${batch.id} failed: ${err.message}`),
    );
  }

  /** Waits until the real machine has taken an event of this type (after `mark`). */
  private async processed(type: string, mark: number): Promise<void> {
    const ok = await eventually(() => this.recorded.slice(mark).some((r) => r.event.type === type), 10_000);
    if (!ok) throw new Error(`the client never took ${type} (it is in ${this.recorded[this.recorded.length - 1]!.to})`);
  }

  /** Model session ids stand for real ones: the same id the same session, a new id a new session. */
  private checkSession(modelId: string): void {
    const real = this.snapshot.context.sessionId!;
    const known = this.sessions.get(modelId);
    if (known === undefined) {
      assert.ok(![...this.sessions.values()].includes(real), `ZK.LIVE(${modelId}) is a new session, but the client kept ${real}`);
      this.sessions.set(modelId, real);
    } else assert.is(real, known, `ZK.LIVE(${modelId}) is the same session`);
  }

  /** The real transition into the last step's state must have been made by the model's event. */
  private matchEvent(): void {
    if (this.at < 0) return;
    const step = this.walk[this.at]!;
    const expected = stateString(step.state.value);
    if (expected === this.previous) return;
    while (this.matched < this.recorded.length) {
      const r = this.recorded[this.matched++]!;
      if (canonical(r.to) === canonical(this.previous)) continue;
      if (canonical(r.to) === canonical(expected) && r.event.type !== step.event.type) {
        throw new Error(`step ${this.at + 1} ${describeStep(step)}: the real machine got there on ${r.event.type}, the model on ${step.event.type}`);
      }
      break;
    }
    this.previous = expected;
  }

  async invariants(): Promise<void> {
    const before = this.snapshot;
    const [node, running, cursor] = await Promise.all([this.world.clientNode(), this.world.runningNode().catch(() => undefined), this.world.cursor()]);
    const after = this.snapshot;
    const { sessionId, local, connection } = after.context;
    // One consumer: a consuming client holds the client node, under its session, with its connection's address.
    if (before.hasTag("consuming") && after.hasTag("consuming") && before.context.connection === connection) {
      assert.ok(node !== undefined, "a consuming client holds the client node");
      assert.is(node!.stat.ephemeralOwner, sessionId, "the consuming client's session holds the client node");
      assert.is(node!.running.address, local, "the client node names the consuming connection");
      this.checks.consuming++;
    }
    this.checkDelivery(after, running);
    this.checkCursor(cursor);
    await this.checkStaleBatch(after);
  }

  /** A batch handed out came over a connection to the node that runs the destination. */
  private checkDelivery(snapshot: ClientSnapshot, running: Awaited<ReturnType<World["runningNode"]>>): void {
    const batch = snapshot.context.batch;
    if (batch === undefined || !snapshot.matches({ active: { link: "delivered" } }) || this.checkedDelivery === this.at) return;
    this.checkedDelivery = this.at;
    const backend = this.world.backendOf(Number(snapshot.context.local!.split(":")[1]));
    assert.ok(running !== undefined && !running.parked, "a batch was handed out while a node runs the destination");
    assert.is(backend, running!.running.port, `batch ${batch.batchId} came from the node running the destination (${running!.running.address})`);
    this.checks.delivery++;
  }

  /** The acked cursor in ZooKeeper never moves backwards. */
  private checkCursor(cursor: { journalName: string; position: number } | undefined): void {
    if (cursor === undefined) return;
    const highest = this.highestCursor;
    if (highest !== undefined) {
      const back = cursor.journalName < highest.journalName || (cursor.journalName === highest.journalName && cursor.position < highest.position);
      assert.not.ok(back, `the acked cursor moved back from ${highest.journalName}:${highest.position} to ${cursor.journalName}:${cursor.position}`);
      this.checks.cursor++;
    }
    this.highestCursor = cursor;
  }

  /** A batch of a connection that is gone is refused, never sent: its id means another batch on the new one. */
  private async checkStaleBatch(snapshot: ClientSnapshot): Promise<void> {
    const batch = this.batch;
    const { batch: outstanding, connection } = snapshot.context;
    if (batch === undefined || (outstanding?.batchId === batch.id && outstanding.connection === batch.connection)) return;
    // Tried once another connection is up: that is where a stale id could do harm.
    if (connection === 0 || connection === batch.connection) return;
    this.batch = undefined;
    this.checks.stale++;
    const mark = this.recorded.length;
    const err = await batch.ack().then(() => undefined, (e: unknown) => e);
    assert.instance(err, CanalStaleBatchError, `the ack of batch ${batch.id} of connection ${batch.connection} on connection ${snapshot.context.connection} is refused`);
    assert.not.ok(this.recorded.slice(mark).some((r) => r.event.type === "BATCH.ACK"), "a stale batch's ack never reaches the machine");
  }

  async stop(): Promise<void> {
    try {
      if (this.at >= 0) this.matchEvent();
    } catch (err) {
      this.problems.push((err as Error).message);
    } finally {
      const client = this.client;
      this.client = undefined;
      this.world.zkRelay.heal();
      this.world.network("pass");
      await Promise.race([(this.closing ?? client?.close())?.catch(() => undefined), pause(15_000)]);
      await Promise.all([this.pulling, this.settling]);
      this.pulling = this.settling = this.closing = undefined;
      await this.world.unpark();
      await this.world.drain();
    }
  }
}

// ---- a walk for the stale-batch invariant -------------------------------------------------------

const stepKinds: Record<string, (e: AnyEventObject) => boolean> = {
  live: (e) => e.type === "ZK.LIVE",
  won: (e) => settledOf(e)?.state === "electing" && (e.output as { won?: boolean } | undefined)?.won === true,
  lost: (e) => e.type === "CONNECTION.LOST",
  backoff: (e) => e.type.startsWith("xstate.after.RECONNECT_DELAY"),
  discovered: (e) => settledOf(e)?.state === "discovering" && settledOf(e)?.outcome === "done",
  connected: (e) => settledOf(e)?.state === "connecting" && settledOf(e)?.outcome === "done",
  announced: (e) => settledOf(e)?.state === "announcing" && settledOf(e)?.outcome === "done",
  subscribed: (e) => settledOf(e)?.state === "subscribing" && settledOf(e)?.outcome === "done",
  pull: (e) => e.type === "PULL",
  batch: (e) => settledOf(e)?.state === "fetching" && settledOf(e)?.outcome === "done" && !(e.output as { empty: boolean }).empty,
  ack: (e) => e.type === "BATCH.ACK",
  acked: (e) => settledOf(e)?.state === "acking" && settledOf(e)?.outcome === "done",
};

/**
 * The covering walks never lose a connection while a batch is out, which is when a stale batch
 * id exists: this walk does, through the model (a batch out, its connection lost, a reconnect,
 * the batch again on the new connection, acked there).
 */
function staleBatchWalk(initial: AnyMachineSnapshot): Step[] {
  const spec = specOf("client");
  const toConsuming = ["live", "won", "discovered", "connected", "announced", "subscribed"];
  const path = [...toConsuming, "pull", "batch", "lost", "backoff", ...toConsuming.slice(2), "pull", "batch", "ack", "acked"];
  const steps: Step[] = [];
  let at = initial;
  for (const kind of path) {
    const event = eventsFor(spec, at).find((e) => allowed(at, e) && stepKinds[kind]!(e));
    if (event === undefined) throw new Error(`the model takes no ${kind} step in ${stateString(at.value)}`);
    at = transition(spec.machine, at, event)[0] as AnyMachineSnapshot;
    steps.push({ event, state: at, takes: [] });
  }
  return steps;
}

// ---- set-up and the test -----------------------------------------------------------------------

async function startWorld(zkConnect: string, zkPorts: readonly number[], db: MariaDBServer): Promise<World> {
  const conn = await mysql.createConnection({ host: db.host, port: db.port, user: db.user, password: db.password });
  await conn.query("CREATE DATABASE IF NOT EXISTS replay");
  await conn.query("CREATE TABLE IF NOT EXISTS replay.rows (n INT PRIMARY KEY)");
  const source = ["--source", db.uri(), "--destination", DESTINATION, "--filter", "replay\\.rows"];
  const cluster = ["--zk", zkConnect, "--zk-session-timeout", "2000", "--register-ip", SERVER_IP];
  const secret = createHash("sha1").update(createHash("sha1").update("secret").digest()).digest("hex");
  const [a, b, authNode] = await Promise.all([
    startCanalNode({ nodeId: "a", args: [...source, ...cluster] }),
    startCanalNode({ nodeId: "b", args: [...source, ...cluster] }),
    startCanalNode({ nodeId: "c", args: [...source, "--user", "canal", "--passwd", secret] }),
  ]);
  const paths = await Promise.all([a, b].map((n) => ServerPath.start(n.port)));
  const zk = await ZkSessionClient.connect({ connectString: zkConnect, sessionTimeoutMs: 10_000 });
  const admin = zookeeper.createClient(zkConnect);
  await new Promise<void>((resolve) => (admin.once("connected", () => resolve()), admin.connect()));
  await zk.ensurePath(clientPath(DESTINATION, CLIENT_ID));
  const zkRelay = await TcpRelayGroup.start(zkPorts);
  return new World(zk, admin, conn, [a, b], paths, authNode, zkRelay);
}

async function stopWorld(world: World | undefined): Promise<void> {
  if (world === undefined) return;
  await Promise.all(world.paths.map((p) => p.stop()));
  await world.zkRelay.stop();
  await world.close();
}

test("the model's walks replayed against the real cluster client: state for state, event for event, invariants at every step", async () => {
  const covering = coveringWalks(specOf("client"), allowed);
  assert.equal(covering.uncovered, Object.keys(NOT_REPLAYED), "the transitions not replayed are exactly those listed, each with its reason");
  const walks = [...covering.walks, staleBatchWalk(covering.initial)];
  await using zkServer = await startZooKeeperEnsemble();
  await using db = await startMariaDB();
  let world: World | undefined;
  const nodes: CanalNode[] = [];
  try {
    world = await startWorld(zkServer.connectString, zkServer.members.map((m) => m.port), db);
    nodes.push(...world.nodes, world.authNode);
    await world.ownerPort();
    const replay = new ClientReplay(world);
    for (const [index, walk] of walks.entries()) {
      log(`walk ${index + 1}/${walks.length}, ${walk.length} steps`);
      let failure: unknown;
      await replayWalk(walk, "offline", replay, { stepTimeoutMs: 10_000, settleMs: 150, log }).catch((err: unknown) => (failure = err));
      // A failed walk's own error is the one to report; stop() then only cleans up.
      await replay.stop().catch((err: unknown) => (failure ??= err));
      if (failure !== undefined) throw failure;
      assert.equal(replay.problems, [], `walk ${index + 1}: the client's calls all succeeded`);
    }
    log(`invariant checks: ${JSON.stringify(replay.checks)}`);
    for (const [name, count] of Object.entries(replay.checks)) assert.ok(count > 0, `the ${name} invariant was checked (${count} times)`);
  } finally {
    await stopWorld(world);
    await Promise.all(nodes.map((n) => n.stop()));
  }
});

test.run();
