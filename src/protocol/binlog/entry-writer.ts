/**
 * Binlog events to Canal Entry bytes, as Canal's LogEventConvert makes them (fact sheet
 * §2.2-§2.4), with no IO: the binlog source hands every decoded event to `write`, and stores
 * what comes back.
 *
 *   QUERY ending in BEGIN            TRANSACTIONBEGIN {threadId}
 *   QUERY ending in COMMIT, XID      TRANSACTIONEND {transactionId "0" / the xid}
 *   QUERY XA START/END/COMMIT/ROLLBACK   begin / end / ROWDATA XACOMMIT / XAROLLBACK, with XA props
 *   other QUERY                      ROWDATA {isDdl, sql, ddlSchemaName}, EventType per ddl.ts
 *   WRITE/UPDATE/DELETE_ROWS         ROWDATA INSERT/UPDATE/DELETE with row images (rows-entry.ts)
 *   ANNOTATE_ROWS, ROWS_QUERY        ROWDATA QUERY {sql}
 *   anything else                    nothing (Canal drops GTID entries and heartbeats)
 * MariaDB sends a GTID event instead of QUERY BEGIN to replicas that understand GTIDs, as
 * Canal's connection and ours declare, so a MariaDB transaction has no TRANSACTIONBEGIN entry
 * in Canal either: its first entry is a rows (or annotate) entry.
 *
 * Rows entries are encoded by hand on the hot path; the few others go through protobufjs.
 *
 * Idempotency key (design decision 4): `WrittenEntry.key` names the binlog event an entry
 * comes from, so it is the same however often the event is read again:
 *   - inside a GTID transaction: `<gtid>#<d>`, d the event's distance in bytes from the
 *     transaction's GTID event (`0-1-42#1538`, `3E11FA47-…:23#160`). It survives a database
 *     failover too: a replica logs the transaction under the same GTID with the same events;
 *   - otherwise: `<file>:<offset>` of the event (`mysql-bin.000003:4`).
 * One event makes at most one entry, so keys are unique. A consumer that splits an entry into
 * rows keys row i (0-based, in RowChange order) as `<key>/<i>`. Only GTID events need to reach
 * `write` for this; events the caller filters out may be left out.
 *
 * Filters (§7): `accept` decides per table map, before any row is decoded, and for DDL on the
 * table the statement names; `columnFilter` drops Columns by name.
 */
import {
  encodeEntry,
  encodeRowChange,
  encodeTransactionBegin,
  encodeTransactionEnd,
  EntryType,
  EventType,
  type Header,
  type Pair,
  SourceType,
} from "../entry.js";
import { classifyQuery, isDdlType, type QueryTarget } from "./ddl.js";
import type { BinlogEvent } from "./events/decoder.js";
import type { TableMap } from "./events/table-map.js";
import type { ReaderOptions } from "./row-values.js";
import { type ChunkAllocator, RowsEntryEncoder } from "./rows-entry.js";
import { MissingTableSchemaError, type SchemaLookup, TablePlan } from "./table-plan.js";

export { MissingTableSchemaError, type ColumnSchema, type SchemaLookup, type TableSchema } from "./table-plan.js";

/** What an entry is, for the layers that group, store and position it. */
export type EntryKind = "begin" | "end" | "rows" | "ddl" | "query";

export interface WrittenEntry {
  /**
   * The serialized Canal Entry, ready for a MESSAGES frame. Rows entries are views into 1 MiB
   * chunks shared with the entries around them (a chunk lives while any of them is referenced);
   * nothing writes to them again.
   */
  bytes: Uint8Array;
  /** TRANSACTIONBEGIN, TRANSACTIONEND, or ROWDATA: rows, DDL (RowChange.isDdl) or other statements (QUERY, XA, DML text). */
  kind: EntryKind;
  /** Idempotency key (see the module comment). */
  key: string;
  /** Header.eventType; undefined for begin/end entries. */
  eventType: EventType | undefined;
  /** Header schemaName/tableName; undefined where Canal leaves them unset. */
  schema: string | undefined;
  table: string | undefined;
  /** Row changes in a rows entry (the header's rowsCount), else 0. */
  rowCount: number;
  /** Where the event is: binlog file, start offset (Header.logfileOffset), and where the next one starts. */
  file: string;
  offset: number;
  nextOffset: number;
  gtid: string | undefined;
  serverId: number;
  /** Header.executeTime: the event's timestamp in ms. */
  executeTime: number;
  /** The event ends a transaction: a cursor may point here (XID, COMMIT, DDL). */
  boundary: boolean;
}

export interface EntryWriterOptions extends ReaderOptions {
  /**
   * Column names, keys and mysqlType per table (Canal's TableMeta). Without it, names and
   * keys come from FULL binlog metadata and mysqlType is left unset (fact sheet §2.4).
   */
  schemas?: SchemaLookup;
  /**
   * The instance filter (white and black, §7) on `schema`, `table`. Rows events of a table it
   * rejects make no entry and are not decoded; nor do DDL entries on such tables (a RENAME is
   * kept when either name is accepted). Other statements always pass. Default: accept all.
   */
  accept?: (schema: string, table: string) => boolean;
  /**
   * Canal's field filter (`canal.instance.filter.field` / `filter.black.field`): for a table,
   * which columns to keep by name, or undefined to keep all. Asked once per table map.
   */
  columnFilter?: (schema: string, table: string) => ((column: string) => boolean) | undefined;
  /** Bytes per memory chunk entries are written into (default 1 MiB). */
  chunkSize?: number;
  /** Where those chunks come from (default: fresh memory each). */
  allocateChunk?: ChunkAllocator;
}

type Event<K extends BinlogEvent["kind"]> = Extract<BinlogEvent, { kind: K }>;

const XA = ["XA START", "XA END", "XA COMMIT", "XA ROLLBACK"] as const;
const ANONYMOUS_MYSQL_GTID = "00000000-0000-0000-0000-000000000000:";

export class EntryWriter {
  private readonly rows: RowsEntryEncoder;
  /** Per table map: its plan, or null when `accept` rejects the table. */
  private plans = new WeakMap<TableMap, TablePlan | null>();
  private readonly fileBytes = new Map<string, Uint8Array>();
  /** The last GTID event seen: its GTID and offset. */
  private gtid: string | undefined;
  private gtidOffset = 0;

  constructor(private readonly options: EntryWriterOptions = {}) {
    this.rows = new RowsEntryEncoder({ chunkSize: options.chunkSize, allocateChunk: options.allocateChunk });
  }

  /**
   * The entry for `event`, or undefined when it makes none. Throws MissingTableSchemaError
   * (nothing consumed: write the same event again once the schema is there), or CanalError
   * when an event cannot be encoded.
   */
  write(event: BinlogEvent): WrittenEntry | undefined {
    if (event.kind === "mariadbGtid" || event.kind === "mysqlGtid") {
      this.gtid = event.gtid;
      this.gtidOffset = event.offset;
    }
    switch (event.kind) {
      case "rows":
        return this.writeRows(event);
      case "xid":
        return this.transactionEnd(event, String(event.xid));
      case "query":
        return this.writeQuery(event);
      case "annotateRows":
        return this.queryEntry(event, event.sql, "");
      case "rowsQuery":
        return this.queryEntry(event, event.sql, classifyQuery(event.sql, "").table);
      default:
        return undefined;
    }
  }

  /** Drops every table's precomputed plan, so the next rows event asks the schema lookup again. */
  forgetTables(): void {
    this.plans = new WeakMap();
  }

  private key(event: BinlogEvent): string {
    const gtid = event.gtid;
    if (gtid !== undefined && gtid === this.gtid && !gtid.startsWith(ANONYMOUS_MYSQL_GTID)) return `${gtid}#${event.offset - this.gtidOffset}`;
    return `${event.file}:${event.offset}`;
  }

  private writeRows(event: Event<"rows">): WrittenEntry | undefined {
    const plan = this.plan(event.tableMap);
    if (plan === null) return undefined;
    const { bytes, rowCount } = this.rows.encode(event.rows, event.tableMap, plan, {
      fileBytes: this.fileNameBytes(event.file),
      offset: event.offset,
      serverId: event.header.serverId,
      executeTime: event.header.timestamp * 1000,
      eventLength: event.header.eventSize,
    });
    const action = event.rows.action;
    const eventType = action === "insert" ? EventType.INSERT : action === "update" ? EventType.UPDATE : EventType.DELETE;
    return this.entry(event, bytes, "rows", eventType, event.tableMap.schema, event.tableMap.table, rowCount);
  }

  private plan(tableMap: TableMap): TablePlan | null {
    let plan = this.plans.get(tableMap);
    if (plan !== undefined) return plan;
    const { schema, table } = tableMap;
    if (this.options.accept?.(schema, table) === false) {
      this.plans.set(tableMap, null);
      return null;
    }
    let tableSchema;
    if (this.options.schemas !== undefined) {
      tableSchema = this.options.schemas(schema, table);
      if (tableSchema === undefined) throw new MissingTableSchemaError(schema, table);
    }
    plan = new TablePlan(tableMap, tableSchema, this.options, this.options.columnFilter?.(schema, table));
    this.plans.set(tableMap, plan);
    return plan;
  }

  private writeQuery(event: Event<"query">): WrittenEntry | undefined {
    const { sql, threadId, database } = event.query;
    const upper = sql.slice(0, 12).toUpperCase();
    const xa = XA.find((prefix) => upper.startsWith(prefix));
    if (xa !== undefined) return this.xa(event, xa);
    if (endsWithIgnoreCase(sql, "BEGIN")) {
      const storeValue = encodeTransactionBegin({ threadId });
      return this.entry(event, this.encode(event, EntryType.TRANSACTIONBEGIN, "", "", undefined, storeValue), "begin", undefined, "", "", 0);
    }
    if (endsWithIgnoreCase(sql, "COMMIT")) return this.transactionEnd(event, "0");

    const target = classifyQuery(sql, database);
    if (!this.acceptsDdl(target)) return undefined;
    const isDdl = isDdlType(target.type);
    // Canal reloads the table metadata after DDL; plans are rebuilt from the schema lookup.
    if (isDdl) this.forgetTables();
    const storeValue = encodeRowChange({ isDdl, sql, ...(database !== "" && { ddlSchemaName: database }), eventType: target.type });
    const bytes = this.encode(event, EntryType.ROWDATA, target.schema, target.table, target.type, storeValue);
    return this.entry(event, bytes, isDdl ? "ddl" : "query", target.type, target.schema, target.table, 0);
  }

  /** Canal's DDL filter: only DDL that names a table can be filtered out. */
  private acceptsDdl(target: QueryTarget): boolean {
    const accept = this.options.accept;
    if (accept === undefined || target.table === undefined || !isDdlType(target.type) || target.type === EventType.QUERY) return true;
    if (accept(target.schema ?? "", target.table)) return true;
    return target.type === EventType.RENAME && accept(target.originalSchema ?? "", target.originalTable ?? "");
  }

  private xa(event: Event<"query">, type: (typeof XA)[number]): WrittenEntry {
    const sql = event.query.sql;
    const props: Pair[] = [
      { key: "XA_TYPE", value: type },
      { key: "XA_XID", value: sql.slice(type.length) },
    ];
    if (type === "XA START") {
      const storeValue = encodeTransactionBegin({ threadId: event.query.threadId, props });
      return this.entry(event, this.encode(event, EntryType.TRANSACTIONBEGIN, "", "", undefined, storeValue), "begin", undefined, "", "", 0);
    }
    if (type === "XA END") {
      const storeValue = encodeTransactionEnd({ transactionId: "0", props });
      return this.entry(event, this.encode(event, EntryType.TRANSACTIONEND, "", "", undefined, storeValue), "end", undefined, "", "", 0);
    }
    const eventType = type === "XA COMMIT" ? EventType.XACOMMIT : EventType.XAROLLBACK;
    const storeValue = encodeRowChange({ eventType, sql, props });
    return this.entry(event, this.encode(event, EntryType.ROWDATA, "", "", eventType, storeValue), "query", eventType, "", "", 0);
  }

  private transactionEnd(event: BinlogEvent, transactionId: string): WrittenEntry {
    const storeValue = encodeTransactionEnd({ transactionId });
    return this.entry(event, this.encode(event, EntryType.TRANSACTIONEND, "", "", undefined, storeValue), "end", undefined, "", "", 0);
  }

  /** The QUERY entry Canal makes of a statement's text logged beside its rows. */
  private queryEntry(event: BinlogEvent, sql: string, table: string | undefined): WrittenEntry {
    const storeValue = encodeRowChange({ eventType: EventType.QUERY, sql });
    return this.entry(event, this.encode(event, EntryType.ROWDATA, "", table, EventType.QUERY, storeValue), "query", EventType.QUERY, "", table, 0);
  }

  private encode(
    event: BinlogEvent,
    entryType: EntryType,
    schemaName: string | undefined,
    tableName: string | undefined,
    eventType: EventType | undefined,
    storeValue: Uint8Array,
  ): Uint8Array {
    return encodeEntry({ header: entryHeader(event, schemaName, tableName, eventType), entryType, storeValue });
  }

  private entry(
    event: BinlogEvent,
    bytes: Uint8Array,
    kind: EntryKind,
    eventType: EventType | undefined,
    schema: string | undefined,
    table: string | undefined,
    rowCount: number,
  ): WrittenEntry {
    return {
      bytes, kind, key: this.key(event), eventType, schema, table, rowCount,
      file: event.file, offset: event.offset, nextOffset: event.nextOffset, gtid: event.gtid,
      serverId: event.header.serverId, executeTime: event.header.timestamp * 1000, boundary: event.boundary,
    };
  }

  private fileNameBytes(file: string): Uint8Array {
    let bytes = this.fileBytes.get(file);
    if (bytes === undefined) {
      if (this.fileBytes.size > 16) this.fileBytes.clear();
      this.fileBytes.set(file, (bytes = new TextEncoder().encode(file)));
    }
    return bytes;
  }
}

/** Header as LogEventConvert.createHeader fills it (§2.2); undefined fields stay unset. */
export function entryHeader(
  event: BinlogEvent,
  schemaName: string | undefined,
  tableName: string | undefined,
  eventType: EventType | undefined,
  props?: Pair[],
): Header {
  return {
    version: 1,
    logfileName: event.file,
    logfileOffset: event.offset,
    serverId: event.header.serverId,
    serverenCode: "UTF-8",
    executeTime: event.header.timestamp * 1000,
    sourceType: SourceType.MYSQL,
    ...(schemaName !== undefined && { schemaName }),
    ...(tableName !== undefined && { tableName }),
    eventLength: event.header.eventSize,
    ...(eventType !== undefined && { eventType }),
    ...(props !== undefined && props.length > 0 && { props }),
  };
}

function endsWithIgnoreCase(text: string, suffix: string): boolean {
  return text.length >= suffix.length && text.slice(text.length - suffix.length).toUpperCase() === suffix;
}
