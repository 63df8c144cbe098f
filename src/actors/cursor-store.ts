/**
 * What a Destination needs from cursor persistence, whatever holds the cursors: meta.dat on
 * the local disk in standalone mode (CursorFile), or ZooKeeper `<d>/<clientId>/cursor` in
 * cluster mode (ZkCursorStore). The Destination only ever reads the in-memory view (list, get:
 * synchronous, because a session asks "is this client subscribed" on every request) and
 * waits for writes to be durable before it serves a client's next request.
 *
 * The store is loaded before the Destination starts (CursorFile.open, ZkCursorStore.takeOver)
 * and owned by whoever loaded it; the Destination never closes it, it only flushes it on stop.
 */
import type { LogPosition, MetaClient } from "../protocol/cursor-json.js";
import type { BinlogPosition } from "./store/entry.js";

export type { MetaClient } from "../protocol/cursor-json.js";

export interface CursorStore {
  /** All subscribed clients, by ascending clientId (Canal lists subscriptions that way). */
  list(): MetaClient[];
  /** The client's filter and cursor, if it is subscribed. */
  get(clientId: number): MetaClient | undefined;
  /**
   * Records a client's filter and cursor (subscribe, ack). The in-memory view changes at once;
   * the promise resolves once the change is durable, and rejects when it cannot be (a disk
   * error, or in cluster mode a write fenced off by a newer owner of the destination).
   */
  set(client: MetaClient): Promise<void>;
  /** Forgets a client (unsubscribe); resolves once that is durable. */
  remove(clientId: number): Promise<void>;
  /** Resolves when every change accepted so far is durable. */
  flush(): Promise<void>;
}

/** The MySQL server a cursor was read from (Canal's identity.sourceAddress). */
export interface SourceAddress {
  address: string | null;
  port: number;
}

/** A store position as Canal's cursor: gtid "" when there is none, included false (§3.3). */
export function toLogPosition(position: BinlogPosition, source: SourceAddress): LogPosition {
  return {
    sourceAddress: { address: source.address, port: source.port },
    journalName: position.file,
    position: position.offset,
    serverId: position.serverId,
    timestamp: position.timestamp,
    gtid: position.gtid ?? "",
    included: false,
  };
}
