/**
 * Canal entries for the client suites, built with the protocol encoders the way Canal's server
 * fills them (canal-facts.md §2.2-§2.4), as typed Entry objects and as event-store records.
 */
import type { StoreEntry } from "../../src/actors/event-store.js";
import {
  encodeEntry,
  encodeRowChange,
  encodeTransactionBegin,
  encodeTransactionEnd,
  EntryType,
  EventType,
  SourceType,
  type Column,
  type Entry,
  type Header,
} from "../../src/protocol/index.js";

export const FILE = "mysql-bin.000003";
export const EXECUTE_TIME = 1_700_000_000_000;

function header(offset: number, fields: Partial<Header> = {}): Header {
  return {
    version: 1,
    logfileName: FILE,
    logfileOffset: offset,
    serverId: 1,
    serverenCode: "UTF-8",
    executeTime: EXECUTE_TIME,
    sourceType: SourceType.MYSQL,
    schemaName: "",
    tableName: "",
    eventLength: 80,
    ...fields,
  };
}

/** An `id INT` key column and a `name VARCHAR(20)` column, as Canal renders them. */
export function columns(id: number, name: string | null, updated: boolean, changed: { name?: boolean } = {}): Column[] {
  const nameColumn: Column = { index: 1, sqlType: 12, name: "name", isKey: false, updated: changed.name ?? updated, isNull: name === null, mysqlType: "varchar(20)" };
  if (name !== null) nameColumn.value = name;
  return [{ index: 0, sqlType: 4, name: "id", isKey: true, updated, isNull: false, value: String(id), mysqlType: "int(11)" }, nameColumn];
}

export function beginEntry(offset: number): Entry {
  return { header: header(offset), entryType: EntryType.TRANSACTIONBEGIN, storeValue: encodeTransactionBegin({ threadId: 10 }) };
}

export function endEntry(offset: number, xid: number): Entry {
  return { header: header(offset), entryType: EntryType.TRANSACTIONEND, storeValue: encodeTransactionEnd({ transactionId: String(xid) }) };
}

export type Row = { id: number; name: string | null };

export function insertEntry(offset: number, rows: Row[], table = "t1"): Entry {
  const rowDatas = rows.map((r) => ({ afterColumns: columns(r.id, r.name, true) }));
  return rowsEntry(offset, EventType.INSERT, table, rowDatas);
}

export function updateEntry(offset: number, pairs: [Row, Row][], table = "t1"): Entry {
  const rowDatas = pairs.map(([b, a]) => ({
    beforeColumns: columns(b.id, b.name, false),
    afterColumns: columns(a.id, a.name, false, { name: a.name !== b.name }),
  }));
  return rowsEntry(offset, EventType.UPDATE, table, rowDatas);
}

export function deleteEntry(offset: number, rows: Row[], table = "t1"): Entry {
  return rowsEntry(offset, EventType.DELETE, table, rows.map((r) => ({ beforeColumns: columns(r.id, r.name, false) })));
}

function rowsEntry(offset: number, eventType: EventType, table: string, rowDatas: { beforeColumns?: Column[]; afterColumns?: Column[] }[]): Entry {
  return {
    header: header(offset, { schemaName: "test", tableName: table, eventType, props: [{ key: "rowsCount", value: String(rowDatas.length) }] }),
    entryType: EntryType.ROWDATA,
    storeValue: encodeRowChange({ tableId: 100, eventType, isDdl: false, rowDatas }),
  };
}

export function ddlEntry(offset: number, sql: string, eventType: EventType = EventType.ALTER, table = "t1"): Entry {
  return {
    header: header(offset, { schemaName: "test", tableName: table, eventType }),
    entryType: EntryType.ROWDATA,
    storeValue: encodeRowChange({ eventType, isDdl: true, sql, ddlSchemaName: "test" }),
  };
}

/** The event-store record of an entry, as the binlog source would put it. */
export function storeEntry(entry: Entry): StoreEntry {
  const h = entry.header!;
  const kind: StoreEntry["kind"] =
    entry.entryType === EntryType.TRANSACTIONBEGIN ? "begin" : entry.entryType === EntryType.TRANSACTIONEND ? "end" : h.eventType !== undefined && h.eventType >= EventType.CREATE ? "ddl" : "rows";
  const rows = Number(h.props?.find((p) => p.key === "rowsCount")?.value ?? 0);
  return {
    bytes: encodeEntry(entry),
    kind,
    eventType: h.eventType,
    key: `${h.logfileName}:${h.logfileOffset}`,
    rowCount: rows,
    file: h.logfileName!,
    offset: h.logfileOffset!,
    gtid: undefined,
    serverId: h.serverId!,
    executeTime: h.executeTime!,
  };
}

/** One transaction: begin, one insert entry of `rows`, end; offsets from `offset` on. */
export function transaction(offset: number, rows: Row[], xid: number): Entry[] {
  return [beginEntry(offset), insertEntry(offset + 100, rows), endEntry(offset + 200, xid)];
}
