/**
 * The straightforward way to make a rows entry, written directly from fact sheet §2.2-§2.4:
 * JS strings from readColumnValue, Column objects, protobufjs (encodeEntry). The hand-written
 * encoder (rows-entry.ts) must produce the same bytes; bench/entry-writer.bench.ts times both.
 */
import type { BinlogEvent } from "../../../src/protocol/binlog/events/decoder.js";
import { ABSENT_VALUE, NULL_VALUE, RowCursor } from "../../../src/protocol/binlog/events/rows.js";
import { entryHeader, type TableSchema } from "../../../src/protocol/binlog/entry-writer.js";
import { columnDefFromMysqlType, createColumnValue, planColumns, type ReaderOptions, readColumnValue } from "../../../src/protocol/binlog/row-values.js";
import { type Column, encodeEntry, encodeRowChange, EntryType, EventType, type RowData } from "../../../src/protocol/entry.js";

export type RowsBinlogEvent = Extract<BinlogEvent, { kind: "rows" }>;

export function referenceRowsEntry(
  e: RowsBinlogEvent,
  schema: TableSchema | undefined,
  options: ReaderOptions = {},
  /** Canal's field filter for the table; a column without a name never passes one. */
  keepColumn?: (name: string) => boolean,
): Uint8Array {
  const mapColumns = e.tableMap.columns;
  const readers = planColumns(
    mapColumns.map((c, i) => (schema ? columnDefFromMysqlType(c, schema.columns[i]!.mysqlType) : { type: c.type, meta: c.meta, unsigned: c.unsigned ?? false })),
    options,
  );
  const describe = (i: number): Pick<Column, "name" | "isKey" | "mysqlType"> => {
    const known = schema?.columns[i];
    if (known) return { name: known.name, isKey: known.isKey, mysqlType: known.mysqlType };
    if (e.tableMap.hasFullMetadata) return { name: mapColumns[i]!.name, isKey: mapColumns[i]!.primaryKeyIndex !== undefined };
    return {};
  };
  const value = createColumnValue();
  const values: { value: string | null; sqlType: number }[] = [];
  const cursor = new RowCursor((buf, offset, end, column) => {
    const next = readColumnValue(readers[column]!, buf, offset, end, value);
    values[column] = { value: value.value, sqlType: value.sqlType };
    return next;
  });
  cursor.begin(e.rows, e.tableMap);
  const rowDatas: RowData[] = [];
  let before: Column[] = [];
  while (cursor.next()) {
    const isAfter = e.rows.action === "insert" || cursor.isAfterImage;
    const columns: Column[] = [];
    mapColumns.forEach((_, i) => {
      const start = cursor.valueStart[i]!;
      const meta = describe(i);
      if (start === ABSENT_VALUE) return;
      if (keepColumn !== undefined && (meta.name === undefined || !keepColumn(meta.name))) return;
      const isNull = start === NULL_VALUE;
      const v = isNull ? null : values[i]!.value;
      // Canal's isUpdate: unchanged only when a before column of the same index has the same value.
      const old = before.find((c) => c.index === i);
      const updated = isAfter && !(old !== undefined && (old.isNull ? isNull : !isNull && old.value === v));
      columns.push({
        index: i,
        sqlType: isNull ? readers[i]!.nullSqlType : values[i]!.sqlType,
        ...(meta.name !== undefined && { name: meta.name }),
        ...(meta.isKey !== undefined && { isKey: meta.isKey }),
        updated,
        isNull,
        ...(v !== null && { value: v }),
        ...(meta.mysqlType !== undefined && { mysqlType: meta.mysqlType }),
      });
    });
    if (e.rows.action === "update" && !isAfter) before = columns;
    else if (e.rows.action === "update") {
      rowDatas.push({ beforeColumns: before, afterColumns: columns });
      before = [];
    } else rowDatas.push(isAfter ? { afterColumns: columns } : { beforeColumns: columns });
  }
  const eventType = e.rows.action === "insert" ? EventType.INSERT : e.rows.action === "update" ? EventType.UPDATE : EventType.DELETE;
  const storeValue = encodeRowChange({ tableId: e.rows.tableId, eventType, isDdl: false, rowDatas });
  const props = rowDatas.length > 0 ? [{ key: "rowsCount", value: String(rowDatas.length) }] : undefined;
  const header = entryHeader(e, e.tableMap.schema, e.tableMap.table, eventType, props);
  return encodeEntry({ header, entryType: EntryType.ROWDATA, storeValue });
}
