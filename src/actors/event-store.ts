/**
 * The event store of one destination: the bounded buffer between the binlog source and the
 * Canal sessions, with Canal's get / ack / rollback semantics (canal-facts.md §6; Canal's
 * MemoryEventStoreWithBuffer plus the batch bookkeeping of CanalServerWithEmbedded).
 *
 * Data path only: plain synchronous calls, no per-entry allocation. The producer's entry
 * records are kept as they are (store/ring.ts); a batch hands out the stored Uint8Arrays,
 * ready for `encodeRawMessagesFrame(batch.id, batch.entries)`.
 *
 * Producer side and backpressure (design decision 6). `tryPut` / `putAll` store entries while
 * they fit within the entry and byte bounds and report what did not fit; the source then
 * stops reading its socket and awaits `whenWritable()`, which resolves once an ack frees
 * space. The store never grows past its bounds; one entry larger than the byte bound passes
 * when nothing is held, so a huge row cannot deadlock it.
 *
 * Consumer side:
 *   - `tryGet` is Canal's non-blocking get (wire timeout -1); `get` with a timeout ≤ 0 waits
 *     for a full batch, > 0 waits up to the timeout and then returns what is there. Waiting is
 *     a promise and a timer, never a blocked event loop, and ends early on an AbortSignal
 *     (the session's connection closed).
 *   - Better than Canal: a waiting get also returns when the store is full (a put was refused
 *     and nothing was acked since), because then no full batch can ever arrive until this
 *     client acks; Canal waits forever there.
 *   - Empty result: undefined; no batch id is used (the session replies batch -1).
 *   - ONE read cursor per destination, as in Canal (§6.2, §11.21): every client of the
 *     destination takes batches from the same stream, so two clientIds split it instead of
 *     each seeing all of it, and a rollback by any client rewinds it for all.
 *
 * Entry bytes after an ack (design decision 6, and the source thread's shared chunks): a batch
 * handed out is being read, by a session writing it to its socket or a sink decoding it, until
 * its reader calls `doneReading(batch)`. Entries acked (by this client or, one read cursor,
 * by another) are released to the producer (`onReleased`) only once no batch being read holds
 * them, so a slow socket write never sends bytes the source has written over. A reader that
 * never says it is done only stops the recycling: the store's bounds hold all the same.
 *
 * Subscription checks ("should subscribe first", silently ignored rollbacks of unsubscribed
 * clients) and the wire's special batch ids (ack -1 ignored, ack 0 → 402) belong to the
 * session; the store sees only real batch ids.
 */
import { CanalConfigError, CanalError, CanalServerError } from "../errors.js";
import { BatchLedger } from "./store/batch-ledger.js";
import { positionOf, type BinlogPosition, type StoreEntry } from "./store/entry.js";
import { EntryRing, type BatchMode } from "./store/ring.js";

export { BatchNotFoundError, BatchOrderError } from "./store/batch-ledger.js";
export type { BinlogPosition, StoreEntry } from "./store/entry.js";
export type { BatchMode } from "./store/ring.js";

export interface EventStoreOptions {
  destination: string;
  /** Most entries held (put, not yet acked). canal.instance.memory.buffer.size; a power of 2; default 16384. */
  bufferSize?: number;
  /** Bytes per batchSize unit in MEMSIZE mode. canal.instance.memory.buffer.memunit; default 1024. */
  memUnit?: number;
  /** Most bytes held, in both modes. Default bufferSize × memUnit (16 MiB), Canal's MEMSIZE bound. */
  maxBytes?: number;
  /** canal.instance.memory.batch.mode; default MEMSIZE, as in canal.properties. */
  batchMode?: BatchMode;
  /** canal.instance.get.ddl.isolation: a DDL is always a batch of its own. Default false. */
  ddlIsolation?: boolean;
  /**
   * The first `count` entries put are acked and no batch being read holds them: nothing reads
   * their bytes any more, so their memory may be written again (the source thread's shared
   * chunks). Called with a growing count.
   */
  onReleased?(count: number): void;
}

/** One fetched batch, outstanding until acked or rolled back. */
export interface Batch {
  /** Batch id, from 1 per client. */
  readonly id: number;
  /** The stored Canal Entry bytes, in binlog order. */
  readonly entries: Uint8Array[];
  /** Idempotency key of each entry. */
  readonly keys: string[];
  readonly bytes: number;
  readonly rows: number;
  /** Where acking this batch moves the cursor; undefined when it holds no transaction boundary. */
  readonly ackPoint: BinlogPosition | undefined;
}

export interface GetRequest {
  /** Canal's fetch_size: entries (ITEMSIZE) or units of memUnit bytes (MEMSIZE). */
  batchSize: number;
  /**
   * undefined: do not wait (the wire's -1). ≤ 0: wait until a full batch is there, without
   * limit. > 0: wait up to this many ms for a full batch, then return what is there.
   */
  timeoutMs?: number;
  /** Ends the wait early (the connection closed); the get then resolves undefined and takes nothing. */
  signal?: AbortSignal;
}

/** Counters for metrics (Canal's store metrics, §9); cumulative unless said otherwise. */
export interface EventStoreStats {
  putSequence: number;
  /** Rewinds on rollback. */
  getSequence: number;
  ackSequence: number;
  putBytes: number;
  /** Rewinds on rollback. */
  getBytes: number;
  ackBytes: number;
  putRows: number;
  getRows: number;
  ackRows: number;
  /** executeTime (ms) of the latest entry put, got, acked; 0 before any. */
  putExecTime: number;
  getExecTime: number;
  ackExecTime: number;
  /** Held now (put, not yet acked). */
  heldEntries: number;
  heldBytes: number;
  bufferSize: number;
  maxBytes: number;
  /** Puts refused for lack of room, and the ms the producer spent refused (Canal's sink_blocking_time). */
  refusedPuts: number;
  blockedMs: number;
}

interface GetWaiter {
  clientId: number;
  batchSize: number;
  resolve(batch: Batch | undefined): void;
  timer: ReturnType<typeof setTimeout> | undefined;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

const DEFAULT_BUFFER_SIZE = 16384;
const DEFAULT_MEM_UNIT = 1024;

export class EventStore {
  readonly destination: string;
  private readonly ring: EntryRing;
  private readonly ledger = new BatchLedger();
  private readonly waiters: GetWaiter[] = [];
  /** A put was refused and nothing was acked since: the producer is waiting for room. */
  private full = false;
  private fullSince = 0;
  private writable: { promise: Promise<void>; resolve(): void } | undefined;
  private refusedPuts = 0;
  private blockedMs = 0;
  private closed = false;
  /** Handing out no more batches (see drain), while acks and rollbacks still work. */
  private draining = false;
  /** Batches handed out and still being read, with the sequence of their first entry. */
  private readonly reading = new Map<Batch, number>();
  /** Entries released so far (see onReleased). */
  private released = 0;
  private readonly onReleased: ((count: number) => void) | undefined;

  constructor(options: EventStoreOptions) {
    this.destination = options.destination;
    this.onReleased = options.onReleased;
    const bufferSize = options.bufferSize ?? DEFAULT_BUFFER_SIZE;
    const memUnit = options.memUnit ?? DEFAULT_MEM_UNIT;
    const maxBytes = options.maxBytes ?? bufferSize * memUnit;
    if (!Number.isInteger(bufferSize) || bufferSize < 1 || (bufferSize & (bufferSize - 1)) !== 0 || bufferSize > 2 ** 30)
      throw new CanalConfigError(`event store bufferSize ${bufferSize} of destination ${this.destination}: expected a power of 2 from 1 to 2^30`);
    if (!Number.isInteger(memUnit) || memUnit < 1)
      throw new CanalConfigError(`event store memUnit ${memUnit} of destination ${this.destination}: expected a positive integer`);
    if (!(maxBytes > 0)) throw new CanalConfigError(`event store maxBytes ${maxBytes} of destination ${this.destination}: expected a positive number`);
    this.ring = new EntryRing({
      bufferSize,
      memUnit,
      maxBytes,
      batchMode: options.batchMode ?? "MEMSIZE",
      ddlIsolation: options.ddlIsolation ?? false,
    });
  }

  // ---- producer ----------------------------------------------------------------------------

  /** Stores the entry if it fits; false when the store is full (then await `whenWritable()`). */
  tryPut(entry: StoreEntry): boolean {
    if (this.closed) throw new CanalError(`the event store of destination ${this.destination} is closed`);
    if (this.ring.tryPut(entry)) {
      if (this.full) this.unblock();
      if (this.waiters.length > 0) this.serveWaiters();
      return true;
    }
    this.refusedPuts++;
    if (!this.full) {
      this.full = true;
      this.fullSince = Date.now();
      if (this.waiters.length > 0) this.serveWaiters();
    }
    return false;
  }

  /**
   * Stores entries[from…] in order while they fit. Returns the index of the first entry not
   * stored: entries.length when all were.
   */
  putAll(entries: readonly StoreEntry[], from = 0): number {
    let i = from;
    while (i < entries.length && this.tryPut(entries[i]!)) i++;
    return i;
  }

  /** Resolves when a refused put may now succeed (an ack freed room), or at once if none was refused. */
  whenWritable(): Promise<void> {
    if (!this.full || this.closed) return Promise.resolve();
    if (this.writable === undefined) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      this.writable = { promise, resolve };
    }
    return this.writable.promise;
  }

  // ---- consumer ----------------------------------------------------------------------------

  /** Canal's non-blocking get: the next batch for the client, or undefined when nothing is unread. */
  tryGet(clientId: number, batchSize: number): Batch | undefined {
    this.checkGet(batchSize);
    return this.draining ? undefined : this.take(clientId, batchSize);
  }

  /**
   * Canal's get with its timeout rules (see GetRequest). Throws at once (CanalServerError) on
   * a closed store or a batchSize below 1 in ITEMSIZE mode.
   */
  get(clientId: number, request: GetRequest): Promise<Batch | undefined> {
    const { batchSize, timeoutMs, signal } = request;
    this.checkGet(batchSize);
    if (this.draining && timeoutMs === undefined) return Promise.resolve(undefined);
    if (!this.draining && (timeoutMs === undefined || this.ready(batchSize))) return Promise.resolve(this.take(clientId, batchSize));
    if (signal?.aborted) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const waiter: GetWaiter = { clientId, batchSize, resolve, timer: undefined, signal, onAbort: undefined };
      if (timeoutMs !== undefined && timeoutMs > 0 && !this.draining) waiter.timer = setTimeout(() => this.settle(waiter, this.take(clientId, batchSize)), timeoutMs);
      if (signal !== undefined) signal.addEventListener("abort", (waiter.onAbort = () => this.settle(waiter, undefined)), { once: true });
      this.waiters.push(waiter);
    });
  }

  /**
   * Acks the client's oldest outstanding batch, which must be `batchId` (BatchNotFoundError,
   * BatchOrderError otherwise), and frees its entries. Returns the new cursor when the batch
   * held an ack point: the caller persists it.
   */
  ack(clientId: number, batchId: number): BinlogPosition | undefined {
    this.checkOpen();
    const mark = this.ledger.removeOldest("ack", clientId, batchId);
    const heldBefore = this.ring.held;
    this.ring.ackThrough(mark.endSeq);
    if (this.ring.held < heldBefore && this.full) this.unblock();
    this.release();
    return mark.ackPoint;
  }

  /**
   * The reader of a batch handed out is done with its entry bytes (the reply is written to the
   * socket, or the socket closed; the rows are decoded): see the module comment.
   */
  doneReading(batch: Batch): void {
    if (this.reading.delete(batch)) this.release();
  }

  /**
   * Rollback of all the client's batches (batchId 0 or omitted), or of its oldest one. Either
   * way the whole read cursor goes back to the last ack, as Canal does (§6.3): the client's
   * other outstanding batches stay, so acking the data fetched again then fails "not the firstly".
   */
  rollback(clientId: number, batchId = 0): void {
    this.checkOpen();
    if (batchId === 0) this.ledger.clear(clientId);
    else this.ledger.removeOldest("rollback", clientId, batchId);
    this.ring.rewind();
    if (this.waiters.length > 0) this.serveWaiters();
  }

  /** Drops the client's outstanding batches without rewinding (unsubscribe); its ids keep counting. */
  forgetClient(clientId: number): void {
    this.ledger.clear(clientId);
  }

  /** Ids of the client's outstanding batches, oldest first. */
  outstandingBatches(clientId: number): number[] {
    return this.ledger.outstandingIds(clientId);
  }

  /**
   * Where a new subscriber without a cursor starts (Canal's getFirstPosition, §6.3 subscribe):
   * the first entry held when nothing was acked yet, else the last acked entry.
   */
  firstPosition(): BinlogPosition | undefined {
    return this.ring.firstPosition();
  }

  stats(): EventStoreStats {
    const r = this.ring;
    return {
      putSequence: r.putSeq,
      getSequence: r.getSeq,
      ackSequence: r.ackSeq,
      putBytes: r.putBytes,
      getBytes: r.getBytes,
      ackBytes: r.ackBytes,
      putRows: r.putRows,
      getRows: r.getRows,
      ackRows: r.ackRows,
      putExecTime: r.putExecTime,
      getExecTime: r.getExecTime,
      ackExecTime: r.ackExecTime,
      heldEntries: r.held,
      heldBytes: r.heldBytes,
      bufferSize: r.options.bufferSize,
      maxBytes: r.options.maxBytes,
      refusedPuts: this.refusedPuts,
      blockedMs: this.blockedMs + (this.full ? Date.now() - this.fullSince : 0),
    };
  }

  /**
   * The destination is about to be handed to another node: no batch is handed out any more
   * (gets wait until close() and then end empty), while acks and rollbacks of batches already
   * out still move the cursor, so a client's last ack in flight is not lost.
   */
  drain(): void {
    this.draining = true;
    for (const waiter of this.waiters) {
      if (waiter.timer !== undefined) clearTimeout(waiter.timer);
      waiter.timer = undefined;
    }
  }

  /** Whether close() was called: the destination stopped, and its readers (the sinks) stop too. */
  isClosed(): boolean {
    return this.closed;
  }

  /**
   * Ends every wait: waiting gets resolve undefined, whenWritable resolves. Later calls fail:
   * gets, acks and rollbacks with Canal's "should start first", puts with a CanalError.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const waiter of [...this.waiters]) this.settle(waiter, undefined);
    this.writable?.resolve();
    this.writable = undefined;
  }

  // ---- internals ---------------------------------------------------------------------------

  private checkOpen(): void {
    // The store closes with its instance; Canal's text for a get/ack on a stopped instance.
    if (this.closed) throw new CanalServerError(`destination:${this.destination} should start first`);
  }

  private checkGet(batchSize: number): void {
    this.checkOpen();
    // Canal fails here with an index error (§1.5); ours says why.
    if (this.ring.options.batchMode === "ITEMSIZE" && !(batchSize >= 1))
      throw new CanalServerError(`batchSize ${batchSize} of destination ${this.destination}: expected at least 1 entry in ITEMSIZE mode`);
  }

  /** A waiting get may return: a full batch is there, or the store is full with something unread. */
  private ready(batchSize: number): boolean {
    return this.ring.hasFullBatch(batchSize) || (this.full && this.ring.unread > 0);
  }

  private take(clientId: number, batchSize: number): Batch | undefined {
    const firstSeq = this.ring.getSeq + 1;
    const taken = this.ring.take(batchSize);
    if (taken === undefined) return undefined;
    const ackPoint = taken.ackPoint === undefined ? undefined : positionOf(taken.ackPoint);
    const id = this.ledger.add(clientId, taken.endSeq, ackPoint);
    const batch = { id, entries: taken.entries, keys: taken.keys, bytes: taken.bytes, rows: taken.rows, ackPoint };
    this.reading.set(batch, firstSeq);
    return batch;
  }

  /** Tells the producer how many entries nothing reads any more, when that grew. */
  private release(): void {
    let count = this.ring.ackSeq + 1;
    for (const firstSeq of this.reading.values()) count = Math.min(count, firstSeq);
    if (count <= this.released) return;
    this.released = count;
    this.onReleased?.(count);
  }

  /** Serves waiting gets in arrival order, each as soon as it is ready. */
  private serveWaiters(): void {
    if (this.draining) return;
    for (let i = 0; i < this.waiters.length; ) {
      const waiter = this.waiters[i]!;
      if (this.ready(waiter.batchSize)) this.settle(waiter, this.take(waiter.clientId, waiter.batchSize));
      else i++;
    }
  }

  private settle(waiter: GetWaiter, batch: Batch | undefined): void {
    const i = this.waiters.indexOf(waiter);
    if (i >= 0) this.waiters.splice(i, 1);
    if (waiter.timer !== undefined) clearTimeout(waiter.timer);
    if (waiter.onAbort !== undefined) waiter.signal!.removeEventListener("abort", waiter.onAbort);
    waiter.resolve(batch);
  }

  /** Room was made (or a put went in): the producer is no longer refused. */
  private unblock(): void {
    this.full = false;
    this.blockedMs += Date.now() - this.fullSince;
    this.writable?.resolve();
    this.writable = undefined;
  }
}
