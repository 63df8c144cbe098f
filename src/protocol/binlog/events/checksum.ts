/**
 * Binlog event checksums. With `binlog_checksum=CRC32` every event ends in 4 bytes: the
 * little-endian CRC-32 (zlib polynomial) of all bytes before them, header included.
 */
import { crc32 } from "node:zlib";
import { BinlogChecksumError, type EventLocation } from "./errors.js";

export const CHECKSUM_LENGTH = 4;

/** binlog_checksum values as the format description event encodes them. */
export const ChecksumAlgorithm = { OFF: 0, CRC32: 1, UNDEFINED: 255 } as const;

/** Throws BinlogChecksumError unless the last 4 bytes of [start, end) are the CRC32 of the rest. */
export function verifyChecksum(buf: Buffer, start: number, end: number, location: EventLocation): void {
  const expected = buf.readUInt32LE(end - CHECKSUM_LENGTH);
  const actual = crc32(buf.subarray(start, end - CHECKSUM_LENGTH));
  if (expected !== actual) throw new BinlogChecksumError(location, expected, actual);
}
