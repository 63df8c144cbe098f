/**
 * The cluster client machine as pure transitions: election (win, standby, takeover of our own
 * stale node), the consuming cycle, reconnects, fencing and release, checked on snapshots and on
 * which actors and actions each step would run. Delays are fired by sending their
 * `xstate.after…` events, so no test waits on a clock.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { initialTransition, transition } from "xstate";
import { CanalAuthError, CanalConnectionError } from "../../src/errors.js";
import { clientMachine, clientState, type ClaimClientResult, type ClientEvent, type ClientSnapshot } from "../../src/machines/client.js";

type Action = { type: string; params?: unknown };
type Step = [ClientSnapshot, Action[]];

const input = { destination: "example", clientId: 1001, identity: "host-a" };
const live = (sessionId = "s1"): ClientEvent => ({ type: "ZK.LIVE", sessionId });
const done = (actor: string, output?: unknown) => ({ type: `xstate.done.actor.${actor}`, output }) as unknown as ClientEvent;
const failed = (actor: string, error: unknown) => ({ type: `xstate.error.actor.${actor}`, error }) as unknown as ClientEvent;
const after = (delay: string, state: string) => ({ type: `xstate.after.${delay}.client.${state}` }) as unknown as ClientEvent;
const claim = (output: ClaimClientResult) => done("0.client.electing", output);
const won = claim({ won: true });
const heldBy = (identity: string | undefined, owner = "s0", address = "10.0.0.9:50000") => claim({ won: false, address, identity, owner, version: 3 });
const link = (state: string) => `0.client.active.link.${state}`;
const connectedAt = (connection = 1) => [
  done(link("discovering"), { address: "127.0.0.1:11111" }),
  done(link("connecting"), { connection, local: "127.0.0.1:50123" }),
  done(link("announcing")),
  done(link("subscribing")),
];
const consuming = [live(), won, ...connectedAt()];

function run(...events: ClientEvent[]): Step {
  let current = initialTransition(clientMachine, input) as Step;
  for (const event of events) current = transition(clientMachine, current[0], event) as Step;
  return current;
}
const state = (step: Step) => clientState(step[0]);
const spawned = (actions: Action[]) => actions.filter((a) => a.type === "xstate.spawnChild").map((a) => (a.params as { src: string }).src);
const did = (actions: Action[], type: string) => actions.some((a) => a.type === type);

test("waits offline for a ZooKeeper session, then elects", () => {
  assert.is(state(run()), "offline");
  const step = run(live());
  assert.is(state(step), "electing");
  assert.equal(spawned(step[1]), ["claimClient"]);
});

test("winning the client node activates: watch our node and the running node, discover the running server first", () => {
  const step = run(live(), won);
  assert.is(state(step), "discovering");
  assert.ok(step[0].hasTag("active"));
  assert.equal(spawned(step[1]).sort(), ["discover", "watchClient", "watchServer"]);
  assert.is(step[0].context.activations, 1);
});

test("connect → announce the local ip:port → subscribe (and roll back) → ready; the server is watched once known", () => {
  const connecting = run(live(), won, done(link("discovering"), { address: "127.0.0.1:11111" }));
  assert.is(state(connecting), "connecting");
  assert.is(connecting[0].context.server, "127.0.0.1:11111");
  const announcing = transition(clientMachine, connecting[0], done(link("connecting"), { connection: 1, local: "127.0.0.1:50123" })) as Step;
  assert.is(state(announcing), "announcing");
  assert.equal(spawned(announcing[1]), ["announce"]);
  assert.is(state(run(...consuming)), "ready");
});

test("another client's node: standby, watching; contend again as soon as it goes", () => {
  const standby = run(live(), heldBy("host-b", "s9", "10.0.0.9:50000"));
  assert.is(state(standby), "standby");
  assert.ok(standby[0].hasTag("standby"));
  assert.is(standby[0].context.holder, "10.0.0.9:50000");
  assert.equal(spawned(standby[1]), ["watchClient"]);
  const next = transition(clientMachine, standby[0], { type: "CLIENT.ABSENT" }) as Step;
  assert.is(state(next), "electing");
});

test("our own identity on a node of an old session at the first election: take it over, then elect", () => {
  const taking = run(live("s2"), heldBy("host-a", "s1"));
  assert.is(state(taking), "takingOver");
  assert.is(taking[0].context.staleVersion, 3);
  assert.equal(spawned(taking[1]), ["takeOver"]);
  const back = transition(clientMachine, taking[0], done("0.client.takingOver")) as Step;
  assert.is(state(back), "electing");
  assert.is(back[0].context.takeovers, 1);
});

test("a node with our identity after the first election is another process's: stand by, never steal it back", () => {
  // We were active; a restart elsewhere with the same identity took the node over.
  const lost = run(...consuming, { type: "CLIENT.HELD", address: "10.0.0.9:1", ours: false, active: true });
  assert.is(state(lost), "retrying");
  const again = run(...consuming, { type: "CLIENT.HELD", address: "10.0.0.9:1", ours: false, active: true }, after("RETRY_DELAY", "retrying"), heldBy("host-a", "s7"));
  assert.is(state(again), "standby");
});

test("a node held by one of our own past sessions is ours, even after the first election", () => {
  const step = run(live("s1"), won, { type: "ZK.GONE" }, live("s2"), heldBy("host-a", "s1"));
  assert.is(state(step), "takingOver");
});

test("a standby waits at most STANDBY_TIMEOUT when set: then it fails through release", () => {
  const step = run(live(), heldBy("host-b"), after("STANDBY_TIMEOUT", "standby"));
  assert.is(state(step), "failing");
  assert.equal(spawned(step[1]), ["release"]);
  assert.match(step[0].context.error!.message, /stood by longer than its standbyTimeoutMs while 10\.0\.0\.9:50000 held/);
  assert.is(state(transition(clientMachine, step[0], done("0.client.failing")) as Step), "failed");
});

test("a failed claim retries after RETRY_DELAY, from electing when the session is live", () => {
  const step = run(live(), failed("0.client.electing", new CanalConnectionError("zk timeout")));
  assert.is(state(step), "retrying");
  assert.is(state(transition(clientMachine, step[0], after("RETRY_DELAY", "retrying")) as Step), "electing");
});

test("pull → fetch; empty gets fetch again; a batch is delivered and waits for its ack", () => {
  const fetching = run(...consuming, { type: "PULL" });
  assert.is(state(fetching), "fetching");
  assert.equal(spawned(fetching[1]), ["fetch"]);
  const empty = transition(clientMachine, fetching[0], done(link("fetching"), { batchId: -1, empty: true })) as Step;
  assert.is(state(empty), "fetching");
  assert.equal(spawned(empty[1]), ["fetch"], "a new get");
  const delivered = transition(clientMachine, empty[0], done(link("fetching"), { batchId: 7, empty: false })) as Step;
  assert.is(state(delivered), "delivered");
  assert.ok(did(delivered[1], "deliverBatch"));
  assert.equal(delivered[0].context.batch, { batchId: 7, connection: 1 });
  assert.is(delivered[0].context.wanted, false);
});

test("ack of the outstanding batch acks, then the next pull fetches; a stale ack is ignored", () => {
  const delivered = run(...consuming, { type: "PULL" }, done(link("fetching"), { batchId: 7, empty: false }));
  const stale = transition(clientMachine, delivered[0], { type: "BATCH.ACK", batchId: 7, connection: 0 }) as Step;
  assert.is(state(stale), "delivered", "an ack naming another connection is not this batch's");
  const acking = transition(clientMachine, delivered[0], { type: "BATCH.ACK", batchId: 7, connection: 1 }) as Step;
  assert.is(state(acking), "acking");
  const ready = transition(clientMachine, acking[0], done(link("acking"))) as Step;
  assert.is(state(ready), "ready");
  assert.is(ready[0].context.batch, undefined);
  assert.is(state(transition(clientMachine, ready[0], { type: "PULL" }) as Step), "fetching");
});

test("a pull asked while acking is remembered and fetched right after", () => {
  const acking = run(...consuming, { type: "PULL" }, done(link("fetching"), { batchId: 7, empty: false }), { type: "BATCH.ACK", batchId: 7, connection: 1 }, { type: "PULL" });
  assert.is(state(transition(clientMachine, acking[0], done(link("acking"))) as Step), "fetching");
});

test("rollback of the outstanding batch", () => {
  const step = run(...consuming, { type: "PULL" }, done(link("fetching"), { batchId: 7, empty: false }), { type: "BATCH.ROLLBACK", batchId: 7, connection: 1 });
  assert.is(state(step), "rollingBack");
  assert.is(state(transition(clientMachine, step[0], done(link("rollingBack"))) as Step), "ready");
});

test("a lost connection: close it, forget the batch, back off, then discover the server again", () => {
  const delivered = run(...consuming, { type: "PULL" }, done(link("fetching"), { batchId: 7, empty: false }));
  const old = transition(clientMachine, delivered[0], { type: "CONNECTION.LOST", connection: 0, error: new CanalConnectionError("x") }) as Step;
  assert.is(state(old), "delivered", "a connection that is not the current one is ignored");
  const lost = transition(clientMachine, delivered[0], { type: "CONNECTION.LOST", connection: 1, error: new CanalConnectionError("reset") }) as Step;
  assert.is(state(lost), "reconnecting");
  assert.ok(did(lost[1], "closeConnection"));
  assert.is(lost[0].context.batch, undefined);
  assert.is(lost[0].context.connection, 0);
  assert.is(lost[0].context.attempt, 1);
  const again = transition(clientMachine, lost[0], after("RECONNECT_DELAY", "active.link.reconnecting")) as Step;
  assert.is(state(again), "discovering");
  // The stale batch's ack cannot reach acking on the next connection.
  const next = run(...consuming, { type: "PULL" }, done(link("fetching"), { batchId: 7, empty: false }), { type: "CONNECTION.LOST", connection: 1, error: new CanalConnectionError("reset") }, after("RECONNECT_DELAY", "active.link.reconnecting"), ...connectedAt(2).slice(0), { type: "BATCH.ACK", batchId: 7, connection: 1 });
  assert.is(state(next), "ready");
});

test("retriable failures back off with a growing attempt; success resets it", () => {
  const e = new CanalConnectionError("refused");
  const step = run(live(), won, failed(link("discovering"), e), after("RECONNECT_DELAY", "active.link.reconnecting"), failed(link("discovering"), e));
  assert.is(state(step), "reconnecting");
  assert.is(step[0].context.attempt, 2);
  assert.is(step[0].context.lastError, e);
  const ok = run(live(), won, failed(link("discovering"), e), after("RECONNECT_DELAY", "active.link.reconnecting"), ...connectedAt());
  assert.is(ok[0].context.attempt, 0);
});

test("a failure retrying cannot fix (bad credentials) releases the node and fails: no held node, no deadlock (A6)", () => {
  const err = new CanalAuthError("bad password");
  const step = run(live(), won, done(link("discovering"), { address: "127.0.0.1:11111" }), failed(link("connecting"), err));
  assert.is(state(step), "failing");
  assert.ok(did(step[1], "closeConnection"));
  assert.equal(spawned(step[1]), ["release"]);
  const end = transition(clientMachine, step[0], done("0.client.failing")) as Step;
  assert.is(state(end), "failed");
  assert.is(end[0].status, "done");
  assert.is(end[0].context.error, err);
});

test("the running node moving to another server reconnects at once; the same server is ignored", () => {
  const same = run(...consuming, { type: "SERVER.MOVED", address: "127.0.0.1:11111" });
  assert.is(state(same), "ready");
  const moved = run(...consuming, { type: "SERVER.MOVED", address: "127.0.0.1:22222" });
  assert.is(state(moved), "reconnecting");
  assert.is(moved[0].context.attempt, 1, "the first step of the backoff, the shortest");
});

test("discovering again forgets the last connection's server: the running node appearing meanwhile is what discovery waits for, not a move", () => {
  // Connected to :11111, the connection lost, back to discovering after the backoff.
  const rediscovering = run(...consuming, { type: "CONNECTION.LOST", connection: 1, error: new CanalConnectionError("reset") }, after("RECONNECT_DELAY", "active.link.reconnecting"));
  assert.is(state(rediscovering), "discovering");
  assert.is(rediscovering[0].context.server, undefined);
  const appeared = transition(clientMachine, rediscovering[0], { type: "SERVER.MOVED", address: "127.0.0.1:22222" }) as Step;
  assert.is(state(appeared), "discovering", "no detour through reconnecting and its backoff");
});

test("losing the client node while active stops consuming at once and elects again", () => {
  const step = run(...consuming, { type: "CLIENT.ABSENT" });
  assert.is(state(step), "retrying");
  assert.ok(did(step[1], "closeConnection"));
  assert.ok(!step[0].hasTag("active"));
});

test("our own node set active:false (a client switch): release it and elect again later", () => {
  const step = run(...consuming, { type: "CLIENT.HELD", address: "127.0.0.1:50123", ours: true, active: false });
  assert.is(state(step), "resigning");
  assert.equal(spawned(step[1]), ["release"]);
  const ours = run(...consuming, { type: "CLIENT.HELD", address: "127.0.0.1:50123", ours: true, active: true });
  assert.is(state(ours), "ready", "our own announce coming back through the watch changes nothing");
});

test("self-fencing: suspended past FENCE_AFTER stops consuming; the same session coming back in time does not", () => {
  const suspended = run(...consuming, { type: "ZK.SUSPENDED" });
  assert.ok(suspended[0].matches({ active: { lease: "suspended" } }));
  assert.is(state(suspended), "ready", "still consuming while the session may live");
  const back = transition(clientMachine, suspended[0], live("s1")) as Step;
  assert.ok(back[0].matches({ active: { lease: "held" } }));
  const fenced = transition(clientMachine, suspended[0], after("FENCE_AFTER", "active.lease.suspended")) as Step;
  assert.is(state(fenced), "offline");
  assert.ok(did(fenced[1], "closeConnection"));
  const newSession = transition(clientMachine, suspended[0], live("s2")) as Step;
  assert.is(state(newSession), "electing", "a new session means the old node is gone");
});

test("session gone: offline at once, then elect on the next session", () => {
  const step = run(...consuming, { type: "ZK.GONE" });
  assert.is(state(step), "offline");
  assert.ok(did(step[1], "closeConnection"));
  assert.equal(step[0].context.pastSessions, ["s1"]);
  assert.is(state(transition(clientMachine, step[0], live("s2")) as Step), "electing");
});

test("close from any state releases the node and ends; a second close changes nothing", () => {
  for (const events of [[], [live()], [live(), heldBy("host-b")], consuming]) {
    const step = run(...events, { type: "CLOSE" });
    assert.is(state(step), "closing");
    assert.equal(spawned(step[1]), ["release"]);
    const twice = transition(clientMachine, step[0], { type: "CLOSE" }) as Step;
    assert.is(state(twice), "closing");
    assert.is(state(transition(clientMachine, step[0], done("0.client.closing")) as Step), "closed");
  }
});

test.run();
