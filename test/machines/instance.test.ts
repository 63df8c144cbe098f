/**
 * The instance machine as pure transitions: every scenario of canal-facts.md §4 that the machine
 * decides (contend at start, retake after a glitch, anti-flap wait, manual switch) and the
 * fencing rules we add, checked on the snapshots and on which actors each step would start.
 * Delays are fired by sending their `xstate.after…` events, so no test waits on a clock.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { initialTransition, transition, type AnyEventObject } from "xstate";
import { instanceMachine, instanceState, type ClaimResult, type InstanceEvent, type InstanceSnapshot } from "../../src/machines/instance.js";

type Action = { type: string; params?: unknown };
type Step = [InstanceSnapshot, Action[]];

const input = { destination: "example", address: "127.0.0.1:11111" };
const live = (sessionId = "s1"): InstanceEvent => ({ type: "SESSION.LIVE", sessionId });
const absent = (handover = false): InstanceEvent => ({ type: "RUNNING.ABSENT", handover });
const held = (address: string, more: { active?: boolean; ours?: boolean } = {}): InstanceEvent => ({
  type: "RUNNING.HELD",
  address,
  active: more.active ?? true,
  ours: more.ours ?? false,
});
const done = (actor: string, output?: unknown) => ({ type: `xstate.done.actor.${actor}`, output }) as unknown as InstanceEvent;
const failed = (actor: string, message: string) => ({ type: `xstate.error.actor.${actor}`, error: new Error(message) }) as unknown as InstanceEvent;
const after = (delay: string, state: string) => ({ type: `xstate.after.${delay}.instance.${state}` }) as unknown as InstanceEvent;
const claimed = (epoch = "0x1f"): InstanceEvent => done("0.instance.contending", { created: true, epoch } satisfies ClaimResult);
const lost = (address: string): InstanceEvent => done("0.instance.contending", { created: false, address } satisfies ClaimResult);

function run(...events: InstanceEvent[]): Step {
  let current = initialTransition(instanceMachine, input) as Step;
  for (const event of events) current = transition(instanceMachine, current[0], event) as Step;
  return current;
}
const state = (step: Step) => instanceState(step[0]);
const spawned = (actions: Action[]) => actions.filter((a) => a.type === "xstate.spawnChild").map((a) => (a.params as { src: string }).src);
const stoppedChildren = (actions: Action[]) => actions.filter((a) => a.type === "xstate.stopChild").length;
const serving = [live(), absent(), claimed(), { type: "SERVE.READY" } as InstanceEvent];

test("starts offline and stands by once the session is live, watching the running node", () => {
  assert.is(state(run()), "offline");
  const step = run(live());
  assert.is(state(step), "standby");
  assert.equal(spawned(step[1]), ["watchRunning"]);
});

test("contends at once on the first look when nobody runs the destination (Canal's start)", () => {
  const step = run(live(), absent());
  assert.is(state(step), "contending");
  assert.equal(spawned(step[1]), ["claimRunning"]);
});

test("a created running node makes it run: the serve actor starts, the epoch is kept, and only READY means serving", () => {
  const starting = run(live(), absent(), claimed("0x2a"));
  assert.is(state(starting), "starting");
  assert.equal(spawned(starting[1]).sort(), ["serve", "watchRunning"]);
  assert.is(starting[0].context.epoch, "0x2a");
  assert.is(starting[0].hasTag("serving"), false);
  const ready = run(...serving);
  assert.is(state(ready), "running");
  assert.ok(ready[0].hasTag("serving"));
  assert.is(ready[0].context.runs, 1);
});

test("losing the claim to another node stands by and remembers the owner", () => {
  const step = run(live(), absent(), lost("10.0.0.2:11111"));
  assert.is(state(step), "standby");
  assert.is(step[0].context.owner, "10.0.0.2:11111");
});

test("a standby waits contendDelay when the node goes away (anti-flap), and only then contends", () => {
  const waiting = run(live(), held("10.0.0.2:11111"), absent());
  assert.is(state(waiting), "standby");
  assert.ok(waiting[0].matches({ standby: "waiting" }));
  assert.is(state(run(live(), held("10.0.0.2:11111"), absent(), after("contendDelay", "standby.waiting"))), "contending");
});

test("a node reappearing during the wait cancels the contention", () => {
  const step = run(live(), held("a:1"), absent(), held("b:1"));
  assert.ok(step[0].matches({ standby: "watching" }));
  assert.is(step[0].context.owner, "b:1");
});

test("a handover (the owner said active:false) is remembered for the delay", () => {
  const step = run(live(), held("a:1"), held("a:1", { active: false }), absent(true));
  assert.ok(step[0].matches({ standby: "waiting" }));
  assert.is(step[0].context.handover, true);
});

test("the previous owner retakes at once after a glitch that cost its session (Canal §4.5)", () => {
  const fenced = run(...serving, { type: "SESSION.GONE" });
  assert.is(state(fenced), "fenced");
  assert.ok(stoppedChildren(fenced[1]) >= 1, "serve and the watch are stopped on the way out");
  const offline = transition(instanceMachine, fenced[0], done("0.instance.fenced")) as Step;
  assert.is(state(offline), "offline");
  const back = run(...serving, { type: "SESSION.GONE" }, done("0.instance.fenced"), live("s2"), absent());
  assert.is(state(back), "contending");
});

test("after fencing on a suspension the session survived, the node still held by our session is taken back, not waited on", () => {
  const fenced = run(...serving, { type: "SESSION.SUSPENDED" }, after("FENCE_AFTER", "active.suspended"), live("s1"));
  assert.is(state(fenced), "fenced");
  const standby = transition(instanceMachine, fenced[0], done("0.instance.fenced")) as Step;
  assert.is(state(standby), "standby");
  const next = transition(instanceMachine, standby[0], held("127.0.0.1:11111", { ours: true })) as Step;
  assert.is(state(next), "contending", "claimRunning finds the node is ours and runs again");
});

test("suspended: keeps serving, returns to serving when the same session reconnects", () => {
  const suspended = run(...serving, { type: "SESSION.SUSPENDED" });
  assert.ok(suspended[0].matches({ active: "suspended" }));
  assert.ok(suspended[0].hasTag("serving"));
  const back = run(...serving, { type: "SESSION.SUSPENDED" }, live("s1"));
  assert.ok(back[0].matches({ active: "serving" }));
});

test("self-fencing: suspended past FENCE_AFTER stops serving before the session can expire", () => {
  const step = run(...serving, { type: "SESSION.SUSPENDED" }, after("FENCE_AFTER", "active.suspended"));
  assert.is(state(step), "fenced");
  assert.is(step[0].hasTag("serving"), false);
  assert.is(step[0].context.fencings, 1);
  assert.match(step[0].context.lastReason ?? "", /unreachable/);
});

test("self-fencing: reconnecting with a NEW session fences (the old session's node is gone)", () => {
  const step = run(...serving, { type: "SESSION.SUSPENDED" }, live("s2"));
  assert.is(state(step), "fenced");
  assert.is(step[0].context.sessionId, "s2");
  assert.is(state(transition(instanceMachine, step[0], done("0.instance.fenced")) as Step), "standby");
});

test("self-fencing: the running node deleted or held by another stops serving at once", () => {
  assert.is(state(run(...serving, absent())), "fenced");
  assert.is(state(run(...serving, held("10.0.0.9:11111"))), "fenced");
  assert.is(state(run(live(), absent(), claimed(), absent())), "fenced", "even while starting");
});

test("a cursor write refused because a newer owner exists fences; a failed source releases", () => {
  assert.is(state(run(...serving, { type: "SERVE.FAILED", fenced: true, reason: "cursor fenced" })), "fenced");
  const failedSource = run(...serving, { type: "SERVE.FAILED", fenced: false, reason: "binlog gone" });
  assert.is(state(failedSource), "releasing");
  assert.is(failedSource[0].context.lastReason, "binlog gone");
});

test("manual switch: active:false written into OUR node releases, then the node stands by and waits like anyone else", () => {
  const releasing = run(...serving, held("127.0.0.1:11111", { active: false, ours: true }));
  assert.is(state(releasing), "releasing");
  assert.equal(spawned(releasing[1]), ["releaseRunning"]);
  const standby = transition(instanceMachine, releasing[0], done("0.instance.active.releasing")) as Step;
  assert.is(state(standby), "standby");
  assert.is(standby[0].context.ownedBefore, false);
  const next = transition(instanceMachine, standby[0], absent()) as Step;
  assert.ok(next[0].matches({ standby: "waiting" }), "a releaser does not retake at once");
});

test("our own active:false and delete seen while releasing change nothing", () => {
  const releasing = run(...serving, { type: "RELEASE" });
  for (const event of [held("127.0.0.1:11111", { active: false, ours: true }), absent(true)]) {
    assert.is(state(transition(instanceMachine, releasing[0], event) as Step), "releasing");
  }
});

test("STOP while running hands over, then ends; STOP elsewhere ends at once", () => {
  const releasing = run(...serving, { type: "STOP" });
  assert.is(state(releasing), "releasing");
  assert.is(releasing[0].status, "active");
  const stopped = transition(instanceMachine, releasing[0], done("0.instance.active.releasing")) as Step;
  assert.is(stopped[0].status, "done");
  const fromStandby = run(live(), held("a:1"), { type: "STOP" });
  assert.is(fromStandby[0].status, "done");
});

test("STOP arriving during a release still ends the instance after it", () => {
  const releasing = run(...serving, { type: "RELEASE" }, { type: "STOP" });
  assert.is(state(releasing), "releasing");
  assert.is((transition(instanceMachine, releasing[0], done("0.instance.active.releasing")) as Step)[0].status, "done");
});

test("a failed release fences (the node may still exist: do not serve)", () => {
  const step = run(...serving, { type: "RELEASE" }, failed("0.instance.active.releasing", "connection loss"));
  assert.is(state(step), "fenced");
  assert.match(step[0].context.lastReason ?? "", /release failed: connection loss/);
});

test("a failed claim retries after RETRY_DELAY, from a live session only", () => {
  const retrying = run(live(), absent(), failed("0.instance.contending", "timeout"));
  assert.is(state(retrying), "retrying");
  assert.is(state(transition(instanceMachine, retrying[0], after("RETRY_DELAY", "retrying")) as Step), "standby");
  const gone = run(live(), absent(), failed("0.instance.contending", "timeout"), { type: "SESSION.GONE" }, after("RETRY_DELAY", "retrying"));
  assert.is(state(gone), "offline");
});

test("no transition out of standby to contending without a live session", () => {
  const step = run(live(), held("a:1"), absent(), { type: "SESSION.SUSPENDED" }, after("contendDelay", "standby.waiting"));
  assert.ok(step[0].matches({ standby: "waiting" }));
});

test.run();
