/** The balance decision (src/actors/cluster/balance.ts) on cluster views: pure. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { destinationToRelease, type ClusterView } from "../../src/actors/cluster/balance.js";

const view = (running: Record<string, string>, candidates: Record<string, string[]>): ClusterView => ({
  running: new Map(Object.entries(running)),
  candidates: new Map(Object.entries(candidates)),
});
const all = (...names: string[]) => Object.fromEntries(names.map((d) => [d, ["a:1", "b:1", "c:1"]]));

test("a node running everything releases one when an idle node can take it", () => {
  const v = view({ d1: "a:1", d2: "a:1", d3: "a:1" }, all("d1", "d2", "d3"));
  assert.ok(["d1", "d2", "d3"].includes(destinationToRelease("a:1", v)!));
  assert.is(destinationToRelease("b:1", v), undefined, "a node running nothing releases nothing");
});

test("a difference of one is balanced enough: moving would only swap the roles", () => {
  const two = (...names: string[]) => Object.fromEntries(names.map((d) => [d, ["a:1", "b:1"]]));
  assert.is(destinationToRelease("a:1", view({ d1: "a:1", d2: "a:1", d3: "b:1" }, two("d1", "d2", "d3"))), undefined);
  assert.ok(destinationToRelease("a:1", view({ d1: "a:1", d2: "a:1", d3: "b:1" }, all("d1", "d2", "d3"))), "but c, running none, should get one");
});

test("only a destination another node is registered for is released (no flapping back to ourselves)", () => {
  const v = view({ d1: "a:1", d2: "a:1", d3: "a:1" }, { d1: ["a:1"], d2: ["a:1"], d3: ["a:1", "b:1"] });
  assert.is(destinationToRelease("a:1", v), "d3");
  assert.is(destinationToRelease("a:1", view({ d1: "a:1", d2: "a:1" }, { d1: ["a:1"], d2: ["a:1"] })), undefined);
});

test("nodes running other destinations count: the lightest candidate decides", () => {
  const v = view({ d1: "a:1", d2: "a:1", d3: "a:1", d4: "a:1", d5: "b:1", d6: "b:1" }, { d1: ["a:1", "b:1"], d2: ["a:1", "c:1"], d3: ["a:1"], d4: ["a:1"], d5: ["b:1"], d6: ["b:1"] });
  assert.is(destinationToRelease("a:1", v), "d2", "c runs nothing, b runs two");
});

test("a destination goes to its preferred node once that node is registered, and stays there", () => {
  const prefer = new Map([["d1", "b:1"]]);
  assert.is(destinationToRelease("a:1", view({ d1: "a:1" }, { d1: ["a:1", "b:1"] }), prefer), "d1");
  assert.is(destinationToRelease("a:1", view({ d1: "a:1" }, { d1: ["a:1"] }), prefer), undefined, "not while the preferred node is away");
  const home = view({ d1: "b:1", d2: "b:1", d3: "b:1" }, all("d1", "d2", "d3"));
  assert.ok(destinationToRelease("b:1", home, prefer) !== "d1", "balance never moves a destination off its preferred node");
  assert.is(destinationToRelease("b:1", view({ d1: "b:1", d2: "b:1" }, { d1: ["a:1", "b:1"], d2: ["b:1"] }), prefer), undefined);
});

test.run();
