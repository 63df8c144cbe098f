/** Reconnect backoff (src/client/backoff.ts): pure, with a fixed random source. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { backoffDelay, resolveBackoff } from "../../src/client/backoff.js";
import { CanalConfigError } from "../../src/errors.js";

test("delays double from the initial delay up to the cap, jittered within the upper half", () => {
  const policy = resolveBackoff({ initialDelayMs: 100, maxDelayMs: 1000, factor: 2 });
  assert.equal([1, 2, 3, 4, 5, 6].map((a) => backoffDelay(policy, a, () => 1)), [100, 200, 400, 800, 1000, 1000]);
  assert.equal([1, 2, 3].map((a) => backoffDelay(policy, a, () => 0)), [50, 100, 200]);
});

test("defaults: 100 ms first, 5 s at most, attempts without limit", () => {
  const policy = resolveBackoff();
  assert.is(policy.maxAttempts, Infinity);
  assert.is(backoffDelay(policy, 1, () => 1), 100);
  assert.is(backoffDelay(policy, 50, () => 1), 5000);
});

test("invalid settings name the setting and what was expected", () => {
  assert.throws(() => resolveBackoff({ factor: 0.5 }), (err: unknown) => err instanceof CanalConfigError && /reconnect\.factor 0\.5: expected a number ≥ 1/.test(err.message));
  assert.throws(() => resolveBackoff({ initialDelayMs: 10, maxDelayMs: 5 }), (err: unknown) => err instanceof CanalConfigError && /maxDelayMs/.test(err.message));
  assert.throws(() => resolveBackoff({ maxAttempts: 0 }), (err: unknown) => err instanceof CanalConfigError && /maxAttempts/.test(err.message));
});

test.run();
