/**
 * The charts are drawn from the machines: every transition of every machine appears in them,
 * the Stately code builds a machine with the same states, and the images under docs/charts (shown
 * in the README) are exactly what the code draws today — a machine changed without
 * `npm run charts` fails here.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createMachine, type AnyStateMachine } from "xstate";
import { allStates, chartOf, MACHINES, renderChart, toMermaid } from "../../src/charts/index.js";
import { renderSvg } from "../../src/cli/chart.js";

const docs = new URL("../../docs/charts/", import.meta.url).pathname;
const hasDot = spawnSync("dot", ["-V"]).status === 0;

test("every transition with a target is in the chart, labelled with its event and guard", () => {
  const chart = chartOf("instance", MACHINES["instance"]!);
  const labels = chart.edges.map((e) => `${e.from} -> ${e.to}: ${e.label}`);
  for (const expected of [
    "offline -> standby: SESSION.LIVE",
    "contending -> active: claimRunning done [claimed]",
    "active.suspended -> fenced: after FENCE_AFTER",
    "standby.watching -> contending: RUNNING.ABSENT [retakeAtOnce & sessionLive]",
    " -> stopped: STOP",
  ]) {
    assert.ok(labels.includes(expected), `missing ${expected} in ${labels.join("\n")}`);
  }
  for (const [name, machine] of Object.entries(MACHINES)) {
    const mermaid = toMermaid(chartOf(name, machine));
    for (const edge of chartOf(name, machine).edges) assert.ok(mermaid.includes(`: ${edge.label}`), `${name}: ${edge.label} drawn`);
  }
});

test("the Stately code builds a machine with the same states and transitions", () => {
  for (const [name, machine] of Object.entries(MACHINES)) {
    const code = renderChart(name, "stately");
    const json = code.slice(code.indexOf("createMachine(") + "createMachine(".length, code.lastIndexOf(");"));
    const rebuilt = createMachine(JSON.parse(json)) as AnyStateMachine;
    const ids = (m: AnyStateMachine) => allStates(chartOf(name, m).root).map((s) => s.id).sort();
    assert.equal(ids(rebuilt), ids(machine), `${name}: states`);
    const edges = (m: AnyStateMachine) => chartOf(name, m).edges.map((e) => `${e.from}>${e.to}:${e.label}`).sort();
    assert.equal(edges(rebuilt), edges(machine), `${name}: transitions`);
  }
});

test("docs/charts holds what the machines draw today (run `npm run charts` after changing a machine)", () => {
  for (const name of Object.keys(MACHINES)) {
    const dot = renderChart(name, "dot");
    assert.is(readFileSync(`${docs}${name}.dot`, "utf8"), dot, `docs/charts/${name}.dot is stale`);
    if (hasDot) assert.is(readFileSync(`${docs}${name}.svg`, "utf8"), renderSvg(dot), `docs/charts/${name}.svg is stale`);
  }
});

test.run();
