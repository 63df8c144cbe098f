/**
 * An independent invariant checker for failover tests (pure: no IO, no clock). The load
 * (sequence-load.ts) commits 1, 2, 3, … in order; the consumer tells the checker, batch by
 * batch, which numbers it received, on which connection to which server, and whether it acked
 * the batch. `report(lastCommitted)` then says:
 *
 *   - lost: committed numbers never received (must be none: delivery is at least once);
 *   - out of order: a number received for the first time after a higher one, or a connection
 *     going backwards (commit order must be kept);
 *   - duplicates, each with its cause. A redelivery of a number whose earlier deliveries were
 *     all in unacked batches is what at-least-once allows; a redelivery of a number from a batch
 *     that was acked is a defect (the server or the failover lost the ack). As the client's ack
 *     gets no reply, an acked batch that was the last one acked on its connection may have
 *     been acked while the server died; the report marks those so a test can tell a crash
 *     window from a lost cursor.
 *
 * The checker knows nothing of Canal: it sees numbers and batch identities only.
 */

/** One batch as the consumer received it. Add it once its ack has been attempted (acked or not). */
export interface ReceivedBatch {
  /** The batch id the server gave (unique per connection only). */
  batchId: number;
  /** The connection it came on (the connector's `connection` number). */
  connection: number;
  /** The server address that connection was to, "ip:port". */
  server: string;
  /** The sequence numbers in the batch, in the order received (other tables' rows left out). */
  ns: readonly number[];
  /** True when the consumer acked the batch (the ack was written without error). */
  acked: boolean;
  /** Epoch ms of the receipt, if the caller keeps it. */
  at?: number;
}

/** Where a delivery happened: the batch's position among all batches added, and its identity. */
export interface BatchRef {
  /** 0-based position in the order batches were added. */
  index: number;
  batchId: number;
  connection: number;
  server: string;
  acked: boolean;
}

export type DuplicateCause = "redelivery of an unacked batch" | "redelivery of an acked batch" | "repeated within one batch";

export interface Duplicate {
  n: number;
  /** The batch that delivered n again. */
  batch: BatchRef;
  /** The earlier delivery that decides the cause: an acked one if there was any, else the latest. */
  previous: BatchRef;
  cause: DuplicateCause;
  /** Only a redelivery of an unacked batch is allowed. */
  allowed: boolean;
  /**
   * For "redelivery of an acked batch": the acked batch was the last one acked on its
   * connection, so the ack may have been in flight when that connection (or its server) ended.
   */
  ackedLastOnConnection: boolean;
}

export interface OutOfOrder {
  n: number;
  batch: BatchRef;
  /** "late": received for the first time after `after`, a higher number; "backwards": its connection had already delivered `after` ≥ n. */
  kind: "late" | "backwards";
  after: number;
}

export interface SequenceReport {
  /** The first number the load wrote. */
  first: number;
  lastCommitted: number;
  batches: number;
  /** Numbers received, counting repeats. */
  rows: number;
  /** Distinct numbers received. */
  distinct: number;
  /** Distinct "connection@server" pairs. */
  connections: number;
  servers: string[];
  /** Committed numbers never received, as inclusive ranges. */
  lost: { count: number; ranges: [number, number][] };
  outOfOrder: OutOfOrder[];
  duplicates: { count: number; byCause: Record<DuplicateCause, number>; ackedLastOnConnection: number; list: Duplicate[] };
  /** Numbers received that the load did not commit: below `first` or above `lastCommitted`. */
  unexpected: number[];
  /** No loss, no disorder, no duplicate but redeliveries of unacked batches, nothing unexpected. */
  ok: boolean;
  /**
   * "ok" as `ok`; "acks in flight" when the only defects are redeliveries of the last batch
   * acked on a connection (the ack may not have reached a server that died: a crash window,
   * not a lost cursor); "failed" otherwise.
   */
  verdict: "ok" | "acks in flight" | "failed";
  /** One line for logs and benchmark output. */
  summary: string;
}

interface Seen {
  /** The latest delivery. */
  last: BatchRef;
  /** The latest delivery in an acked batch, if any. */
  lastAcked: BatchRef | undefined;
}

const CAUSES: readonly DuplicateCause[] = ["redelivery of an unacked batch", "redelivery of an acked batch", "repeated within one batch"];

export class SequenceChecker {
  private readonly first: number;
  private readonly seen = new Map<number, Seen>();
  private readonly duplicates: { n: number; batch: BatchRef; previous: BatchRef; cause: DuplicateCause }[] = [];
  private readonly outOfOrder: OutOfOrder[] = [];
  /** Per "connection@server": the last number it delivered, and the index of its last acked batch. */
  private readonly connections = new Map<string, { lastN: number; lastAckedIndex: number }>();
  private readonly servers = new Set<string>();
  private max = -Infinity;
  private batches = 0;
  private rows = 0;

  /** `first`: the first number the load writes (SequenceLoad.first), default 1. */
  constructor(options: { first?: number } = {}) {
    this.first = options.first ?? 1;
  }

  /** Records one batch; batches must be added in the order they were received. */
  add(batch: ReceivedBatch): void {
    const ref: BatchRef = { index: this.batches++, batchId: batch.batchId, connection: batch.connection, server: batch.server, acked: batch.acked };
    const key = `${batch.connection}@${batch.server}`;
    this.servers.add(batch.server);
    let conn = this.connections.get(key);
    if (conn === undefined) this.connections.set(key, (conn = { lastN: -Infinity, lastAckedIndex: -1 }));
    if (batch.acked) conn.lastAckedIndex = ref.index;
    for (const n of batch.ns) {
      this.rows++;
      if (n <= conn.lastN) this.outOfOrder.push({ n, batch: ref, kind: "backwards", after: conn.lastN });
      conn.lastN = n;
      const seen = this.seen.get(n);
      if (seen === undefined) {
        if (n < this.max) this.outOfOrder.push({ n, batch: ref, kind: "late", after: this.max });
        this.seen.set(n, { last: ref, lastAcked: batch.acked ? ref : undefined });
      } else {
        const previous = seen.last.index === ref.index ? seen.last : (seen.lastAcked ?? seen.last);
        const cause: DuplicateCause =
          seen.last.index === ref.index ? "repeated within one batch" : seen.lastAcked !== undefined ? "redelivery of an acked batch" : "redelivery of an unacked batch";
        this.duplicates.push({ n, batch: ref, previous, cause });
        seen.last = ref;
        if (batch.acked) seen.lastAcked = ref;
      }
      if (n > this.max) this.max = n;
    }
  }

  /** Duplicates so far by cause, and out-of-order deliveries so far: cheap, for progress between reports. */
  counts(): { duplicates: Record<DuplicateCause, number>; outOfOrder: number } {
    const duplicates = Object.fromEntries(CAUSES.map((c) => [c, 0])) as Record<DuplicateCause, number>;
    for (const d of this.duplicates) duplicates[d.cause]++;
    return { duplicates, outOfOrder: this.outOfOrder.length };
  }

  /** The highest number received so far; -Infinity before any. */
  maxReceived(): number {
    return this.max;
  }

  /** True once `n` has been received. */
  has(n: number): boolean {
    return this.seen.has(n);
  }

  report(lastCommitted: number): SequenceReport {
    const ranges: [number, number][] = [];
    let lost = 0;
    for (let n = this.first; n <= lastCommitted; n++) {
      if (this.seen.has(n)) continue;
      lost++;
      const open = ranges.at(-1);
      if (open !== undefined && open[1] === n - 1) open[1] = n;
      else ranges.push([n, n]);
    }
    const unexpected = [...this.seen.keys()].filter((n) => n < this.first || n > lastCommitted).sort((a, b) => a - b);
    const lastAckedIndex = new Set([...this.connections.values()].map((c) => c.lastAckedIndex));
    const list: Duplicate[] = this.duplicates.map((d) => ({
      ...d,
      allowed: d.cause === "redelivery of an unacked batch",
      ackedLastOnConnection: d.cause === "redelivery of an acked batch" && lastAckedIndex.has(d.previous.index),
    }));
    const byCause = Object.fromEntries(CAUSES.map((c) => [c, list.filter((d) => d.cause === c).length])) as Record<DuplicateCause, number>;
    const ackedLastOnConnection = list.filter((d) => d.ackedLastOnConnection).length;
    const defects = list.length - byCause["redelivery of an unacked batch"];
    const ok = lost === 0 && this.outOfOrder.length === 0 && defects === 0 && unexpected.length === 0;
    const inFlightOnly = lost === 0 && this.outOfOrder.length === 0 && defects === ackedLastOnConnection && unexpected.length === 0;
    const verdict = ok ? "ok" : inFlightOnly ? "acks in flight" : "failed";
    const shownRanges = ranges.slice(0, 5).map(([a, b]) => (a === b ? `${a}` : `${a}..${b}`)).join(", ") + (ranges.length > 5 ? ", …" : "");
    const summary = [
      `${ok ? "ok" : inFlightOnly ? "ok but for acks in flight" : "FAILED"}: ${lastCommitted - this.first + 1} committed (${this.first}..${lastCommitted}), ${this.seen.size} distinct received in ${this.rows} rows, ${this.batches} batches, ${this.connections.size} connections to ${this.servers.size} servers`,
      `lost ${lost}${lost > 0 ? ` (${shownRanges})` : ""}`,
      `out of order ${this.outOfOrder.length}`,
      `duplicates ${list.length} (${byCause["redelivery of an unacked batch"]} redelivery of an unacked batch, ${byCause["redelivery of an acked batch"]} redelivery of an acked batch` +
        `${ackedLastOnConnection > 0 ? ` [${ackedLastOnConnection} of the last ack on a connection]` : ""}, ${byCause["repeated within one batch"]} repeated within one batch)`,
      ...(unexpected.length > 0 ? [`unexpected ${unexpected.length} (first ${unexpected[0]})`] : []),
    ].join("; ");
    return {
      first: this.first,
      lastCommitted,
      batches: this.batches,
      rows: this.rows,
      distinct: this.seen.size,
      connections: this.connections.size,
      servers: [...this.servers],
      lost: { count: lost, ranges },
      outOfOrder: [...this.outOfOrder],
      duplicates: { count: list.length, byCause, ackedLastOnConnection, list },
      unexpected,
      ok,
      verdict,
      summary,
    };
  }
}

/** The checker over a whole recorded stream at once. */
export function checkSequence(batches: readonly ReceivedBatch[], options: { first?: number; lastCommitted: number }): SequenceReport {
  const checker = new SequenceChecker(options.first === undefined ? {} : { first: options.first });
  for (const batch of batches) checker.add(batch);
  return checker.report(options.lastCommitted);
}
