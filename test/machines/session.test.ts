/**
 * The session machine as pure functions (style E7): `initialTransition` / `transition` return the
 * next snapshot and the actions it WOULD run (spawned actors with their input, emitted replies)
 * without running any. Then every shortest path through the machine (@xstate/graph) is walked
 * and checked against the session's invariants.
 */
import { getShortestPaths } from "@xstate/graph";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { initialTransition, transition, type AnyEventObject } from "xstate";
import {
  DEFAULT_IDLE_MS,
  getWaitMs,
  idleLimitMs,
  MAX_WAIT_MS,
  parseJavaShort,
  sessionMachine,
  type AuthEvent,
  type SessionEvent,
  type SessionSnapshot,
} from "../../src/machines/session.js";

/** The machine with the one guard the runtime provides: here, "right" is the right password. */
const machine = sessionMachine.provide({ guards: { authOk: ({ event }) => event.type === "AUTH" && event.password === "right" } });

type Action = { type: string; params?: unknown };
type Step = [SessionSnapshot, Action[]];

const auth = (more: Partial<AuthEvent> = {}): AuthEvent => ({ type: "AUTH", username: "canal", password: "right", destination: "", clientId: "", filter: "", ...more });
const id = { destination: "example", clientId: "1001" };
const done = (actor: string, output?: unknown) => ({ type: `xstate.done.actor.${actor}`, output }) as unknown as SessionEvent;
const failed = (actor: string, message: string) => ({ type: `xstate.error.actor.${actor}`, error: new Error(message) }) as unknown as SessionEvent;

function step(snapshot: SessionSnapshot, event: SessionEvent): Step {
  return transition(machine, snapshot, event) as Step;
}

/** Runs events from the initial state; returns the last step. */
function run(...events: SessionEvent[]): Step {
  let current = initialTransition(machine) as Step;
  for (const event of events) current = step(current[0], event);
  return current;
}
const authenticated = () => run(done("sendHandshake"), auth())[0];
const subscribed = () => step(step(authenticated(), { type: "SUB", ...id, filter: "" })[0], done("subscribe"))[0];

const emitted = (actions: Action[]) =>
  actions.filter((a) => a.type === "xstate.emit").map((a) => (a.params as { event: AnyEventObject }).event);
const spawned = (actions: Action[]) =>
  actions.filter((a) => a.type === "xstate.spawnChild").map((a) => a.params as { src: string; input: unknown });
const stopped = (actions: Action[]) => actions.filter((a) => a.type === "xstate.stopChild");
const errorReply = (code: number, message: string) => ({ type: "reply.error", code, message });

// ---- handshake and auth -----------------------------------------------------------------------------

test("starts by writing the handshake, and is not ready for packets until it is written", () => {
  const [snapshot, actions] = initialTransition(machine) as Step;
  assert.equal(snapshot.value, { open: "handshake" });
  assert.is(snapshot.hasTag("ready"), false);
  assert.equal(spawned(actions).map((s) => s.src), ["sendHandshake"]);
  const [next, more] = step(snapshot, done("sendHandshake"));
  assert.equal(next.value, { open: { authenticating: "waiting" } });
  assert.ok(next.hasTag("ready") && next.hasTag("awaitingAuth"));
  assert.equal(spawned(more), [{ ...spawned(more)[0]!, src: "watchIdle", input: { readIdleMs: DEFAULT_IDLE_MS, writeIdleMs: DEFAULT_IDLE_MS } }]);
});

test("a failed handshake write closes", () => {
  const [snapshot] = run(failed("sendHandshake", "EPIPE"));
  assert.equal(snapshot.value, "closing");
  assert.equal(snapshot.context.close, { cause: "handshake", reason: "handshake not written: EPIPE" });
});

test("auth failure replies Canal's 400 and stays for another attempt; success replies ok", () => {
  const [failedAuth, actions] = run(done("sendHandshake"), auth({ password: "wrong" }));
  assert.equal(failedAuth.value, { open: { authenticating: "waiting" } });
  assert.equal(emitted(actions), [errorReply(400, "auth failed for user:canal")]);
  const [ok, okActions] = step(failedAuth, auth());
  assert.equal(ok.value, { open: { authenticated: { subscription: "unsubscribed", request: "idle" } } });
  assert.equal(emitted(okActions), [{ type: "reply.ok" }]);
  assert.ok(ok.hasTag("ready") && !ok.hasTag("awaitingAuth"));
});

test("the ClientAuth timeouts become the idle limits in ms; absent or ≤ 0 means one hour", () => {
  const [snapshot, actions] = run(done("sendHandshake"), auth({ netReadTimeoutMs: 250, netWriteTimeoutMs: 0 }));
  assert.equal({ read: snapshot.context.readIdleMs, write: snapshot.context.writeIdleMs }, { read: 250, write: DEFAULT_IDLE_MS });
  assert.equal(spawned(actions).find((s) => s.src === "watchIdle")?.input, { readIdleMs: 250, writeIdleMs: DEFAULT_IDLE_MS });
});

test("a ClientAuth with destination and clientId subscribes before it is acknowledged", () => {
  const [subscribing, actions] = run(done("sendHandshake"), auth({ ...id, filter: "test\\..*" }));
  assert.equal(subscribing.value, { open: { authenticating: "subscribing" } });
  assert.equal(emitted(actions), [], "no ACK before the subscription");
  assert.equal(spawned(actions)[0]?.input, { destination: "example", clientId: 1001, filter: "test\\..*" });
  const [ok, okActions] = step(subscribing, done("subscribe"));
  assert.equal(ok.value, { open: { authenticated: { subscription: "subscribed", request: "idle" } } });
  assert.equal(emitted(okActions), [{ type: "reply.ok" }]);
  // Canal's auth handler throws on a failed subscribe or a bad clientId, which closes.
  assert.equal(step(subscribing, failed("subscribe", "destination:example should start first"))[0].value, "closing");
  assert.equal(run(done("sendHandshake"), auth({ destination: "example", clientId: "x" }))[0].context.close?.cause, "auth");
});

// ---- requests -----------------------------------------------------------------------------------------

test("request validation: 401 for an empty identity, 400 for a bad clientId, without leaving idle", () => {
  const idle = subscribed();
  const cases: Array<[SessionEvent, ReturnType<typeof errorReply>]> = [
    [{ type: "SUB", destination: "", clientId: "1001", filter: "" }, errorReply(401, "destination or clientId is null")],
    [{ type: "UNSUB", destination: "example", clientId: "" }, errorReply(401, "destination or clientId is null")],
    [{ type: "GET", destination: "", clientId: "", fetchSize: 1 }, errorReply(401, "destination or clientId is null")],
    [{ type: "CLIENTACK", destination: "", clientId: "1001", batchId: 3 }, errorReply(401, "destination or clientId is null")],
    [{ type: "ROLLBACK", destination: "example", clientId: "", batchId: 0 }, errorReply(401, "destination or clientId is null")],
    [{ type: "GET", destination: "example", clientId: "abc", fetchSize: 1 }, errorReply(400, 'clientId "abc" is not a Java short (NumberFormatException: For input string: "abc")')],
    [{ type: "CLIENTACK", ...id, batchId: 0 }, errorReply(402, "batchId should assign value")],
    [{ type: "UNSUPPORTED", packetType: "HEARTBEAT" }, errorReply(400, "packet type: HEARTBEAT is NOT supported!")],
    [{ type: "BAD_REQUEST", packetType: "GET", reason: "cannot decode Get (3 bytes): index out of range" }, errorReply(400, "cannot decode Get (3 bytes): index out of range")],
  ];
  for (const [event, reply] of cases) {
    const [next, actions] = step(idle, event);
    assert.equal(next.value, idle.value, event.type);
    assert.equal(emitted(actions), [reply], event.type);
    assert.equal(spawned(actions), [], `${event.type} starts nothing`);
  }
});

test("ack of the empty batch (-1) is ignored: no actor, no reply", () => {
  const [next, actions] = step(subscribed(), { type: "CLIENTACK", ...id, batchId: -1 });
  assert.equal(next.value, subscribed().value);
  assert.equal(actions, []);
});

test("GET becomes a cancellable fetch; later packets are not accepted until it is done", () => {
  const [fetching, actions] = step(subscribed(), { type: "GET", ...id, fetchSize: 100, timeout: 2, unit: 3 });
  assert.equal(fetching.value, { open: { authenticated: { subscription: "subscribed", request: "fetching" } } });
  assert.equal(spawned(actions)[0]?.input, { destination: "example", clientId: 1001, batchSize: 100, waitMs: 2000 });
  assert.is(fetching.hasTag("ready"), false);
  assert.is(fetching.can({ type: "GET", ...id, fetchSize: 1 }), false);
  assert.is(fetching.can({ type: "CLIENTACK", ...id, batchId: 1 }), false);
  // The reply is written by the actor itself: done means back to idle, silently.
  const [idle, doneActions] = step(fetching, done("serveGet", { batchId: 1, entries: 3, bytes: 300 }));
  assert.ok(idle.hasTag("ready"));
  assert.equal(emitted(doneActions), []);
  // Leaving for closing stops (cancels) the fetch.
  const [closing, stopActions] = step(fetching, { type: "STOP" });
  assert.equal(closing.value, "closing");
  assert.ok(stopped(stopActions).length >= 1);
});

test("ack and rollback reply nothing on success; a failure is a 400 carrying the store's text", () => {
  for (const [event, actor] of [
    [{ type: "CLIENTACK", ...id, batchId: 2 }, "ack"],
    [{ type: "ROLLBACK", ...id, batchId: 0 }, "rollback"],
  ] as const) {
    const [busy, actions] = step(subscribed(), event);
    assert.equal(spawned(actions)[0]?.input, { destination: "example", clientId: 1001, batchId: event.batchId });
    assert.equal(emitted(step(busy, done(actor))[1]), [], `${actor} succeeded silently`);
    const [back, failure] = step(busy, failed(actor, "batchId:2 is not the firstly:1"));
    assert.ok(back.hasTag("ready"));
    assert.equal(emitted(failure), [errorReply(400, "batchId:2 is not the firstly:1")]);
  }
});

test("subscribed follows this connection's subscriptions; a failed subscribe changes nothing", () => {
  const snapshot = subscribed();
  assert.equal(snapshot.context.subscriptions, ["example/1001"]);
  const [unsubscribing] = step(snapshot, { type: "UNSUB", ...id });
  const [after, actions] = step(unsubscribing, done("unsubscribe"));
  assert.equal(after.value, { open: { authenticated: { subscription: "unsubscribed", request: "idle" } } });
  assert.equal(emitted(actions), [{ type: "reply.ok" }]);
  const [subscribing] = step(authenticated(), { type: "SUB", destination: "nope", clientId: "1", filter: "" });
  const [rejected, rejectedActions] = step(subscribing, failed("subscribe", "destination:nope should start first"));
  assert.equal(rejected.context.subscriptions, []);
  assert.equal(rejected.context.pending, undefined);
  assert.equal(emitted(rejectedActions), [errorReply(400, "destination:nope should start first")]);
});

// ---- closing ------------------------------------------------------------------------------------------

test("closing causes are recorded, the first one wins, and closed announces it", () => {
  const cases: Array<[SessionEvent, string]> = [
    [{ type: "MALFORMED", reason: "frame length -1 is negative" }, "malformed"],
    [{ type: "IDLE_TIMEOUT", reason: "nothing read for 10 ms (limit 10 ms)" }, "idle"],
    [{ type: "STOP" }, "stop"],
    [{ type: "PEER_ENDED" }, "peer"],
  ];
  for (const [event, cause] of cases) {
    const [closing, actions] = step(subscribed(), event);
    assert.equal(closing.value, "closing");
    assert.equal(spawned(actions).map((s) => s.src), ["closeSocket"]);
    assert.is(step(closing, { type: "MALFORMED", reason: "later" })[0].context.close?.cause, cause, "ignored while closing");
    const [closed, closedActions] = step(closing, { type: "SOCKET_CLOSED" });
    assert.is(closed.status, "done");
    assert.equal(emitted(closedActions), [{ type: "session.closed", ...closing.context.close! }]);
    assert.is(closing.context.close?.cause, cause);
  }
  const [gone] = run(done("sendHandshake"), { type: "SOCKET_CLOSED", reason: "socket error: ECONNRESET" });
  assert.equal(gone.context.close, { cause: "socket", reason: "socket error: ECONNRESET" });
});

// ---- pure rules ---------------------------------------------------------------------------------------

test("getWaitMs: -1 before conversion means no wait; absent or ≤ 0 waits for a full batch; units convert", () => {
  const cases: Array<[number | undefined, number | undefined, number | undefined]> = [
    [-1, 3, undefined],
    [-1, undefined, undefined],
    [undefined, undefined, 0],
    [0, 2, 0],
    [-5, 2, 0],
    [250, 2, 250],
    [2, 3, 2000],
    [1, 4, 60_000],
    [1, 6, 86_400_000],
    [5_000, undefined, 0.005], // absent unit reads 0: NANOSECONDS
    [3, 1, 0.003],
    [7, 42, 7], // unknown ordinal: ms
    [1e9, 6, MAX_WAIT_MS],
  ];
  for (const [timeout, unit, expected] of cases) assert.is(getWaitMs(timeout, unit), expected, `timeout ${timeout} unit ${unit}`);
});

test("parseJavaShort accepts what Short.parseShort accepts", () => {
  const cases: Array<[string, number | undefined]> = [
    ["1001", 1001], ["+7", 7], ["-32768", -32768], ["32767", 32767], ["007", 7],
    ["32768", undefined], ["", undefined], [" 1", undefined], ["1.0", undefined], ["0x10", undefined], ["abc", undefined], ["-", undefined],
  ];
  for (const [text, expected] of cases) assert.is(parseJavaShort(text), expected, JSON.stringify(text));
});

test("idleLimitMs: positive values are kept, anything else is the 1-hour default", () => {
  assert.is(idleLimitMs(500), 500);
  assert.is(idleLimitMs(0), DEFAULT_IDLE_MS);
  assert.is(idleLimitMs(-1), DEFAULT_IDLE_MS);
  assert.is(idleLimitMs(undefined), DEFAULT_IDLE_MS);
});

// ---- every shortest path ------------------------------------------------------------------------------

/** One event of each kind and outcome, enough to reach every state and transition. */
const walkEvents: SessionEvent[] = [
  done("sendHandshake"),
  failed("sendHandshake", "EPIPE"),
  auth(),
  auth({ password: "wrong" }),
  auth({ ...id }),
  auth({ destination: "example", clientId: "x" }),
  { type: "SUB", ...id, filter: "" },
  { type: "SUB", destination: "", clientId: "1001", filter: "" },
  { type: "SUB", destination: "example", clientId: "x", filter: "" },
  { type: "UNSUB", ...id },
  { type: "GET", ...id, fetchSize: 10, timeout: -1, unit: 2 },
  { type: "CLIENTACK", ...id, batchId: 1 },
  { type: "CLIENTACK", ...id, batchId: 0 },
  { type: "CLIENTACK", ...id, batchId: -1 },
  { type: "ROLLBACK", ...id, batchId: 0 },
  { type: "UNSUPPORTED", packetType: "HEARTBEAT" },
  { type: "BAD_REQUEST", packetType: "SUBSCRIPTION", reason: "cannot decode Sub" },
  ...["subscribe", "unsubscribe", "serveGet", "ack", "rollback"].flatMap((a) => [done(a), failed(a, `${a} failed`)]),
  { type: "MALFORMED", reason: "bad frame" },
  { type: "IDLE_TIMEOUT", reason: "idle" },
  { type: "STOP" },
  { type: "PEER_ENDED" },
  { type: "SOCKET_CLOSED" },
];

const REQUEST_ACTORS = ["subscribe", "unsubscribe", "serveGet", "ack", "rollback"];
const isAuthOk = (e: SessionEvent) => e.type === "AUTH" && e.password === "right";
const inAuthenticated = (s: SessionSnapshot) => s.matches({ open: "authenticated" });

test("every shortest path keeps the session's invariants", () => {
  const paths = getShortestPaths(machine, { events: walkEvents });
  assert.ok(paths.length >= 30, `walked ${paths.length} paths`);
  const reached = new Set<string>();
  for (const path of paths) {
    let authenticatedOnce = false;
    let previous = initialTransition(machine)[0] as SessionSnapshot;
    for (const { event, state } of path.steps) {
      const s = state as SessionSnapshot;
      const e = event as SessionEvent;
      reached.add(JSON.stringify(s.value));
      const where = `${path.steps.map((x) => x.event.type).join(" → ")} (at ${e.type})`;
      if (isAuthOk(e)) authenticatedOnce = true;
      // No request is served, and no GET in particular, before a successful auth.
      const running = Object.keys(s.children).filter((c) => REQUEST_ACTORS.includes(c));
      if (inAuthenticated(s) || running.some((c) => c !== "subscribe")) assert.ok(authenticatedOnce, `served before auth: ${where}`);
      assert.is(running.includes("serveGet") && !authenticatedOnce, false, where);
      // One packet at a time: at most one request actor runs, and `ready` means none does.
      assert.ok(running.length <= 1, `${running} at once: ${where}`);
      if (s.hasTag("ready")) assert.equal(running, [], `ready while busy: ${where}`);
      // A failed auth never closes; it stays waiting for the next ClientAuth.
      if (e.type === "AUTH" && !isAuthOk(e) && previous.hasTag("awaitingAuth")) {
        assert.equal(s.value, { open: { authenticating: "waiting" } }, where);
      }
      // Application errors never close: only transport events, a failed handshake write or a
      // ClientAuth Canal's auth handler would throw on.
      if (s.matches("closing") && !previous.matches("closing")) {
        const closers = ["MALFORMED", "IDLE_TIMEOUT", "STOP", "PEER_ENDED", "xstate.error.actor.sendHandshake", "xstate.error.actor.subscribe", "AUTH"];
        assert.ok(closers.includes(e.type), `closed by ${where}`);
        if ((e.type as string) === "xstate.error.actor.subscribe") assert.ok(previous.matches({ open: { authenticating: "subscribing" } }), where);
      }
      // `subscribed` is exactly "this connection holds a subscription".
      if (inAuthenticated(s)) assert.is(s.matches({ open: { authenticated: { subscription: "subscribed" } } }), s.context.subscriptions.length > 0, where);
      previous = s;
    }
  }
  for (const state of ["closed", "closing", '{"open":{"authenticated":{"subscription":"subscribed","request":"fetching"}}}']) {
    assert.ok([...reached].some((v) => v.includes(state)), `reached ${state}`);
  }
});

test("the machine's config is JSON: effects are referenced by name", () => {
  const json = JSON.stringify(machine.toJSON());
  for (const name of ["sendHandshake", "watchIdle", "serveGet", "authOk", "replyAuthFailed", "closeSocket"]) assert.ok(json.includes(`"${name}"`), name);
});

test.run();
