/**
 * Shared by the binlog source suites: a fresh server with the table r.t, a consumer that decodes
 * every batch back into Canal entries, and a MariaDB that can be killed with SIGKILL and started again on the same data
 * dir and port (the test kit has no restart; the command line is taken from /proc).
 */
import mysql from "mysql2/promise";
import { BinlogSource, type BinlogSourceOptions, type SourceBatch } from "../../src/actors/binlog-source.js";
import type { CanalError } from "../../src/errors.js";
import {
  type Column,
  type Entry,
  EntryType,
  type RowChange,
  decodeEntry,
  decodeRowChange,
  decodeTransactionEnd,
} from "../../src/protocol/entry.js";
import { type MariaDBOptions, type MariaDBServer, startMariaDB } from "../../src/testkit/index.js";

export interface DecodedEntry {
  entry: Entry;
  key: string;
  rowChange?: RowChange;
  /** TRANSACTIONEND's transactionId. */
  xid?: string;
}

export function decodeBatch(batch: SourceBatch): DecodedEntry[] {
  return batch.entries.map((written) => {
    const entry = decodeEntry(written.bytes);
    const decoded: DecodedEntry = { entry, key: written.key };
    if (entry.entryType === EntryType.ROWDATA) decoded.rowChange = decodeRowChange(entry.storeValue!);
    if (entry.entryType === EntryType.TRANSACTIONEND) decoded.xid = decodeTransactionEnd(entry.storeValue!).transactionId;
    return decoded;
  });
}

/** Collects batches from a source; `until` resolves once a predicate over everything so far holds. */
export class Collector {
  readonly batches: SourceBatch[] = [];
  readonly entries: DecodedEntry[] = [];
  error: CanalError | undefined;
  private waiters: Array<{ check: () => boolean; resolve: () => void }> = [];

  readonly onBatch = (batch: SourceBatch): "ok" | "full" => {
    this.batches.push(batch);
    this.entries.push(...decodeBatch(batch));
    this.wake();
    return "ok";
  };

  readonly onError = (err: CanalError): void => {
    this.error = err;
    this.wake();
  };

  /** Waits until `check()` holds (or the source failed, or `timeoutMs` passed: then throws). */
  until(check: () => boolean, timeoutMs = 20_000): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms; ${this.entries.length} entries so far`)), timeoutMs);
      this.waiters.push({
        check: () => check() || this.error !== undefined,
        resolve: () => {
          clearTimeout(timer);
          if (this.error !== undefined) reject(this.error);
          else resolve();
        },
      });
    });
  }

  /** Values of column `column` in the after images (before images for deletes) of `table`'s row entries. */
  values(table: string, column: string): string[] {
    return this.entries.flatMap((e) =>
      e.entry.header?.tableName === table && e.rowChange !== undefined
        ? (e.rowChange.rowDatas ?? []).map((r) => columnValue(r.afterColumns ?? r.beforeColumns ?? [], column))
        : [],
    );
  }

  private wake(): void {
    this.waiters = this.waiters.filter((w) => {
      if (!w.check()) return true;
      w.resolve();
      return false;
    });
  }
}

function columnValue(columns: Column[], name: string): string {
  const c = columns.find((c) => c.name === name);
  if (c === undefined) throw new Error(`no column ${name} in ${JSON.stringify(columns.map((c) => c.name))}`);
  return c.value ?? "NULL";
}

let replicaId = 1000;

/** Starts a source on `server` feeding `collector`; reconnects quickly by default. `startWith` picks the kind (in-process by default). */
export function startSource<Source = BinlogSource>(
  server: MariaDBServer,
  collector: Collector,
  options: Partial<BinlogSourceOptions> & Pick<BinlogSourceOptions, "start">,
  startWith: (options: BinlogSourceOptions) => Promise<Source> = BinlogSource.start as unknown as (options: BinlogSourceOptions) => Promise<Source>,
): Promise<NoInfer<Source>> {
  return startWith({
    host: server.host,
    port: server.port,
    user: server.user,
    password: server.password,
    serverId: replicaId++,
    reconnect: { minDelayMs: 50, maxDelayMs: 500 },
    onBatch: collector.onBatch,
    onError: collector.onError,
    ...options,
  });
}

export function connect(server: MariaDBServer): Promise<mysql.Connection> {
  return mysql.createConnection({ host: server.host, port: server.port, user: server.user, password: server.password, multipleStatements: true });
}

export async function masterPosition(db: mysql.Connection): Promise<{ file: string; position: number }> {
  const [rows] = (await db.query("SHOW MASTER STATUS")) as unknown as [Array<{ File: string; Position: number }>];
  return { file: rows[0]!.File, position: Number(rows[0]!.Position) };
}


/** Runs `body` with a fresh server, a connection and the table r.t (id INT PRIMARY KEY, pad VARCHAR(padLength)). */
export async function withServer(
  options: MariaDBOptions & { padLength?: number },
  body: (db: mysql.Connection, server: MariaDBServer) => Promise<void>,
): Promise<void> {
  const { padLength = 100, ...serverOptions } = options;
  const server = await startMariaDB(serverOptions);
  const db = await connect(server);
  try {
    await db.query(`CREATE DATABASE r; CREATE TABLE r.t (id INT PRIMARY KEY, pad VARCHAR(${padLength}))`);
    await body(db, server);
  } finally {
    await db.end().catch(() => {});
    await server.stop();
  }
}
