/**
 * The ZooKeeper-session machine (src/machines/zk-session.ts) as the oracle of the real thing
 * (issue 8): walks that together take every transition of its chart are generated from the
 * model and replayed, each on a fresh session actor (src/actors/cluster/zk-session.ts, with its
 * ZkSessionClient) talking through a TcpRelay to a real standalone ZooKeeper. Each model event
 * is made real:
 *
 *   CONNECTED        the relay lets the client through (a first connect, or a reconnect in time)
 *   DISCONNECTED     the relay resets the connection and refuses new ones (a server lost)
 *   EXPIRED          this process freezes, as a long GC pause or SIGSTOP would, until the server
 *                    has expired the session; on waking the client finds its connection gone
 *                    (DISCONNECTED first), reconnects and is told the session expired
 *   SESSION_TIMEOUT  the relay keeps refusing past the session timeout
 *   FAILED           a session starts while the relay refuses: the client's connect times out
 *   RECONNECT_DELAY  by itself
 *   CLOSE            `close()`, as a stopping node does; besides the covering walks, once from
 *                    every state they visit, since a node may stop in any
 *
 * At every step the real machine must be where the model is, by the same event, and what the
 * HA machines build on must hold against the server (fencing trusts this machine): a connected
 * session is one the server knows (an ephemeral node it creates carries its id, the server lists
 * its connection), a reconnect keeps the session and its nodes, a new session has a new id, the
 * client of a lost session is handed out no more and can do nothing, the nodes of a lost
 * session disappear from the server, no connection of an old or abandoned session stays open,
 * a process woken from a freeze past its session has a stale lease before it hears anything,
 * a close of a connected session removes its nodes at once, and after close nothing of the
 * actor reaches the server again.
 */
import { Worker } from "node:worker_threads";
import { connect } from "node:net";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { transition, type AnyEventObject, type AnyMachineSnapshot } from "xstate";
import { ZkSessionActor } from "../../src/actors/cluster/zk-session.js";
import { stateString } from "../../src/actors/nats/inspector.js";
import { ZkSessionClient, ZooKeeperError } from "../../src/actors/zk/session-client.js";
import type { SessionView, ZkSessionContext, ZkSessionSnapshot } from "../../src/machines/zk-session.js";
import { startZooKeeper, TcpRelay, type ZooKeeperServer } from "../../src/testkit/index.js";
import { LOOPBACK } from "../../src/testkit/process.js";
import { coveringWalks, type Step } from "../machines/model.js";
import { specOf } from "../machines/specs.js";
import { eventually } from "./cluster-kit.js";
import { replayWalk, type RealSystem, type RealTransition } from "./model-replay.js";

/**
 * Requested of the actor: the server's minimum (2 × tickTime), so walks are quick. The step
 * with the least slack is a heal that must beat the server's expiry, which can come 2/3 of it
 * after a cut (the last ping up to 1/3 before): ~650 ms, ample even with the machine loaded.
 */
const SESSION_MS = 1000;
/** What a node's instances fence by (their default: half the session): serving needs a lease this fresh. */
const FENCE_AFTER_MS = Math.floor(SESSION_MS / 2);
/** The checker's own session: long enough to sleep through the freezes unharmed. */
const CHECKER_SESSION_MS = 30_000;
/** The server expires a session within a tick (500 ms) of its timeout; the rest is for a loaded machine. */
const SERVER_EXPIRY_MS = SESSION_MS + 8000;
/** Where each session of the actor puts its ephemeral node, named by the session id. */
const MARKS = "/zk-replay";

/**
 * Chart transitions no walk takes for real, each with why. A transition added to the chart
 * fails the test until it is replayed or listed here.
 */
const NOT_REPLAYED: Record<string, string> = {
  "live.connecting>expired:after CONNECT_TIMEOUT":
    "the client's own connect timeout (the session timeout) is never later than CONNECT_TIMEOUT (max(session timeout, 2 s)) and is armed first: a session that cannot connect ends in FAILED",
};

const spec = specOf("zk-session");
const verbose = process.env["TEST_VERBOSE"] ? (line: string) => console.log(line) : undefined;

// ---- which model events can be made real ----------------------------------------------------

/** The event a step names: CONNECTED, …, or the delay's name for `xstate.after.<DELAY>.…`. */
function kind(step: Step | undefined): string | undefined {
  return step && kindOf(step.event);
}

function kindOf(event: AnyEventObject): string {
  return /^xstate\.after\.([A-Z_]+)\./.exec(event.type)?.[1] ?? event.type;
}

/**
 * A server says "expired" only to a client reconnecting after it lost its connection; a
 * session's connect fails only before its first connection (later the client retries until
 * the session times out); CONNECT_TIMEOUT never wins (NOT_REPLAYED).
 */
function allowed(snapshot: AnyMachineSnapshot, event: AnyEventObject): boolean {
  const type = kindOf(event);
  if (type === "EXPIRED") return snapshot.matches({ live: "suspended" });
  if (type === "FAILED") return snapshot.matches({ live: "connecting" });
  return type !== "CONNECT_TIMEOUT";
}

type RelayMode = "pass" | "refuse";

/** What the relay must do while a new session is being made, for the step it is made for. */
function relayFor(step: Step | undefined): RelayMode | undefined {
  if (kind(step) === "CONNECTED") return "pass";
  if (kind(step) === "FAILED") return "refuse";
  return undefined;
}

/**
 * For each loss in the walk (each step into `expired`), how the relay must be set when it
 * happens for real: the next session starts RECONNECT_DELAY later, before the harness could
 * ask for the step it is for.
 */
function relayAfterLosses(walk: Step[]): (RelayMode | undefined)[] {
  return walk.flatMap((step, i) => (step.state.matches("expired") ? [kind(walk[i + 1]) === "RECONNECT_DELAY" ? relayFor(walk[i + 2]) : undefined] : []));
}

/**
 * A stopping node may be in any state: CLOSE from each state the walks visit, not only where
 * they take it once, each as the walk's way there and then CLOSE.
 */
function closingWalks(walks: Step[][], initial: AnyMachineSnapshot): Step[][] {
  const closedFrom = new Set<string>();
  for (const walk of walks) {
    for (const [i, step] of walk.entries()) if (kind(step) === "CLOSE") closedFrom.add(stateString((walk[i - 1]?.state ?? initial).value));
  }
  const extra: Step[][] = [];
  for (const walk of walks) {
    for (const [i, step] of walk.entries()) {
      const from = stateString(step.state.value);
      if (closedFrom.has(from) || step.state.status !== "active") continue;
      closedFrom.add(from);
      const [closed] = transition(spec.machine, step.state, { type: "CLOSE" });
      extra.push([...walk.slice(0, i + 1), { event: { type: "CLOSE" }, state: closed as AnyMachineSnapshot, takes: [] }]);
    }
  }
  return extra;
}

// ---- the server's view ----------------------------------------------------------------------

/** The session ids of the connections the server lists (`cons`), the asking one aside. */
function listedSessions(port: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, LOOPBACK);
    let text = "";
    socket.setTimeout(5000, () => socket.destroy(new Error(`no answer to "cons" from ${LOOPBACK}:${port}`)));
    socket.on("connect", () => socket.write("cons"));
    socket.on("data", (chunk) => (text += chunk.toString()));
    socket.on("error", reject);
    socket.on("close", () => resolve([...text.matchAll(/\bsid=(0x[0-9a-f]+)[,)]/g)].map((m) => m[1]!).filter((sid) => sid !== "0x0")));
  });
}

/**
 * A worker, since the main thread is frozen meanwhile: asks the server for its connections
 * until the session's is gone (the server closes it when it expires the session), then wakes
 * the main thread.
 */
const EXPIRY_WATCH = `
const { workerData } = require("node:worker_threads");
const { connect } = require("node:net");
const flag = new Int32Array(workerData.flag);
const listed = new RegExp("sid=" + workerData.sessionId + "[,)]");
function ask() {
  const socket = connect(workerData.port, workerData.host);
  let text = "";
  socket.on("connect", () => socket.write("cons"));
  socket.on("data", (chunk) => (text += chunk));
  socket.on("error", () => {});
  socket.on("close", () => {
    if (text === "" || listed.test(text)) return void setTimeout(ask, 50);
    Atomics.store(flag, 0, 1);
    Atomics.notify(flag, 0);
  });
}
ask();
`;

/**
 * Blocks this whole process (the actor, its client, the relay: all on this thread) until the
 * server has expired `sessionId`; false if it did not within `capMs`.
 */
function freezeUntilExpired(port: number, sessionId: string, capMs: number): boolean {
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(EXPIRY_WATCH, { eval: true, execArgv: [], workerData: { flag: flag.buffer, port, host: LOOPBACK, sessionId } });
  const woken = Atomics.wait(flag, 0, 0, capMs);
  void worker.terminate();
  return woken !== "timed-out";
}

const markOf = (sessionId: string) => `${MARKS}/${sessionId}`;

/** Every operation of a lost session's client must fail without reaching the server. */
async function assertDead(client: ZkSessionClient, sessionId: string): Promise<void> {
  const outcome = await client.create(`${MARKS}/late-${sessionId}`, null, "persistent").then(
    () => "done",
    (err: unknown) => (err instanceof ZooKeeperError ? err.code : String(err)),
  );
  if (outcome !== "SESSION_EXPIRED" && outcome !== "CLOSED") throw new Error(`the client of lost session ${sessionId} still works: a create ended ${outcome}`);
}

// ---- the real system --------------------------------------------------------------------------

/** What was true when the real machine entered a state, read inside its transition. */
interface Fact extends RealTransition {
  context: ZkSessionContext;
  status: string;
  /** The actor's view then (undefined for the initial state: the actor is being created). */
  view: SessionView | undefined;
  /** The last view the actor reported through onView. */
  reported: SessionView | undefined;
  /** Sessions whose client the actor hands out then. */
  handedOut: string[];
}

const sameView = (a: SessionView | undefined, b: SessionView) => JSON.stringify(a) === JSON.stringify(b);

class RealZkSession implements RealSystem {
  readonly transitions: Fact[] = [];
  private zk: ZkSessionActor | undefined;
  private views: SessionView[] = [];
  /** Every session id the actor had in this walk, oldest first, with its client. */
  private sessions = new Map<string, ZkSessionClient>();
  private marked = new Set<string>();
  private afterLosses: (RelayMode | undefined)[] = [];
  private losses = 0;
  private step: Step | undefined;

  private constructor(
    private readonly server: ZooKeeperServer,
    private readonly relay: TcpRelay,
    private readonly checker: ZkSessionClient,
  ) {}

  static async open(server: ZooKeeperServer): Promise<RealZkSession> {
    const relay = await TcpRelay.start(server.port);
    const checker = await ZkSessionClient.connect({ connectString: server.connectString, sessionTimeoutMs: CHECKER_SESSION_MS });
    await checker.ensurePath(MARKS);
    return new RealZkSession(server, relay, checker);
  }

  async start(walk: Step[]): Promise<void> {
    this.transitions.length = 0;
    this.views = [];
    this.sessions.clear();
    this.marked.clear();
    this.afterLosses = relayAfterLosses(walk);
    this.losses = 0;
    this.step = undefined;
    this.setRelay(relayFor(walk[0]) ?? "pass");
    this.zk = ZkSessionActor.start({
      connectString: this.relay.connectString,
      sessionTimeoutMs: SESSION_MS,
      onView: (view) => this.views.push(view),
      inspect: (event) => {
        if (event.type === "@xstate.snapshot" && event.actorRef.sessionId === event.rootId) this.record(event.snapshot as ZkSessionSnapshot, event.event.type);
      },
    });
  }

  async produce(walk: Step[], i: number): Promise<void> {
    const step = walk[i]!;
    this.step = step;
    switch (kind(step)) {
      case "CONNECTED":
        return this.setRelay("pass");
      case "DISCONNECTED":
        return kind(walk[i + 1]) === "EXPIRED" ? this.freezePastSession() : this.setRelay("refuse");
      case "CLOSE":
        return this.zk!.close();
      // FAILED: the relay was set to refuse before the session started (start, or the loss before).
      // EXPIRED, SESSION_TIMEOUT, RECONNECT_DELAY: they come by themselves.
    }
  }

  async invariants(): Promise<void> {
    const step = this.step!;
    const state = stateString(step.state.value);
    const at = this.lastInto(state);
    const fact = this.transitions[at]!;
    const before = this.transitions[at - 1]!;
    if (fact.event !== step.event.type) throw new Error(`the real machine entered ${state} on ${fact.event}, the model on ${step.event.type}`);
    verbose?.(`       real: ${fact.event} → ${fact.to}${fact.context.sessionId ? `, session ${fact.context.sessionId}` : ""}`);
    this.checkView(fact);
    if (state === "live.connected") await this.checkConnected(fact, before);
    else if (state === "live.suspended") this.checkSuspended(fact, before);
    else if (state === "live.connecting") this.checkConnecting(fact, before);
    else if (state === "expired") await this.checkLost(fact, before);
    else if (state === "closed") await this.checkClosed(fact, before);
  }

  async stop(): Promise<void> {
    await this.zk?.close();
    this.zk = undefined;
    this.relay.heal();
    // The next walk starts on a server with nothing of this one.
    await this.settle("after the walk, the server still lists", (listed) => listed.length === 0);
  }

  async close(): Promise<void> {
    await this.checker.close();
    await this.relay.stop();
  }

  private setRelay(mode: RelayMode): void {
    if (mode === "pass") this.relay.heal();
    else this.relay.refuse();
  }

  /** Inside the real machine's transition: its state, and what the actor shows then. */
  private record(snapshot: ZkSessionSnapshot, event: string): void {
    const to = stateString(snapshot.value);
    if (to === this.transitions.at(-1)?.to) return;
    const zk = this.zk;
    const context = { ...snapshot.context };
    if (context.sessionId !== undefined && zk?.client(context.sessionId)) this.sessions.set(context.sessionId, zk.client(context.sessionId)!);
    const handedOut = zk ? [...this.sessions.keys()].filter((id) => zk.client(id) !== undefined) : [];
    this.transitions.push({ to, event, context, status: snapshot.status, view: zk?.view, reported: this.views.at(-1), handedOut });
    // The next session starts RECONNECT_DELAY after a loss: the relay must be ready for it now.
    if (to === "expired") {
      const mode = this.afterLosses[this.losses++];
      if (mode !== undefined) this.setRelay(mode);
    }
  }

  private lastInto(state: string): number {
    for (let i = this.transitions.length - 1; i >= 0; i--) if (this.transitions[i]!.to === state) return i;
    throw new Error(`no real transition into ${state} was recorded`);
  }

  private async freezePastSession(): Promise<void> {
    const sessionId = this.transitions.at(-1)!.context.sessionId!;
    if (!(await listedSessions(this.server.port)).includes(sessionId)) throw new Error(`before the freeze: the server does not list session ${sessionId}`);
    if (!freezeUntilExpired(this.server.port, sessionId, SERVER_EXPIRY_MS)) throw new Error(`the server did not expire session ${sessionId} within ${SERVER_EXPIRY_MS} ms of silence`);
    // Just woken, before any news of the expiry is processed: the machine still says connected,
    // and only the lease keeps a node whose session others may already own from serving.
    const state = stateString(this.zk!.actor.getSnapshot().value);
    if (state !== "live.connected") throw new Error(`woken from a freeze past session ${sessionId}, before any event was processed, the machine is ${state}`);
    if (this.zk!.leaseFresh(FENCE_AFTER_MS)) throw new Error(`woken from a freeze past session ${sessionId}, still connected: its lease is fresh, a node would go on serving`);
  }

  /** What instances see must be what the state says: live only when connected, a client only for the session held. */
  private checkView(fact: Fact): void {
    const id = fact.context.sessionId;
    const holding = fact.to === "live.connected" || fact.to === "live.suspended";
    // closed keeps the last id in its context (the model's CLOSE clears nothing); the view is what counts.
    if (fact.to !== "closed" && holding !== (id !== undefined)) throw new Error(`${fact.to} with session id ${id}`);
    const expected: SessionView = !holding ? { state: "gone" } : { state: fact.to === "live.connected" ? "live" : "suspended", sessionId: id! };
    if (!sameView(fact.view, expected)) throw new Error(`in ${fact.to} the actor's view is ${JSON.stringify(fact.view)}, expected ${JSON.stringify(expected)}`);
    // Nothing reported yet: instances start from "gone".
    const reported = fact.reported ?? { state: "gone" };
    if (!sameView(reported, expected)) throw new Error(`in ${fact.to} the last view reported to instances is ${JSON.stringify(reported)}, expected ${JSON.stringify(expected)}`);
    const clients = holding ? [id] : [];
    if (JSON.stringify(fact.handedOut) !== JSON.stringify(clients))
      throw new Error(`in ${fact.to} the actor hands out the clients of ${JSON.stringify(fact.handedOut)}, expected ${JSON.stringify(clients)}`);
  }

  /** The server knows the session: its ephemeral node carries its id, its connection is listed; a reconnect keeps the session and its nodes. */
  private async checkConnected(fact: Fact, before: Fact): Promise<void> {
    const id = fact.context.sessionId!;
    const earlier = [...this.sessions.keys()].slice(0, -1);
    if (before.to === "live.suspended" && id !== before.context.sessionId) throw new Error(`reconnected as session ${id}, it was ${before.context.sessionId}`);
    if (before.to === "live.connecting" && earlier.includes(id)) throw new Error(`a new session reuses the id ${id} of a lost one`);
    const client = this.sessions.get(id)!;
    if (!this.marked.has(id)) {
      if (before.to !== "live.connecting") throw new Error(`session ${id} has no node to compare after a reconnect`);
      await client.create(markOf(id), null, "ephemeral");
      this.marked.add(id);
    }
    const mark = await this.checker.read(markOf(id));
    if (mark?.stat.ephemeralOwner !== id) throw new Error(`the server has ${mark ? `${markOf(id)} owned by ${mark.stat.ephemeralOwner}` : `no ${markOf(id)}`}, session ${id} is connected`);
    for (const old of earlier) if (await this.checker.read(markOf(old))) throw new Error(`session ${id} is live while lost session ${old} still has its node on the server`);
    await this.settle(`connected as ${id}, the server lists`, (listed) => JSON.stringify(listed) === JSON.stringify([id]));
  }

  /** Cut off, the session may live on: same id, its client still handed out (checkView). */
  private checkSuspended(fact: Fact, before: Fact): void {
    if (before.to !== "live.connected" || fact.context.sessionId !== before.context.sessionId)
      throw new Error(`suspended as session ${fact.context.sessionId} after ${before.to} as ${before.context.sessionId}`);
  }

  private checkConnecting(fact: Fact, before: Fact): void {
    if (fact.context.attempt !== before.context.attempt + 1) throw new Error(`attempt ${fact.context.attempt} after ${before.context.attempt}: a new session is a new attempt`);
  }

  /** Lost: counted, its client dead, and on the server its node and connection gone. */
  private async checkLost(fact: Fact, before: Fact): Promise<void> {
    const { lost, lastLoss } = fact.context;
    if (lost !== before.context.lost + 1 || !lastLoss) throw new Error(`a loss counted as ${before.context.lost} → ${lost}, reason ${JSON.stringify(lastLoss)}`);
    const old = before.context.sessionId;
    // A connect that failed made no session (the relay refused it).
    if (old === undefined) return;
    await assertDead(this.sessions.get(old)!, old);
    await this.nodeGone(old, `the machine lost session ${old}`);
    // The next session may be connected by now; no connection of this one or an older one may stay.
    const lostOnes = [...this.sessions.keys()].slice(0, [...this.sessions.keys()].indexOf(old) + 1);
    await this.settle(`session ${old} lost, the server lists`, (listed) => !listed.some((sid) => lostOnes.includes(sid)));
  }

  /**
   * Closed: final, no client handed out (checkView); a connected session's nodes gone at once
   * (so another node can take over now, not a session timeout later), any other session's by
   * its expiry; and nothing of the actor reaches the server afterwards, even with the network
   * back: not a connect attempt under way at the close (it may connect within its timeout and
   * must then close that session), not a new session.
   */
  private async checkClosed(fact: Fact, before: Fact): Promise<void> {
    if (fact.status !== "done") throw new Error(`closed with status ${fact.status}`);
    const held = before.context.sessionId;
    if (before.to === "live.connected" && (await this.checker.read(markOf(held!))) !== undefined)
      throw new Error(`close() of connected session ${held} has returned, its node ${markOf(held!)} is still on the server`);
    for (const id of this.sessions.keys()) await this.nodeGone(id, `the actor closed session ${id}`);
    this.relay.heal();
    await new Promise((resolve) => setTimeout(resolve, SESSION_MS));
    await this.settle("closed, the server lists", (listed) => listed.length === 0);
  }

  private async nodeGone(sessionId: string, since: string): Promise<void> {
    if (!this.marked.has(sessionId)) return;
    const from = Date.now();
    const gone = await eventually(async () => (await this.checker.read(markOf(sessionId))) === undefined, SERVER_EXPIRY_MS);
    if (!gone) throw new Error(`${since}, its node ${markOf(sessionId)} is still on the server after ${SERVER_EXPIRY_MS} ms`);
    verbose?.(`       ${markOf(sessionId)} gone from the server ${Date.now() - from} ms after the check began`);
  }

  /** Waits until the sessions the server lists (the checker's aside) are `ok`: a connection closes a moment after its session. */
  private async settle(what: string, ok: (listed: string[]) => boolean): Promise<void> {
    let listed: string[] = [];
    const done = await eventually(async () => {
      listed = (await listedSessions(this.server.port)).filter((sid) => sid !== this.checker.sessionId);
      return ok(listed);
    }, SERVER_EXPIRY_MS);
    if (!done) throw new Error(`${what} ${JSON.stringify(listed)}`);
  }
}

// ---- the tests ----------------------------------------------------------------------------------

test("the covering walks take every transition of the chart but those listed as not replayed", () => {
  const { uncovered, walks } = coveringWalks(spec, allowed);
  assert.equal(uncovered, Object.keys(NOT_REPLAYED), `not replayed: ${uncovered.join(", ")}`);
  assert.ok(walks.some((walk) => walk.some((step) => kind(step) === "EXPIRED")), "a server-reported expiry is among them");
});

test("the walks, replayed on a real session actor against a real ZooKeeper", async () => {
  const plan = coveringWalks(spec, allowed);
  const walks = [...plan.walks, ...closingWalks(plan.walks, plan.initial)];
  await using server = await startZooKeeper();
  const real = await RealZkSession.open(server);
  try {
    for (const [n, walk] of walks.entries()) {
      verbose?.(`walk ${n + 1} of ${walks.length} (${walk.length} steps)`);
      const replayed = await replayWalk(walk, stateString(plan.initial.value), real, { stepTimeoutMs: SERVER_EXPIRY_MS, settleMs: 500, log: verbose }).then(
        () => undefined,
        (err: unknown) => err,
      );
      // Taken down either way; a failed walk's own error says more than what it left behind.
      const stopped = await real.stop().then(
        () => undefined,
        (err: unknown) => err,
      );
      if (replayed ?? stopped) throw replayed ?? stopped;
    }
  } finally {
    await real.close();
  }
});

test.run();
