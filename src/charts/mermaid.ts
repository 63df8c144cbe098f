/**
 * A chart as Mermaid `stateDiagram-v2` text: GitHub and most docs tools draw it as an image.
 * Nested states become composite states; parallel regions are separated by `--`; transitions
 * that leave from the machine itself (any state) start at a pseudo-state "any state".
 */
import { allStates, type Chart, type ChartState } from "./graph.js";

const ANY = "any_state";

export function toMermaid(chart: Chart): string {
  const lines = ["stateDiagram-v2", `  %% ${chart.name}: generated from src/machines by \`canal-ts chart\`; do not edit`];
  const byParent = new Map<string, string[]>();
  for (const edge of chart.edges) {
    const parent = edge.from === "" ? "" : (parentOf(chart.root, edge.from) ?? "");
    const from = edge.from === "" ? ANY : nodeId(edge.from);
    const line = `${from} --> ${nodeId(edge.to)}: ${edge.label}`;
    byParent.set(parent, [...(byParent.get(parent) ?? []), line]);
  }
  if (chart.edges.some((e) => e.from === "")) lines.push(`  state "any state" as ${ANY}`);
  block(chart.root, 1, lines, byParent);
  return `${lines.join("\n")}\n`;
}

function block(state: ChartState, depth: number, lines: string[], byParent: Map<string, string[]>): void {
  const pad = "  ".repeat(depth);
  const regions = state.type === "parallel" ? state.children.map((c) => [c]) : [state.children];
  regions.forEach((children, i) => {
    if (i > 0) lines.push(`${pad}--`);
    if (state.type === "parallel") {
      // A region is drawn as its own composite state inside the parallel one.
      const region = children[0]!;
      lines.push(`${pad}state ${nodeId(region.id)} {`);
      inner(region, depth + 1, lines, byParent);
      lines.push(`${pad}}`);
    } else if (i === 0) inner(state, depth, lines, byParent);
  });
  // Transitions out of the regions themselves belong to the parallel state.
  if (state.type === "parallel") for (const line of byParent.get(state.id) ?? []) lines.push(`${pad}${line}`);
}

function inner(state: ChartState, depth: number, lines: string[], byParent: Map<string, string[]>): void {
  const pad = "  ".repeat(depth);
  if (state.initial !== undefined) lines.push(`${pad}[*] --> ${nodeId(state.initial)}`);
  for (const child of state.children) {
    if (child.children.length > 0) {
      // Mermaid refuses a description on a composite state ("state \"…\" as id {"): id only.
      lines.push(`${pad}state ${nodeId(child.id)} {`);
      block(child, depth + 1, lines, byParent);
      lines.push(`${pad}}`);
    } else {
      lines.push(`${pad}state "${title(child)}" as ${nodeId(child.id)}`);
    }
    if (child.type === "final") lines.push(`${pad}${nodeId(child.id)} --> [*]`);
  }
  for (const line of byParent.get(state.id) ?? []) lines.push(`${pad}${line}`);
}

/** The state's name, and what it invokes (the effects run while in it). */
function title(state: ChartState): string {
  return state.invokes.length === 0 ? state.key : `${state.key} (${state.invokes.join(", ")})`;
}

function nodeId(id: string): string {
  return id.replace(/\./g, "__");
}

function parentOf(root: ChartState, id: string): string | undefined {
  return allStates(root).find((s) => s.children.some((c) => c.id === id))?.id;
}
