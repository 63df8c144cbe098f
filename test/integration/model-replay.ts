/**
 * Replays model walks (test/machines/model.ts `coveringWalks`) against a real implementation:
 * real servers, real processes, the events produced for real. A `RealSystem` knows how to make
 * each model event happen (delete a node, cut a connection, send a frame) and reports the real
 * machine's transitions as they happen (from a node's live feed or an actor's inspection).
 *
 * At every step the real machine must be where the model is: a step into another state must be
 * the next state change the real machine makes; a step that stays (the model takes the event and
 * remains, or ignores it) must leave the real machine where it is for `settleMs`. After every
 * step the system's invariants are checked.
 */
import { stateString } from "../../src/actors/nats/inspector.js";
import type { Step } from "../machines/model.js";

export interface RealTransition {
  /** The state after it, as `stateString` writes it (`standby.watching`). */
  to: string;
  event: string;
}

export interface RealSystem<W = undefined> {
  /** Brings up the real thing for a new walk, its machine in the initial state (`walk` lets it prepare what the first steps need). */
  start(walk: Step<W>[]): Promise<void>;
  /**
   * Makes step `i` of the walk happen for real, or does nothing when the real thing takes that
   * step by itself (an invoked actor finishing, a delay). It may look ahead to prepare the world
   * for a later step the real thing will take by itself.
   */
  produce(walk: Step<W>[], i: number): Promise<void>;
  /** The real machine's state changes so far, oldest first (documents that change only context may be included). */
  readonly transitions: readonly RealTransition[];
  /** Checked after every step; throws with what broke. */
  invariants(): Promise<void>;
  /** Takes the real thing down after a walk (also after a failed one). */
  stop(): Promise<void>;
}

export interface ReplayOptions {
  /** Longest wait for the real machine to make the step's change. */
  stepTimeoutMs: number;
  /** How long a step that stays must leave the real machine where it is. */
  settleMs: number;
  /** Progress lines (TEST_VERBOSE). */
  log?: (line: string) => void;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Describes a step as `EVENT → state` with the event's distinguishing fields. */
export function describeStep(step: Pick<Step, "event" | "state">): string {
  const { type, ...fields } = step.event;
  const shown = Object.entries(fields)
    .filter(([k]) => k !== "error")
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(",");
  return `${type.replace(/^xstate\.(done|error)\.actor\.[^.]*\./, "$1:")}${shown ? `(${shown})` : ""} → ${stateString(step.state.value)}`;
}

/** Replays one walk; throws at the first step where the real machine is not where the model is. */
export async function replayWalk<W>(walk: Step<W>[], initial: string, real: RealSystem<W>, options: ReplayOptions): Promise<void> {
  let seen = 0;
  let current = initial;
  const trail: string[] = [];
  const where = () => `after ${trail.join("; ") || "the start"}; real transitions: ${real.transitions.map((t) => `${t.to} (${t.event})`).join(" → ")}`;
  /** The next real change of state from `seen` on, waiting up to `ms`; context-only documents are skipped. */
  const nextChange = async (ms: number): Promise<RealTransition | undefined> => {
    const deadline = Date.now() + ms;
    for (;;) {
      while (seen < real.transitions.length) {
        const t = real.transitions[seen++]!;
        if (t.to !== current) return t;
      }
      if (Date.now() >= deadline) return undefined;
      await pause(10);
    }
  };

  await real.start(walk);
  for (let i = 0; i < walk.length; i++) {
    const step = walk[i]!;
    const expected = stateString(step.state.value);
    await real.produce(walk, i);
    if (expected !== current) {
      const change = await nextChange(options.stepTimeoutMs);
      if (change === undefined) throw new Error(`step ${i + 1} ${describeStep(step)}: the real machine stayed in ${current} for ${options.stepTimeoutMs} ms, ${where()}`);
      if (change.to !== expected) throw new Error(`step ${i + 1} ${describeStep(step)}: the real machine went to ${change.to} on ${change.event}, ${where()}`);
    } else {
      const change = await nextChange(options.settleMs);
      if (change !== undefined) throw new Error(`step ${i + 1} ${describeStep(step)}: the model stays in ${current}, the real machine went to ${change.to} on ${change.event}, ${where()}`);
    }
    current = expected;
    trail.push(describeStep(step));
    options.log?.(`  ${i + 1}. ${describeStep(step)}`);
    await real.invariants().catch((err: Error) => {
      throw new Error(`step ${i + 1} ${describeStep(step)}: invariant broken: ${err.message}, ${where()}`);
    });
  }
}
