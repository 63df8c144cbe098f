/**
 * Model-based walks of a machine with @xstate/graph: the events each state can take are read
 * from the machine itself (its transitions, the actors it invokes, its delays), with payloads
 * from a per-machine table of samples. The adjacency map (every reachable state × every event
 * it takes) gives the transitions covered, compared with every transition the chart draws, so a
 * transition added without a way to reach it fails; the shortest paths to every state are what
 * the invariant checks walk.
 */
import { adjacencyMapToArray, getAdjacencyMap, getShortestPaths } from "@xstate/graph";
import { createActor, type AnyEventObject, type AnyMachineSnapshot, type AnyStateMachine } from "xstate";
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
  const options = traversal(spec, () => true);
  const covered = new Set<string>();
  const takes = transitionsTaken(spec);
  for (const { state, event, nextState } of adjacencyMapToArray(getAdjacencyMap(spec.machine, options as never))) {
    for (const key of takes(state as AnyMachineSnapshot, event, nextState as AnyMachineSnapshot)) covered.add(key);
  }
  const paths = getShortestPaths(spec.machine, options as never) as unknown as Walk["paths"];
  return { paths, covered, all: chartOf(spec.name, spec.machine).edges.map(edgeKey) };
}

function traversal(spec: ModelSpec, allowed: (snapshot: AnyMachineSnapshot, event: AnyEventObject) => boolean) {
  return {
    events: (s: AnyMachineSnapshot) => eventsFor(spec, s).filter((e) => allowed(s, e)),
    serializeState: (s: AnyMachineSnapshot) => serialize(spec, s),
    input: spec.input,
  };
}

/** The chart transitions (as keys) that one step from `previous` on `event` into `next` takes. */
function transitionsTaken(spec: ModelSpec): (previous: AnyMachineSnapshot, event: AnyEventObject, next: AnyMachineSnapshot) => string[] {
  const always = chartOf(spec.name, spec.machine).edges.filter((e) => e.label.startsWith("always"));
  return (previous, event, next) => {
    const keys: string[] = [];
    const targets: string[] = [];
    for (const t of spec.machine.getTransitionData(previous as never, event as never)) {
      for (const target of (t.target ?? []) as StateNodeLike[]) {
        keys.push(transitionKey(t as never, target));
        targets.push(target.path.join("."));
      }
    }
    // Eventless transitions fire in the same macrostep, from where the event's own transitions
    // left the machine: inside their source (entered through a target, or never left), and out
    // at their target. An event that goes straight to the same place does not take them.
    const related = (a: string, b: string) => a === b || a.startsWith(`${b}.`) || b.startsWith(`${a}.`);
    for (const edge of always) {
      const landed = targets.length === 0 ? previous.matches(pathValue(edge.from)) : targets.some((t) => related(t, edge.from));
      if (landed && next.matches(pathValue(edge.to))) keys.push(edgeKey(edge));
    }
    return keys;
  };
}

/** One step of a walk; `world` is the world around the machine after it (see Environment), absent without one. */
export type Step<W = undefined> = {
  event: AnyEventObject;
  /** The model's state after the event. */
  state: AnyMachineSnapshot;
  /** Chart transitions this step takes for the first time in the walks. */
  takes: string[];
} & (W extends undefined ? { world?: W } : { world: W });

/**
 * What the machine's surroundings are in a replay against real servers, where some events are
 * not chosen but happen (a watch reports what ZooKeeper holds): the walks go through model
 * state × world, and only take the events the world allows there.
 */
export interface Environment<W> {
  initial: W;
  key(world: W): string;
  /** Whether `event` can be made to happen for real (or will happen by itself) in this state and world. */
  allowed(snapshot: AnyMachineSnapshot, event: AnyEventObject, world: W): boolean;
  /** The world after the machine took `event` from `before` to `after`. */
  next(world: W, event: AnyEventObject, before: AnyMachineSnapshot, after: AnyMachineSnapshot): W;
}

/** An environment that only filters events by the model's state. */
export function eventFilter(allowed: (snapshot: AnyMachineSnapshot, event: AnyEventObject) => boolean): Environment<undefined> {
  return { initial: undefined, key: () => "", allowed: (s, e) => allowed(s, e), next: () => undefined };
}

export interface CoveringWalks<W> {
  /** The machine's initial state, where every walk starts. */
  initial: AnyMachineSnapshot;
  /** Each walk starts from the machine's initial state and the environment's initial world. */
  walks: Step<W>[][];
  /** Chart transitions the walks take. */
  covered: Set<string>;
  /** Chart transitions no walk takes with the allowed events. */
  uncovered: string[];
}

/**
 * Walks that together take every chart transition reachable with the events the environment
 * allows, for replaying against a real implementation where each step costs real time: from
 * where the walk is, breadth-first to the nearest step that takes an untaken transition; when
 * none is reachable from there, a new walk from the initial state (the real thing is restarted).
 */
export function coveringWalks(spec: ModelSpec, allowed: (snapshot: AnyMachineSnapshot, event: AnyEventObject) => boolean): CoveringWalks<undefined>;
export function coveringWalks<W>(spec: ModelSpec, env: Environment<W>): CoveringWalks<W>;
export function coveringWalks<W>(spec: ModelSpec, envOrFilter: Environment<W> | ((snapshot: AnyMachineSnapshot, event: AnyEventObject) => boolean)): CoveringWalks<W> {
  const env = (typeof envOrFilter === "function" ? eventFilter(envOrFilter) : envOrFilter) as Environment<W>;
  // The model's own graph over every event; the world only filters it.
  const adjacency = getAdjacencyMap(spec.machine, traversal(spec, () => true) as never) as unknown as Record<
    string,
    { state: AnyMachineSnapshot; transitions: Record<string, { event: AnyEventObject; state: AnyMachineSnapshot }> }
  >;
  const takes = transitionsTaken(spec);
  type Node = { state: AnyMachineSnapshot; world: W };
  const key = (n: Node) => `${serialize(spec, n.state)}|${env.key(n.world)}`;
  const initial = createActor(spec.machine, { input: spec.input }).getSnapshot();
  const covered = new Set<string>();
  const untaken = (from: AnyMachineSnapshot, event: AnyEventObject, to: AnyMachineSnapshot) => takes(from, event, to).filter((k) => !covered.has(k));
  const moves = (n: Node) =>
    Object.values(adjacency[serialize(spec, n.state)]?.transitions ?? {})
      .filter(({ event }) => env.allowed(n.state, event, n.world))
      .map(({ event, state }) => ({ event, state, world: env.next(n.world, event, n.state, state) }));

  /** Shortest path from `from` ending in a step that takes an untaken transition, or undefined. */
  function nearestNew(from: Node): (Node & { event: AnyEventObject })[] | undefined {
    const seen = new Map<string, (Node & { event: AnyEventObject })[]>([[key(from), []]]);
    const queue = [from];
    while (queue.length > 0) {
      const here = queue.shift()!;
      const path = seen.get(key(here))!;
      for (const move of moves(here)) {
        if (untaken(here.state, move.event, move.state).length > 0) return [...path, move];
        if (!seen.has(key(move))) {
          seen.set(key(move), [...path, move]);
          queue.push(move);
        }
      }
    }
    return undefined;
  }

  const walks: Step<W>[][] = [];
  for (;;) {
    const steps: Step<W>[] = [];
    let at: Node = { state: initial, world: env.initial };
    for (let path = nearestNew(at); path; path = nearestNew(at)) {
      for (const move of path) {
        const taken = untaken(at.state, move.event, move.state);
        taken.forEach((k) => covered.add(k));
        steps.push({ event: move.event, state: move.state, world: move.world, takes: taken } as unknown as Step<W>);
        at = move;
      }
    }
    if (steps.length === 0) break;
    walks.push(steps);
  }
  const uncovered = chartOf(spec.name, spec.machine).edges.map(edgeKey).filter((k) => !covered.has(k));
  return { initial, walks, covered, uncovered };
}

/** "a.b.c" as a state value `{ a: { b: "c" } }`, for `snapshot.matches`. */
function pathValue(path: string): never {
  const keys = path.split(".");
  let value: unknown = keys.pop()!;
  while (keys.length > 0) value = { [keys.pop()!]: value };
  return value as never;
}
