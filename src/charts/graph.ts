/**
 * A machine as a chart: its state tree and its transitions with readable labels, read from the
 * machine definition itself (XState's StateNodes), so every chart format is drawn from the code
 * and can never drift from it. Pure.
 *
 * Labels: the event type as sent (`SESSION.LIVE`), a delay as `after FENCE_AFTER`, an invoked
 * actor's completion as `claimRunning done` / `claimRunning error`, an eventless one as
 * `always`; a guard follows in brackets (`[claimed]`). Transitions without a target (actions
 * only) are left out: they change no state.
 */
import type { AnyStateMachine } from "xstate";

export interface ChartState {
  /** Unique in the chart: the state's path joined with '.', "" for the root. */
  id: string;
  /** The state's own name. */
  key: string;
  type: "atomic" | "compound" | "parallel" | "final" | "history";
  /** The id of the initial child, for compound states. */
  initial: string | undefined;
  children: ChartState[];
  /** The actors this state invokes while it is active. */
  invokes: string[];
  tags: string[];
}

export interface ChartEdge {
  from: string;
  to: string;
  label: string;
}

export interface Chart {
  name: string;
  root: ChartState;
  edges: ChartEdge[];
}

type StateNodeLike = AnyStateMachine["root"];

export function chartOf(name: string, machine: AnyStateMachine): Chart {
  const edges: ChartEdge[] = [];
  const root = walk(machine.root, edges);
  return { name, root, edges };
}

/** Every state of the chart, depth first. */
export function allStates(state: ChartState): ChartState[] {
  return [state, ...state.children.flatMap(allStates)];
}

function walk(node: StateNodeLike, edges: ChartEdge[]): ChartState {
  const id = node.path.join(".");
  const invokes = node.invoke.map((i) => (typeof i.src === "string" ? i.src : "actor"));
  for (const [eventType, transitions] of node.transitions) {
    for (const t of transitions) {
      for (const target of t.target ?? []) {
        edges.push({ from: id, to: target.path.join("."), label: label(eventType, t.guard, node) });
      }
    }
  }
  for (const t of node.always ?? []) {
    for (const target of t.target ?? []) edges.push({ from: id, to: target.path.join("."), label: label("", t.guard, node) });
  }
  const children = Object.values(node.states).map((child) => walk(child as StateNodeLike, edges));
  const initial = node.type === "compound" ? node.initial?.target?.[0]?.path.join(".") : undefined;
  return { id, key: node.key, type: node.type, initial, children, invokes, tags: [...node.tags] };
}

/** The chart's key of one transition (as XState's TransitionDefinition has it): `from>to:label`. */
export function transitionKey(transition: { source: StateNodeLike; target?: readonly StateNodeLike[] | undefined; eventType: string; guard?: unknown }, target: StateNodeLike): string {
  return edgeKey({ from: transition.source.path.join("."), to: target.path.join("."), label: label(transition.eventType, transition.guard, transition.source) });
}

/** The same key for a chart edge. */
export function edgeKey(edge: ChartEdge): string {
  return `${edge.from}>${edge.to}:${edge.label}`;
}

function label(eventType: string, guard: unknown, node: StateNodeLike): string {
  const guardName = guardText(guard);
  return guardName === undefined ? eventText(eventType, node) : `${eventText(eventType, node)} [${guardName}]`;
}

function eventText(eventType: string, node: StateNodeLike): string {
  if (eventType === "") return "always";
  const after = /^xstate\.after\.([^.]+)\./.exec(eventType);
  if (after) return `after ${after[1]}`;
  const settled = /^xstate\.(done|error)\.actor\.(.+)$/.exec(eventType);
  if (settled) {
    const src = node.invoke.find((i) => i.id === settled[2])?.src;
    return `${typeof src === "string" ? src : settled[2]} ${settled[1]}`;
  }
  return eventType;
}

function guardText(guard: unknown): string | undefined {
  if (guard === undefined) return undefined;
  if (typeof guard === "string") return guard;
  const g = guard as { type?: string; guards?: unknown[]; name?: string };
  // Combinators (and, or, not) show their parts.
  if (Array.isArray(g.guards)) return g.guards.map(guardText).join(" & ");
  return g.type ?? g.name ?? "guard";
}
