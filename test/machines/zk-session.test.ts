/**
 * The node's ZooKeeper session machine as pure transitions: a session is made by the `session`
 * actor, suspended on disconnect, lost on expiry or after a whole session timeout without a
 * server (a client cut off never hears of its expiry), and then replaced by a new one.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { initialTransition, transition } from "xstate";
import { sessionView, zkSessionMachine, type ZkSessionEvent, type ZkSessionSnapshot } from "../../src/machines/zk-session.js";

type Action = { type: string; params?: unknown };
type Step = [ZkSessionSnapshot, Action[]];

function run(...events: ZkSessionEvent[]): Step {
  let current = initialTransition(zkSessionMachine) as Step;
  for (const event of events) current = transition(zkSessionMachine, current[0], event) as Step;
  return current;
}
const after = (delay: string, state: string) => ({ type: `xstate.after.${delay}.zkSession.${state}` }) as unknown as ZkSessionEvent;
const spawned = (actions: Action[]) => actions.filter((a) => a.type === "xstate.spawnChild").map((a) => a.params as { src: string; input: unknown });
const connected = (sessionId = "a1"): ZkSessionEvent => ({ type: "CONNECTED", sessionId });

test("starts a session actor (attempt 1) and is not live until connected", () => {
  const [snapshot, actions] = run();
  assert.equal(spawned(actions).map((s) => [s.src, s.input]), [["session", 1]]);
  assert.equal(sessionView(snapshot), { state: "gone" });
  assert.equal(sessionView(run(connected())[0]), { state: "live", sessionId: "a1" });
});

test("a disconnect suspends the same session; a reconnect makes it live again", () => {
  assert.equal(sessionView(run(connected(), { type: "DISCONNECTED" })[0]), { state: "suspended", sessionId: "a1" });
  assert.equal(sessionView(run(connected(), { type: "DISCONNECTED" }, connected("a1"))[0]), { state: "live", sessionId: "a1" });
});

test("expiry loses the session, and a new one (a new actor, attempt 2) follows after RECONNECT_DELAY", () => {
  const expired = run(connected(), { type: "EXPIRED" });
  assert.equal(sessionView(expired[0]), { state: "gone" });
  assert.is(expired[0].context.lost, 1);
  assert.ok(expired[1].some((a) => a.type === "xstate.stopChild"), "the old client is closed");
  const again = transition(zkSessionMachine, expired[0], after("RECONNECT_DELAY", "expired")) as Step;
  assert.equal(spawned(again[1]).map((s) => s.input), [2]);
});

test("suspended for a whole session timeout counts as lost, whatever the servers decided", () => {
  const step = run(connected(), { type: "DISCONNECTED" }, after("SESSION_TIMEOUT", "live.suspended"));
  assert.ok(step[0].matches("expired"));
  assert.match(step[0].context.lastLoss ?? "", /within the session timeout/);
});

test("a session that never connects is abandoned after CONNECT_TIMEOUT; a failed client likewise", () => {
  assert.ok(run(after("CONNECT_TIMEOUT", "live.connecting"))[0].matches("expired"));
  const failed = run({ type: "FAILED", reason: "bad connect string" });
  assert.ok(failed[0].matches("expired"));
  assert.is(failed[0].context.lastLoss, "bad connect string");
});

test("CLOSE ends it from anywhere", () => {
  for (const events of [[], [connected()], [connected(), { type: "DISCONNECTED" }], [connected(), { type: "EXPIRED" }]] as ZkSessionEvent[][]) {
    assert.is(run(...events, { type: "CLOSE" })[0].status, "done");
  }
});

test.run();
