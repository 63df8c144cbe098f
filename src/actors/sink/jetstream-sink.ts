/**
 * The JetStream sink of one destination: Canal's MQ mode (CanalMQStarter: get, send, ack; on
 * failure roll back and try again) on NATS JetStream, with deduplication across failover.
 *
 * It reads the destination's event store as a client would, under its own clientId (Canal's MQ
 * loop uses 1001): get a batch → one flat-message JSON per row change (flat-message.ts) → publish
 * them all, pipelined on one connection, so the stream stores them in binlog order → once
 * JetStream has acknowledged EVERY message of the batch, ack the batch, which moves the
 * destination's cursor (in ZooKeeper in a cluster). Nothing is acked that is not stored.
 *
 * Exactly once in the stream: each message carries `Nats-Msg-Id` = `<destination>:<entry key>/<row>`
 * (the entry writer's idempotency key, the same however often the binlog is read again). After
 * a failover (or a failed publish) the batches after the cursor are read and published again;
 * JetStream drops the ones it already holds within the stream's duplicate window, so a replay
 * only appends what is missing, in order: what a killed node had stored is a prefix of what it
 * published, because one connection's publishes are stored in the order they were sent.
 *
 * Runs only while the destination runs on this node: the node starts it with the destination;
 * a handover stops it (batch in flight acked) before the cursors are written, fencing halts it,
 * and it ends by itself when the destination's store closes. `stillServing` (the cluster's lease
 * check) is asked again before each batch is published, as sessions do before writing a batch.
 *
 * Failures never stop the destination: the batch is rolled back and the loop tries again after
 * a backoff (NATS down, a publish timed out, the stream misconfigured: each logged), until stop.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { JetStreamApiCodes, JetStreamApiError, jetstream, jetstreamManager, RetentionPolicy, StorageType, type JetStreamClient, type PubAck, type StreamInfo } from "@nats-io/jetstream";
import type { SinkConfig } from "../../config/types.js";
import { CanalConfigError, CanalConnectionError, CanalError } from "../../errors.js";
import type { Destination } from "../destination.js";
import type { ServerLog } from "../session.js";
import { flatMessageJson, flatRowsOf, type FlatRow } from "./flat-message.js";
import { streamSubjectOf, SubjectMaker, subjectCovers } from "./subject.js";
import { natsConnectOptions, shownNatsServer } from "../nats/credentials.js";

export interface JetStreamSinkOptions {
  /** The running destination whose store the sink reads. */
  destination: Pick<Destination, "name" | "store" | "isSubscribed" | "subscribe" | "acked">;
  config: SinkConfig;
  log: ServerLog;
  /** Whether the destination still runs here (a cluster node's lease is fresh); default always. */
  stillServing?(): boolean;
  /** For the NATS connection's name. */
  nodeId?: string;
}

export interface SinkStats {
  state: "connecting" | "publishing" | "retrying" | "stopped";
  /** Messages JetStream stored, and those it dropped as duplicates (replays after failover or retry). */
  published: number;
  duplicates: number;
  /** Batches acked (cursor moved when the batch held a transaction boundary). */
  batches: number;
  failures: number;
  lastError: string | undefined;
}

/** Publishes in flight at once: enough to fill the pipe (tech-notes §3: ~23k msg/s at 256). */
const MAX_IN_FLIGHT = 256;
/** Backoff after a failure: doubles from the first to the last, never more. */
const RETRY_FIRST_MS = 100;
const RETRY_MAX_MS = 5000;

export class JetStreamSink {
  private readonly stopping = new AbortController();
  private halted = false;
  private nc: NatsConnection | undefined;
  private js: JetStreamClient | undefined;
  private streamReady = false;
  /** Duplicates seen since the last batch without any (see noteReplay). */
  private replayed = 0;
  private readonly subjects: SubjectMaker;
  private readonly running: Promise<void>;
  private readonly counters: SinkStats = { state: "connecting", published: 0, duplicates: 0, batches: 0, failures: 0, lastError: undefined };

  private constructor(private readonly options: JetStreamSinkOptions) {
    this.subjects = new SubjectMaker(options.config.subject, options.destination.name);
    this.running = this.run();
  }

  /** Starts publishing in the background; failures are logged and retried, never thrown. */
  static start(options: JetStreamSinkOptions): JetStreamSink {
    return new JetStreamSink(options);
  }

  get stats(): SinkStats {
    return { ...this.counters };
  }

  /**
   * Graceful stop (a handover, a node stopping): no new batch is taken; the batch in flight is
   * published and acked (bounded by the publish timeout), then the connection closes.
   */
  async stop(): Promise<void> {
    this.stopping.abort();
    await this.running;
  }

  /**
   * The destination no longer runs here (fenced, session lost): take no batch, ack nothing more,
   * close at once. A publish already sent may still land; its replay by the new owner is dropped.
   */
  halt(): Promise<void> {
    this.halted = true;
    this.stopping.abort();
    void this.nc?.close().catch(() => undefined);
    return this.running;
  }

  private get stopped(): boolean {
    return this.stopping.signal.aborted;
  }

  private async run(): Promise<void> {
    const { destination, config, log } = this.options;
    let failures = 0;
    while (!this.stopped) {
      try {
        await this.prepare();
        this.counters.state = "publishing";
        if (failures > 0) log({ level: "info", msg: "sink publishing again", fields: { destination: destination.name, stream: config.stream, after: failures } });
        failures = 0;
        await this.pump();
      } catch (err) {
        if (this.stopped || this.options.destination.store.isClosed()) break;
        failures++;
        this.counters.failures++;
        this.counters.state = "retrying";
        this.counters.lastError = err instanceof Error ? err.message : String(err);
        const retryMs = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** Math.min(failures - 1, 10));
        log({
          level: err instanceof CanalConfigError ? "error" : "warn",
          msg: "sink failed; rolled back, will try again",
          fields: { destination: destination.name, stream: config.stream, error: this.counters.lastError, retryMs },
        });
        this.rollback();
        // The server may have come back without the stream (or with another one): look again.
        this.streamReady = false;
        await sleep(retryMs, undefined, { signal: this.stopping.signal }).catch(() => undefined);
      }
    }
    this.counters.state = "stopped";
    const nc = this.nc;
    this.nc = undefined;
    // Graceful: let what was published flush; halted: close() was called already.
    await nc?.close().catch(() => undefined);
    log({ level: "info", msg: "sink stopped", fields: { destination: destination.name, stream: config.stream, published: this.counters.published, duplicates: this.counters.duplicates } });
  }

  /** Connection, stream and subscription, each made once and made again only when lost. */
  private async prepare(): Promise<void> {
    const { destination, config, log, nodeId } = this.options;
    if (this.nc === undefined || this.nc.isClosed()) {
      this.streamReady = false;
      this.counters.state = "connecting";
      try {
        this.nc = await connect({
          ...natsConnectOptions(config.servers),
          name: `canal-ts${nodeId === undefined ? "" : ` ${nodeId}`} sink ${destination.name}`,
          // The connection outlives server restarts; publishes in between time out and are retried.
          maxReconnectAttempts: -1,
          reconnectTimeWait: 250,
          timeout: 2000,
        });
      } catch (err) {
        throw new CanalConnectionError(`sink of destination ${destination.name}: cannot connect to NATS ${config.servers.map(shownNatsServer).join(",")}: ${String(err)}`, { cause: err });
      }
      if (this.halted) await this.nc.close();
      this.js = jetstream(this.nc, { timeout: config.publishTimeoutMs });
    }
    if (!this.streamReady) {
      const info = await this.ensureStream();
      this.streamReady = true;
      log({
        level: "info",
        msg: "sink ready",
        fields: { destination: destination.name, stream: config.stream, subjects: info.config.subjects, duplicateWindowMs: info.config.duplicate_window / 1e6, clientId: config.clientId },
      });
    }
    // Subscribing records the sink's cursor, so the destination starts from it after a failover.
    if (!destination.isSubscribed(config.clientId)) await destination.subscribe(config.clientId, "");
  }

  /**
   * The stream, created when missing with the destination's subjects and the configured
   * duplicate window; an existing one must capture those subjects and keep msg ids at least
   * that long, or exactly-once across failover would not hold.
   */
  private async ensureStream(): Promise<StreamInfo> {
    const { destination, config } = this.options;
    const jsm = await jetstreamManager(this.nc!, { timeout: config.publishTimeoutMs });
    const wanted = streamSubjectOf(config.subject, destination.name);
    let info: StreamInfo;
    try {
      info = await jsm.streams.info(config.stream);
    } catch (err) {
      if (!isStreamNotFound(err)) throw natsError(`sink of destination ${destination.name}: reading stream ${config.stream}`, err);
      try {
        info = await jsm.streams.add({
          name: config.stream,
          subjects: [wanted],
          duplicate_window: config.duplicateWindowMs * 1_000_000,
          storage: StorageType.File,
          retention: RetentionPolicy.Limits,
        });
      } catch (addErr) {
        // Another node created it meanwhile: check that one instead.
        info = await jsm.streams.info(config.stream).catch(() => {
          throw natsError(`sink of destination ${destination.name}: creating stream ${config.stream} with subjects ${wanted}`, addErr);
        });
      }
    }
    const subjects = info.config.subjects ?? [];
    if (!subjects.some((s) => subjectCovers(s, wanted))) {
      throw new CanalConfigError(
        `sink of destination ${destination.name}: JetStream stream ${config.stream} has subjects ${JSON.stringify(subjects)}, which do not capture ${wanted} (expected a stream subject covering it: add ${wanted} to the stream, or set sink.stream or sink.subject)`,
      );
    }
    const windowMs = info.config.duplicate_window / 1_000_000;
    if (windowMs < config.duplicateWindowMs) {
      throw new CanalConfigError(
        `sink of destination ${destination.name}: JetStream stream ${config.stream} has a duplicate window of ${windowMs} ms (expected at least sink.duplicateWindowMs ${config.duplicateWindowMs} ms, so a replay after failover is dropped)`,
      );
    }
    return info;
  }

  /** get → publish → ack, until stopped or something fails. */
  private async pump(): Promise<void> {
    const { destination, config } = this.options;
    const store = destination.store;
    while (!this.stopped) {
      // The destination stopped (its store closes first): so does its sink.
      if (store.isClosed()) return this.stopping.abort();
      const batch = await store.get(config.clientId, { batchSize: config.batchSize, timeoutMs: config.getTimeoutMs, signal: this.stopping.signal });
      if (batch === undefined) continue;
      let rows: FlatRow[];
      try {
        if (this.halted) return;
        // Not (or no longer) ours to publish: the batch goes back, and the loop waits and looks again.
        if (!(this.options.stillServing?.() ?? true)) throw new CanalError(`sink of destination ${destination.name}: the destination is not served by this node now`, { retriable: true });
        const now = Date.now();
        rows = batch.entries.flatMap((bytes, i) => flatRowsOf(bytes, batch.keys[i]!, batch.id, now));
      } finally {
        // Decoded (or given up): the entry bytes are not read again, so the store may recycle them once acked.
        store.doneReading(batch);
      }
      const duplicatesBefore = this.counters.duplicates;
      await this.publishAll(rows);
      this.noteReplay(this.counters.duplicates - duplicatesBefore, rows.length);
      if (this.halted || store.isClosed()) return;
      const cursor = store.ack(config.clientId, batch.id);
      this.counters.batches++;
      if (cursor !== undefined) await destination.acked(config.clientId, cursor);
    }
  }

  /** Publishes the rows in order, at most MAX_IN_FLIGHT unacknowledged; throws unless JetStream stored (or already held) every one. */
  private async publishAll(rows: readonly FlatRow[]): Promise<void> {
    const { destination, config } = this.options;
    const js = this.js!;
    const window: Promise<void>[] = [];
    let failure: unknown;
    for (const row of rows) {
      if (failure !== undefined || this.halted) break;
      const subject = this.subjects.subject(row.message.database, row.message.table);
      const pending = js
        .publish(subject, flatMessageJson(row.message, row.columns), {
          msgID: `${destination.name}:${row.key}`,
          timeout: config.publishTimeoutMs,
          // A subject captured by another stream must fail, not land elsewhere.
          expect: { streamName: config.stream },
        })
        .then(
          (ack: PubAck) => {
            if (ack.duplicate) this.counters.duplicates++;
            else this.counters.published++;
          },
          (err: unknown) => {
            failure ??= err;
          },
        );
      window.push(pending);
      if (window.length >= MAX_IN_FLIGHT) await window.shift();
    }
    await Promise.all(window);
    if (failure !== undefined) throw natsError(`sink of destination ${destination.name}: publishing to stream ${config.stream}`, failure);
    if (this.halted) throw new CanalError(`sink of destination ${destination.name}: halted while publishing`);
  }

  /**
   * A sink that starts (after a failover, a retry) first publishes again what its predecessor
   * published but did not ack; JetStream drops those. Logged once the replay is over, with how
   * many were dropped, so an operator sees the deduplication at work.
   */
  private noteReplay(duplicates: number, rows: number): void {
    if (duplicates > 0) this.replayed += duplicates;
    else if (rows > 0 && this.replayed > 0) {
      const { destination, config, log } = this.options;
      log({ level: "info", msg: "sink replay dropped by JetStream", fields: { destination: destination.name, stream: config.stream, duplicates: this.replayed } });
      this.replayed = 0;
    }
  }

  /** Back to the last ack, so the next get returns the unacked batches again. */
  private rollback(): void {
    try {
      this.options.destination.store.rollback(this.options.config.clientId);
    } catch {
      // The store is closed: the destination is stopping, and so is the sink.
    }
  }
}

function isStreamNotFound(err: unknown): boolean {
  return err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound;
}

/** A NATS failure as a CanalError: retriable unless JetStream refused the request itself. */
function natsError(what: string, err: unknown): CanalError {
  if (err instanceof CanalError) return err;
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof JetStreamApiError) return new CanalConfigError(`${what}: JetStream refused: ${message}`, { cause: err });
  return new CanalConnectionError(`${what}: ${message}`, { cause: err });
}
