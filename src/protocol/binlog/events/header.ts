/**
 * The v4 common event header, 19 bytes at the start of every event:
 *
 *   timestamp u32 | type u8 | server_id u32 | event_size u32 | log_pos u32 | flags u16
 *
 * `log_pos` is the position of the *next* event in the binlog file, so an event occupies
 * [log_pos - event_size, log_pos). Artificial events (the rotate the server sends first, a
 * format description re-sent mid-file) have log_pos 0 and do not move the position.
 */
import { BinlogFormatError } from "./errors.js";

export const EVENT_HEADER_LENGTH = 19;

/** LOG_EVENT_ARTIFICIAL_F: made up by the server for the replica, not read from the file. */
export const ARTIFICIAL_EVENT_FLAG = 0x20;

export interface EventHeader {
  /** Seconds since the epoch when the statement started on the primary. */
  timestamp: number;
  type: number;
  serverId: number;
  /** Header + body + checksum, in bytes. */
  eventSize: number;
  /** Offset just past this event in its binlog file (0 for artificial events). */
  nextPosition: number;
  flags: number;
}

export function readEventHeader(buf: Buffer, offset: number, end: number): EventHeader {
  if (end - offset < EVENT_HEADER_LENGTH) {
    throw new BinlogFormatError(`event shorter than its ${EVENT_HEADER_LENGTH}-byte header (${end - offset} bytes)`);
  }
  const header: EventHeader = {
    timestamp: buf.readUInt32LE(offset),
    type: buf[offset + 4]!,
    serverId: buf.readUInt32LE(offset + 5),
    eventSize: buf.readUInt32LE(offset + 9),
    nextPosition: buf.readUInt32LE(offset + 13),
    flags: buf.readUInt16LE(offset + 17),
  };
  if (header.eventSize !== end - offset) {
    throw new BinlogFormatError(`event size ${header.eventSize} in header but ${end - offset} bytes received`);
  }
  return header;
}
