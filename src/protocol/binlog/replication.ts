/**
 * The replica side of the replication protocol: the command packets a replica sends after it
 * has logged in, and the session variables it sets first. Payloads only; the 4-byte MySQL
 * packet header is added by the connection.
 *
 *   COM_REGISTER_SLAVE (0x15): server_id u32 | hostname len u8 + bytes | user len u8 + bytes |
 *                              password len u8 + bytes | port u16 | replication_rank u32 | master_id u32
 *   COM_BINLOG_DUMP (0x12):    position u32 | flags u16 | server_id u32 | file name (rest)
 *   COM_BINLOG_DUMP_GTID (0x1e, MySQL 5.6+):
 *                              flags u16 | server_id u32 | file name len u32 + bytes | position u64 |
 *                              (flags & BINLOG_THROUGH_GTID) data len u32 + GTID set (mysql-gtid.ts)
 *
 * MariaDB starts a GTID dump with a plain COM_BINLOG_DUMP after `SET @slave_connect_state`.
 */
import { encodedMysqlGtidSetLength, encodeMysqlGtidSet, type MysqlGtidSet } from "./events/mysql-gtid.js";

export const ReplicationCommand = { BINLOG_DUMP: 0x12, REGISTER_SLAVE: 0x15, BINLOG_DUMP_GTID: 0x1e } as const;

export const DumpFlag = {
  /** Send EOF at the end of the binlog instead of waiting for more. */
  NON_BLOCK: 0x01,
  /** MariaDB: send ANNOTATE_ROWS events (the SQL text before rows events). */
  SEND_ANNOTATE_ROWS: 0x02,
  /** MySQL COM_BINLOG_DUMP_GTID: the packet carries a GTID set. */
  THROUGH_GTID: 0x04,
} as const;

export interface RegisterReplica {
  serverId: number;
  /** What SHOW SLAVE HOSTS shows for this replica. */
  hostname?: string;
  user?: string;
  password?: string;
  port?: number;
}

function shortString(out: Buffer, at: number, text: Buffer): number {
  out[at] = text.length;
  return at + 1 + text.copy(out, at + 1);
}

export function encodeRegisterReplica(r: RegisterReplica): Buffer {
  const [host, user, password] = [r.hostname ?? "", r.user ?? "", r.password ?? ""].map((s) => Buffer.from(s, "utf8").subarray(0, 255));
  const out = Buffer.alloc(1 + 4 + 3 + host!.length + user!.length + password!.length + 2 + 4 + 4);
  let at = out.writeUInt8(ReplicationCommand.REGISTER_SLAVE, 0);
  at = out.writeUInt32LE(r.serverId, at);
  at = shortString(out, at, host!);
  at = shortString(out, at, user!);
  at = shortString(out, at, password!);
  at = out.writeUInt16LE(r.port ?? 0, at);
  at = out.writeUInt32LE(0, at); // replication rank: ignored by servers
  out.writeUInt32LE(0, at); // master id: 0 lets the server fill in its own
  return out;
}

export interface BinlogDump {
  serverId: number;
  /** "" with a MariaDB GTID start: the server finds the file. */
  file: string;
  position: number;
  flags?: number;
}

export function encodeBinlogDump(d: BinlogDump): Buffer {
  const file = Buffer.from(d.file, "utf8");
  const out = Buffer.alloc(1 + 4 + 2 + 4 + file.length);
  let at = out.writeUInt8(ReplicationCommand.BINLOG_DUMP, 0);
  at = out.writeUInt32LE(d.position, at);
  at = out.writeUInt16LE(d.flags ?? 0, at);
  at = out.writeUInt32LE(d.serverId, at);
  file.copy(out, at);
  return out;
}

export interface BinlogDumpGtid extends BinlogDump {
  /** GTIDs the replica already has; the server sends every transaction not in it. */
  gtidSet: MysqlGtidSet;
}

export function encodeBinlogDumpGtid(d: BinlogDumpGtid): Buffer {
  const file = Buffer.from(d.file, "utf8");
  const setLength = encodedMysqlGtidSetLength(d.gtidSet);
  const out = Buffer.alloc(1 + 2 + 4 + 4 + file.length + 8 + 4 + setLength);
  let at = out.writeUInt8(ReplicationCommand.BINLOG_DUMP_GTID, 0);
  at = out.writeUInt16LE((d.flags ?? 0) | DumpFlag.THROUGH_GTID, at);
  at = out.writeUInt32LE(d.serverId, at);
  at = out.writeUInt32LE(file.length, at);
  at += file.copy(out, at);
  at = out.writeBigUInt64LE(BigInt(d.position), at);
  at = out.writeUInt32LE(setLength, at);
  encodeMysqlGtidSet(d.gtidSet, out, at);
  return out;
}

/** MariaDB's replica capability level that makes it send GTID events as they are (MARIA_SLAVE_CAPABILITY_GTID). */
const MARIADB_GTID_CAPABILITY = 4;

function quote(text: string): string {
  return `'${text.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

export interface SessionSetup {
  isMariadb: boolean;
  /** Ask for a HEARTBEAT event after this long without events; 0 turns heartbeats off. */
  heartbeatPeriodMs: number;
  /** MariaDB GTID position to dump from (`0-1-100,1-2-7`), or undefined for a file/offset start. */
  mariadbGtidPosition?: string | undefined;
}

/**
 * The statements a replica runs before COM_BINLOG_DUMP:
 * - `@master_binlog_checksum`: without it a server with checksums refuses the dump; with it,
 *   events (including the ones the server makes up) arrive with their CRC32.
 * - `@mariadb_slave_capability=4`: otherwise MariaDB rewrites GTID events into BEGIN queries.
 * - `@master_heartbeat_period` (nanoseconds): heartbeats on an idle binlog, so a dead connection
 *   is noticed.
 * - `@slave_connect_state`: the MariaDB GTID position to start from; strict mode off so a
 *   position the server has not seen in every domain is not an error.
 */
export function replicationSessionStatements(s: SessionSetup): string[] {
  const statements = ["SET @master_binlog_checksum = @@global.binlog_checksum"];
  statements.push(`SET @master_heartbeat_period = ${BigInt(Math.round(s.heartbeatPeriodMs)) * 1_000_000n}`);
  if (s.isMariadb) {
    statements.push(`SET @mariadb_slave_capability = ${MARIADB_GTID_CAPABILITY}`);
    if (s.mariadbGtidPosition !== undefined) {
      statements.push(`SET @slave_connect_state = ${quote(s.mariadbGtidPosition)}`);
      statements.push("SET @slave_gtid_strict_mode = 0");
      statements.push("SET @slave_gtid_ignore_duplicates = 0");
    }
  }
  return statements;
}
