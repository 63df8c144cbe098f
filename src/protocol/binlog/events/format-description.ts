/**
 * FORMAT_DESCRIPTION_EVENT (15), the first event of every binlog file, and sent again by the
 * server whenever a dump starts:
 *
 *   binlog_version u16 | server_version char[50] | create_timestamp u32 | header_length u8 |
 *   post_header_lengths u8[one per event type] | checksum_alg u8 | checksum (4 bytes, or room for it)
 *
 * Servers that know about checksums (MySQL ≥ 5.6.1, MariaDB ≥ 5.3) always write the algorithm
 * byte and the 4 checksum bytes, so the number of post-header lengths is what remains between.
 * The post-header lengths say how the later events of the file are laid out (e.g. whether a
 * table id has 4 or 6 bytes, whether rows events carry v2 extra data).
 */
import { ByteReader } from "./byte-reader.js";
import { CHECKSUM_LENGTH, ChecksumAlgorithm } from "./checksum.js";
import { BinlogFormatError } from "./errors.js";
import { EVENT_HEADER_LENGTH } from "./header.js";

export interface FormatDescription {
  binlogVersion: number;
  serverVersion: string;
  createTimestamp: number;
  headerLength: number;
  /** Post-header length of event type t is postHeaderLengths[t - 1]. */
  postHeaderLengths: Uint8Array;
  /** ChecksumAlgorithm: whether the events after this one end in a CRC32. */
  checksumAlgorithm: number;
}

const SERVER_VERSION_LENGTH = 50;

function versionAtLeast(version: string, major: number, minor: number, patch: number): boolean {
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(version);
  if (m === null) return false;
  const [a, b, c] = [Number(m[1]), Number(m[2]), Number(m[3])];
  return a !== major ? a > major : b !== minor ? b > minor : c >= patch;
}

function knowsChecksums(serverVersion: string): boolean {
  return serverVersion.includes("MariaDB") ? versionAtLeast(serverVersion, 5, 3, 0) : versionAtLeast(serverVersion, 5, 6, 1);
}

/** Decodes the whole event [start, end) (header included; the checksum, if any, is within it). */
export function decodeFormatDescription(buf: Buffer, start: number, end: number): FormatDescription {
  const r = new ByteReader(buf, start + EVENT_HEADER_LENGTH, end);
  const binlogVersion = r.u16();
  const rawVersion = r.string(SERVER_VERSION_LENGTH, "latin1");
  const serverVersion = rawVersion.replace(/\0.*$/s, "");
  const createTimestamp = r.u32();
  const headerLength = r.u8();
  if (binlogVersion !== 4 || headerLength !== EVENT_HEADER_LENGTH) {
    throw new BinlogFormatError(`unsupported binlog format: version ${binlogVersion}, header length ${headerLength} (only v4 with 19-byte headers)`);
  }
  const footer = knowsChecksums(serverVersion) ? 1 + CHECKSUM_LENGTH : 0;
  const count = r.remaining - footer;
  if (count < 0) throw new BinlogFormatError("format description event truncated");
  const postHeaderLengths = Uint8Array.from(r.bytes(count));
  const checksumAlgorithm = footer > 0 ? r.u8() : ChecksumAlgorithm.OFF;
  return { binlogVersion, serverVersion, createTimestamp, headerLength, postHeaderLengths, checksumAlgorithm };
}
