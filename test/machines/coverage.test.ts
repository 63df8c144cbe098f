/**
 * Transition coverage of every machine: the model-based walks (test/machines/model.ts) take
 * every transition the charts draw, at least once, and each machine's invariants hold on every
 * step. Fails when a transition is added without a path through it.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { walk } from "./model.js";
import { specOf, specs } from "./specs.js";

for (const spec of specs) {
  test(`${spec.name}: the model walks take every transition of the chart`, () => {
    const { paths, covered, all } = walk(spec);
    assert.ok(paths.length > 0);
    const missing = all.filter((t) => !covered.has(t));
    assert.equal(missing, [], `${spec.name}: transitions no path takes:\n${missing.join("\n")}`);
  });
}

test("instance invariants on the shortest path to every state: serving only as the owner with an epoch and a session, contending only from a live session", () => {
  const { paths } = walk(specOf("instance"));
  for (const path of paths) {
    let previous: (typeof path.steps)[number]["state"] | undefined;
    for (const { event, state } of path.steps) {
      const where = `${path.steps.map((s) => s.event.type).join(" → ")} (at ${event.type})`;
      if (state.hasTag("serving")) {
        assert.ok(state.hasTag("owner"), `serving without owning the running node: ${where}`);
        assert.is.not(state.context.session, "gone", `serving with no session: ${where}`);
        assert.ok(state.context.epoch !== undefined, `serving without an epoch: ${where}`);
      }
      // Contending starts only from a live session (it may be suspended while it runs).
      if (state.matches("contending") && !previous?.matches("contending")) assert.is(state.context.session, "live", `contending without a live session: ${where}`);
      previous = state;
    }
  }
});

test.run();
