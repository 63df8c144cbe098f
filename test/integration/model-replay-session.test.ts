/**
 * The session machine (src/machines/session.ts) as the oracle of a real node (issue 8): walks
 * that together take every transition of its chart are generated from the model and replayed,
 * each on a fresh TCP connection to a canal-ts node running as a real process in cluster mode,
 * the model's events made real by a raw Canal client (each request as a client writes it, a
 * wrong password, garbage, a socket reset, silence past the idle limit it asked for, Canal's switch
 * for a server-side stop). The connection's session actor is followed on the node's live feed
 * of transitions; at every step it must be where the model is, and the contract must hold:
 * the replies on the wire are the ones the model emits, the socket is open exactly while the
 * model is open, the session's subscriptions are the model's, the acked cursor in ZooKeeper
 * never moves back, a GET that returned rows came from the node that owns the running node,
 * and a closed session logs the cause the model recorded.
 *
 * The chart's targetless transitions (answers that keep the state: a failed auth, 401, 400,
 * 402, an ignored empty-batch ack, an unsupported or undecodable request) draw no edge, so the
 * covering walks never take them; each is inserted once per state where the model takes it.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import mysql from "mysql2/promise";
import { transition, type AnyEventObject, type AnyMachineSnapshot } from "xstate";
import type { TransitionDoc } from "../../src/actors/nats/subjects.js";
import { stateString } from "../../src/actors/nats/inspector.js";
import { ZkSessionClient } from "../../src/actors/zk/session-client.js";
import { runRelease } from "../../src/cli/release.js";
import type { CloseCause, SessionContext } from "../../src/machines/session.js";
import { parseCursorJson } from "../../src/protocol/cursor-json.js";
import { decodeAck } from "../../src/protocol/messages/ack.js";
import { encodeClientAck } from "../../src/protocol/messages/client-ack.js";
import { encodeClientAuth } from "../../src/protocol/messages/client-auth.js";
import { encodeClientRollback } from "../../src/protocol/messages/client-rollback.js";
import { encodeGet } from "../../src/protocol/messages/get.js";
import { decodeHandshake } from "../../src/protocol/messages/handshake.js";
import { encodeHeartBeat } from "../../src/protocol/messages/heartbeat.js";
import { decodeMessages } from "../../src/protocol/messages/messages.js";
import { encodeSub } from "../../src/protocol/messages/sub.js";
import { encodeUnsub } from "../../src/protocol/messages/unsub.js";
import { packetTypeName, PacketType, requestFrame, type Packet } from "../../src/protocol/packet.js";
import { scramble411, scrambleGenPass } from "../../src/protocol/scramble.js";
import { clientCursorPath, parseServerRunning, runningPath } from "../../src/protocol/zk-layout.js";
import { startCanalNode, type CanalNode } from "../../src/testkit/canal-node.js";
import { httpGet, startMariaDB, startZooKeeper, type MariaDBServer } from "../../src/testkit/index.js";
import type { ChartState } from "../../src/actors/ops/charts-page.js";
import { coveringWalks, eventsFor, type Step } from "../machines/model.js";
import { specOf } from "../machines/specs.js";
import { eventually, followTransitions } from "./cluster-kit.js";
import { describeStep, replayWalk, type RealSystem, type RealTransition } from "./model-replay.js";
import { RawClient, sleep } from "./session-kit.js";

/** The model's samples name this destination and client, so their payloads go on the wire as they are. */
const DESTINATION = "example";
const CLIENT_ID = 1001;
/** Served by no node: a request naming it is how a request's actor is made to fail for real. */
const ELSEWHERE = "nowhere";
const USER = "canal";
const PASSWORD = "canal";
/** The read-idle limit a walk that must go idle asks for in its ClientAuth (Canal takes it from the client). */
const IDLE_LIMIT_MS = 1000;
const SCHEMA = "replay";
const TABLE = "items";

/**
 * Chart transitions no walk takes for real, each with why. A transition added to the chart
 * fails the test until it is replayed or listed here.
 */
const NOT_REPLAYED: Record<string, string> = {
  "open.handshake>closing:sendHandshake error":
    "needs the server's write of the handshake to fail; it writes it the moment it accepts the connection, so a client's reset can only race it, never make it fail for sure",
};

const spec = specOf("session");
const verbose = process.env["TEST_VERBOSE"] ? (line: string) => console.log(line) : undefined;

// ---- which model events a raw client can make happen -------------------------------------------

const contextOf = (s: AnyMachineSnapshot) => s.context as SessionContext;
const settles = (type: string) => /^xstate\.(done|error)\.actor\./.test(type);

/**
 * What a raw TCP client can produce deterministically: frames only while the session waits for
 * one (`ready`); the invoked actors settle by themselves (the step before arranges which way);
 * the handshake is written before any byte of ours can arrive; a server-side stop reaches only
 * sessions subscribed to the destination being switched; silence past the idle limit only once
 * a ClientAuth has set a short one; a closing session's socket closes without our help.
 */
function allowed(snapshot: AnyMachineSnapshot, event: AnyEventObject): boolean {
  if (snapshot.matches("open.handshake")) return event.type === "xstate.done.actor.sendHandshake";
  if (snapshot.matches("closing")) return event.type === "SOCKET_CLOSED";
  if (settles(event.type)) return true;
  if (!snapshot.hasTag("ready")) return false;
  if (event.type === "STOP") return contextOf(snapshot).subscriptions.length > 0;
  if (event.type === "IDLE_TIMEOUT") return snapshot.matches("open.authenticated");
  return true;
}

const modelKey = (s: AnyMachineSnapshot) => JSON.stringify([s.value, spec.contextKey(s.context as Record<string, unknown>), s.status]);

/** The allowed events the model takes in `snapshot` without leaving it (transitions the chart does not draw). */
function staysAt(snapshot: AnyMachineSnapshot): Step[] {
  if (!snapshot.hasTag("ready")) return [];
  return eventsFor(spec, snapshot)
    .filter((event) => allowed(snapshot, event) && spec.machine.getTransitionData(snapshot as never, event as never).length > 0)
    .map((event) => ({ event, state: transition(spec.machine, snapshot, event)[0] as AnyMachineSnapshot, takes: [] }))
    .filter((step) => modelKey(step.state) === modelKey(snapshot));
}

/**
 * Each staying event once per state where the model takes it, inserted in the first walk that
 * passes there; not into a walk that goes idle, whose silence they would break.
 */
function withStays(initial: AnyMachineSnapshot, walks: Step[][]): Step[][] {
  const done = new Set<string>();
  return walks.map((walk) => {
    if (walk.some((s) => s.event.type === "IDLE_TIMEOUT")) return walk;
    const out: Step[] = [];
    const insertAt = (snapshot: AnyMachineSnapshot) => {
      for (const stay of staysAt(snapshot)) {
        const key = `${stateString(snapshot.value)} ${JSON.stringify(stay.event)}`;
        if (!done.has(key)) done.add(key), out.push(stay);
      }
    };
    insertAt(initial);
    for (const step of walk) {
      out.push(step);
      insertAt(step.state);
    }
    return out;
  });
}

/** An idle walk must go idle right after authenticating: earlier steps' gaps would count against the limit. */
function checkIdleSteps(walk: Step[]): void {
  walk.forEach((step, i) => {
    if (step.event.type !== "IDLE_TIMEOUT") return;
    const before = walk[i - 1];
    const entered = before !== undefined && before.state.matches("open.authenticated") && !(walk[i - 2]?.state.matches("open.authenticated") ?? false);
    if (!entered) throw new Error(`walk ${walk.map(describeStep).join("; ")}: IDLE_TIMEOUT at step ${i + 1} does not follow authentication directly; the replay cannot time it`);
  });
}

// ---- what the model says goes on the wire -------------------------------------------------------

type Frame = { type: "HANDSHAKE" } | { type: "MESSAGES" } | { type: "ACK"; code: number; message: string | undefined };

/**
 * The frames a step must bring: the replies the model emits, plus what its actors write
 * themselves (the handshake, a GET's MESSAGES). An error's text is compared only where the model
 * decides it; a failed actor's or an undecodable body's text comes from the real thing.
 */
function expectedFrames(before: AnyMachineSnapshot, step: Step): Frame[] {
  const frames: Frame[] = [];
  if (step.event.type === "xstate.done.actor.sendHandshake") frames.push({ type: "HANDSHAKE" });
  if (step.event.type === "xstate.done.actor.serveGet") frames.push({ type: "MESSAGES" });
  const ownText = !settles(step.event.type) && step.event.type !== "BAD_REQUEST";
  for (const action of transition(spec.machine, before, step.event)[1] as { type: string; params?: unknown }[]) {
    if (action.type !== "xstate.emit") continue;
    const emitted = (action.params as { event: { type: string; code?: number; message?: string } }).event;
    if (emitted.type === "reply.ok") frames.push({ type: "ACK", code: 0, message: "" });
    if (emitted.type === "reply.error") frames.push({ type: "ACK", code: emitted.code!, message: ownText ? emitted.message : undefined });
  }
  return frames;
}

function frameOf(packet: Packet): Frame & { entries?: number } {
  if (packet.type === PacketType.HANDSHAKE) return { type: "HANDSHAKE" };
  if (packet.type === PacketType.MESSAGES) return { type: "MESSAGES", entries: decodeMessages(packet.body).messages.length };
  if (packet.type === PacketType.ACK) {
    const ack = decodeAck(packet.body);
    return { type: "ACK", code: ack.errorCode ?? 0, message: ack.errorMessage };
  }
  throw new Error(`unexpected ${packetTypeName(packet.type)} packet from the server`);
}

// ---- requests as a client writes them --------------------------------------------------------------

const text = (s: unknown) => String(s ?? "");

function authFrame(seed: Uint8Array, event: AnyEventObject, destination: string, idleMs: number | undefined): Uint8Array {
  return requestFrame(
    PacketType.CLIENTAUTHENTICATION,
    encodeClientAuth({
      username: text(event["username"]),
      // The model's "right"/"wrong" stand for the scramble of the right or a wrong password.
      password: new TextEncoder().encode(scramble411(event["password"] === "right" ? PASSWORD : "not-the-password", seed)),
      destination,
      clientId: text(event["clientId"]),
      filter: text(event["filter"]),
      ...(idleMs === undefined ? {} : { netReadTimeout: idleMs }),
    }),
  );
}

function requestOf(event: AnyEventObject, destination: string, batchId?: number): Uint8Array {
  const clientId = text(event["clientId"]);
  switch (event.type) {
    case "SUB":
      return requestFrame(PacketType.SUBSCRIPTION, encodeSub({ destination, clientId, filter: text(event["filter"]) }));
    case "UNSUB":
      return requestFrame(PacketType.UNSUBSCRIPTION, encodeUnsub({ destination, clientId, filter: "" }));
    case "GET":
      return requestFrame(PacketType.GET, encodeGet({ destination, clientId, fetchSize: Number(event["fetchSize"]), timeout: event["timeout"] as number | undefined }));
    case "CLIENTACK":
      return requestFrame(PacketType.CLIENTACK, encodeClientAck({ destination, clientId, batchId: batchId ?? Number(event["batchId"]) }));
    case "ROLLBACK":
      return requestFrame(PacketType.CLIENTROLLBACK, encodeClientRollback({ destination, clientId, batchId: Number(event["batchId"]) }));
    case "UNSUPPORTED":
      return requestFrame(PacketType.HEARTBEAT, encodeHeartBeat({ sendTimestamp: Date.now(), startTimestamp: 0 }));
    case "BAD_REQUEST":
      // A GET whose body claims a 5-byte field it does not carry: the Packet decodes, the Get does not.
      return requestFrame(PacketType.GET, new Uint8Array([0x0a, 0x05]));
    default:
      throw new Error(`no request for ${event.type}`);
  }
}

/** A frame header with a negative length: nothing after it can be framed. */
const GARBAGE = new Uint8Array([0xff, 0xff, 0xff, 0xfe, 1, 2, 3]);

// ---- a second connection of the same client -------------------------------------------------------

/**
 * Another connection as client 1001 prepares what the walk's next step needs of the destination
 * (subscribed, rows waiting, the oldest outstanding batch to ack): batches and subscriptions
 * belong to the client at the destination, not to a connection, so the replayed session is
 * left alone.
 */
const ROLLBACK_ALL = requestFrame(PacketType.CLIENTROLLBACK, encodeClientRollback({ destination: DESTINATION, clientId: String(CLIENT_ID), batchId: 0 }));

class SameClient {
  constructor(
    private readonly port: number,
    private readonly insertRow: () => Promise<void>,
  ) {}

  /** Subscribed, every batch rolled back, and one batch with rows taken: its id is the one to ack. */
  async outstandingBatch(): Promise<number> {
    const c = await this.open();
    try {
      c.sendRaw(ROLLBACK_ALL);
      return await this.takeBatch(c);
    } finally {
      c.close();
    }
  }

  /** Subscribed, with rows a GET will return. */
  async rowsWaiting(): Promise<void> {
    const c = await this.open();
    try {
      await this.takeBatch(c);
      c.sendRaw(ROLLBACK_ALL);
      // Requests are served in order: the answer to this SUB means the rollback is done.
      await this.subscribe(c);
    } finally {
      c.close();
    }
  }

  private async open(): Promise<RawClient> {
    const c = await RawClient.connect(this.port);
    const seed = decodeHandshake((await c.next(5000)).body).seeds;
    c.sendRaw(authFrame(seed, { type: "AUTH", username: USER, password: "right", clientId: "", filter: "" }, "", undefined));
    await this.expectOk(c, "auth");
    await this.subscribe(c);
    return c;
  }

  private async subscribe(c: RawClient): Promise<void> {
    c.sendRaw(requestFrame(PacketType.SUBSCRIPTION, encodeSub({ destination: DESTINATION, clientId: String(CLIENT_ID), filter: "" })));
    await this.expectOk(c, "subscribe");
  }

  private async expectOk(c: RawClient, what: string): Promise<void> {
    const reply = frameOf(await c.next(5000));
    if (reply.type !== "ACK" || reply.code !== 0) throw new Error(`preparing connection: ${what} answered ${JSON.stringify(reply)}`);
  }

  /** GETs until a batch with rows comes, writing a row whenever one comes back empty. */
  private async takeBatch(c: RawClient): Promise<number> {
    const deadline = Date.now() + 15_000;
    for (;;) {
      c.sendRaw(requestFrame(PacketType.GET, encodeGet({ destination: DESTINATION, clientId: String(CLIENT_ID), fetchSize: 100, timeout: -1 })));
      const packet = await c.next(5000);
      if (packet.type !== PacketType.MESSAGES) throw new Error(`preparing connection: GET answered ${JSON.stringify(frameOf(packet))}`);
      const messages = decodeMessages(packet.body);
      if (messages.messages.length > 0) return messages.batchId;
      if (Date.now() > deadline) throw new Error("preparing connection: no rows reached the destination within 15 s");
      await this.insertRow();
      await sleep(50);
    }
  }
}

// ---- the real system -----------------------------------------------------------------------------

interface Cursor {
  journalName: string;
  position: number;
}

const behind = (a: Cursor, b: Cursor) => a.journalName < b.journalName || (a.journalName === b.journalName && a.position < b.position);

/** One walk's connection to the node, and the checks of the contract after every step. */
class SessionReplay implements RealSystem {
  private client: RawClient | undefined;
  private remote = "";
  private seed: Uint8Array = new Uint8Array(0);
  private closed = false;
  /** The model's state before the step being replayed, and the step. */
  private previous: AnyMachineSnapshot;
  private step: Step | undefined;
  /** Last acked cursor seen in ZooKeeper; undefined while the client has none (never subscribed, or unsubscribed). */
  private cursor: Cursor | undefined;
  private docsFrom = 0;
  /** How far checkEvent has read this walk's session documents, and the state they reached. */
  private docsRead = 0;
  private realState = "";
  private logsFrom = 0;
  /** The real session leaves the step's state by itself (idle), so it may be gone already when checked. */
  private leavesByItself = false;
  /** Evidence that the checks were not vacuous, over all walks. */
  readonly seen = { getsWithRows: 0, cursorAdvances: 0 };

  constructor(
    private readonly node: CanalNode,
    private readonly docs: TransitionDoc[],
    private readonly zk: ZkSessionClient,
    private readonly zkConnect: string,
    private readonly sameClient: SameClient,
    private readonly initial: AnyMachineSnapshot,
  ) {
    this.previous = initial;
  }

  get transitions(): RealTransition[] {
    return this.ownDocs().map((d) => ({ to: d.to, event: d.event }));
  }

  /** From this walk's start on only: a later connection may get an earlier one's port. */
  private ownDocs(): TransitionDoc[] {
    return this.docs.slice(this.docsFrom).filter((d) => d.actor.startsWith("session-") && d.fields["remote"] === this.remote);
  }

  async start(): Promise<void> {
    await this.destinationServing();
    this.previous = this.initial;
    this.step = undefined;
    this.closed = false;
    this.docsFrom = this.docs.length;
    this.docsRead = 0;
    this.realState = stateString(this.initial.value);
    this.logsFrom = this.node.logs.length;
    const client = await RawClient.connect(this.node.port);
    this.client = client;
    this.remote = `127.0.0.1:${client.socket.localPort}`;
    // This connection's own flag: the previous walk's socket may report its close only now.
    void client.closed.then(() => {
      if (this.client === client) this.closed = true;
    });
  }

  /** After Canal's switch the node takes the destination back (anti-flap delay): a walk starts only once it serves. */
  private async destinationServing(): Promise<void> {
    const serving = async () => {
      const { status, body } = await httpGet(this.node.metricsPort, "/charts/state");
      return status === 200 && (JSON.parse(body) as ChartState).destinations.some((d) => d.name === DESTINATION && d.instance === "active.serving");
    };
    if (!(await eventually(serving, 20_000))) throw new Error(`the node did not serve ${DESTINATION} within 20 s`);
  }

  async produce(walk: Step[], i: number): Promise<void> {
    const step = walk[i]!;
    this.previous = i === 0 ? this.initial : walk[i - 1]!.state;
    this.step = step;
    const c = this.client!;
    const next = walk[i + 1];
    this.leavesByItself = next?.event.type === "IDLE_TIMEOUT";
    const failsNext = next !== undefined && next.event.type.startsWith("xstate.error.actor.");
    const destination = failsNext ? ELSEWHERE : text(step.event["destination"]);
    switch (step.event.type) {
      case "AUTH":
        return c.sendRaw(authFrame(this.seed, step.event, destination, this.idleLimitFor(walk, i)));
      case "GET":
        if (!failsNext) await this.sameClient.rowsWaiting();
        return c.sendRaw(requestOf(step.event, destination));
      case "CLIENTACK": {
        // A real batch to ack only when the model goes on to `acking` and its success.
        const acks = next?.event.type === "xstate.done.actor.ack";
        return c.sendRaw(requestOf(step.event, destination, acks ? await this.sameClient.outstandingBatch() : undefined));
      }
      case "SUB":
      case "UNSUB":
      case "ROLLBACK":
      case "UNSUPPORTED":
      case "BAD_REQUEST":
        return c.sendRaw(requestOf(step.event, destination));
      case "MALFORMED":
        return c.sendRaw(GARBAGE);
      case "PEER_ENDED":
        return void c.socket.end();
      case "SOCKET_CLOSED":
        // From `closing` the server's end and our automatic one close it; from `open`, a reset.
        if (this.previous.matches("open")) c.socket.resetAndDestroy();
        return;
      case "STOP":
        // Canal's switch: the node releases the destination and closes the sessions subscribed to it.
        await runRelease([DESTINATION, "--zk", this.zkConnect, "--wait", "0"], () => undefined);
        return;
      case "IDLE_TIMEOUT":
        return; // silence
      default:
        if (!settles(step.event.type)) throw new Error(`no way to produce ${step.event.type}`);
    }
  }

  /** The short read-idle limit, in the ClientAuth of a walk that goes idle right after it authenticates. */
  private idleLimitFor(walk: Step[], i: number): number | undefined {
    const entered = walk.findIndex((s, k) => k >= i && s.state.matches("open.authenticated"));
    return entered >= 0 && walk[entered + 1]?.event.type === "IDLE_TIMEOUT" ? IDLE_LIMIT_MS : undefined;
  }

  /**
   * Whether the real session must still be where the model is when checked: not in a state an
   * actor or a timer leaves by itself, where it may be a step ahead already.
   */
  private settled(state: AnyMachineSnapshot): boolean {
    return !state.matches("open") || (state.hasTag("ready") && !this.leavesByItself);
  }

  async invariants(): Promise<void> {
    const step = this.step!;
    this.checkEvent(step);
    await this.checkFrames(step);
    await this.checkConnection(step.state);
    this.checkSubscriptions(step.state);
    await this.checkCursor();
    if (step.state.matches("closed")) await this.checkCloseCause(step.state);
  }

  /**
   * The real change of state was made by the model's event: the real thing went the model's way
   * for the model's reason (an actor that settles the other way would reach the same state).
   */
  private checkEvent(step: Step): void {
    const expected = stateString(step.state.value);
    if (expected === this.realState) return;
    const docs = this.ownDocs();
    while (this.docsRead < docs.length && docs[this.docsRead]!.to === this.realState) this.docsRead++;
    const change = docs[this.docsRead++];
    assert.equal(change && { to: change.to, event: change.event }, { to: expected, event: step.event.type }, `the real change of state at ${describeStep(step)}`);
    this.realState = expected;
  }

  /** Exactly the frames the model says, in order; a GET's rows only from the running node's owner. */
  private async checkFrames(step: Step): Promise<void> {
    const expected = expectedFrames(this.previous, step);
    for (const want of expected) {
      const packet = await this.client!.next(5000);
      const got = frameOf(packet);
      if (got.type === "HANDSHAKE") this.seed = decodeHandshake(packet.body).seeds;
      const { entries, ...shape } = got;
      assert.equal(want.type === "ACK" && want.message === undefined ? { ...shape, message: undefined } : shape, want, `reply to ${describeStep(step)}`);
      if (entries !== undefined && entries > 0) await this.checkGetServedByOwner();
    }
    // Where the model waits for the client nothing more may come; elsewhere an actor may already
    // have settled and written the next step's reply.
    if (this.settled(step.state)) await this.expectNothingMore(`after ${describeStep(step)} the model expects ${JSON.stringify(expected)}`);
  }

  private async expectNothingMore(what: string, ms = 0): Promise<void> {
    await this.client!.expectSilence(ms).catch((err: Error) => {
      throw new Error(`${what}: ${err.message}`);
    });
  }

  private async checkGetServedByOwner(): Promise<void> {
    this.seen.getsWithRows++;
    const running = await this.zk.read(runningPath(DESTINATION));
    assert.ok(running?.data, "a GET returned rows while no node owns the running node");
    const owner = parseServerRunning(running.data);
    assert.equal({ active: owner.active, address: owner.address }, { active: true, address: this.node.address }, "a GET returned rows from a node that does not own the running node");
  }

  /** Application errors never close; every way into `closing` does, from the server's side. */
  private async checkConnection(state: AnyMachineSnapshot): Promise<void> {
    if (!this.settled(state)) return;
    if (state.matches("open")) return assert.not.ok(this.closed, `the server closed the connection while the model is in ${stateString(state.value)}`);
    assert.ok(await this.client!.closedWithin(5000), `the connection is still open while the model is in ${stateString(state.value)}`);
  }

  private checkSubscriptions(state: AnyMachineSnapshot): void {
    if (!this.settled(state)) return;
    const last = this.ownDocs().at(-1);
    assert.equal(last?.fields["subscriptions"], contextOf(state).subscriptions, "the session's subscriptions on the live feed");
  }

  /** The acked cursor never moves backwards while the client keeps it. */
  private async checkCursor(): Promise<void> {
    const node = await this.zk.read(clientCursorPath(DESTINATION, CLIENT_ID));
    if (node?.data === undefined || node.data === null) return void (this.cursor = undefined);
    const { journalName, position } = parseCursorJson(Buffer.from(node.data).toString("utf8"));
    const now = { journalName, position };
    if (this.cursor !== undefined) {
      assert.not.ok(behind(now, this.cursor), `the acked cursor moved back from ${JSON.stringify(this.cursor)} to ${JSON.stringify(now)}`);
      if (behind(this.cursor, now)) this.seen.cursorAdvances++;
    }
    this.cursor = now;
  }

  /** The node logs why the session closed: the cause the model recorded. */
  private async checkCloseCause(state: AnyMachineSnapshot): Promise<void> {
    const want: CloseCause | undefined = contextOf(state).close?.cause;
    const ours = () => this.node.logs.slice(this.logsFrom).find((l) => l.msg?.startsWith("session closed") === true && l.fields["remote"] === this.remote);
    assert.ok(await eventually(() => ours() !== undefined, 5000), `no "session closed" log line for ${this.remote}`);
    assert.is(ours()!.fields["cause"], want, "the cause the node logs for the closed session");
  }

  /** After a walk that passed: nothing unexpected still came, and a session left closing logs the model's cause. */
  async walkEnded(): Promise<void> {
    const last = this.step!.state;
    await this.expectNothingMore(`at the end of the walk`, 100);
    if (last.matches("closing")) await this.checkCloseCause(last);
  }

  async stop(): Promise<void> {
    this.client?.close();
  }
}

// ---- servers -------------------------------------------------------------------------------------

async function prepareDatabase(db: MariaDBServer): Promise<mysql.Connection> {
  const conn = await mysql.createConnection({ host: db.host, port: db.port, user: db.user, password: db.password });
  await conn.query(`CREATE DATABASE IF NOT EXISTS ${SCHEMA}`);
  await conn.query(`CREATE TABLE IF NOT EXISTS ${SCHEMA}.${TABLE} (id INT AUTO_INCREMENT PRIMARY KEY, v INT NOT NULL)`);
  return conn;
}

function nodeArgs(zkConnect: string, db: MariaDBServer): string[] {
  return [
    "--zk", zkConnect,
    "--zk-session-timeout", "4000",
    "--source", db.uri(),
    "--destination", DESTINATION,
    "--filter", `${SCHEMA}\\.${TABLE}`,
    "--user", USER,
    "--passwd", scrambleGenPass(PASSWORD),
  ];
}

/** The feed sends only what happens after it connects: probe until a connection of ours shows on it. */
async function feedLive(node: CanalNode, docs: TransitionDoc[]): Promise<void> {
  for (const deadline = Date.now() + 10_000; Date.now() < deadline; ) {
    const probe = await RawClient.connect(node.port);
    const remote = `127.0.0.1:${probe.socket.localPort}`;
    const seen = await eventually(() => docs.some((d) => d.fields["remote"] === remote), 500);
    probe.close();
    if (seen) return;
  }
  throw new Error("the node's live feed showed no session within 10 s");
}

// ---- the test ------------------------------------------------------------------------------------

test("the walks take every chart transition but the NOT_REPLAYED ones, and time their idleness", () => {
  const { uncovered, walks } = coveringWalks(spec, allowed);
  assert.equal(uncovered, Object.keys(NOT_REPLAYED), "chart transitions the replay does not take");
  assert.ok(walks.length > 0);
  walks.forEach(checkIdleSteps);
});

test("a real node's TCP sessions follow the session model on every covering walk", async () => {
  const { initial, walks: covering } = coveringWalks(spec, allowed);
  const walks = withStays(initial, covering);
  walks.forEach(checkIdleSteps);
  const started = Date.now();
  await using zkServer = await startZooKeeper();
  await using db = await startMariaDB();
  const sql = await prepareDatabase(db);
  const zk = await ZkSessionClient.connect({ connectString: zkServer.connectString, sessionTimeoutMs: 10_000 });
  let node: CanalNode | undefined;
  let unfollow = () => undefined as void;
  try {
    node = await startCanalNode({ nodeId: "sut", args: nodeArgs(zkServer.connectString, db) });
    const feed = followTransitions(node.metricsPort);
    unfollow = feed.stop;
    await feedLive(node, feed.docs);
    const insertRow = async () => void (await sql.query(`INSERT INTO ${SCHEMA}.${TABLE} (v) VALUES (?)`, [Date.now() % 1_000_000]));
    const real = new SessionReplay(node, feed.docs, zk, zkServer.connectString, new SameClient(node.port, insertRow), initial);
    let steps = 0;
    for (const [n, walk] of walks.entries()) {
      verbose?.(`walk ${n + 1}/${walks.length} (${walk.length} steps)`);
      try {
        await replayWalk(walk, stateString(initial.value), real, { stepTimeoutMs: 5000, settleMs: 250, log: verbose });
        await real.walkEnded();
      } finally {
        await real.stop();
      }
      steps += walk.length;
    }
    verbose?.(`${walks.length} walks, ${steps} steps in ${Date.now() - started} ms; ${JSON.stringify(real.seen)}`);
    assert.ok(real.seen.getsWithRows > 0, "some GET returned rows, so the owner check ran");
    assert.ok(real.seen.cursorAdvances > 0, "some ack moved the cursor, so the monotony check ran");
  } finally {
    unfollow();
    await node?.stop();
    await zk.close();
    await sql.end();
  }
});

test.run();
