/**
 * Reconnect delays: exponential backoff with full jitter, a pure function of the attempt
 * number and an injected random source (so tests pass a fixed one).
 */
import { CanalConfigError } from "../errors.js";

export interface BackoffOptions {
  /** Delay before the first reconnect attempt, in ms. Default 100. */
  initialDelayMs?: number;
  /** Largest delay, in ms. Default 5000 (Canal's cluster connector waits a fixed 5 s). */
  maxDelayMs?: number;
  /** Growth per attempt. Default 2. */
  factor?: number;
  /** Attempts before giving up; Infinity to keep trying until `disconnect()`. Default Infinity. */
  maxAttempts?: number;
}

export type BackoffPolicy = Required<BackoffOptions>;

export const DEFAULT_BACKOFF: BackoffPolicy = { initialDelayMs: 100, maxDelayMs: 5000, factor: 2, maxAttempts: Infinity };

export function resolveBackoff(options: BackoffOptions = {}): BackoffPolicy {
  const policy = { ...DEFAULT_BACKOFF, ...options };
  const check = (name: keyof BackoffPolicy, ok: boolean, expected: string) => {
    if (!ok) throw new CanalConfigError(`reconnect.${name} ${policy[name]}: expected ${expected}`);
  };
  check("initialDelayMs", Number.isFinite(policy.initialDelayMs) && policy.initialDelayMs >= 0, "a number of ms ≥ 0");
  check("maxDelayMs", Number.isFinite(policy.maxDelayMs) && policy.maxDelayMs >= policy.initialDelayMs, "a number of ms ≥ initialDelayMs");
  check("factor", Number.isFinite(policy.factor) && policy.factor >= 1, "a number ≥ 1");
  check("maxAttempts", policy.maxAttempts === Infinity || (Number.isInteger(policy.maxAttempts) && policy.maxAttempts >= 1), "an integer ≥ 1 or Infinity");
  return policy;
}

/**
 * The delay before attempt `attempt` (1-based): a random point in the upper half of
 * min(max, initial × factor^(attempt-1)), so clients that lost the same server do not all
 * come back in the same millisecond, yet each waits at least half its step.
 */
export function backoffDelay(policy: BackoffPolicy, attempt: number, random: () => number = Math.random): number {
  const step = Math.min(policy.maxDelayMs, policy.initialDelayMs * policy.factor ** Math.max(0, attempt - 1));
  return Math.round(step / 2 + (random() * step) / 2);
}
