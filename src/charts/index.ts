/**
 * Every machine of canal-ts, drawn from its definition in src/machines: as Stately code, the
 * XState JSON definition, Mermaid, Graphviz DOT, or SVG (DOT rendered by Graphviz's `dot`).
 *
 *   renderChart("instance", "mermaid")   // text
 */
import type { AnyStateMachine } from "xstate";
import { clientMachine } from "../machines/client.js";
import { instanceMachine } from "../machines/instance.js";
import { sessionMachine } from "../machines/session.js";
import { zkSessionMachine } from "../machines/zk-session.js";
import { toDot } from "./dot.js";
import { chartOf } from "./graph.js";
import { toMermaid } from "./mermaid.js";
import { toStately } from "./stately.js";

export { allStates, chartOf, type Chart, type ChartEdge, type ChartState } from "./graph.js";
export { toDot } from "./dot.js";
export { toMermaid } from "./mermaid.js";
export { toStately } from "./stately.js";

/** The machines by the name `canal-ts chart --machine` takes. */
export const MACHINES: Readonly<Record<string, AnyStateMachine>> = {
  instance: instanceMachine,
  "zk-session": zkSessionMachine,
  session: sessionMachine,
  client: clientMachine,
};

export const TEXT_FORMATS = ["stately", "json", "mermaid", "dot"] as const;
export type TextFormat = (typeof TEXT_FORMATS)[number];

/** File extension per format. */
export const EXTENSIONS: Readonly<Record<TextFormat | "svg", string>> = { stately: "ts", json: "json", mermaid: "mmd", dot: "dot", svg: "svg" };

export function renderChart(name: string, format: TextFormat): string {
  const machine = MACHINES[name];
  if (machine === undefined) throw new Error(`no machine named ${name}`);
  switch (format) {
    case "json":
      return `${JSON.stringify(machine.toJSON(), null, 2)}\n`;
    case "mermaid":
      return toMermaid(chartOf(name, machine));
    case "dot":
      return toDot(chartOf(name, machine));
    case "stately":
      return toStately(chartOf(name, machine));
  }
}
