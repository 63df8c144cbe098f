/**
 * MariaDB global transaction ids: `domain-server-seq`, e.g. `0-1-100`. A position is a list
 * of them, one per replication domain (`0-1-100,1-2-7`).
 *
 *   GTID_EVENT (162), first event of every transaction:
 *     seq_no u64 | domain_id u32 | flags u8 | commit_id u64 (only if flags & FL_GROUP_COMMIT_ID) | …
 *     the server id is the header's.
 *   GTID_LIST_EVENT (163), near the start of every file: the GTID state at that point:
 *     count u32 (low 28 bits; the high 4 are flags) | count × (domain_id u32 | server_id u32 | seq_no u64)
 */
import { ByteReader } from "./byte-reader.js";
import { CanalConfigError } from "../../../errors.js";

export interface MariadbGtid {
  domainId: number;
  serverId: number;
  sequence: bigint;
}

/** GTID_EVENT flags that matter to a reader. */
export const MariadbGtidFlag = {
  /** A statement outside any transaction (DDL, non-transactional engine): no COMMIT/XID follows. */
  STANDALONE: 0x01,
  GROUP_COMMIT_ID: 0x02,
  TRANSACTIONAL: 0x04,
  DDL: 0x20,
} as const;

export interface MariadbGtidEvent extends MariadbGtid {
  flags: number;
  commitId?: bigint;
}

export function formatMariadbGtid(g: MariadbGtid): string {
  return `${g.domainId}-${g.serverId}-${g.sequence}`;
}

/** Parses `0-1-100,1-2-7` (spaces allowed); throws CanalConfigError naming the bad part. */
export function parseMariadbGtidList(text: string): MariadbGtid[] {
  const parts = text.split(",").map((p) => p.trim()).filter((p) => p !== "");
  return parts.map((part) => {
    const m = /^(\d+)-(\d+)-(\d+)$/.exec(part);
    if (m === null) throw new CanalConfigError(`invalid MariaDB GTID "${part}": expected domain-server-sequence, e.g. 0-1-100`);
    return { domainId: Number(m[1]), serverId: Number(m[2]), sequence: BigInt(m[3]!) };
  });
}

export function decodeMariadbGtid(buf: Buffer, start: number, end: number, serverId: number): MariadbGtidEvent {
  const r = new ByteReader(buf, start, end);
  const sequence = r.u64();
  const domainId = r.u32();
  const flags = r.u8();
  const gtid: MariadbGtidEvent = { domainId, serverId, sequence, flags };
  if (flags & MariadbGtidFlag.GROUP_COMMIT_ID) gtid.commitId = r.u64();
  return gtid;
}

export function decodeMariadbGtidList(buf: Buffer, start: number, end: number): MariadbGtid[] {
  const r = new ByteReader(buf, start, end);
  const count = r.u32() & 0x0fffffff;
  const list: MariadbGtid[] = [];
  for (let i = 0; i < count; i++) {
    const domainId = r.u32();
    const serverId = r.u32();
    list.push({ domainId, serverId, sequence: r.u64() });
  }
  return list;
}
