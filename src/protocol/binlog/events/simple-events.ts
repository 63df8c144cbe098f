/**
 * The small events that carry a position, a transaction id or a statement text. Each decoder
 * reads the body [start, end) of one event: header and checksum already cut off.
 */
import { ByteReader } from "./byte-reader.js";

/**
 * ROTATE_EVENT (4): position u64 | next file name (rest). Sent at the end of a file and,
 * artificially, at the start of every dump to name the file being read.
 */
export interface Rotate {
  position: number;
  nextFile: string;
}
export function decodeRotate(buf: Buffer, start: number, end: number): Rotate {
  const r = new ByteReader(buf, start, end);
  return { position: r.u64Number(), nextFile: r.restString() };
}

/** XID_EVENT (16): xid u64. Commits an InnoDB transaction: a transaction boundary. */
export function decodeXid(buf: Buffer, start: number, end: number): bigint {
  return new ByteReader(buf, start, end).u64();
}

/**
 * HEARTBEAT_LOG_EVENT (27): the current binlog file name (rest). The header's log_pos is the
 * server's position in that file; heartbeats come only while the binlog is idle.
 */
export function decodeHeartbeat(buf: Buffer, start: number, end: number): string {
  return buf.toString("utf8", start, end);
}

/**
 * MariaDB ANNOTATE_ROWS_EVENT (160): the SQL text of the statement whose rows events follow
 * (rest of the event). Sent only when the dump asks for it (BINLOG_SEND_ANNOTATE_ROWS_EVENT).
 */
export function decodeAnnotateRows(buf: Buffer, start: number, end: number): string {
  return buf.toString("utf8", start, end);
}

/**
 * MySQL ROWS_QUERY_LOG_EVENT (29): length u8 (truncated at 255, so ignored) | SQL text (rest).
 */
export function decodeRowsQuery(buf: Buffer, start: number, end: number): string {
  return buf.toString("utf8", start + 1, end);
}

/**
 * MariaDB BINLOG_CHECKPOINT_EVENT (161): file name length u32 | file name. Names the oldest
 * binlog file still needed for crash recovery; informational for a replica.
 */
export function decodeBinlogCheckpoint(buf: Buffer, start: number, end: number): string {
  const r = new ByteReader(buf, start, end);
  return r.string(r.u32());
}
