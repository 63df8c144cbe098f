import * as assert from "uvu/assert";
import { CanalConfigError } from "../../src/errors.js";
import type { LoadOptions } from "../../src/config/index.js";

/** Deterministic loader options: no process env, cwd, host name or zone leak into results. */
export const OPTIONS: LoadOptions = { env: {}, cwd: "/srv/canal-ts", hostname: "db7.example.com", timeZone: "UTC" };

/** Runs `f`, which must throw a CanalConfigError; returns its message for more checks. */
export function configError(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    if (!(err instanceof CanalConfigError)) throw err;
    return err.message;
  }
  assert.unreachable("expected a CanalConfigError");
  return "";
}

/** Asserts a message names every fragment (key, where, value, expectation) and leaks no secret. */
export function assertNames(message: string, fragments: string[], secrets: string[] = []): void {
  for (const f of fragments) assert.ok(message.includes(f), `message ${JSON.stringify(message)} should contain ${JSON.stringify(f)}`);
  for (const s of secrets) assert.not.ok(message.includes(s), `message ${JSON.stringify(message)} must not contain the secret ${JSON.stringify(s)}`);
}
