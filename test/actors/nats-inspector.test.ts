/**
 * The Inspector without NATS: which XState snapshots become transition documents, what they
 * hold, and the bounded ring that drops its oldest and counts.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { assign, createActor, fromCallback, setup } from "xstate";
import { Inspector, stateString } from "../../src/actors/nats/inspector.js";
import { inspectSubject, inspectFilter } from "../../src/actors/nats/subjects.js";
import { formatTransition, shortEvent } from "../../src/cli/inspect.js";
import { CanalConfigError } from "../../src/errors.js";

const machine = setup({
  types: { context: {} as { owner: string | undefined; noise: number }, events: {} as { type: "GO" } | { type: "OWNER"; owner: string } | { type: "NOISE" } },
  actors: { child: fromCallback(() => () => undefined) },
}).createMachine({
  id: "m",
  context: { owner: undefined, noise: 0 },
  initial: "idle",
  on: { OWNER: { actions: assign({ owner: ({ event }) => event.owner }) }, NOISE: { actions: assign({ noise: ({ context }) => context.noise + 1 }) } },
  states: {
    idle: { on: { GO: "busy" } },
    busy: { invoke: { src: "child" }, initial: "a", states: { a: {} } },
  },
});

test("a transition, a change of a watched field, not a change of other context or a child actor's snapshot", () => {
  const inspector = new Inspector({ node: "n1" });
  const actor = createActor(machine, { inspect: inspector.observe<{ owner: string | undefined }>({ actor: "instance", destination: "d1", fields: (c) => ({ owner: c.owner ?? null }) }) });
  actor.start();
  actor.send({ type: "NOISE" });
  actor.send({ type: "GO" });
  actor.send({ type: "OWNER", owner: "10.0.0.1:11111" });
  actor.send({ type: "NOISE" });
  const docs = inspector.take(100);
  assert.equal(
    docs.map((d) => [d.from, d.to, d.event, d.fields["owner"]]),
    [
      [null, "idle", "xstate.init", null],
      ["idle", "busy.a", "GO", null],
      ["busy.a", "busy.a", "OWNER", "10.0.0.1:11111"],
    ],
  );
  assert.equal(docs.map((d) => d.seq), [1, 2, 3]);
  assert.ok(docs.every((d) => d.node === "n1" && d.destination === "d1" && d.actor === "instance" && d.boot === inspector.boot && d.v === 1));
  assert.ok(!Number.isNaN(Date.parse(docs[0]!.time)));
  assert.is(inspector.queued, 0);
});

test("a full ring drops its oldest documents and counts them; seq keeps counting", () => {
  const inspector = new Inspector({ node: "n", queueLimit: 3 });
  for (let i = 0; i < 5; i++) inspector.record({ destination: "", actor: "source", from: null, to: `s${i}`, event: "e", fields: {} });
  assert.is(inspector.dropped, 2);
  assert.is(inspector.recorded, 5);
  const docs = inspector.take(10);
  assert.equal(docs.map((d) => [d.seq, d.to, d.destination]), [[3, "s2", "_"], [4, "s3", "_"], [5, "s4", "_"]]);
  assert.throws(() => new Inspector({ node: "n", queueLimit: 0 }), (err: unknown) => err instanceof CanalConfigError && /queueLimit 0: expected an integer ≥ 1/.test(err.message));
});

test("state strings, subjects, and the inspect line", () => {
  assert.is(stateString("idle"), "idle");
  assert.is(stateString({ active: "serving" }), "active.serving");
  assert.is(stateString({ open: { authenticated: { subscription: "subscribed", request: "idle" } } }), "open.authenticated.(subscription.subscribed,request.idle)");
  assert.is(inspectSubject("a", "_", "zk-session"), "canal.inspect.a._.zk-session");
  assert.is(inspectFilter(undefined, "seq"), "canal.inspect.*.seq.*");
  assert.is(shortEvent("xstate.after.contendDelay.instance.standby.waiting"), "after contendDelay");
  assert.is(shortEvent("xstate.done.actor.0.instance.contending"), "done instance.contending");
  const line = formatTransition(
    { v: 1, node: "b", boot: "x", seq: 9, time: "2025-01-02T03:04:05.678Z", destination: "seq", actor: "instance", from: "contending", to: "active.starting", event: "xstate.done.actor.0.instance.contending", fields: { owner: "h:1", epoch: "0x25", reason: null } },
    false,
  );
  assert.is(line, "03:04:05.678 b/seq instance contending → active.starting on done instance.contending owner=h:1 epoch=0x25");
  assert.ok(formatTransition({ v: 1, node: "b", boot: "x", seq: 1, time: "2025-01-02T03:04:05.678Z", destination: "_", actor: "zk-session", from: null, to: "expired", event: "EXPIRED", fields: {} }, true).includes("\x1b[31mexpired"));
});

test.run();
