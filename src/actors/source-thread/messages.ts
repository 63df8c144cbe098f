/**
 * What the binlog source's thread and the node's main thread say to each other, and the typed
 * errors carried across: postMessage keeps an error's message but not its class or fields, and
 * the machines and logs above decide by class (`isRetriable`, BinlogChecksumError's position).
 */
import { CanalAuthError, CanalConfigError, CanalConnectionError, CanalError, CanalProtocolError } from "../../errors.js";
import { BinlogChecksumError, BinlogFormatError } from "../../protocol/binlog/events/errors.js";
import type { BinlogSourceOptions, BinlogSourceStats, SourceStatus } from "../binlog-source.js";
import type { ResumePoint } from "../binlog-stream.js";
import type { PackedBatches } from "./packed-batches.js";

/** The source's options without its callbacks, as the `start` message carries them. */
export type ThreadSourceOptions = Omit<BinlogSourceOptions, "onBatch" | "onError" | "onStatus" | "allocateChunk">;

/** What the main thread knows of the source between messages. */
export interface SourceSnapshot {
  position: ResumePoint | undefined;
  /** Undefined until the source has started. */
  stats: BinlogSourceStats | undefined;
}

export type FromSourceThread =
  | ({ type: "started" } & SourceSnapshot)
  | { type: "startFailed"; error: SentError }
  | ({ type: "batches"; packed: PackedBatches } & SourceSnapshot)
  /** The position or the counters moved without a batch (filtered transactions, heartbeats). */
  | ({ type: "snapshot" } & SourceSnapshot)
  | { type: "status"; status: SourceStatus }
  | { type: "error"; error: SentError }
  | { type: "stopped" };

export type ToSourceThread =
  /** The first message: the thread starts its source. */
  | { type: "start"; options: ThreadSourceOptions }
  /** A batches message was handed on: one fewer in flight. */
  | { type: "taken" }
  /** The oldest `messages` messages taken are no longer read: their chunks may be written again. */
  | { type: "released"; messages: number }
  /** The consumer answered "full": stop reading until `resume`. */
  | { type: "full" }
  | { type: "resume" }
  | { type: "setFilter"; regex: string }
  | { type: "stop" };

/** A CanalError's class and fields, as postMessage can carry them. */
export interface SentError {
  name: string;
  message: string;
  stack: string | undefined;
  retriable: boolean;
  fields: Record<string, unknown>;
}

const CLASSES: Record<string, new (message: string) => CanalError> = {
  CanalError,
  CanalProtocolError,
  CanalAuthError,
  CanalConnectionError,
  CanalConfigError,
  BinlogFormatError,
  BinlogChecksumError: BinlogChecksumError as unknown as new (message: string) => CanalError,
};

/** The fields subclasses add (protocol code, event position, checksums). */
const FIELDS = ["code", "location", "expected", "actual"] as const;

export function sendError(err: unknown): SentError {
  const canal = err instanceof CanalError ? err : new CanalError(err instanceof Error ? err.message : String(err), { cause: err });
  const fields: Record<string, unknown> = {};
  for (const field of FIELDS) if (field in canal) fields[field] = (canal as unknown as Record<string, unknown>)[field];
  return { name: canal.name, message: canal.message, stack: canal.stack, retriable: canal.retriable, fields };
}

/** The error as it was thrown in the source's thread: same class, message, fields and stack. */
export function receiveError(sent: SentError): CanalError {
  const err = new CanalError(sent.message, { retriable: sent.retriable });
  Object.setPrototypeOf(err, (CLASSES[sent.name] ?? CanalError).prototype);
  Object.assign(err, { name: CLASSES[sent.name] === undefined ? "CanalError" : sent.name, stack: sent.stack }, sent.fields);
  return err;
}
