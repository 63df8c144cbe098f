/**
 * One destination served by a node: binlog source → event store → sessions, with the acked
 * cursors in a CursorStore: meta.dat in standalone mode (canal-facts.md §6.4, file-instance
 * mode), ZooKeeper `<d>/<clientId>/cursor` in cluster mode (§3). The store is loaded by the
 * caller before the destination starts (for ZooKeeper, right after this node won the running
 * node), so where to start is decided from cursors this node is entitled to.
 *
 * What it decides, and why:
 *   - where to start: the smallest acked cursor of its subscribed clients (Canal's
 *     MetaLogPositionManager, §6.5), resumed exactly at that ack point, so nothing acked is
 *     delivered again except the boundary event Canal also repeats; without a cursor, the
 *     configured start (a file and offset, a GTID position, or a time, found in the binlog
 *     by binlog-search.ts); without that, the current end of the binlog;
 *   - backpressure: a source batch that does not fit the store is kept aside (at most one
 *     transaction group), the source is told "full" and pauses its socket, and the rest goes
 *     in when an ack frees room; the store never grows past its bounds;
 *   - subscriptions persist in the cursor store with their filter; a non-blank filter replaces
 *     the source's white filter, re-applied at start in ascending clientId order (§7.3);
 *   - every ack that moves a cursor is durable in the store before the session serves that
 *     client's next request (the stores coalesce writes), and stop() flushes, so SIGTERM
 *     loses no ack and kill -9 at most the last one.
 */
import type { CanalError } from "../errors.js";
import type { DestinationConfig } from "../config/types.js";
import type { LogPosition, MetaClient } from "../protocol/cursor-json.js";
import { findStartByTimestamp } from "./binlog-search.js";
import type { SourceBatch, SourceStatus } from "./binlog-source.js";
import type { BinlogStart } from "./binlog-stream.js";
import { toLogPosition, type CursorStore } from "./cursor-store.js";
import { EventStore, type BinlogPosition } from "./event-store.js";
import type { ServedDestination } from "./session-requests.js";
import type { SinkStats } from "./sink/jetstream-sink.js";
import { ThreadedBinlogSource } from "./source-thread/threaded-source.js";

export interface DestinationOptions {
  config: DestinationConfig;
  /**
   * The destination's acked cursors and subscriptions, already loaded (CursorFile.open in
   * standalone mode, ZkCursorStore.takeOver in cluster mode). Flushed by stop(), never closed.
   */
  cursors: CursorStore;
  /** A failure the destination cannot recover from (checksum error, database gone for good). */
  onError?(err: CanalError): void;
  onStatus?(status: SourceStatus): void;
}

export class Destination implements ServedDestination {
  readonly name: string;
  readonly store: EventStore;
  /** Its JetStream sink, when its config has one (set by startSink): its counters are part of `stats`. */
  sink: { readonly stats: SinkStats } | undefined;
  private source: ThreadedBinlogSource | undefined;
  /** The part of a source batch the store refused, waiting for room. */
  private pending: SourceBatch["entries"] = [];
  private stopped = false;

  private readonly cursors: CursorStore;

  private constructor(private readonly options: DestinationOptions) {
    const { config } = options;
    this.cursors = options.cursors;
    this.name = config.name;
    this.store = new EventStore({
      destination: config.name,
      bufferSize: config.store.maxEntries,
      maxBytes: config.store.maxBytes,
      memUnit: config.store.memUnit,
      batchMode: config.store.batchMode,
      ddlIsolation: config.ddlIsolation,
      // Every entry the source hands on goes into the store, in order (take), so the store's
      // count of released entries is the source's too.
      onReleased: (count) => this.source?.release(count),
    });
  }

  /** Connects to the database and starts the dump where the cursors say. */
  static async start(options: DestinationOptions): Promise<Destination> {
    const destination = new Destination(options);
    await destination.startSource();
    return destination;
  }

  /** Where this destination starts reading, and why (for logs and status). */
  startPosition(): { start: BinlogStart | { timestamp: number }; from: "cursor" | "config" | "end of binlog" } {
    const acked = this.cursors
      .list()
      .flatMap((c) => (c.cursor ? [c.cursor] : []))
      .sort(compareCursors)[0];
    if (acked) return { start: { file: acked.journalName, position: acked.position }, from: "cursor" };
    const { start } = this.options.config;
    if (start.journalName !== undefined) return { start: { file: start.journalName, position: start.position ?? 4 }, from: "config" };
    if (start.gtid !== undefined) {
      const mariadb = /^\d+-\d+-\d+(,\d+-\d+-\d+)*$/.test(start.gtid);
      return { start: mariadb ? { mariadbGtid: start.gtid } : { mysqlGtidSet: start.gtid }, from: "config" };
    }
    if (start.timestamp !== undefined) return { start: { timestamp: start.timestamp }, from: "config" };
    return { start: "current", from: "end of binlog" };
  }

  private async startSource(): Promise<void> {
    const { config } = this.options;
    const planned = this.startPosition().start;
    // A start by time is found in the binlog once; reconnects resume from what was handed on.
    const start = typeof planned === "object" && "timestamp" in planned ? await findStartByTimestamp(config.source, planned.timestamp) : planned;
    // In a thread of its own: decoding runs beside the serving of clients (threaded-source.ts).
    this.source = await ThreadedBinlogSource.start({
      host: config.source.host,
      port: config.source.port,
      user: config.source.user,
      password: config.source.password,
      serverId: config.source.serverId,
      start,
      filters: config.filter,
      connectionCharset: config.source.connectionCharset,
      timeZone: config.source.timeZone,
      transactionSize: config.transactionSize,
      onBatch: (batch) => this.take(batch),
      onError: (err) => this.options.onError?.(err),
      onStatus: (status) => this.options.onStatus?.(status),
    });
    // Persisted client filters replace the instance filter, the highest clientId last (§7.3).
    for (const client of this.cursors.list().sort((a, b) => a.clientId - b.clientId)) {
      if (client.filter) this.source.setFilter(client.filter);
    }
  }

  private take(batch: SourceBatch): "ok" | "full" {
    // Stopping: the store is closed; what the source still hands on is read again by whoever resumes.
    if (this.stopped) return "full";
    if (this.pending.length > 0) {
      // Already full: what the source had read before it paused queues behind the rest.
      this.pending.push(...batch.entries);
      return "full";
    }
    const stored = this.store.putAll(batch.entries);
    if (stored === batch.entries.length) return "ok";
    this.pending = batch.entries.slice(stored);
    void this.drainWhenWritable();
    return "full";
  }

  private async drainWhenWritable(): Promise<void> {
    while (this.pending.length > 0) {
      await this.store.whenWritable();
      if (this.stopped) return;
      this.pending = this.pending.slice(this.store.putAll(this.pending));
    }
    this.source?.resume();
  }

  isSubscribed(clientId: number): boolean {
    return this.cursors.get(clientId) !== undefined;
  }

  async subscribe(clientId: number, filter: string): Promise<void> {
    const known = this.cursors.get(clientId);
    const first = this.store.firstPosition();
    // With nothing in the store yet, the cursor is where the source reads now (Canal leaves it
    // empty, and a node taking over after a crash would then start at the end of the binlog,
    // losing what was written in between for this client).
    const cursor = known?.cursor ?? (first ? this.logPosition(first) : this.readingAt());
    // A blank filter changes nothing, and does not clear a persisted one (§7.3).
    const kept = filter.trim() !== "" ? filter : known?.filter;
    if (filter.trim() !== "") this.source?.setFilter(filter);
    await this.cursors.set({ clientId, filter: kept, cursor });
  }

  async unsubscribe(clientId: number): Promise<void> {
    this.store.forgetClient(clientId);
    await this.cursors.remove(clientId);
  }

  /** Resolves once the store holds this cursor durably (writes are coalesced, so many acks share one write). */
  async acked(clientId: number, cursor: BinlogPosition): Promise<void> {
    const known = this.cursors.get(clientId);
    await this.cursors.set({ clientId, filter: known?.filter, cursor: this.logPosition(cursor) });
  }

  /** Stops reading, closes the store (pending gets end empty) and writes every acked cursor. */
  async stop(): Promise<void> {
    // Both at once, and the store's outcome (a fenced flush rejects) is taken only after the
    // source stopped: awaited one after the other, that rejection would go unhandled meanwhile.
    const [closed] = await Promise.allSettled([this.closeStore(), this.source?.stop()]);
    if (closed.status === "rejected") throw closed.reason;
  }

  /**
   * The part of stop() a handover waits for: the store closes (nothing more is handed out or
   * acked) and every acked cursor is written. Stopping the source may take longer, and matters
   * to nobody once the cursors are written.
   */
  closeStore(): Promise<void> {
    this.stopped = true;
    this.store.close();
    return this.cursors.flush();
  }

  /** The subscribed clients and their acked cursors, as the cursor store holds them (for status). */
  clients(): MetaClient[] {
    return this.cursors.list();
  }

  get stats() {
    return {
      source: this.source?.stats,
      store: this.store.stats(),
      schemaMode: this.source?.schemaMode,
      // For metrics: the source is paused because the store is full (clients are slow to ack).
      blocked: this.pending.length > 0,
      cursors: this.cursors.list(),
      sink: this.sink?.stats,
    };
  }

  /** The source's resume point as a cursor: the next event it reads (no event there yet, so no time or server id). */
  private readingAt(): LogPosition | undefined {
    const at = this.source?.position;
    if (at === undefined) return undefined;
    const { host, port } = this.options.config.source;
    return { sourceAddress: { address: host, port }, journalName: at.file, position: at.position, gtid: "", included: false };
  }

  private logPosition(position: BinlogPosition): LogPosition {
    const { host, port } = this.options.config.source;
    return toLogPosition(position, { address: host, port });
  }
}

/** Canal's CanalEventUtils.min for cursors of one database: the smaller file, then offset. */
function compareCursors(a: LogPosition, b: LogPosition): number {
  return a.journalName === b.journalName ? a.position - b.position : a.journalName < b.journalName ? -1 : 1;
}
