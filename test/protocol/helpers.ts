/** Small byte and assertion helpers shared by the protocol suites. */
import * as assert from "uvu/assert";
import { CanalProtocolError } from "../../src/errors.js";

export const hex = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("hex");
export const fromHex = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, "hex"));
export const concat = (...parts: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(parts));

import { prng } from "../../src/testkit/prng.js";

export { prng };

/** A seed from FUZZ_SEED when set (to replay a failure), else a fresh one. */
export function seedFromEnv(): number {
  const fromEnv = process.env.FUZZ_SEED;
  return fromEnv !== undefined ? Number(fromEnv) >>> 0 : (Math.random() * 2 ** 32) >>> 0;
}

/** A test body given a seeded PRNG; when it fails, the seed to replay it with is printed. */
export function withSeed(label: string, body: (random: () => number, seed: number) => void): () => void {
  return () => {
    const seed = seedFromEnv();
    try {
      body(prng(seed), seed);
    } catch (err) {
      console.error(`${label} failed; replay with FUZZ_SEED=${seed}`);
      throw err;
    }
  };
}

/**
 * Replaces every byte array (Buffer or Uint8Array, which deep-equality tells apart) by its hex,
 * so decoded objects compare by content.
 */
export function byContent(value: unknown): unknown {
  if (value instanceof Uint8Array) return `0x${hex(value)}`;
  if (Array.isArray(value)) return value.map(byContent);
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, byContent(v)]));
  }
  return value;
}

/** Runs `fn` and checks it throws a CanalProtocolError whose message matches `pattern`. */
export function throwsProtocolError(fn: () => unknown, pattern: RegExp): void {
  try {
    fn();
  } catch (err) {
    assert.instance(err, CanalProtocolError);
    assert.match((err as Error).message, pattern);
    return;
  }
  assert.unreachable("expected a CanalProtocolError");
}
