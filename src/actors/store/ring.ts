/**
 * The bounded ring of entries behind one destination's event store, after Canal's
 * MemoryEventStoreWithBuffer (canal-facts.md §6.1, §6.2). Synchronous and allocation-free per
 * entry: a slot array of the producer's own records and three sequences.
 *
 *   ackSeq ≤ getSeq ≤ putSeq        (all start at -1; slot of a sequence = seq & (size-1))
 *   held   = putSeq − ackSeq        entries put and not yet acked: they hold their slots
 *   unread = putSeq − getSeq        entries a get can take
 *
 * Bounds (design decision 6): at most `bufferSize` entries and `maxBytes` bytes are held, in
 * both batch modes. One entry larger than the whole byte bound still goes in when nothing is
 * held, so an oversized row cannot deadlock the stream; apart from that entry the byte bound
 * is never exceeded. (Canal checks its byte bound before adding, so it overshoots by up to one
 * entry every time, and has no byte bound in ITEMSIZE mode.)
 *
 * There is one read cursor (getSeq) for the whole destination, as in Canal (§6.2, §11.21).
 */
import { isAckPoint, isStoreDdl, positionOf, type BinlogPosition, type StoreEntry } from "./entry.js";

/** canal.instance.memory.batch.mode: a batch is up to batchSize × memUnit bytes, or batchSize entries. */
export type BatchMode = "MEMSIZE" | "ITEMSIZE";

export interface RingOptions {
  bufferSize: number;
  maxBytes: number;
  memUnit: number;
  batchMode: BatchMode;
  ddlIsolation: boolean;
}

/** The entries one get took, and what its batch mark needs. */
export interface Taken {
  entries: Uint8Array[];
  keys: string[];
  bytes: number;
  rows: number;
  /** The last ack point among the entries, if any (§6.3 range.ack). */
  ackPoint: StoreEntry | undefined;
  /** Sequence of the last entry taken (§6.3 range.endSeq). */
  endSeq: number;
}

export class EntryRing {
  putSeq = -1;
  getSeq = -1;
  ackSeq = -1;
  /** Cumulative bytes, rows and the latest executeTime through each sequence (for bounds and metrics). */
  putBytes = 0;
  getBytes = 0;
  ackBytes = 0;
  putRows = 0;
  getRows = 0;
  ackRows = 0;
  putExecTime = 0;
  getExecTime = 0;
  ackExecTime = 0;

  private readonly slots: (StoreEntry | undefined)[];
  private readonly mask: number;
  /** Kept because the acked entries' slots are freed at once, and subscribe needs it. */
  private lastAcked: BinlogPosition | undefined;

  constructor(readonly options: RingOptions) {
    this.slots = new Array<StoreEntry | undefined>(options.bufferSize).fill(undefined);
    this.mask = options.bufferSize - 1;
  }

  get held(): number {
    return this.putSeq - this.ackSeq;
  }

  get heldBytes(): number {
    return this.putBytes - this.ackBytes;
  }

  get unread(): number {
    return this.putSeq - this.getSeq;
  }

  /** Stores the entry if it fits within both bounds (see the module comment). */
  tryPut(entry: StoreEntry): boolean {
    const held = this.putSeq - this.ackSeq;
    if (held >= this.options.bufferSize) return false;
    const size = entry.bytes.length;
    if (held > 0 && this.putBytes - this.ackBytes + size > this.options.maxBytes) return false;
    this.slots[++this.putSeq & this.mask] = entry;
    this.putBytes += size;
    this.putRows += entry.rowCount;
    if (entry.executeTime > 0) this.putExecTime = entry.executeTime;
    return true;
  }

  /**
   * Canal's "enough to return" test of a blocking get (checkUnGetSlotAt): a full batch of
   * entries in ITEMSIZE mode, batchSize × memUnit unread bytes in MEMSIZE mode.
   */
  hasFullBatch(batchSize: number): boolean {
    if (this.options.batchMode === "ITEMSIZE") return this.putSeq > this.getSeq && this.putSeq - this.getSeq >= batchSize;
    return this.putBytes - this.getBytes >= batchSize * this.options.memUnit;
  }

  /**
   * Takes the next batch after the read cursor (Canal's doGet), or undefined when nothing is
   * unread:
   *   - ITEMSIZE: up to batchSize entries (begin/end entries count);
   *   - MEMSIZE: entries are added while the bytes taken so far are ≤ batchSize × memUnit, so
   *     the last one may cross the limit and the first one always goes;
   *   - ddlIsolation: a DDL ends the batch before it, or is the batch alone when first.
   * batchSize must be ≥ 1 in ITEMSIZE mode (the store checks it).
   */
  take(batchSize: number): Taken | undefined {
    if (this.putSeq === this.getSeq) return undefined;
    const { batchMode, memUnit, ddlIsolation } = this.options;
    const lastSeq = batchMode === "ITEMSIZE" ? Math.min(this.getSeq + batchSize, this.putSeq) : this.putSeq;
    const byteLimit = batchMode === "ITEMSIZE" ? Infinity : batchSize * memUnit;
    const entries: Uint8Array[] = [];
    const keys: string[] = [];
    let bytes = 0;
    let rows = 0;
    let ackPoint: StoreEntry | undefined;
    let execTime = 0;
    let seq = this.getSeq + 1;
    for (; seq <= lastSeq && bytes <= byteLimit; seq++) {
      const entry = this.slots[seq & this.mask]!;
      const isolated = ddlIsolation && isStoreDdl(entry);
      if (isolated && entries.length > 0) break;
      entries.push(entry.bytes);
      keys.push(entry.key);
      bytes += entry.bytes.length;
      rows += entry.rowCount;
      if (execTime === 0) execTime = entry.executeTime;
      if (isAckPoint(entry)) ackPoint = entry;
      if (isolated) {
        seq++;
        break;
      }
    }
    const endSeq = seq - 1;
    this.getSeq = endSeq;
    this.getBytes += bytes;
    this.getRows += rows;
    if (execTime > 0) this.getExecTime = execTime;
    return { entries, keys, bytes, rows, ackPoint, endSeq };
  }

  /**
   * Frees every slot through endSeq (Canal's cleanUntil). A range another client's ack
   * already freed (one read cursor, several clients) is left as it is. A client that acks a
   * batch whose entries were rolled back and not fetched again skips them: the read cursor
   * never stays behind the ack cursor.
   */
  ackThrough(endSeq: number): void {
    if (endSeq <= this.ackSeq) return;
    let bytes = 0;
    let rows = 0;
    let execTime = 0;
    let last: StoreEntry | undefined;
    for (let seq = this.ackSeq + 1; seq <= endSeq; seq++) {
      const slot = seq & this.mask;
      last = this.slots[slot]!;
      this.slots[slot] = undefined;
      bytes += last.bytes.length;
      rows += last.rowCount;
      if (execTime === 0) execTime = last.executeTime;
    }
    this.lastAcked = positionOf(last!);
    this.ackSeq = endSeq;
    this.ackBytes += bytes;
    this.ackRows += rows;
    if (execTime > 0) this.ackExecTime = execTime;
    if (this.getSeq < this.ackSeq) {
      this.getSeq = this.ackSeq;
      this.getBytes = this.ackBytes;
    }
  }

  /** Moves the read cursor back to the ack cursor: everything unacked is fetched again. */
  rewind(): void {
    this.getSeq = this.ackSeq;
    this.getBytes = this.ackBytes;
  }

  /**
   * Canal's getFirstPosition, where a new subscriber's cursor starts (§6.3 subscribe): the
   * first entry when nothing was acked yet, else the last acked entry; undefined when the
   * store never held anything.
   */
  firstPosition(): BinlogPosition | undefined {
    if (this.ackSeq >= 0) return this.lastAcked;
    return this.putSeq >= 0 ? positionOf(this.slots[0]!) : undefined;
  }
}
