/**
 * Shared glue between our plain TypeScript message types and the protobufjs code generated into
 * src/protocol/gen/ (never hand-edited; rebuilt by scripts/gen-proto.mjs).
 */
import { CanalProtocolError } from "../errors.js";

/** What protobufjs returns for an int64 field: a `Long` (it ships `long`), or a number. */
type Int64 = number | { toNumber(): number };

/**
 * Converts a decoded int64 to a number. Canal's int64 values (batch ids, binlog offsets,
 * millisecond timestamps, table ids) all fit in 2^53, so a larger value is a corrupt packet, not
 * something to round silently.
 */
export function int64ToNumber(value: Int64, field: string): number {
  const n = typeof value === "number" ? value : value.toNumber();
  if (!Number.isSafeInteger(n)) {
    throw new CanalProtocolError(`int64 field ${field} holds ${String(value)}, outside the safe integer range ±(2^53-1)`);
  }
  return n;
}

/**
 * Runs a generated decoder and reports its failure (truncated bytes, bad wire type, nesting too
 * deep, invalid UTF-8 in a proto3 string) as a CanalProtocolError naming what was being decoded.
 * Every error is wrapped, TypeError included: that is how invalid UTF-8 surfaces.
 */
export function decodeWith<T>(what: string, bytes: Uint8Array, decode: (bytes: Uint8Array) => T): T {
  try {
    return decode(bytes);
  } catch (err) {
    if (err instanceof CanalProtocolError) throw err;
    const reason = err instanceof Error ? err.message : String(err);
    throw new CanalProtocolError(`cannot decode ${what} (${bytes.length} bytes): ${reason}`, { cause: err });
  }
}

/** True when protobufjs saw the field on the wire (it stores present fields as own properties). */
export function has(message: object, field: string): boolean {
  return Object.prototype.hasOwnProperty.call(message, field);
}
