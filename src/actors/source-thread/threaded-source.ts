/**
 * A BinlogSource in a thread of its own (worker.ts), with the same surface for the destination.
 *
 * Why: decoding is more than half of a node's CPU under load, and serving clients (the store,
 * sessions, socket writes) most of the rest. On one thread they take turns; in two they run on
 * two cores. The entries cross once, packed (packed-batches.ts), their bytes left where the
 * thread wrote them, in shared chunks: the store and the sessions read them there, and the
 * consumer says (`release`) when it no longer reads the oldest ones, so that the thread writes
 * those chunks again. Copying them out instead took a quarter of this thread's time (600 MiB
 * of fresh memory per e2e benchmark run, page faults and collections included).
 *
 * What differs from the source in-process, and why it does not matter to the destination:
 *   - a consumer's "full" reaches the source a message later, so batches already posted still
 *     arrive (at most the thread's in-flight limit): the destination queues them, as it queues
 *     what an in-process source read before it paused;
 *   - `position` and `stats` are what the last message carried: the position is always that of
 *     a batch already handed on here (or of transactions filtered away), never ahead of them.
 */
import type { Worker } from "node:worker_threads";
import { CanalError } from "../../errors.js";
import { startOwnThread } from "../own-thread.js";
import { TableFilter } from "../../protocol/filter.js";
import type { BinlogSourceOptions, BinlogSourceStats, SchemaMode } from "../binlog-source.js";
import type { ResumePoint } from "../binlog-stream.js";
import { type FromSourceThread, type ToSourceThread, receiveError } from "./messages.js";
import { unpackBatches } from "./packed-batches.js";

/**
 * The source thread's young generation, MiB. Its garbage is the decoder's short-lived objects;
 * V8 let it grow to 16 MiB, which the node's peak RSS felt: the e2e benchmark's node went from
 * ~215 to ~190-200 MiB with 6-12 MiB (measured on a loaded machine, at --scale 0.5).
 */
const THREAD_YOUNG_GENERATION_MB = 8;

/** Starts an idle thread: beside this module in the source tree, beside the bundle in dist/. */
function startThread(): Worker {
  return startOwnThread({ from: import.meta.url, source: "./worker", bundle: "binlog-source-worker" }, { maxYoungGenerationSizeMb: THREAD_YOUNG_GENERATION_MB });
}

/**
 * Starting a thread and loading its modules takes ~150 ms, time a failover or a handover would
 * add. A cluster node keeps one thread started ahead (keepSpare); a standalone node, whose
 * destinations start once, does not pay for an idle one.
 */
let spare: Worker | undefined;
let keepingSpare = false;

/**
 * After a start takes the spare, the next one is made this much later: loading a thread's
 * modules takes ~150 ms of CPU, which on a small machine would be taken from the takeover.
 */
const SPARE_AFTER_MS = 2000;

function takeThread(): Worker {
  const thread = spare ?? startThread();
  spare = undefined;
  thread.ref();
  if (keepingSpare) setTimeout(() => spare ?? startSpare(), SPARE_AFTER_MS).unref();
  return thread;
}

function startSpare(): void {
  const thread = startThread();
  // An idle spare does not keep the process alive, and one that fails is simply not used.
  thread.unref();
  thread.once("error", () => {
    if (spare === thread) spare = undefined;
  });
  spare = thread;
}

export class ThreadedBinlogSource {
  private position_: ResumePoint | undefined;
  private stats_: BinlogSourceStats | undefined;
  private mode: SchemaMode | undefined;
  private consumerFull = false;
  private failed = false;
  /** Entries handed on so far. */
  private handedOn = 0;
  /** For each message whose chunks the thread keeps for us, oldest first: `handedOn` after its last entry. */
  private readonly messageEnds: number[] = [];
  private readonly stopped: Promise<void>;

  private constructor(
    private readonly worker: Worker,
    private readonly options: BinlogSourceOptions,
  ) {
    this.stopped = new Promise((resolve) => worker.once("exit", () => resolve()));
  }

  /** From now on, keep one thread started ahead for the next start (a cluster node's destinations). */
  static keepSpare(): void {
    keepingSpare = true;
    if (spare === undefined) startSpare();
  }

  /** Starts the thread and its source; rejects with the source's own error if it cannot start. */
  static async start(options: BinlogSourceOptions): Promise<ThreadedBinlogSource> {
    const { onBatch: _onBatch, onError: _onError, onStatus: _onStatus, ...threadOptions } = options;
    const worker = takeThread();
    const source = new ThreadedBinlogSource(worker, options);
    worker.postMessage({ type: "start", options: threadOptions } satisfies ToSourceThread);
    await new Promise<void>((resolve, reject) => {
      let started = false;
      worker.on("message", (message: FromSourceThread) => {
        if (message.type === "startFailed") {
          void worker.terminate();
          return reject(receiveError(message.error));
        }
        if (message.type === "started") {
          started = true;
          resolve();
        }
        source.onMessage(message);
      });
      worker.on("error", (err) => {
        const error = new CanalError(`the binlog source's thread failed: ${err.message}`, { cause: err });
        if (started) source.fail(error);
        else reject(error);
      });
      worker.once("exit", (code) => {
        if (!started) reject(new CanalError(`the binlog source's thread exited (code ${code}) before the source started`));
      });
    });
    return source;
  }

  /** The last transaction boundary handed on (or skipped as empty): where a restart should begin. */
  get position(): ResumePoint | undefined {
    return this.position_;
  }

  get schemaMode(): SchemaMode | undefined {
    return this.mode;
  }

  get stats(): BinlogSourceStats | undefined {
    return this.stats_;
  }

  /** Tells the source the consumer has room again. */
  resume(): void {
    this.consumerFull = false;
    this.send({ type: "resume" });
  }

  /** As BinlogSource.setFilter; an invalid regex throws CanalConfigError here, before it is sent. */
  setFilter(regex: string): void {
    new TableFilter({ white: regex, black: this.options.filters?.blackRegex });
    this.send({ type: "setFilter", regex });
  }

  /**
   * The consumer no longer reads the bytes of the first `count` entries handed on (acked, and
   * no reply or decoding reads them): the thread may write their chunks again. Entries are
   * released in the order they were handed on.
   */
  release(count: number): void {
    let messages = 0;
    while (this.messageEnds.length > 0 && this.messageEnds[0]! <= count) {
      this.messageEnds.shift();
      messages++;
    }
    if (messages > 0) this.send({ type: "released", messages });
  }

  /** Stops the source, then its thread. */
  async stop(): Promise<void> {
    this.send({ type: "stop" });
    await this.stopped;
  }

  private send(message: ToSourceThread): void {
    this.worker.postMessage(message);
  }

  private onMessage(message: FromSourceThread): void {
    switch (message.type) {
      case "started":
      case "snapshot":
        this.note(message);
        return;
      case "batches":
        this.note(message);
        for (const batch of unpackBatches(message.packed)) {
          this.handedOn += batch.entries.length;
          if (this.options.onBatch(batch) === "full" && !this.consumerFull) {
            this.consumerFull = true;
            this.send({ type: "full" });
          }
        }
        this.messageEnds.push(this.handedOn);
        this.send({ type: "taken" });
        return;
      case "status":
        if (message.status.type === "schemaMode") this.mode = message.status.mode;
        this.options.onStatus?.(message.status);
        return;
      case "error":
        this.fail(receiveError(message.error));
        return;
      case "stopped":
        void this.worker.terminate();
        return;
    }
  }

  private note(snapshot: { position: ResumePoint | undefined; stats: BinlogSourceStats | undefined }): void {
    this.position_ = snapshot.position ?? this.position_;
    this.stats_ = snapshot.stats ?? this.stats_;
  }

  private fail(err: CanalError): void {
    if (this.failed) return;
    this.failed = true;
    this.options.onError?.(err);
  }
}
