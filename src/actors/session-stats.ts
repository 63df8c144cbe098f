/**
 * Counters of the Canal TCP server, shared by all its sessions and read by the metrics issue
 * later. Plain number fields and small maps bumped on the request path: no allocation per
 * packet beyond a map lookup.
 */

/** Upper bounds (ms) of the GET latency buckets: Canal's 2.5 / 10 / 25 / 100 ms, and longer waits. */
export const GET_LATENCY_BUCKETS_MS = [2.5, 10, 25, 100, 1_000, 10_000, 60_000] as const;

/** A point-in-time copy of the counters; cumulative since the server started unless said otherwise. */
export interface CanalServerStats {
  /** Connections open now. */
  connectionsOpen: number;
  connectionsAccepted: number;
  /** Packets received, by PacketType name ("UNRECOGNIZED" for unknown numbers, "MALFORMED" for undecodable frames). */
  packets: Record<string, number>;
  bytesIn: number;
  bytesOut: number;
  /** Non-empty MESSAGES replies, the entries in them, and empty (batch -1) replies. */
  batches: number;
  entriesOut: number;
  emptyBatches: number;
  /** Error Acks written, by code (400, 401, 402). */
  errors: Record<string, number>;
  /** Sessions closed, by cause ("malformed", "idle", "stop", "peer", "socket", "handshake", "auth"). */
  closes: Record<string, number>;
  /**
   * Time from taking a GET off the connection's queue to its reply being written, blocking
   * waits included. `buckets[i]` counts GETs at or under GET_LATENCY_BUCKETS_MS[i] (cumulative).
   */
  getLatency: { count: number; sumMs: number; buckets: number[] };
}

export class ServerCounters {
  connectionsOpen = 0;
  connectionsAccepted = 0;
  bytesIn = 0;
  bytesOut = 0;
  batches = 0;
  entriesOut = 0;
  emptyBatches = 0;
  private readonly packets = new Map<string, number>();
  private readonly errors = new Map<number, number>();
  private readonly closes = new Map<string, number>();
  private getCount = 0;
  private getSumMs = 0;
  private readonly getBuckets: number[] = GET_LATENCY_BUCKETS_MS.map(() => 0);

  packet(type: string): void {
    this.packets.set(type, (this.packets.get(type) ?? 0) + 1);
  }

  error(code: number): void {
    this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
  }

  closed(cause: string): void {
    this.closes.set(cause, (this.closes.get(cause) ?? 0) + 1);
  }

  served(entries: number, latencyMs: number): void {
    if (entries === 0) this.emptyBatches++;
    else {
      this.batches++;
      this.entriesOut += entries;
    }
    this.getCount++;
    this.getSumMs += latencyMs;
    for (let i = 0; i < GET_LATENCY_BUCKETS_MS.length; i++) if (latencyMs <= GET_LATENCY_BUCKETS_MS[i]!) this.getBuckets[i]!++;
  }

  snapshot(): CanalServerStats {
    return {
      connectionsOpen: this.connectionsOpen,
      connectionsAccepted: this.connectionsAccepted,
      packets: Object.fromEntries(this.packets),
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      batches: this.batches,
      entriesOut: this.entriesOut,
      emptyBatches: this.emptyBatches,
      errors: Object.fromEntries(this.errors),
      closes: Object.fromEntries(this.closes),
      getLatency: { count: this.getCount, sumMs: this.getSumMs, buckets: [...this.getBuckets] },
    };
  }
}
