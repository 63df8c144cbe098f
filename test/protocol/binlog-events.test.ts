/**
 * Binlog event decoders and replication packets against byte fixtures built from the
 * documented layouts (MySQL internals / MariaDB KB). MySQL 8 has no server on these machines,
 * so its events (GTID 33, PREVIOUS_GTIDS 35, rows v2) and the COM_BINLOG_DUMP_GTID packet are
 * checked here, byte for byte; MariaDB's are also checked live in test/integration/binlog-stream.
 */
import { crc32 } from "node:zlib";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { CanalConfigError } from "../../src/errors.js";
import { MysqlType } from "../../src/protocol/binlog/column-types.js";
import { BinlogDecoder, type BinlogEvent } from "../../src/protocol/binlog/events/decoder.js";
import { BinlogChecksumError, BinlogFormatError } from "../../src/protocol/binlog/events/errors.js";
import { EventType } from "../../src/protocol/binlog/events/event-type.js";
import { formatMysqlGtidSet, parseMysqlGtidSet } from "../../src/protocol/binlog/events/mysql-gtid.js";
import { RowCursor } from "../../src/protocol/binlog/events/rows.js";
import { DumpFlag, encodeBinlogDump, encodeBinlogDumpGtid, encodeRegisterReplica } from "../../src/protocol/binlog/replication.js";
import { createColumnValue, planColumns, readColumnValue } from "../../src/protocol/binlog/row-values.js";

const hex = (text: string) => Buffer.from(text.replace(/\s+/g, ""), "hex");
const u16 = (n: number) => { const b = Buffer.alloc(2); b.writeUInt16LE(n); return b; };
const u32 = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(n); return b; };
const u64 = (n: bigint) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(n); return b; };
const str = (s: string) => Buffer.from(s, "utf8");

const UUID = "3e11fa47-71ca-11e1-9e33-c80aa9429562";
const UUID_BYTES = hex("3e11fa4771ca11e19e33c80aa9429562");

/** A whole event: 19-byte v4 header, body, CRC32 of both. Events are laid out back to back from offset 4. */
class BinlogWriter {
  position = 4;
  event(type: number, body: Buffer, serverId = 1): Buffer {
    const size = 19 + body.length + 4;
    const header = Buffer.concat([u32(1_700_000_000), Buffer.from([type]), u32(serverId), u32(size), u32(this.position + size), u16(0)]);
    this.position += size;
    const bytes = Buffer.concat([header, body]);
    return Buffer.concat([bytes, u32(crc32(bytes))]);
  }
}

/** A MySQL 8.0 format description: post-header lengths for the events used here, CRC32 on. */
function mysql8FormatDescription(w: BinlogWriter): Buffer {
  const postHeader = Buffer.alloc(41);
  postHeader[EventType.QUERY - 1] = 13;
  postHeader[EventType.ROTATE - 1] = 8;
  postHeader[EventType.TABLE_MAP - 1] = 8;
  for (const t of [EventType.WRITE_ROWS_V2, EventType.UPDATE_ROWS_V2, EventType.DELETE_ROWS_V2]) postHeader[t - 1] = 10;
  postHeader[EventType.MYSQL_GTID - 1] = 42;
  const version = Buffer.alloc(50);
  version.write("8.0.36");
  return w.event(EventType.FORMAT_DESCRIPTION, Buffer.concat([u16(4), version, u32(0), Buffer.from([19]), postHeader, Buffer.from([1])]));
}

function decodeAll(decoder: BinlogDecoder, events: Buffer[]): BinlogEvent[] {
  return events.flatMap((e) => decoder.decode(e, 0, e.length) ?? []);
}

function only<K extends BinlogEvent["kind"]>(events: BinlogEvent[], kind: K): Extract<BinlogEvent, { kind: K }> {
  const found = events.filter((e) => e.kind === kind);
  if (found.length !== 1) throw new Error(`expected one ${kind} event, got ${found.length}`);
  return found[0] as Extract<BinlogEvent, { kind: K }>;
}

test("COM_BINLOG_DUMP matches the MariaDB KB example", () => {
  const payload = encodeBinlogDump({ position: 1588, flags: DumpFlag.SEND_ANNOTATE_ROWS, serverId: 10101, file: "mysql-bin.000034" });
  assert.equal(payload, hex("12 34060000 0200 75270000 6d7973716c2d62696e2e303030303334"));
});

test("COM_REGISTER_SLAVE carries server id, host, user, password, port", () => {
  const payload = encodeRegisterReplica({ serverId: 7, hostname: "h", user: "u", password: "", port: 3306 });
  assert.equal(payload, hex("15 07000000 01 68 01 75 00 ea0c 00000000 00000000"));
});

test("COM_BINLOG_DUMP_GTID is laid out as documented, with the binary GTID set", () => {
  const payload = encodeBinlogDumpGtid({ serverId: 100, file: "", position: 4, gtidSet: parseMysqlGtidSet(`${UUID}:1-5:7`) });
  assert.equal(
    payload,
    Buffer.concat([
      hex("1e"), u16(DumpFlag.THROUGH_GTID), u32(100), u32(0), u64(4n),
      u32(8 + 16 + 8 + 2 * 16), // data size
      u64(1n), UUID_BYTES, u64(2n), u64(1n), u64(6n), u64(7n), u64(8n), // one sid, [1,6) and [7,8)
    ]),
  );
});

test("MySQL GTID sets parse and print, and bad text is a config error naming it", () => {
  const text = `${UUID}:1-5:7,00000000-0000-0000-0000-000000000001:3`;
  assert.is(formatMysqlGtidSet(parseMysqlGtidSet(text)), text);
  assert.throws(() => parseMysqlGtidSet(`${UUID}:5-1`), (e: unknown) => e instanceof CanalConfigError && /5-1/.test((e as Error).message));
  assert.throws(() => parseMysqlGtidSet("nope:1"), (e: unknown) => e instanceof CanalConfigError);
});

test("MySQL 8: GTID, PREVIOUS_GTIDS, table map with optional metadata, WRITE_ROWS v2 with extra data", () => {
  const w = new BinlogWriter();
  const formatDescription = mysql8FormatDescription(w);
  const previous = w.event(EventType.MYSQL_PREVIOUS_GTIDS, Buffer.concat([u64(1n), UUID_BYTES, u64(1n), u64(1n), u64(42n)]));
  const gtid = w.event(
    EventType.MYSQL_GTID,
    Buffer.concat([
      Buffer.from([1]), UUID_BYTES, u64(42n), // flags, sid, gno
      Buffer.from([2]), u64(41n), u64(42n), // logical clock: last_committed, sequence_number
      hex("00c0d2e4f60a06"), // immediate_commit_timestamp, 7 bytes, no original flag
      Buffer.from([0xfc]), u16(300), // transaction length (lenenc)
      u32(80036), // immediate server version
    ]),
  );
  const query = w.event(EventType.QUERY, Buffer.concat([u32(9), u32(0), Buffer.from([4]), u16(0), u16(0), str("shop"), Buffer.from([0]), str("BEGIN")]));
  // shop.t (id BIGINT UNSIGNED PRIMARY KEY, name VARCHAR(10)) — column names, signedness, charset, PK
  const tableMap = w.event(
    EventType.TABLE_MAP,
    Buffer.concat([
      hex("2a0000000000"), u16(1), // table id 42, flags
      Buffer.from([4]), str("shop"), Buffer.from([0]), Buffer.from([1]), str("t"), Buffer.from([0]),
      Buffer.from([2, MysqlType.LONGLONG, MysqlType.VARCHAR]), // column count, types
      Buffer.from([2]), u16(40), // metadata: VARCHAR max 40 bytes
      Buffer.from([0b10]), // null bitmap: name nullable
      Buffer.from([1, 1, 0x80]), // SIGNEDNESS: first numeric column unsigned
      Buffer.from([2, 1, 45]), // DEFAULT_CHARSET: 45 (utf8mb4_general_ci)
      Buffer.from([4, 8, 2]), str("id"), Buffer.from([4]), str("name"), // COLUMN_NAME
      Buffer.from([8, 1, 0]), // SIMPLE_PRIMARY_KEY: column 0
      Buffer.from([99, 2, 0xab, 0xcd]), // a field type from the future: stepped over
    ]),
  );
  const rows = w.event(
    EventType.WRITE_ROWS_V2,
    Buffer.concat([
      hex("2a0000000000"), u16(1), // table id, flags (STMT_END)
      u16(5), hex("00 01 02"), // extra data: length counts itself, 3 bytes
      Buffer.from([2]), Buffer.from([0b11]), // column count, columns present
      Buffer.from([0b00]), u64(18446744073709551615n), Buffer.from([3]), str("abc"), // row 1
      Buffer.from([0b10]), u64(7n), // row 2: name NULL
    ]),
  );
  const xid = w.event(EventType.XID, u64(77n));

  const decoder = new BinlogDecoder({ file: "binlog.000003", checksum: true });
  const events = decodeAll(decoder, [formatDescription, previous, gtid, query, tableMap, rows, xid]);
  assert.equal(events.map((e) => e.kind), ["formatDescription", "previousGtids", "mysqlGtid", "query", "tableMap", "rows", "xid"]);

  const prev = only(events, "previousGtids");
  const g = only(events, "mysqlGtid").mysqlGtid;
  const tm = only(events, "tableMap");
  const r = only(events, "rows");
  const x = only(events, "xid");
  assert.is(formatMysqlGtidSet(prev.gtidSet), `${UUID}:1-41`);
  assert.is(g.sid, UUID);
  assert.is(g.gno, 42n);
  assert.is(g.lastCommitted, 41n);
  assert.is(g.sequenceNumber, 42n);
  assert.is(g.immediateCommitTimestamp, 0x060af6e4d2c000n);
  assert.is(r.gtid, `${UUID}:42`);
  assert.ok(x.boundary && !r.boundary);
  assert.is(x.xid, 77n);
  assert.is(x.nextOffset, w.position);

  const columns = tm.tableMap.columns;
  assert.equal(columns.map((c) => [c.name, c.type, c.unsigned, c.collation, c.primaryKeyIndex, c.nullable]), [
    ["id", MysqlType.LONGLONG, true, undefined, 0, false],
    ["name", MysqlType.VARCHAR, undefined, 45, undefined, true],
  ]);
  assert.is(r.rows.version, 2);
  assert.equal(r.rows.extraData, hex("000102"));

  const readers = planColumns(columns.map((c) => ({ type: c.type, meta: c.meta, unsigned: c.unsigned ?? false })));
  const out = createColumnValue();
  const seen: Array<Array<string | null>> = [];
  const cursor = new RowCursor((buf, offset, end, column) => {
    const next = readColumnValue(readers[column]!, buf, offset, end, out);
    seen.at(-1)![column] = out.value;
    return next;
  });
  cursor.begin(r.rows, r.tableMap);
  for (;;) {
    seen.push([null, null]);
    if (!cursor.next()) break;
  }
  seen.pop();
  assert.equal(seen, [["18446744073709551615", "abc"], ["7", null]]);
});

test("QUERY: an unknown status variable stops the walk but not the decode", () => {
  const w = new BinlogWriter();
  const statusVars = Buffer.concat([Buffer.from([4]), u16(33), u16(33), u16(8), Buffer.from([250, 1, 2, 3])]); // charset, then unknown 250
  const body = Buffer.concat([u32(5), u32(2), Buffer.from([2]), u16(0), u16(statusVars.length), statusVars, str("db"), Buffer.from([0]), str("DROP TABLE x")]);
  const decoder = new BinlogDecoder({ file: "f", checksum: true });
  const e = only(decodeAll(decoder, [w.event(EventType.QUERY, body)]), "query");
  assert.equal({ ...e.query }, { threadId: 5, execTime: 2, errorCode: 0, database: "db", sql: "DROP TABLE x", clientCollation: 33 });
  assert.ok(e.boundary, "a statement outside BEGIN…COMMIT is its own transaction");
});

test("a flipped byte is a BinlogChecksumError naming file and offset; unknown types are counted and skipped", () => {
  const w = new BinlogWriter();
  const first = w.event(EventType.XID, u64(1n));
  const second = w.event(EventType.XID, u64(2n));
  const unknown = w.event(120, hex("0102"));
  second[21]! ^= 0x40;
  const decoder = new BinlogDecoder({ file: "mysql-bin.000009", checksum: true });
  decodeAll(decoder, [first]);
  assert.throws(
    () => decoder.decode(second, 0, second.length),
    (e: unknown) => e instanceof BinlogChecksumError && e.location.offset === 4 + first.length && /mysql-bin\.000009:35/.test(e.message),
  );
  assert.is(decoder.decode(unknown, 0, unknown.length), undefined);
  assert.is(decoder.unknownEvents, 1);
});

test("row-carrying events we cannot decode stop the source instead of being skipped", () => {
  const w = new BinlogWriter();
  const compressed = w.event(166, hex("00"));
  const decoder = new BinlogDecoder({ file: "f", checksum: true });
  assert.throws(() => decoder.decode(compressed, 0, compressed.length), (e: unknown) => e instanceof BinlogFormatError && /log_bin_compress/.test((e as Error).message));
});

test.run();
