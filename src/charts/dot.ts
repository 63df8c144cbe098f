/**
 * A chart as Graphviz DOT, for the SVG images (`dot -Tsvg`, Debian's `graphviz`). Compound and
 * parallel states are clusters; a transition from or to a compound state is drawn from or to
 * its border (an invisible anchor inside, with ltail/lhead); a black dot marks each initial
 * state; final states have a double border. Deterministic: the same machine, the same text.
 */
import type { Chart, ChartState } from "./graph.js";

export function toDot(chart: Chart): string {
  const lines = [
    `digraph "${chart.name}" {`,
    `  // generated from src/machines by \`canal-ts chart\`; do not edit`,
    `  graph [compound=true, rankdir=TB, fontname="Helvetica", fontsize=11, nodesep=0.35, ranksep=0.45];`,
    `  node [shape=box, style="rounded", fontname="Helvetica", fontsize=11];`,
    `  edge [fontname="Helvetica", fontsize=9, color="#555555"];`,
  ];
  const compound = new Set<string>();
  const anyState = chart.edges.some((e) => e.from === "");
  if (anyState) lines.push(`  "${ANY}" [label="any state", shape=plaintext];`);
  body(chart.root, 1, lines, compound);
  for (const edge of chart.edges) {
    const from = edge.from === "" ? ANY : compound.has(edge.from) ? anchor(edge.from) : edge.from;
    const to = compound.has(edge.to) ? anchor(edge.to) : edge.to;
    const attrs = [`label="${escape(edge.label)}"`];
    // From a compound state's border, unless the target is inside it (Graphviz cannot clip that).
    if (compound.has(edge.from) && !edge.to.startsWith(`${edge.from}.`)) attrs.push(`ltail="${cluster(edge.from)}"`);
    if (compound.has(edge.to)) attrs.push(`lhead="${cluster(edge.to)}"`);
    lines.push(`  "${from}" -> "${to}" [${attrs.join(", ")}];`);
  }
  lines.push("}");
  return `${lines.join("\n")}\n`;
}

const ANY = "(any)";
const anchor = (id: string) => `${id}#`;
const initialDot = (id: string) => `${id}#initial`;
const cluster = (id: string) => `cluster_${id === "" ? "root" : id}`;
const escape = (text: string) => text.replace(/\\/g, "\\\\").replace(/"/g, '\\"');

function body(state: ChartState, depth: number, lines: string[], compound: Set<string>): void {
  const pad = "  ".repeat(depth);
  if (state.initial !== undefined) {
    const initial = state.children.find((c) => c.id === state.initial);
    // An initial state that is compound is entered at its border (its anchor), like any transition.
    const into = initial !== undefined && initial.children.length > 0 ? `"${anchor(initial.id)}" [lhead="${cluster(initial.id)}"]` : `"${state.initial}"`;
    lines.push(`${pad}"${initialDot(state.id)}" [shape=point, width=0.12, label=""];`);
    lines.push(`${pad}"${initialDot(state.id)}" -> ${into};`);
  }
  for (const child of state.children) {
    if (child.children.length > 0) {
      compound.add(child.id);
      lines.push(`${pad}subgraph "${cluster(child.id)}" {`);
      lines.push(`${pad}  label="${title(child)}"; style="rounded${child.type === "parallel" ? ",dashed" : ""}"; color="#888888";`);
      lines.push(`${pad}  "${anchor(child.id)}" [shape=point, style=invis, width=0.01, label=""];`);
      body(child, depth + 1, lines, compound);
      lines.push(`${pad}}`);
    } else {
      const attrs = [`label="${title(child)}"`];
      if (child.type === "final") attrs.push("peripheries=2");
      lines.push(`${pad}"${child.id}" [${attrs.join(", ")}];`);
    }
  }
}

/** The state's name, its tags, and what it invokes, one per line (DOT-escaped). */
function title(state: ChartState): string {
  const parts = [state.key];
  if (state.tags.length > 0) parts.push(`«${state.tags.join(", ")}»`);
  if (state.invokes.length > 0) parts.push(`invokes ${state.invokes.join(", ")}`);
  return parts.map(escape).join("\\n");
}
