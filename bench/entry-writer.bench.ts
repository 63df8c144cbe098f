/**
 * Binlog rows events to Canal Entry bytes on the reference table (`benchdb.orders`, 12 columns:
 * int, bigint, varchar, text, decimal, double, datetime(6), timestamp, date, tinyint, enum,
 * json), from a binlog MariaDB wrote with the workload's own procedures
 * (test/fixtures/binlog/orders.binlog: 100 inserted, 40 updated, 20 deleted rows in 8 rows events).
 *
 * Three measurements, each over the same events replayed many times, printed as rows/s:
 *   writer      EntryWriter.write on the decoded rows events (the hot path alone)
 *   decode+write  BinlogDecoder.decode (CRC32 check, headers, table maps) then write, for every event
 *   protobufjs  the same entries built as objects from readColumnValue strings and encoded with
 *               protobufjs (test/protocol/binlog/entry-reference.ts): the straightforward way
 * No assertion: `npm test` checks that the bytes are the same.
 *
 *   node --import tsx bench/entry-writer.bench.ts [seconds per measurement, default 3]
 */
import { readFileSync } from "node:fs";
import { BinlogDecoder, type BinlogEvent } from "../src/protocol/binlog/events/decoder.js";
import { EntryWriter, type TableSchema } from "../src/protocol/binlog/entry-writer.js";
import { TimestampFormatter } from "../src/protocol/binlog/temporal.js";
import { referenceRowsEntry } from "../test/protocol/binlog/entry-reference.js";

const binlog = readFileSync(new URL("../test/fixtures/binlog/orders.binlog", import.meta.url));
const seconds = Number(process.argv[2] ?? 3);
const timestamps = new TimestampFormatter("Asia/Shanghai");

/** SHOW CREATE TABLE of benchdb.orders on MariaDB 10.11 (JSON is LONGTEXT there). */
const orders: TableSchema = {
  columns: [
    ["id", "int(11)", true], ["customer_id", "bigint(20)"], ["sku", "varchar(64)"], ["description", "text"],
    ["amount", "decimal(12,2)"], ["weight", "double"], ["created_at", "datetime(6)"], ["updated_at", "timestamp"],
    ["ship_date", "date"], ["flag", "tinyint(4)"], ["status", "enum('new','paid','shipped','delivered','cancelled')"], ["attrs", "longtext"],
  ].map(([name, mysqlType, isKey]) => ({ name: name as string, mysqlType: mysqlType as string, isKey: isKey === true })),
};

function decodeAll(): BinlogEvent[] {
  const decoder = new BinlogDecoder({ file: "mysql-bin.000001", checksum: false });
  const events: BinlogEvent[] = [];
  for (let pos = 4; pos < binlog.length; pos += binlog.readUInt32LE(pos + 9)) {
    const event = decoder.decode(binlog, pos, pos + binlog.readUInt32LE(pos + 9));
    if (event !== undefined) events.push(event);
  }
  return events;
}

const rowsEvents = decodeAll().filter((e): e is Extract<BinlogEvent, { kind: "rows" }> => e.kind === "rows" && e.tableMap.table === "orders" && e.rows.rowsEnd - e.rows.rowsStart > 4000);
const rowsPerPass = rowsEvents.reduce((n, e) => n + new EntryWriter({ timestamps, schemas: () => orders }).write(e)!.rowCount, 0);

function newWriter(): EntryWriter {
  return new EntryWriter({ timestamps, schemas: () => orders });
}

/** Runs `pass` (one pass = rowsPerPass rows) for about `seconds`, after a warm-up; returns rows/s. */
function measure(pass: () => number): number {
  let sink = 0;
  const warmUntil = performance.now() + 1000;
  while (performance.now() < warmUntil) sink += pass();
  let passes = 0;
  const start = performance.now();
  const until = start + seconds * 1000;
  while (performance.now() < until) {
    sink += pass();
    passes++;
  }
  if (sink === 0) console.log("(nothing written)");
  return (passes * rowsPerPass) / ((performance.now() - start) / 1000);
}

const writer = newWriter();
const writeOnly = () => {
  let bytes = 0;
  for (const e of rowsEvents) bytes += writer.write(e)!.bytes.length;
  return bytes;
};

const writer2 = newWriter();
const decodeAndWrite = () => {
  let bytes = 0;
  for (const e of decodeAll()) if (e.kind === "rows" && e.tableMap.table === "orders") bytes += writer2.write(e)?.bytes.length ?? 0;
  return bytes;
};

const protobufjs = () => {
  let bytes = 0;
  for (const e of rowsEvents) bytes += referenceRowsEntry(e, orders, { timestamps }).length;
  return bytes;
};

const format = (n: number) => Math.round(n).toLocaleString("en-US");
const fast = measure(writeOnly);
const full = measure(decodeAndWrite);
const slow = measure(protobufjs);
console.log(`entry-writer: ${rowsPerPass} rows per pass (${rowsEvents.length} rows events), ${seconds} s each`);
console.log(`  writer        ${format(fast)} rows/s`);
console.log(`  decode+write  ${format(full)} rows/s`);
console.log(`  protobufjs    ${format(slow)} rows/s`);
console.log(`writer: ${format(fast)} rows/s, protobufjs: ${format(slow)} rows/s, ratio ${(fast / slow).toFixed(2)}`);
