/**
 * Model-based walks of a machine with @xstate/graph: the events each state can take are read
 * from the machine itself (its transitions, the actors it invokes, its delays), with payloads
 * from a per-machine table of samples. The adjacency map (every reachable state × every event
 * it takes) gives the transitions covered, compared with every transition the chart draws, so a
 * transition added without a way to reach it fails; the shortest paths to every state are what
 * the invariant checks walk.
 */
import { adjacencyMapToArray, getAdjacencyMap, getShortestPaths } from "@xstate/graph";
import type { AnyEventObject, AnyMachineSnapshot, AnyStateMachine } from "xstate";
import { chartOf, edgeKey, transitionKey } from "../../src/charts/graph.js";

export interface ModelSpec {
  name: string;
  machine: AnyStateMachine;
  input?: unknown;
  /** Payloads per event type; an event type not listed is sent as `{ type }`. */
  samples: Record<string, AnyEventObject[]>;
  /** Outputs of an invoked actor's completion, by actor src; default one `undefined`. */
  outputs?: Record<string, unknown[]>;
  /** Errors an invoked actor fails with, by actor src; default one plain Error. */
  errors?: Record<string, unknown[]>;
  /** The part of the context that decides behaviour (counters left out, so walks end). */
  contextKey(context: Record<string, unknown>): unknown;
}

type StateNodeLike = AnyStateMachine["root"];

/** Every event the snapshot's active states react to, with sample payloads. */
export function eventsFor(spec: ModelSpec, snapshot: AnyMachineSnapshot): AnyEventObject[] {
  const nodes = (snapshot as unknown as { _nodes: StateNodeLike[] })._nodes;
  const events: AnyEventObject[] = [];
  const seen = new Set<string>();
  for (const node of nodes) {
    for (const type of node.transitions.keys()) {
      if (seen.has(type)) continue;
      seen.add(type);
      const settled = /^xstate\.(done|error)\.actor\.(.+)$/.exec(type);
      if (settled) {
        const src = node.invoke.find((i) => i.id === settled[2])?.src;
        const name = typeof src === "string" ? src : settled[2]!;
        if (settled[1] === "error") for (const error of spec.errors?.[name] ?? [new Error(`${name} failed`)]) events.push({ type, error });
        else for (const output of spec.outputs?.[name] ?? [undefined]) events.push({ type, output });
      } else events.push(...(spec.samples[type] ?? [{ type }]));
    }
  }
  return events;
}

function serialize(spec: ModelSpec, snapshot: AnyMachineSnapshot): string {
  return JSON.stringify([snapshot.value, spec.contextKey(snapshot.context as Record<string, unknown>), snapshot.status]);
}

export interface Walk {
  /** The shortest path to every reachable state. */
  paths: { steps: { event: AnyEventObject; state: AnyMachineSnapshot }[] }[];
  /** Transitions taken somewhere in the reachable graph, as chart keys. */
  covered: Set<string>;
  /** Every transition the chart draws. */
  all: string[];
}

export function walk(spec: ModelSpec): Walk {
  const options = {
    events: (s: AnyMachineSnapshot) => eventsFor(spec, s),
    serializeState: (s: AnyMachineSnapshot) => serialize(spec, s),
    input: spec.input,
  };
  const chart = chartOf(spec.name, spec.machine);
  const always = chart.edges.filter((e) => e.label.startsWith("always"));
  const covered = new Set<string>();
  for (const { state, event, nextState } of adjacencyMapToArray(getAdjacencyMap(spec.machine, options as never))) {
    const previous = state as AnyMachineSnapshot;
    for (const t of spec.machine.getTransitionData(previous as never, event as never)) {
      for (const target of (t.target ?? []) as StateNodeLike[]) covered.add(transitionKey(t as never, target));
    }
    // Eventless transitions fire in the same macrostep: seen as source before, target after.
    for (const edge of always) {
      if (previous.matches(pathValue(edge.from)) && (nextState as AnyMachineSnapshot).matches(pathValue(edge.to))) covered.add(edgeKey(edge));
    }
  }
  const paths = getShortestPaths(spec.machine, options as never) as unknown as Walk["paths"];
  return { paths, covered, all: chart.edges.map(edgeKey) };
}

/** "a.b.c" as a state value `{ a: { b: "c" } }`, for `snapshot.matches`. */
function pathValue(path: string): never {
  const keys = path.split(".");
  let value: unknown = keys.pop()!;
  while (keys.length > 0) value = { [keys.pop()!]: value };
  return value as never;
}
