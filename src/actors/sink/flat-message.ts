/**
 * Canal's flat message (MQ mode with `canal.mq.flatMessage=true`): the JSON document Canal's
 * Kafka and RocketMQ producers write, built from our decoded entries. Pure: no IO.
 *
 * What Canal does (alibaba/canal `FlatMessage`, `MQMessageUtils.messageConverter`, and the
 * producers' `JSON.toJSONBytes(msg, WriteNulls)` with fastjson2):
 *   - TRANSACTIONBEGIN / TRANSACTIONEND entries make no message; every other entry does;
 *   - id is the batch id; database and table come from the entry header; isDdl, type (the
 *     EventType name) and sql (its protobuf default "") from the RowChange; es is the header's
 *     executeTime in ms; ts the time the message was built; gtid the header's ("" without);
 *   - for a DDL, sqlType, mysqlType, data, old and pkNames stay null;
 *   - for INSERT / UPDATE / DELETE, data holds the after image (the before image for DELETE),
 *     every value a string or null; sqlType and mysqlType map column names to the Column's
 *     sqlType and mysqlType ("" when unset); pkNames lists the key columns; old (UPDATE only)
 *     holds, of the before image, the columns the after image marks updated — an empty object
 *     when none is (Canal ≥ 1.1.7 adds it anyway); other event types (QUERY…) get nulls;
 *   - every key is written, null included, in fastjson2's alphabetical order.
 *
 * One difference, on purpose: Canal puts all rows of an entry into one message's `data`; the
 * sink publishes one message per row (`data` and `old` hold one element each), so each row has
 * its own `Nats-Msg-Id` and its own place in the stream.
 */
import { changesOf, type Change, type RowImage } from "../../client/changes.js";
import { EntryType, decodeEntry, type Entry } from "../../protocol/index.js";

/** The JSON document, with Canal's field names. */
export interface FlatMessage {
  data: Record<string, string | null>[] | null;
  database: string;
  es: number;
  gtid: string;
  id: number;
  isDdl: boolean;
  mysqlType: Record<string, string> | null;
  old: Record<string, string | null>[] | null;
  pkNames: string[] | null;
  sql: string;
  sqlType: Record<string, number> | null;
  table: string;
  ts: number;
  type: string;
}

/** One message to publish: the document, and the key that names its row for deduplication. */
export interface FlatRow {
  /** `<entry key>/<row>` for a row (row from 0 in RowChange order), the entry key for a statement. */
  key: string;
  message: FlatMessage;
  /** Column names in table order, for writing the maps (see flatMessageJson). */
  columns: string[];
}

/**
 * The flat messages of one stored entry, one per row (or one for a statement). `entryKey` is
 * the store's idempotency key of the entry (`WrittenEntry.key`: GTID#distance or file:offset).
 */
export function flatRowsOf(bytes: Uint8Array, entryKey: string, batchId: number, now: number): FlatRow[] {
  const entry = decodeEntry(bytes);
  const entryType = entry.entryType ?? EntryType.ROWDATA;
  if (entryType === EntryType.TRANSACTIONBEGIN || entryType === EntryType.TRANSACTIONEND) return [];
  // changesOf (the client library's decoding) yields nothing for other non-row entries; Canal
  // would emit an empty message for them, but our entry writer never stores any.
  const changes = changesOf(entry);
  const header = headerFields(entry, batchId, now);
  if (changes.length === 1 && changes[0]!.before === undefined && changes[0]!.after === undefined) {
    return [{ key: entryKey, message: { ...header, ...statement(changes[0]!) }, columns: [] }];
  }
  return changes.map((change, row) => {
    const { fields, columns } = rowFields(change);
    return { key: `${entryKey}/${row}`, message: { ...header, ...fields }, columns };
  });
}

/** The fields every message takes from the entry itself (not from changesOf, which fills gaps Canal leaves). */
function headerFields(entry: Entry, batchId: number, now: number) {
  const h = entry.header ?? {};
  return { database: h.schemaName ?? "", table: h.tableName ?? "", es: h.executeTime ?? 0, gtid: h.gtid ?? "", id: batchId, ts: now };
}

function statement(change: Change): Omit<FlatMessage, keyof ReturnType<typeof headerFields>> {
  return { data: null, isDdl: change.isDdl, mysqlType: null, old: null, pkNames: null, sql: change.sql ?? "", sqlType: null, type: change.type };
}

function rowFields(change: Change): { fields: Omit<FlatMessage, keyof ReturnType<typeof headerFields>>; columns: string[] } {
  const base = statement(change);
  if (change.isDdl || (change.type !== "INSERT" && change.type !== "UPDATE" && change.type !== "DELETE")) return { fields: base, columns: [] };
  const image = (change.type === "DELETE" ? change.before : change.after) ?? {};
  const sqlType: Record<string, number> = {};
  const mysqlType: Record<string, string> = {};
  const data: Record<string, string | null> = {};
  const pkNames: string[] = [];
  const updated = new Set<string>();
  const columns: string[] = [];
  for (const [name, column] of columnsInOrder(image)) {
    columns.push(name);
    if (column.isKey) pkNames.push(name);
    sqlType[name] = column.sqlType;
    mysqlType[name] = column.mysqlType ?? "";
    data[name] = column.value;
    if (column.updated) updated.add(name);
  }
  const empty = Object.keys(data).length === 0;
  let old: FlatMessage["old"] = null;
  if (change.type === "UPDATE") {
    const before: Record<string, string | null> = {};
    for (const [name, column] of columnsInOrder(change.before ?? {})) if (updated.has(name)) before[name] = column.value;
    old = [before];
  }
  const fields = {
    ...base,
    data: empty ? null : [data],
    mysqlType: empty ? null : mysqlType,
    old,
    pkNames: pkNames.length === 0 ? null : pkNames,
    sqlType: empty ? null : sqlType,
  };
  return { fields, columns };
}

/**
 * The image's columns in table order. An object keeps integer-like keys ("1", "2") ahead of the
 * others whatever the insertion order, so order by the column index instead.
 */
function columnsInOrder(image: RowImage) {
  return Object.entries(image).sort((a, b) => a[1].index - b[1].index);
}

/**
 * The JSON text Canal's producers write: keys in alphabetical order, nulls written. The column
 * maps are written in `columns` order (the table's), as fastjson2 writes Canal's LinkedHashMap;
 * JSON.stringify would put integer-like column names ("1", "2") first.
 */
export function flatMessageJson(m: FlatMessage, columns: readonly string[] = []): string {
  const map = (value: Record<string, unknown> | null) => {
    if (value === null) return "null";
    const names = [...columns.filter((name) => Object.hasOwn(value, name)), ...Object.keys(value).filter((name) => !columns.includes(name))];
    return `{${names.map((name) => `${JSON.stringify(name)}:${JSON.stringify(value[name] ?? null)}`).join(",")}}`;
  };
  const list = (value: Record<string, unknown>[] | null) => (value === null ? "null" : `[${value.map(map).join(",")}]`);
  return (
    `{"data":${list(m.data)},"database":${JSON.stringify(m.database)},"es":${m.es},"gtid":${JSON.stringify(m.gtid)},"id":${m.id},` +
    `"isDdl":${m.isDdl},"mysqlType":${map(m.mysqlType)},"old":${list(m.old)},"pkNames":${JSON.stringify(m.pkNames)},` +
    `"sql":${JSON.stringify(m.sql)},"sqlType":${map(m.sqlType)},"table":${JSON.stringify(m.table)},"ts":${m.ts},"type":${JSON.stringify(m.type)}}`
  );
}
