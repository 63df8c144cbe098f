/**
 * The reference decode workload (design.md "Goals"): one 12-column table receiving inserts,
 * then updates, then deletes, 1000 rows per transaction, 650k row changes at scale 1, all in
 * one closed binlog file.
 *
 * Row values come from a seeded PRNG in this process rather than from RAND() on the server,
 * so every run writes the same binlog (same row sizes, same text and JSON lengths) and figures
 * from different days compare. Value shapes and sizes follow the reference: a 25-char SKU,
 * 32..320 chars of text, a ~70-byte JSON object spelled as MariaDB's JSON_OBJECT prints it,
 * temporal values spread over 2024-2025.
 */
import type { Connection } from "mysql2/promise";
import { prng } from "../../src/testkit/prng.js";

export const ROWS_PER_TRANSACTION = 1000;

export interface WorkloadPlan {
  insertTransactions: number;
  updateTransactions: number;
  deleteTransactions: number;
}

/**
 * Each update transaction touches every 5th id of a 5000-id window and each delete every 10th
 * (id % 10 = 3, never an updated one) of a 10000-id window, so the windows must fit in the
 * inserted ids: hence updates = inserts / 5 and deletes = inserts / 10, and at least 10 inserts.
 */
const UPDATE_STRIDE = 5;
const DELETE_STRIDE = 10;

/** Scale 1 = 500 insert, 100 update and 50 delete transactions of 1000 rows. */
export function planWorkload(scale: number): WorkloadPlan {
  if (!(scale > 0 && scale <= 10)) throw new Error(`--scale ${scale}: expected a number in (0, 10]`);
  const insertTransactions = Math.max(DELETE_STRIDE, Math.round(500 * scale));
  return {
    insertTransactions,
    updateTransactions: Math.floor(insertTransactions / UPDATE_STRIDE),
    deleteTransactions: Math.floor(insertTransactions / DELETE_STRIDE),
  };
}

/** Row changes the plan writes; an UPDATE's before/after pair counts once. */
export function plannedRows(plan: WorkloadPlan): number {
  return (plan.insertTransactions + plan.updateTransactions + plan.deleteTransactions) * ROWS_PER_TRANSACTION;
}

/**
 * mariadbd flags the workload needs on top of the test kit's small defaults: room for a ~250 MiB
 * table and a large redo log, one binlog file for the whole workload, and no Annotate_rows.
 * Each INSERT here carries its 1000 rows as ~450 KB of SQL text, which an Annotate_rows event
 * would repeat (the reference's INSERT ... SELECT statements were short): ~225 MiB more binlog,
 * sent only to readers that ask for annotations (ours does, zongji does not). Setting it per
 * session would need BINLOG ADMIN, which the test kit's user does not have.
 */
export const WORKLOAD_SERVER_ARGS = [
  "--innodb-buffer-pool-size=512M",
  "--innodb-log-file-size=256M",
  "--max-binlog-size=1G",
  "--binlog-annotate-row-events=OFF",
];

const SCHEMA = "bench_decode";
const STATUSES = ["new", "paid", "shipped", "delivered", "cancelled"];

const CREATE_TABLE = `CREATE TABLE ${SCHEMA}.orders (
  id INT NOT NULL PRIMARY KEY,
  customer_id BIGINT NOT NULL,
  sku VARCHAR(64) NOT NULL,
  description TEXT,
  amount DECIMAL(12,2) NOT NULL,
  weight DOUBLE,
  created_at DATETIME(6) NOT NULL,
  updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
  ship_date DATE,
  flag TINYINT NOT NULL DEFAULT 0,
  status ENUM(${STATUSES.map((s) => `'${s}'`).join(",")}) NOT NULL DEFAULT 'new',
  attrs JSON
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`;

const YEAR_2024_MS = Date.UTC(2024, 0, 1);
const DAY_MS = 86_400_000;
const WORDS = ["lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit", "sed", "do", "eiusmod", "tempor"];
const COLORS = ["red", "green", "blue", "black"];

class RowGenerator {
  private readonly random = prng(0x5eed);

  private int(n: number): number {
    return Math.floor(this.random() * n);
  }

  private hex(length: number): string {
    let s = "";
    while (s.length < length) s += this.int(0x10000000).toString(16).padStart(7, "0");
    return s.slice(0, length);
  }

  private text(length: number): string {
    let s = "";
    while (s.length < length) s += `${WORDS[this.int(WORDS.length)]} ${this.hex(8)} `;
    return s.slice(0, length);
  }

  /** "YYYY-MM-DD HH:MM:SS" of a UTC instant, plus `micros` digits when given. */
  private static datetime(ms: number, micros?: number): string {
    const iso = new Date(ms).toISOString(); // 2024-03-05T06:07:08.000Z
    const seconds = `${iso.slice(0, 10)} ${iso.slice(11, 19)}`;
    return micros === undefined ? seconds : `${seconds}.${String(micros).padStart(6, "0")}`;
  }

  /** One row as an SQL tuple; every string is plain ASCII without quotes or backslashes. */
  row(id: number): string {
    const sku = `SKU-${String(this.int(1e8)).padStart(8, "0")}-${this.hex(12)}`;
    const description = this.text(32 + this.int(289));
    const amount = (this.int(9_999_999) / 100).toFixed(2);
    const weight = this.random() * 1000;
    const createdAt = RowGenerator.datetime(YEAR_2024_MS + this.int(365) * DAY_MS + this.int(DAY_MS), this.int(1_000_000));
    const updatedAt = RowGenerator.datetime(YEAR_2024_MS + this.int(365 * DAY_MS));
    const shipDate = RowGenerator.datetime(YEAR_2024_MS + this.int(730) * DAY_MS).slice(0, 10);
    const attrs =
      `{"color": "${COLORS[this.int(COLORS.length)]}", "qty": ${this.int(100)}, ` +
      `"tags": ["a", "b", ${this.int(10)}], "gift": ${this.random() < 0.1}}`;
    return (
      `(${id},${this.int(1e12)},'${sku}','${description}',${amount},${weight},'${createdAt}','${updatedAt}',` +
      `'${shipDate}',${this.int(2)},'${STATUSES[this.int(STATUSES.length)]}','${attrs}')`
    );
  }
}

export interface BuiltWorkload {
  /** The closed binlog file holding the whole workload. */
  file: string;
  /** Its size in bytes. */
  size: number;
  rows: number;
  seconds: number;
}

/**
 * Writes the workload into a fresh binlog: RESET MASTER, DDL, the transactions, then FLUSH
 * BINARY LOGS so that readers see one closed file ending in a Rotate event.
 */
export async function buildWorkload(db: Connection, plan: WorkloadPlan): Promise<BuiltWorkload> {
  const started = performance.now();
  await db.query("RESET MASTER");
  await db.query("SET time_zone = '+00:00'"); // TIMESTAMP literals mean the same instant everywhere
  await db.query(`CREATE DATABASE ${SCHEMA}`);
  await db.query(CREATE_TABLE);

  const generator = new RowGenerator();
  const insertSql = (t: number) => {
    const rows: string[] = [];
    for (let i = 1; i <= ROWS_PER_TRANSACTION; i++) rows.push(generator.row(t * ROWS_PER_TRANSACTION + i));
    return `INSERT INTO ${SCHEMA}.orders VALUES ${rows.join(",")}`;
  };
  // Builds the next statement while the server runs the current one.
  let next = insertSql(0);
  for (let t = 0; t < plan.insertTransactions; t++) {
    const running = db.query(next);
    if (t + 1 < plan.insertTransactions) next = insertSql(t + 1);
    await running;
  }

  for (let t = 0; t < plan.updateTransactions; t++) {
    const [lo, hi] = window(t, UPDATE_STRIDE);
    await db.query(
      `UPDATE ${SCHEMA}.orders SET amount = amount + 1.25, updated_at = updated_at + INTERVAL 1 HOUR,
         status = ELT(1 + (id DIV ${UPDATE_STRIDE} + ${t}) % ${STATUSES.length}, ${STATUSES.map((s) => `'${s}'`).join(",")}),
         attrs = JSON_SET(attrs, '$.qty', (id * 7 + ${t}) % 100)
       WHERE id BETWEEN ${lo} AND ${hi} AND id % ${UPDATE_STRIDE} = 0`,
    );
  }
  for (let t = 0; t < plan.deleteTransactions; t++) {
    const [lo, hi] = window(t, DELETE_STRIDE);
    await db.query(`DELETE FROM ${SCHEMA}.orders WHERE id BETWEEN ${lo} AND ${hi} AND id % ${DELETE_STRIDE} = 3`);
  }

  const [[first]] = (await db.query("SHOW BINARY LOGS")) as unknown as [Array<{ Log_name: string }>];
  await db.query("FLUSH BINARY LOGS");
  const [logs] = (await db.query("SHOW BINARY LOGS")) as unknown as [Array<{ Log_name: string; File_size: number | string }>];
  const closed = logs.find((l) => l.Log_name === first!.Log_name)!;
  return { file: closed.Log_name, size: Number(closed.File_size), rows: plannedRows(plan), seconds: (performance.now() - started) / 1000 };
}

/** Ids [lo, hi] of transaction t's window, in which every `stride`-th id gives 1000 rows. */
function window(t: number, stride: number): [number, number] {
  const lo = t * ROWS_PER_TRANSACTION * stride + 1;
  return [lo, lo + ROWS_PER_TRANSACTION * stride - 1];
}
