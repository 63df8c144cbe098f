/**
 * MySQL GTIDs: `source_uuid:transaction_number`; a GTID set is `uuid:1-5:7,uuid2:1-3`.
 *
 *   GTID_LOG_EVENT (33) / ANONYMOUS_GTID_LOG_EVENT (34), first event of every transaction:
 *     flags u8 | sid (16 bytes) | gno i64
 *     [ lt_type u8 (2) | last_committed i64 | sequence_number i64 ]                 5.7+
 *     [ immediate_commit_timestamp u56 (bit 55 set: original_commit_timestamp u56 follows) ]  8.0.1+
 *     [ transaction_length lenenc ] [ server versions ]                           8.0.2+
 *   The binary GTID set, used by PREVIOUS_GTIDS_LOG_EVENT (35) and COM_BINLOG_DUMP_GTID:
 *     n_sids u64 | n_sids × (sid (16 bytes) | n_intervals u64 | n_intervals × (start i64 | end i64))
 *   with `end` exclusive: the text interval 1-5 is stored as [1, 6).
 */
import { ByteReader } from "./byte-reader.js";
import { CanalConfigError } from "../../../errors.js";

export interface MysqlGtidEvent {
  flags: number;
  /** Source server UUID, lower-case 8-4-4-4-12 hex. */
  sid: string;
  gno: bigint;
  /** Logical clock of the parallel applier (absent before MySQL 5.7). */
  lastCommitted?: bigint;
  sequenceNumber?: bigint;
  /** Microseconds since the epoch when the transaction committed on this server (8.0.1+). */
  immediateCommitTimestamp?: bigint;
  /** …and on the server where it originated. */
  originalCommitTimestamp?: bigint;
}

/** One source's ranges; each interval is [start, end) as stored on the wire. */
export interface MysqlGtidSetEntry {
  sid: string;
  intervals: Array<[start: bigint, endExclusive: bigint]>;
}
export type MysqlGtidSet = MysqlGtidSetEntry[];

const UUID_BYTES = 16;
const LOGICAL_TIMESTAMP_TYPECODE = 2;
const COMMIT_TIMESTAMP_BYTES = 7;
const ORIGINAL_COMMIT_TIMESTAMP_FLAG = 1n << 55n;

function readUuid(r: ByteReader): string {
  const hex = r.bytes(UUID_BYTES).toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function uuidBytes(sid: string): Buffer {
  const hex = sid.replace(/-/g, "");
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new CanalConfigError(`invalid MySQL server UUID "${sid}": expected 32 hex digits`);
  return Buffer.from(hex, "hex");
}

function readCommitTimestamp(r: ByteReader): bigint {
  const low = BigInt(r.u32());
  const high = BigInt(r.uint(3));
  return (high << 32n) | low;
}

export function decodeMysqlGtid(buf: Buffer, start: number, end: number): MysqlGtidEvent {
  const r = new ByteReader(buf, start, end);
  const gtid: MysqlGtidEvent = { flags: r.u8(), sid: readUuid(r), gno: r.i64() };
  if (r.remaining > 0 && buf[r.pos] === LOGICAL_TIMESTAMP_TYPECODE) {
    r.skip(1);
    gtid.lastCommitted = r.i64();
    gtid.sequenceNumber = r.i64();
  }
  if (r.remaining >= COMMIT_TIMESTAMP_BYTES) {
    const immediate = readCommitTimestamp(r);
    gtid.immediateCommitTimestamp = immediate & ~ORIGINAL_COMMIT_TIMESTAMP_FLAG;
    gtid.originalCommitTimestamp =
      immediate & ORIGINAL_COMMIT_TIMESTAMP_FLAG ? readCommitTimestamp(r) : gtid.immediateCommitTimestamp;
  }
  return gtid;
}

export function formatMysqlGtid(g: Pick<MysqlGtidEvent, "sid" | "gno">): string {
  return `${g.sid}:${g.gno}`;
}

export function decodeMysqlGtidSet(buf: Buffer, start: number, end: number): MysqlGtidSet {
  const r = new ByteReader(buf, start, end);
  const set: MysqlGtidSet = [];
  for (let n = r.u64Number(); n > 0; n--) {
    const sid = readUuid(r);
    const intervals: MysqlGtidSetEntry["intervals"] = [];
    for (let k = r.u64Number(); k > 0; k--) intervals.push([r.i64(), r.i64()]);
    set.push({ sid, intervals });
  }
  return set;
}

export function encodedMysqlGtidSetLength(set: MysqlGtidSet): number {
  return set.reduce((n, e) => n + UUID_BYTES + 8 + e.intervals.length * 16, 8);
}

/** Writes the binary form of `set` at `offset`; returns the offset after it. */
export function encodeMysqlGtidSet(set: MysqlGtidSet, out: Buffer, offset: number): number {
  let at = out.writeBigUInt64LE(BigInt(set.length), offset);
  for (const entry of set) {
    at += uuidBytes(entry.sid).copy(out, at);
    at = out.writeBigUInt64LE(BigInt(entry.intervals.length), at);
    for (const [from, to] of entry.intervals) {
      at = out.writeBigInt64LE(from, at);
      at = out.writeBigInt64LE(to, at);
    }
  }
  return at;
}

/** Parses `uuid:1-5:7,uuid2:3` (what `@@gtid_executed` prints); throws CanalConfigError on bad text. */
export function parseMysqlGtidSet(text: string): MysqlGtidSet {
  return text
    .split(",")
    .map((p) => p.trim())
    .filter((p) => p !== "")
    .map((part) => {
      const [sid, ...ranges] = part.split(":");
      uuidBytes(sid!);
      if (ranges.length === 0) throw new CanalConfigError(`invalid MySQL GTID set "${part}": expected uuid:from-to[:from-to…]`);
      const intervals = ranges.map((range): [bigint, bigint] => {
        const m = /^(\d+)(?:-(\d+))?$/.exec(range);
        if (m === null) throw new CanalConfigError(`invalid MySQL GTID interval "${range}" in "${part}": expected N or N-M`);
        const from = BigInt(m[1]!);
        const to = m[2] === undefined ? from : BigInt(m[2]);
        if (to < from) throw new CanalConfigError(`invalid MySQL GTID interval "${range}" in "${part}": end before start`);
        return [from, to + 1n];
      });
      return { sid: sid!.toLowerCase(), intervals };
    });
}

export function formatMysqlGtidSet(set: MysqlGtidSet): string {
  return set
    .map((e) => [e.sid, ...e.intervals.map(([a, b]) => (b - 1n === a ? `${a}` : `${a}-${b - 1n}`))].join(":"))
    .join(",");
}
