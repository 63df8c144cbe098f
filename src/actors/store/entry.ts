/**
 * What the event store keeps per entry, and the two rules Canal applies to single entries
 * (MemoryEventStoreWithBuffer, CanalServerWithEmbedded; canal-facts.md §6.2, §6.3):
 *   - an entry is an ack point (a cursor may point at it) when it is a TRANSACTIONEND, a DDL,
 *     or a TRANSACTIONBEGIN without GTID (with a GTID the dump would resume after the
 *     transaction and lose it);
 *   - "DDL" for these rules is Canal's store test on the header eventType: CREATE, ALTER,
 *     ERASE, RENAME, TRUNCATE, CINDEX, DINDEX. Other statements (QUERY, CREATE DATABASE…)
 *     are not, although their RowChange says isDdl.
 */
import type { WrittenEntry } from "../../protocol/binlog/entry-writer.js";
import { EventType } from "../../protocol/entry.js";

/**
 * The fields of a written entry the store reads. The entry writer's records are stored as
 * they are: putting an entry allocates nothing.
 */
export type StoreEntry = Pick<
  WrittenEntry,
  "bytes" | "kind" | "eventType" | "key" | "rowCount" | "file" | "offset" | "gtid" | "serverId" | "executeTime"
>;

/** Where an entry sits in the binlog: what a Canal cursor records (§3.3 LogPosition.postion). */
export interface BinlogPosition {
  file: string;
  /** Start offset of the event (Header.logfileOffset). */
  offset: number;
  /** Event time in ms (Header.executeTime). */
  timestamp: number;
  serverId: number;
  gtid: string | undefined;
}

export function positionOf(entry: StoreEntry): BinlogPosition {
  return { file: entry.file, offset: entry.offset, timestamp: entry.executeTime, serverId: entry.serverId, gtid: entry.gtid };
}

/** Canal's store `isDdl(eventType)`: the entries ddlIsolation puts in a batch of their own. */
export function isStoreDdl(entry: StoreEntry): boolean {
  switch (entry.eventType) {
    case EventType.CREATE:
    case EventType.ALTER:
    case EventType.ERASE:
    case EventType.RENAME:
    case EventType.TRUNCATE:
    case EventType.CINDEX:
    case EventType.DINDEX:
      return true;
    default:
      return false;
  }
}

/** Whether acking a batch that ends at or after this entry may move the cursor here. */
export function isAckPoint(entry: StoreEntry): boolean {
  if (entry.kind === "end") return true;
  if (entry.kind === "begin") return entry.gtid === undefined || entry.gtid === "";
  return isStoreDdl(entry);
}
