/**
 * A chart as code Stately's editor imports: `createMachine({...})` with the machine's states,
 * transitions, guards, delays and invoked actors by name (Stately imports code, not JSON).
 * Implementations stay out: they live in src/actors and are provided at run time.
 */
import type { Chart, ChartState } from "./graph.js";

interface StatelyConfig {
  id?: string;
  type?: "parallel" | "final";
  initial?: string;
  tags?: string[];
  invoke?: { src: string; onDone?: StatelyTransition[]; onError?: StatelyTransition[] }[];
  on?: Record<string, StatelyTransition[]>;
  after?: Record<string, StatelyTransition[]>;
  always?: StatelyTransition[];
  states?: Record<string, StatelyConfig>;
}
interface StatelyTransition {
  target: string;
  guard?: string;
}

export function toStately(chart: Chart): string {
  const config = configOf(chart.root, chart);
  config.id = chart.name;
  return [
    `// ${chart.name}: generated from src/machines by \`canal-ts chart --format stately\`; paste into Stately's "Import code".`,
    `import { createMachine } from "xstate";`,
    ``,
    `export const machine = createMachine(${JSON.stringify(config, null, 2)});`,
    ``,
  ].join("\n");
}

function configOf(state: ChartState, chart: Chart): StatelyConfig {
  const config: StatelyConfig = {};
  if (state.type === "parallel" || state.type === "final") config.type = state.type;
  if (state.initial !== undefined) config.initial = state.initial.split(".").pop()!;
  if (state.tags.length > 0) config.tags = state.tags;
  if (state.invokes.length > 0) config.invoke = state.invokes.map((src) => ({ src }));
  for (const edge of chart.edges.filter((e) => e.from === state.id)) {
    const [, event, guard] = /^(.*?)(?: \[(.*)\])?$/.exec(edge.label)!;
    const transition: StatelyTransition = { target: `#${chart.name}.${edge.to}` };
    if (guard !== undefined) transition.guard = guard;
    const after = /^after (.+)$/.exec(event!);
    const settled = /^(\S+) (done|error)$/.exec(event!);
    const invoke = settled ? config.invoke?.find((i) => i.src === settled[1]) : undefined;
    if (after) (config.after ??= {})[after[1]!] = [...(config.after[after[1]!] ?? []), transition];
    else if (event === "always") config.always = [...(config.always ?? []), transition];
    else if (invoke && settled![2] === "done") invoke.onDone = [...(invoke.onDone ?? []), transition];
    else if (invoke) invoke.onError = [...(invoke.onError ?? []), transition];
    else (config.on ??= {})[event!] = [...(config.on[event!] ?? []), transition];
  }
  if (state.children.length > 0) config.states = Object.fromEntries(state.children.map((c) => [c.key, configOf(c, chart)]));
  return config;
}
