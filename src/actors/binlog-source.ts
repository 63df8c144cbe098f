/**
 * The data source of a destination: reads the binlog (BinlogStream), drops what the name
 * filters exclude before any row is decoded, converts the rest to Canal Entry bytes
 * (EntryWriter), groups the entries into transactions (TransactionBuffer) and hands each
 * group to the consumer as one batch, pausing the binlog socket while the consumer is full.
 *
 * The decisions it makes are few and explicit:
 *   - a rows event is kept when its table map's `schema.table` passes the white filter and
 *     not the black one (canal-facts.md §7.2), decided once per table map;
 *   - a DDL is kept by the same test on the table it names (RENAME: either name for white,
 *     both for black); other statements are not name-filtered;
 *   - every DDL that names a table drops that table's cached schema, filtered or not, so the
 *     next rows event of the table reads it again;
 *   - the binlog is read only while nothing waits: not while a schema is being read, not
 *     while the consumer is full, not while paused from outside.
 *
 * Schema mode: with `binlog_row_metadata=FULL` the table maps carry column names and the
 * primary key ("binlog" mode); without, names and keys come from the database ("database"
 * mode). `mysqlType` always comes from the database. The mode is reported through
 * `onStatus` when the first table map shows it and whenever a table map changes it.
 *
 * Lifecycle for the machines: `start()` resolves once the dump runs (a bad filter, charset or
 * zone is a CanalConfigError before anything connects); failures after that arrive once
 * through `onError`, typed: CanalAuthError, CanalConnectionError once the reconnect attempts
 * are used up, BinlogChecksumError / BinlogFormatError with the position, CanalError for a
 * table the database does not have. `stop()` ends it. The callbacks map one to one onto a
 * fromCallback actor's `sendBack`.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { CanalConfigError, CanalError, isRetriable } from "../errors.js";
import { type QueryTarget, classifyQuery } from "../protocol/binlog/ddl.js";
import { EntryWriter, MissingTableSchemaError, type WrittenEntry } from "../protocol/binlog/entry-writer.js";
import type { ChunkAllocator } from "../protocol/binlog/rows-entry.js";
import type { BinlogEvent } from "../protocol/binlog/events/decoder.js";
import type { TableMap } from "../protocol/binlog/events/table-map.js";
import { charsetFromName } from "../protocol/binlog/row-values.js";
import { TimestampFormatter } from "../protocol/binlog/temporal.js";
import { EventType } from "../protocol/entry.js";
import { TableFilter, columnFilterFor, parseFieldFilter } from "../protocol/filter.js";
import { type BinlogStart, BinlogStream, type BinlogStreamStats, type ResumePoint } from "./binlog-stream.js";
import { type NamedTableSchema, SchemaReader } from "./schema-reader.js";
import { TransactionBuffer, isDml } from "./transaction-buffer.js";

/** Canal's `canal.instance.filter.*` settings that the source applies. */
export interface SourceFilters {
  /** canal.instance.filter.regex; default `.*\..*` (everything). */
  regex?: string;
  /** canal.instance.filter.black.regex; default none. */
  blackRegex?: string;
  /** canal.instance.filter.field: `schema.table:col1/col2,…`, the columns kept. */
  field?: string;
  /** canal.instance.filter.black.field: the columns dropped. */
  blackField?: string;
  /** canal.instance.filter.query.dml: drop statement DML (INSERT/UPDATE/DELETE as text) and row annotations. */
  queryDml?: boolean;
  /** canal.instance.filter.query.dcl: drop statements that are neither DDL nor DML (GRANT, CREATE USER, …). */
  queryDcl?: boolean;
  /** canal.instance.filter.query.ddl: drop every statement entry, as Canal does (DDL, statement DML and the rest). */
  queryDdl?: boolean;
}

export interface BinlogSourceOptions {
  host: string;
  port: number;
  user: string;
  password: string;
  /** Replica server id (canal.instance.mysql.slaveId). */
  serverId: number;
  start: BinlogStart;
  filters?: SourceFilters;
  /** canal.instance.connectionCharset (default "UTF-8"). */
  connectionCharset?: string;
  /** IANA zone TIMESTAMP columns are rendered in; default the process's. */
  timeZone?: string;
  /** canal.instance.transaction.size (default 1024 entries per batch at most). */
  transactionSize?: number;
  heartbeatPeriodMs?: number;
  /** Where the entry writer's memory chunks come from (the source thread recycles them). */
  allocateChunk?: ChunkAllocator;
  reconnect?: { minDelayMs?: number; maxDelayMs?: number; maxAttempts?: number } | false;
  /**
   * Takes one batch (always accepted). Returning "full" pauses reading until `resume()`;
   * what was already read may still arrive, at most the rest of one binlog event.
   */
  onBatch(batch: SourceBatch): "ok" | "full";
  onError?(err: CanalError): void;
  onStatus?(status: SourceStatus): void;
}

export interface SourceBatch {
  /** The entries, in binlog order: Canal Entry bytes with key and position each. */
  entries: WrittenEntry[];
  /**
   * Set when the batch ends at a transaction boundary: a source started there delivers
   * exactly what follows this batch. Unset for a part of a split transaction.
   */
  resumeAfter: ResumePoint | undefined;
}

/** binlog: names and keys from FULL table-map metadata; database: from information_schema. */
export type SchemaMode = "binlog" | "database";

export type SourceStatus =
  | { type: "connected"; attempt: number; resumeFrom: ResumePoint }
  | { type: "schemaMode"; mode: SchemaMode; table: string };

export interface BinlogSourceStats {
  stream: BinlogStreamStats;
  /** Rows events skipped by the name filters, undecoded. */
  filteredRowsEvents: number;
  /** DDL statements on tables the name filters exclude. */
  filteredDdl: number;
  entries: number;
  batches: number;
  schemaReads: number;
  /** Transactions left without rows (e.g. filtered) and not handed on. */
  emptyTransactionsDropped: number;
}

/** An event as it arrived, with the resume point the stream gave it if it ends a transaction. */
interface Arrival {
  event: BinlogEvent;
  boundary: ResumePoint | undefined;
}

export class BinlogSource {
  private stream: BinlogStream | undefined;
  private readonly schemas: SchemaReader;
  private readonly writer: EntryWriter;
  private readonly buffer: TransactionBuffer<WrittenEntry>;
  private tableFilter: TableFilter;
  /** Filter decision per decoded table map (the decoder reuses a table map while its bytes do not change). */
  private accepted = new WeakMap<TableMap, boolean>();
  private mode: SchemaMode | undefined;
  /** Events that arrived while a schema was being read, in order; the first one is the one that waits. */
  private readonly backlog: Arrival[] = [];
  private waitingForSchema = false;
  private consumerFull = false;
  private pausedFromOutside = false;
  /** The boundary of the event being converted, when it is one. */
  private currentBoundary: ResumePoint | undefined;
  private lastBoundary: ResumePoint | undefined;
  private failed = false;
  private readonly counters = { filteredRowsEvents: 0, filteredDdl: 0, entries: 0, batches: 0 };

  private constructor(private readonly options: BinlogSourceOptions) {
    const f = options.filters ?? {};
    this.tableFilter = new TableFilter({ white: f.regex, black: f.blackRegex });
    const fields = { white: parseFieldFilter(f.field ?? ""), black: parseFieldFilter(f.blackField ?? "") };
    if (options.transactionSize !== undefined && !(Number.isInteger(options.transactionSize) && options.transactionSize > 0)) {
      throw new CanalConfigError(`transaction size ${options.transactionSize}: expected a positive integer`);
    }
    this.schemas = new SchemaReader(options);
    this.writer = new EntryWriter({
      charset: charsetFromName(options.connectionCharset ?? "UTF-8"),
      timestamps: new TimestampFormatter(options.timeZone),
      schemas: (schema, table) => this.schemaFor(schema, table),
      columnFilter:
        fields.white.size + fields.black.size === 0 ? undefined : (schema, table) => columnFilterFor(schema, table, fields.white, fields.black),
      allocateChunk: options.allocateChunk,
    });
    this.buffer = new TransactionBuffer((group) => this.handOn(group), { size: options.transactionSize });
  }

  /**
   * Validates the configuration, connects and starts the dump. Rejects if the configuration
   * is invalid or the first connection fails.
   */
  static async start(options: BinlogSourceOptions): Promise<BinlogSource> {
    const source = new BinlogSource(options);
    source.stream = await BinlogStream.open({
      host: options.host,
      port: options.port,
      user: options.user,
      password: options.password,
      serverId: options.serverId,
      start: options.start,
      heartbeatPeriodMs: options.heartbeatPeriodMs,
      reconnect: options.reconnect,
      onEvent: (event) => source.onEvent(event),
      onError: (err) => source.fail(err),
      onConnected: (info) => options.onStatus?.({ type: "connected", ...info }),
    });
    return source;
  }

  /** The last transaction boundary handed on (or skipped as empty): where a restart should begin. */
  get position(): ResumePoint | undefined {
    return this.lastBoundary ?? this.stream?.resumePoint;
  }

  /** Where names and keys come from; undefined until the first table map. */
  get schemaMode(): SchemaMode | undefined {
    return this.mode;
  }

  get stats(): BinlogSourceStats {
    return {
      stream: { ...this.stream!.stats },
      ...this.counters,
      schemaReads: this.schemas.reads,
      emptyTransactionsDropped: this.buffer.droppedEmpty,
    };
  }

  /** Stops reading until `resume()` (an operator's pause; the consumer uses its "full" answer). */
  pause(): void {
    this.pausedFromOutside = true;
    this.updateReading();
  }

  /** Ends a pause, and tells the source the consumer has room again. */
  resume(): void {
    this.pausedFromOutside = false;
    this.consumerFull = false;
    this.updateReading();
  }

  /**
   * Replaces the white filter, as a client's non-blank subscribe filter does in Canal
   * (§7.3); the black filter stays. Throws CanalConfigError for an invalid regex.
   */
  setFilter(regex: string): void {
    this.tableFilter = new TableFilter({ white: regex, black: this.options.filters?.blackRegex });
    this.accepted = new WeakMap();
    // Plans of tables filtered until now may predate DDL the source did not pass on.
    this.writer.forgetTables();
  }

  async stop(): Promise<void> {
    await this.stream?.close();
    await this.schemas.close();
  }

  /** Resolves after `stop()`, rejects with the error that stopped the source. */
  get closed(): Promise<void> {
    return this.stream!.closed;
  }

  private updateReading(): void {
    const stream = this.stream;
    if (stream === undefined) return;
    if (this.waitingForSchema || this.consumerFull || this.pausedFromOutside) stream.pause();
    else stream.resume();
  }

  private onEvent(event: BinlogEvent): void {
    // The stream moves its resume point past an event that ends a transaction just before
    // handing it on; later events may arrive before this one is converted, so keep it now.
    const arrival = { event, boundary: event.boundary ? { ...this.stream!.resumePoint! } : undefined };
    if (this.waitingForSchema) this.backlog.push(arrival);
    else this.process(arrival);
  }

  /** Converts one event, or parks it at the head of the backlog while its table's schema is read. */
  private process(arrival: Arrival): void {
    const { event } = arrival;
    const query = event.kind === "query" ? classifyQuery(event.query.sql, event.query.database) : undefined;
    let entry: WrittenEntry | undefined;
    if (event.kind === "rows" && !this.acceptsTable(event.tableMap)) {
      this.counters.filteredRowsEvents++;
    } else if (query !== undefined && !this.acceptsQuery(query)) {
      this.counters.filteredDdl++;
    } else {
      try {
        entry = this.writer.write(event);
      } catch (err) {
        if (!(err instanceof MissingTableSchemaError)) throw err;
        this.readSchemaThenRetry(arrival, err.schema, err.table);
        return;
      }
    }
    if (event.kind === "tableMap") this.noteSchemaMode(event.tableMap);
    if (query !== undefined && event.kind === "query") this.forgetSchemasNamedBy(query, event.query.database);
    this.currentBoundary = arrival.boundary;
    if (entry !== undefined && this.keeps(entry, event, query)) this.buffer.add(entry);
    if (arrival.boundary !== undefined) {
      this.buffer.flush();
      this.lastBoundary = arrival.boundary;
    }
    this.currentBoundary = undefined;
  }

  private acceptsTable(map: TableMap): boolean {
    let accepted = this.accepted.get(map);
    if (accepted === undefined) this.accepted.set(map, (accepted = this.tableFilter.acceptsTable(map.schema, map.table)));
    return accepted;
  }

  /** DDL on a named table is name-filtered (§7.2); other statements always pass. */
  private acceptsQuery(q: QueryTarget): boolean {
    if (q.table === undefined || q.type === EventType.QUERY || isDml(q.type)) return true;
    const renamedFrom = q.originalTable === undefined ? undefined : { schema: q.originalSchema ?? "", table: q.originalTable };
    return this.tableFilter.acceptsDdl(q.schema ?? "", q.table, renamedFrom);
  }

  /**
   * Canal's filter.query.* (§7.2): row annotations go with `queryDml`; a statement goes with
   * `queryDml` when it is DML text, with `queryDcl` when it is neither DML nor DDL, and every
   * statement goes with `queryDdl` (Canal drops them all there). Transaction begin and end, XA,
   * and the table schema refresh a DDL causes are never affected.
   */
  private keeps(entry: WrittenEntry, event: BinlogEvent, query: QueryTarget | undefined): boolean {
    const f = this.options.filters;
    if (f === undefined) return true;
    if (event.kind === "annotateRows" || event.kind === "rowsQuery") return f.queryDml !== true;
    if (query === undefined || (entry.kind !== "query" && entry.kind !== "ddl")) return true;
    if (entry.eventType === EventType.XACOMMIT || entry.eventType === EventType.XAROLLBACK) return true;
    if (isDml(query.type) ? f.queryDml === true : query.type === EventType.QUERY && f.queryDcl === true) return false;
    return f.queryDdl !== true;
  }

  private readSchemaThenRetry(arrival: Arrival, schema: string, table: string): void {
    this.backlog.unshift(arrival);
    this.waitingForSchema = true;
    this.updateReading();
    this.readSchema(schema, table).then(
      () => this.drainBacklog(),
      (err: unknown) => this.fail(asCanalError(err)),
    );
  }

  /** Reads a schema, retrying a lost connection with the stream's reconnect policy (the database may be restarting). */
  private async readSchema(schema: string, table: string): Promise<void> {
    const policy = this.options.reconnect;
    const maxAttempts = policy === false ? 1 : (policy?.maxAttempts ?? Infinity);
    for (let attempt = 1; ; attempt++) {
      try {
        await this.schemas.read(schema, table);
        return;
      } catch (err) {
        if (policy === false || !isRetriable(err) || attempt >= maxAttempts || this.failed) throw err;
        await sleep(Math.min(policy?.maxDelayMs ?? 10_000, (policy?.minDelayMs ?? 200) * 2 ** (attempt - 1)));
      }
    }
  }

  private drainBacklog(): void {
    this.waitingForSchema = false;
    try {
      while (this.backlog.length > 0 && !this.waitingForSchema && !this.failed) this.process(this.backlog.shift()!);
    } catch (err) {
      this.fail(asCanalError(err));
      return;
    }
    this.updateReading();
  }

  /**
   * The schema lookup the entry writer calls once per table map of an accepted table:
   * undefined makes it throw MissingTableSchemaError, and the event is written again after
   * the read. A table the database no longer has cannot be named: that stops the source, as
   * it stops Canal ("not found in db").
   */
  private schemaFor(schema: string, table: string): NamedTableSchema | undefined {
    const known = this.schemas.cached(schema, table);
    if (known === null) throw new CanalError(`table ${schema}.${table} has rows in the binlog but does not exist in the database`);
    return known;
  }

  /** A DDL may change the tables it names: their schemas are read again before their next rows. */
  private forgetSchemasNamedBy(target: QueryTarget, database: string): void {
    if (target.schema === undefined) return;
    if (target.table === undefined) this.schemas.invalidate(target.schema);
    else this.schemas.invalidate(target.schema, target.table);
    if (target.originalTable !== undefined) this.schemas.invalidate(target.originalSchema ?? database, target.originalTable);
  }

  private noteSchemaMode(map: TableMap): void {
    const mode: SchemaMode = map.hasFullMetadata ? "binlog" : "database";
    if (mode === this.mode) return;
    this.mode = mode;
    this.options.onStatus?.({ type: "schemaMode", mode, table: `${map.schema}.${map.table}` });
  }

  private handOn(group: WrittenEntry[]): void {
    this.counters.batches++;
    this.counters.entries += group.length;
    const resumeAfter = group[group.length - 1]!.boundary ? this.currentBoundary : undefined;
    const reply = this.options.onBatch({ entries: group, resumeAfter });
    if (reply === "full" && !this.consumerFull) {
      this.consumerFull = true;
      this.updateReading();
    }
  }

  private fail(err: CanalError): void {
    if (this.failed) return;
    this.failed = true;
    void this.stop();
    this.options.onError?.(err);
  }
}

function asCanalError(err: unknown): CanalError {
  return err instanceof CanalError ? err : new CanalError(String(err), { cause: err });
}
