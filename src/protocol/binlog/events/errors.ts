/**
 * Errors of the binlog decoder. Both carry the position of the offending event, so the source
 * can stop with "where" and an operator can look at the same bytes with `mariadb-binlog`.
 */
import { CanalProtocolError } from "../../../errors.js";

/** Where an event sits in the upstream binlog. `offset` is the event's start offset. */
export interface EventLocation {
  file: string;
  offset: number;
}

function at(where: EventLocation | undefined): string {
  return where === undefined ? "" : ` at ${where.file}:${where.offset}`;
}

/** An event's bytes do not follow the documented layout (truncated, a length past the end). */
export class BinlogFormatError extends CanalProtocolError {
  override name = "BinlogFormatError";
  readonly location: EventLocation | undefined;
  constructor(message: string, location?: EventLocation, options: { cause?: unknown } = {}) {
    super(`${message}${at(location)}`, options);
    this.location = location;
  }
}

/**
 * The CRC32 of an event does not match its bytes. Never retriable and never skipped: the source
 * stops here, reporting the position, because silently dropping an event would lose rows.
 */
export class BinlogChecksumError extends CanalProtocolError {
  override name = "BinlogChecksumError";
  readonly location: EventLocation;
  readonly expected: number;
  readonly actual: number;
  constructor(location: EventLocation, expected: number, actual: number) {
    super(
      `binlog event checksum mismatch${at(location)}: event says 0x${expected.toString(16).padStart(8, "0")}, ` +
        `bytes give 0x${actual.toString(16).padStart(8, "0")}`,
    );
    this.location = location;
    this.expected = expected;
    this.actual = actual;
  }
}
