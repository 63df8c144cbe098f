/**
 * A bounded, continuous write load for failover tests: one writer commits consecutive sequence
 * numbers into `<database>.seq (n BIGINT PRIMARY KEY, at DATETIME(6))`, K rows per transaction,
 * one transaction every I ms, until a row count or a time limit is reached or stop() is called.
 * The consumer side feeds what it receives to the sequence checker (sequence-check.ts), which
 * compares it with `lastCommitted()`.
 *
 *   const load = await startSequenceLoad({ server: db, rowsPerTransaction: 1, intervalMs: 5, maxRows: 10_000, maxMs: 60_000 });
 *   ...
 *   const { lastCommitted } = await load.stop();
 *
 * One connection, one transaction at a time: commit order is n order, so a consumer that
 * receives every committed row in commit order sees 1, 2, 3, … with no gap.
 */
import { setTimeout as sleep } from "node:timers/promises";
import mysql from "mysql2/promise";
import { CanalConfigError, CanalConnectionError } from "../errors.js";

export interface SequenceLoadOptions {
  /** The MariaDB to write to (a test kit MariaDBServer fits). */
  server: { host: string; port: number; user: string; password: string };
  /** Default "seqload". Created when missing; the table too. */
  database?: string;
  /** K, rows per transaction (consecutive n values). Default 1. */
  rowsPerTransaction?: number;
  /** I, ms from the start of one transaction to the start of the next. Default 10. */
  intervalMs?: number;
  /** Stop after this many rows. Required: every load is bounded in count. */
  maxRows: number;
  /** Stop after this long, in ms. Required: every load is bounded in time. */
  maxMs: number;
}

export interface SequenceLoadResult {
  /** The highest n committed; 0 when nothing was. */
  lastCommitted: number;
  /** The first n this load wrote (the table may hold rows of an earlier load below it). */
  first: number;
  rows: number;
  transactions: number;
  /** Why the load ended. */
  reason: "maxRows" | "maxMs" | "stopped";
}

export interface SequenceLoad {
  /** "<database>.seq" */
  readonly table: string;
  /** The first n this load writes: one past the table's highest n at start. */
  readonly first: number;
  /** The highest n committed so far (0 before the first commit); commits are acknowledged by the server. */
  lastCommitted(): number;
  /** Epoch ms of the commit of `n`, when n was committed by this load (for latency measures). */
  committedAt(n: number): number | undefined;
  /** Settles when the load ends by itself or by stop(); rejects with CanalConnectionError when a write fails. */
  readonly done: Promise<SequenceLoadResult>;
  /** Ends the load after the transaction in flight has committed (or failed), and resolves as `done`. */
  stop(): Promise<SequenceLoadResult>;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

/** Creates the database and table when missing and starts writing at once. */
export async function startSequenceLoad(options: SequenceLoadOptions): Promise<SequenceLoad> {
  const database = options.database ?? "seqload";
  const k = options.rowsPerTransaction ?? 1;
  const intervalMs = options.intervalMs ?? 10;
  const { maxRows, maxMs } = options;
  if (!IDENTIFIER.test(database)) throw new CanalConfigError(`sequence load database ${JSON.stringify(database)}: expected a plain identifier ([A-Za-z_][A-Za-z0-9_]*)`);
  if (!Number.isInteger(k) || k < 1 || k > 10_000) throw new CanalConfigError(`sequence load rowsPerTransaction ${k}: expected an integer from 1 to 10000`);
  if (!Number.isFinite(intervalMs) || intervalMs < 0) throw new CanalConfigError(`sequence load intervalMs ${intervalMs}: expected a number of ms ≥ 0`);
  if (!Number.isSafeInteger(maxRows) || maxRows < 1) throw new CanalConfigError(`sequence load maxRows ${maxRows}: expected an integer ≥ 1`);
  if (!Number.isFinite(maxMs) || maxMs <= 0) throw new CanalConfigError(`sequence load maxMs ${maxMs}: expected a number of ms > 0`);

  const { host, port, user, password } = options.server;
  let conn: mysql.Connection;
  try {
    conn = await mysql.createConnection({ host, port, user, password, connectTimeout: 5000 });
  } catch (err) {
    throw new CanalConnectionError(`sequence load: cannot connect to MariaDB ${host}:${port} as ${user}: ${String(err)}`, { cause: err });
  }
  const table = `${database}.seq`;
  let first: number;
  try {
    await conn.query(`CREATE DATABASE IF NOT EXISTS \`${database}\``);
    await conn.query(`CREATE TABLE IF NOT EXISTS \`${database}\`.seq (n BIGINT PRIMARY KEY, at DATETIME(6) NOT NULL)`);
    const [rows] = await conn.query<mysql.RowDataPacket[]>(`SELECT COALESCE(MAX(n), 0) AS top FROM \`${database}\`.seq`);
    first = Number(rows[0]!["top"]) + 1;
  } catch (err) {
    await conn.end().catch(() => undefined);
    throw new CanalConnectionError(`sequence load: cannot prepare ${table} on ${host}:${port}: ${String(err)}`, { cause: err });
  }

  let last = first - 1;
  let transactions = 0;
  const commitTimes = new Map<number, number>();
  const stopping = new AbortController();
  const insert = `INSERT INTO \`${database}\`.seq (n, at) VALUES `;

  const run = async (): Promise<SequenceLoadResult> => {
    const started = Date.now();
    let next = started;
    const end = (reason: SequenceLoadResult["reason"]): SequenceLoadResult => ({ lastCommitted: last, first, rows: last - first + 1, transactions, reason });
    try {
      for (;;) {
        if (stopping.signal.aborted) return end("stopped");
        if (last - first + 1 >= maxRows) return end("maxRows");
        if (Date.now() - started >= maxMs) return end("maxMs");
        const from = last + 1;
        const to = Math.min(from + k - 1, first + maxRows - 1);
        const values = Array.from({ length: to - from + 1 }, (_, i) => `(${from + i}, NOW(6))`).join(",");
        try {
          // autocommit: one INSERT statement is one transaction
          await conn.query(insert + values);
        } catch (err) {
          throw new CanalConnectionError(`sequence load: the transaction of n ${from}..${to} into ${table} failed after n ${last} had committed: ${String(err)}`, { cause: err });
        }
        last = to;
        transactions++;
        const now = Date.now();
        for (let n = from; n <= to; n++) commitTimes.set(n, now);
        // A fixed pace, without a burst to catch up after a slow commit.
        next = Math.max(next + intervalMs, now);
        const wait = next - now;
        if (wait > 0) await sleep(wait, undefined, { signal: stopping.signal }).catch(() => undefined);
      }
    } finally {
      await conn.end().catch(() => undefined);
    }
  };
  const done = run();
  done.catch(() => undefined); // the caller sees a failure through done or stop()

  return {
    table,
    first,
    lastCommitted: () => last,
    committedAt: (n) => commitTimes.get(n),
    done,
    stop: () => {
      stopping.abort();
      return done;
    },
  };
}
