/**
 * The convenience view of a batch: each row change (and each DDL or other statement) of the
 * decoded Canal entries as one plain object, with the row images as maps from column name to
 * value and type. Pure: no IO.
 *
 * It follows how Canal fills an entry (canal-facts.md §2.2-§2.4): INSERT rows carry only an
 * after image, DELETE rows only a before image, UPDATE rows both; a column missing from the
 * binlog row image (MINIMAL / NOBLOB) is missing from the map too, not null. Values stay
 * Canal's strings (ENUM as its 1-based index, SET as a bitmask, DECIMAL with its scale…), so
 * nothing is lost or reinterpreted on the way.
 */
import {
  decodeRowChange,
  EntryType,
  EventType,
  type Column,
  type Entry,
  type Header,
} from "../protocol/index.js";

/** The name of a Canal EventType: "INSERT", "UPDATE", "DELETE", "CREATE", "ALTER", … */
export type ChangeType = keyof typeof EventType;

export interface ColumnValue {
  /** Canal's text of the value; null for SQL NULL. */
  value: string | null;
  /** java.sql.Types code (canal-facts.md §2.5). */
  sqlType: number;
  /** The column type as in the DDL ("int(11)", "varchar(20)"), when the server knows it. */
  mysqlType?: string;
  isKey: boolean;
  /** After images: the value differs from the before image (always true for INSERT). Before images: false. */
  updated: boolean;
  /** Ordinal of the column in the table, from 0. */
  index: number;
}

/** Column name → value; a column without a name (never from Canal) is keyed `#<index>`. */
export type RowImage = Record<string, ColumnValue>;

export interface BinlogPoint {
  file: string;
  /** Start offset of the event (Header.logfileOffset). */
  offset: number;
}

export interface Change {
  database: string;
  table: string;
  type: ChangeType;
  /** RowChange.isDdl: true for DDL and other non-DML statements. */
  isDdl: boolean;
  /** Event time in ms (Canal: seconds × 1000). */
  executeTime: number;
  position: BinlogPoint;
  serverId: number;
  /** Header.gtid, in GTID mode. */
  gtid?: string;
  /**
   * Stable across redeliveries of the same binlog event: `<file>:<offset>/<row>`, the row
   * counted from 0 within its entry; `<file>:<offset>` for a statement.
   */
  key: string;
  /** UPDATE and DELETE. */
  before?: RowImage;
  /** INSERT and UPDATE. */
  after?: RowImage;
  /** The statement, for DDL and other statements (QUERY, XA). */
  sql?: string;
}

const eventTypeNames = new Map<number, ChangeType>(Object.entries(EventType).map(([name, value]) => [value, name as ChangeType]));

/**
 * Canal's default for an absent eventType is UPDATE (the proto2 default, §2.1); an unknown
 * number is shown as UPDATE too, as the Java client would.
 */
export function changeTypeName(eventType: number | undefined): ChangeType {
  return (eventType === undefined ? undefined : eventTypeNames.get(eventType)) ?? "UPDATE";
}

/** The entry's kind, with Canal's default ROWDATA for an absent entryType. */
export function entryTypeOf(entry: Entry): number {
  return entry.entryType ?? EntryType.ROWDATA;
}

/**
 * The changes one entry holds: one per row for DML, one for a statement, none for
 * transaction begin/end, heartbeats and GTID entries.
 */
export function changesOf(entry: Entry): Change[] {
  if (entryTypeOf(entry) !== EntryType.ROWDATA || entry.storeValue === undefined) return [];
  const header = entry.header ?? {};
  const rowChange = decodeRowChange(entry.storeValue);
  const type = changeTypeName(rowChange.eventType ?? header.eventType);
  const base = baseOf(header, type, rowChange.isDdl ?? false);
  const rows = rowChange.rowDatas ?? [];
  if (rows.length === 0) {
    const change: Change = { ...base, key: `${base.position.file}:${base.position.offset}` };
    if (rowChange.sql !== undefined) change.sql = rowChange.sql;
    if (change.database === "" && rowChange.ddlSchemaName !== undefined) change.database = rowChange.ddlSchemaName;
    return [change];
  }
  return rows.map((row, i) => {
    const change: Change = { ...base, key: `${base.position.file}:${base.position.offset}/${i}` };
    if (row.beforeColumns !== undefined) change.before = imageOf(row.beforeColumns);
    if (row.afterColumns !== undefined) change.after = imageOf(row.afterColumns);
    if (rowChange.sql !== undefined) change.sql = rowChange.sql;
    return change;
  });
}

function baseOf(header: Header, type: ChangeType, isDdl: boolean): Omit<Change, "key"> {
  const base: Omit<Change, "key"> = {
    database: header.schemaName ?? "",
    table: header.tableName ?? "",
    type,
    isDdl,
    executeTime: header.executeTime ?? 0,
    position: { file: header.logfileName ?? "", offset: header.logfileOffset ?? 0 },
    serverId: header.serverId ?? 0,
  };
  if (header.gtid !== undefined && header.gtid !== "") base.gtid = header.gtid;
  return base;
}

export function imageOf(columns: readonly Column[]): RowImage {
  const image: RowImage = {};
  for (const column of columns) {
    const index = column.index ?? 0;
    const value: ColumnValue = {
      value: column.isNull === true ? null : (column.value ?? ""),
      sqlType: column.sqlType ?? 0,
      isKey: column.isKey ?? false,
      updated: column.updated ?? false,
      index,
    };
    if (column.mysqlType !== undefined) value.mysqlType = column.mysqlType;
    image[column.name !== undefined && column.name !== "" ? column.name : `#${index}`] = value;
  }
  return image;
}

