/**
 * The node's structured log, on pino. Callers keep the small `ServerLog` function
 * (`log({ level, msg, fields })`, src/actors/session.ts) so no call site knows about pino.
 *
 * Output, one line per record:
 *   - not a terminal (a service, a test, a pipe): one JSON object per line with `time` (ISO),
 *     `level` (the label: "info"), `msg` and every field at the top level. The test kit and
 *     log shippers parse exactly that, so those keys are fixed.
 *   - a terminal: `12:00:01.234 info  msg key=value …`, for a person.
 *
 * Writes are synchronous: a node killed right after logging (kill -9 in tests, a crash) still
 * leaves its last lines, which is what one reads after a failure.
 */
import { pino, type DestinationStream, type Logger } from "pino";
import type { LogLevel } from "../../config/types.js";
import { CanalConfigError } from "../../errors.js";
import type { LogRecord, ServerLog } from "../session.js";

export type { LogLevel } from "../../config/types.js";
export const LOG_LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error"];
export const DEFAULT_LOG_LEVEL: LogLevel = "info";

export interface NodeLogOptions {
  /** Records below this level are dropped. Default "info". */
  level?: LogLevel;
  /** Where lines go; default stderr. */
  stream?: NodeJS.WritableStream & { isTTY?: boolean; fd?: number };
  /** Readable lines instead of JSON; default: whether the stream is a terminal. */
  pretty?: boolean;
}

/** Validates a level name from a flag or a file. */
export function parseLogLevel(value: string, where: string): LogLevel {
  const level = value.trim().toLowerCase();
  if ((LOG_LEVELS as readonly string[]).includes(level)) return level as LogLevel;
  throw new CanalConfigError(`${where}: ${JSON.stringify(value)} is not a log level (expected one of ${LOG_LEVELS.join(", ")})`);
}

/** Keys the JSON line owns; a field with one of these names is written as `field.<name>` instead. */
const RESERVED = new Set(["time", "level", "msg"]);

export function createNodeLog(options: NodeLogOptions = {}): { log: ServerLog; logger: Logger } {
  const stream = options.stream ?? process.stderr;
  const pretty = options.pretty ?? stream.isTTY === true;
  const destination: DestinationStream = pretty
    ? readableLines(stream)
    : stream === process.stderr
      ? pino.destination({ dest: 2, sync: true })
      : { write: (line: string) => void stream.write(line) };
  const logger = pino(
    {
      level: options.level ?? DEFAULT_LOG_LEVEL,
      base: undefined,
      messageKey: "msg",
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
  const log: ServerLog = ({ level, msg, fields }: LogRecord) => {
    if (!logger.isLevelEnabled(level)) return;
    logger[level](plainFields(fields), msg);
  };
  return { log, logger };
}

/**
 * Fields as JSON can carry them: an Error becomes its name, message, code and its chain of
 * causes (an error "with its cause" is what an operator needs to act), reserved keys are renamed.
 */
function plainFields(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    out[RESERVED.has(key) ? `field.${key}` : key] = value instanceof Error ? describeError(value) : value;
  }
  return out;
}

/** At most this many causes deep: a cycle of causes must not hang the log. */
const MAX_CAUSES = 5;

export function describeError(err: Error, depth = 0): Record<string, unknown> {
  const code = (err as { code?: unknown }).code;
  const cause = (err as { cause?: unknown }).cause;
  return {
    type: err.name,
    message: err.message,
    ...(code === undefined ? {} : { code }),
    ...(cause === undefined || depth >= MAX_CAUSES ? {} : { cause: cause instanceof Error ? describeError(cause, depth + 1) : String(cause) }),
  };
}

/** pino writes one JSON line per record; on a terminal, show it as a person reads it. */
function readableLines(stream: NodeJS.WritableStream): DestinationStream {
  return {
    write(line: string) {
      let record: Record<string, unknown>;
      try {
        record = JSON.parse(line) as Record<string, unknown>;
      } catch {
        stream.write(line);
        return;
      }
      const { time, level, msg, ...fields } = record;
      const clock = typeof time === "string" ? time.slice(11, 23) : "";
      const rest = Object.entries(fields)
        .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
        .join(" ");
      stream.write(`${clock} ${String(level).padEnd(5)} ${String(msg)}${rest === "" ? "" : ` ${rest}`}\n`);
    },
  };
}
