/**
 * Where a configuration value came from, so every error can name the key, its file (or flag,
 * or environment variable) and line, the value and what was expected.
 */
import { CanalConfigError } from "../errors.js";

export interface Where {
  /** The key as the user wrote it: `canal.port`, `--port`, `destinations.example.source.port`. */
  key: string;
  /** A file path, "the command line" or "the environment". */
  source: string;
  /** 1-based line in `source`, when it is a file. */
  line?: number;
}

/** A value as read, before validation. `secret` values never appear in messages. */
export interface Raw {
  value: unknown;
  where: Where;
  secret?: boolean;
}

/** `canal.port in /etc/canal/canal.properties:12` */
export function describeWhere(where: Where): string {
  return `${where.key} in ${where.source}${where.line === undefined ? "" : `:${where.line}`}`;
}

/** How a value is shown in a message: quoted, or only its length when it is a secret. */
export function showValue(raw: Raw): string {
  if (raw.secret) {
    const n = String(raw.value).length;
    return `the value (hidden, ${n} character${n === 1 ? "" : "s"})`;
  }
  return typeof raw.value === "string" ? JSON.stringify(raw.value) : String(JSON.stringify(raw.value) ?? raw.value);
}

/**
 * The error for one bad value:
 * `canal.port in /etc/canal/canal.properties:12: "11x11" is not a port (expected an integer 1–65535)`.
 */
export function invalid(raw: Raw, problem: string, expected: string): CanalConfigError {
  return new CanalConfigError(`${describeWhere(raw.where)}: ${showValue(raw)} ${problem} (expected ${expected})`);
}

/** The error for a required value that is absent. */
export function missing(where: Where, expected: string): CanalConfigError {
  return new CanalConfigError(`${describeWhere(where)}: missing (expected ${expected})`);
}

/** A warning the loaders return (an ignored Canal key, a missing optional file); never thrown. */
export interface ConfigWarning {
  where: Where;
  message: string;
}

export function formatWarning(warning: ConfigWarning): string {
  return `${describeWhere(warning.where)}: ${warning.message}`;
}
