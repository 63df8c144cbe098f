/**
 * Canal's change event, `Entry`, and the messages carried in its storeValue (canal-facts.md
 * §2.1-§2.6). Schema in proto/entry_protocol.proto; field numbers in the comments below.
 *
 * Presence follows proto2, as in the CanalEntry class Java servers and clients run: a field
 * that is set is written even when it holds "", 0 or false, and a field left undefined is not
 * written at all. So the object types mirror the wire: every scalar is optional, and decode
 * returns exactly the fields that were present (repeated fields only when non-empty). A Java
 * reader sees the proto2 default for an absent field: Entry.entryType ROWDATA, Header.version 1,
 * Header.sourceType MYSQL, Header.eventType and RowChange.eventType UPDATE, isNull/isDdl false.
 * In particular a TRANSACTIONBEGIN/END header must leave eventType undefined.
 *
 * Enum values are passed through as numbers, unchecked, in both directions.
 */
import { decodeWith, int64ToNumber } from "./codec.js";
import { com } from "./gen/entry_protocol.js";

const pb = com.alibaba.otter.canal.protocol;

export const EntryType = {
  TRANSACTIONBEGIN: 1,
  ROWDATA: 2,
  TRANSACTIONEND: 3,
  HEARTBEAT: 4,
  GTIDLOG: 5,
} as const;
export type EntryType = (typeof EntryType)[keyof typeof EntryType];

export const EventType = {
  INSERT: 1,
  UPDATE: 2,
  DELETE: 3,
  CREATE: 4,
  ALTER: 5,
  ERASE: 6,
  QUERY: 7,
  TRUNCATE: 8,
  RENAME: 9,
  CINDEX: 10,
  DINDEX: 11,
  GTID: 12,
  XACOMMIT: 13,
  XAROLLBACK: 14,
  MHEARTBEAT: 15,
} as const;
export type EventType = (typeof EventType)[keyof typeof EventType];

/** The proto enum `Type` (Header.sourceType). */
export const SourceType = {
  ORACLE: 1,
  MYSQL: 2,
  PGSQL: 3,
} as const;
export type SourceType = (typeof SourceType)[keyof typeof SourceType];

export interface Pair {
  key?: string; // 1
  value?: string; // 2
}

export interface Header {
  version?: number; // 1, int32; Canal always sets 1
  logfileName?: string; // 2
  logfileOffset?: number; // 3, int64; the event's START offset
  serverId?: number; // 4, int64
  serverenCode?: string; // 5; "UTF-8"
  executeTime?: number; // 6, int64; event timestamp in ms (seconds × 1000)
  sourceType?: SourceType; // 7
  schemaName?: string; // 8
  tableName?: string; // 9
  eventLength?: number; // 10, int64
  eventType?: EventType; // 11; unset on TRANSACTIONBEGIN/END
  props?: Pair[]; // 12
  gtid?: string; // 13
}

export interface Column {
  index?: number; // 1, int32
  sqlType?: number; // 2, int32; java.sql.Types code
  name?: string; // 3
  isKey?: boolean; // 4
  updated?: boolean; // 5
  isNull?: boolean; // 6
  props?: Pair[]; // 7
  value?: string; // 8; absent when isNull
  length?: number; // 9, int32; never set by Canal
  mysqlType?: string; // 10
}

export interface RowData {
  beforeColumns?: Column[]; // 1
  afterColumns?: Column[]; // 2
  props?: Pair[]; // 3
}

export interface RowChange {
  tableId?: number; // 1, int64
  eventType?: EventType; // 2
  isDdl?: boolean; // 10
  sql?: string; // 11
  rowDatas?: RowData[]; // 12
  props?: Pair[]; // 13
  ddlSchemaName?: string; // 14
}

export interface TransactionBegin {
  executeTime?: number; // 1, int64; never set by Canal
  transactionId?: string; // 2; never set by Canal
  props?: Pair[]; // 3
  threadId?: number; // 4, int64
}

export interface TransactionEnd {
  executeTime?: number; // 1, int64; never set by Canal
  transactionId?: string; // 2; the XID as a decimal string
  props?: Pair[]; // 3
}

export interface Entry {
  header?: Header; // 1
  entryType?: EntryType; // 2
  storeValue?: Uint8Array; // 3; serialized RowChange, TransactionBegin or TransactionEnd
}

export function encodeEntry(entry: Entry): Uint8Array {
  return pb.Entry.encode(entry).finish();
}

export function decodeEntry(bytes: Uint8Array): Entry {
  return fieldsPresent(decodeWith("Entry", bytes, (b) => pb.Entry.decode(b)), "Entry") as Entry;
}

export function encodeRowChange(rowChange: RowChange): Uint8Array {
  return pb.RowChange.encode(rowChange).finish();
}

export function decodeRowChange(bytes: Uint8Array): RowChange {
  return fieldsPresent(decodeWith("RowChange", bytes, (b) => pb.RowChange.decode(b)), "RowChange") as RowChange;
}

export function encodeTransactionBegin(begin: TransactionBegin): Uint8Array {
  return pb.TransactionBegin.encode(begin).finish();
}

export function decodeTransactionBegin(bytes: Uint8Array): TransactionBegin {
  const m = decodeWith("TransactionBegin", bytes, (b) => pb.TransactionBegin.decode(b));
  return fieldsPresent(m, "TransactionBegin") as TransactionBegin;
}

export function encodeTransactionEnd(end: TransactionEnd): Uint8Array {
  return pb.TransactionEnd.encode(end).finish();
}

export function decodeTransactionEnd(bytes: Uint8Array): TransactionEnd {
  return fieldsPresent(decodeWith("TransactionEnd", bytes, (b) => pb.TransactionEnd.decode(b)), "TransactionEnd") as TransactionEnd;
}

/** A single Column; the rows encoder to come is tested against this. */
export function encodeColumn(column: Column): Uint8Array {
  return pb.Column.encode(column).finish();
}

export function decodeColumn(bytes: Uint8Array): Column {
  return fieldsPresent(decodeWith("Column", bytes, (b) => pb.Column.decode(b)), "Column") as Column;
}

/**
 * Copies what a decoded proto2 message holds into a plain object. protobufjs stores exactly
 * the fields it read as own properties (defaults stay on the prototype), so own properties are
 * presence. int64 Longs become numbers; nested messages are converted the same way; empty
 * repeated fields and protobufjs's `$`-prefixed bookkeeping (unknown fields) are left out.
 */
function fieldsPresent(message: object, path: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(message)) {
    if (key.startsWith("$")) continue;
    if (Array.isArray(value)) {
      if (value.length > 0) out[key] = value.map((item: unknown, i) => plainValue(item, `${path}.${key}[${i}]`));
    } else {
      out[key] = plainValue(value, `${path}.${key}`);
    }
  }
  return out;
}

function plainValue(value: unknown, path: string): unknown {
  if (typeof value !== "object" || value === null || value instanceof Uint8Array) return value;
  if ("toNumber" in value && typeof value.toNumber === "function") return int64ToNumber(value as { toNumber(): number }, path);
  return fieldsPresent(value, path);
}
