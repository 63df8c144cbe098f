/**
 * How far behind the database a destination is, and whether it is idle or stalled, from the
 * binlog stream's clocks (BinlogStreamStats) and the destination's backpressure flag. Pure, so
 * the rules are unit-tested; the metrics and the node's watch (./node-ops.ts) both use it.
 *
 * The server sends a heartbeat only when it has had nothing to send for a heartbeat period, so
 * a heartbeat says "you have everything up to now". Hence:
 *   - blocked:   the store is full and the source stopped reading (clients are slow to ack);
 *                lag grows from the time of the last change read.
 *   - stalled:   nothing (neither events nor heartbeats) for more than two heartbeat periods: the
 *                connection or the server is stuck; lag grows from when we were last known
 *                caught up (the later of the last heartbeat and the last change's time).
 *   - idle:      a heartbeat came after the last change: caught up, lag 0.
 *   - streaming: changes are arriving; lag is how old the newest change was when it arrived
 *                (event times have one-second resolution, so under a second means "live").
 */

export type SourceState = "streaming" | "idle" | "stalled" | "blocked" | "starting";
export const SOURCE_STATES: readonly SourceState[] = ["streaming", "idle", "stalled", "blocked", "starting"];

export interface SourceClocks {
  lastReceivedAt: number;
  lastHeartbeatAt: number;
  lastEventAt: number;
  lastEventTime: number;
  heartbeatPeriodMs: number;
}

export interface SourceHealth {
  state: SourceState;
  /** Milliseconds behind the database, ≥ 0. */
  lagMs: number;
  /** Milliseconds since anything came from the database (0 before the first). */
  silentMs: number;
}

/** Silence longer than this many heartbeat periods is a stall (the stream itself gives up after 3). */
const STALL_PERIODS = 2;

export function sourceHealth(clocks: SourceClocks | undefined, blocked: boolean, now: number): SourceHealth {
  if (clocks === undefined || clocks.lastReceivedAt === 0) return { state: "starting", lagMs: 0, silentMs: 0 };
  const silentMs = Math.max(0, now - clocks.lastReceivedAt);
  const caughtUpAt = Math.max(clocks.lastHeartbeatAt, clocks.lastEventTime);
  if (blocked) return { state: "blocked", lagMs: Math.max(0, now - (clocks.lastEventTime || caughtUpAt)), silentMs };
  if (clocks.heartbeatPeriodMs > 0 && silentMs > STALL_PERIODS * clocks.heartbeatPeriodMs) {
    return { state: "stalled", lagMs: Math.max(0, now - caughtUpAt), silentMs };
  }
  if (clocks.lastHeartbeatAt >= clocks.lastEventAt) return { state: "idle", lagMs: 0, silentMs };
  return { state: "streaming", lagMs: Math.max(0, clocks.lastEventAt - clocks.lastEventTime), silentMs };
}
