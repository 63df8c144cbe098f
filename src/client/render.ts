/**
 * Text renderings of batches for `canal-ts tail`: one JSON line per change, or a readable table
 * per transaction. Pure: strings in, strings out.
 */
import { decodeTransactionEnd, EntryType, type Entry } from "../protocol/index.js";
import { changesOf, entryTypeOf, type Change, type RowImage } from "./changes.js";

/**
 * A change as one JSON object: the value maps of the row images (the full typed view is
 * `Batch.changes`), the key column names, and for UPDATE the names of the columns that changed.
 */
export function changeJson(change: Change, batchId: number): string {
  const line: Record<string, unknown> = {
    batch: batchId,
    database: change.database,
    table: change.table,
    type: change.type,
    executeTime: change.executeTime,
    position: change.position,
  };
  if (change.gtid !== undefined) line["gtid"] = change.gtid;
  line["key"] = change.key;
  const image = change.after ?? change.before;
  if (image !== undefined) line["keys"] = Object.keys(image).filter((name) => image[name]!.isKey);
  if (change.before !== undefined) line["before"] = values(change.before);
  if (change.after !== undefined) line["after"] = values(change.after);
  if (change.before !== undefined && change.after !== undefined) line["updated"] = Object.keys(change.after).filter((name) => change.after![name]!.updated);
  if (change.sql !== undefined) line["sql"] = change.sql;
  return JSON.stringify(line);
}

function values(image: RowImage): Record<string, string | null> {
  return Object.fromEntries(Object.entries(image).map(([name, column]) => [name, column.value]));
}

/** One transaction's worth of changes, as far as the batch holds it. */
export interface TransactionGroup {
  changes: Change[];
  /** The XID of its TRANSACTIONEND; undefined when the batch ends first (a transaction split across batches) or for DDL. */
  xid?: string;
  /** Whether the group ended inside this batch. */
  complete: boolean;
}

/**
 * Splits a batch's entries into transactions. A group ends at TRANSACTIONEND, or right after a
 * DDL (Canal gives DDL no begin/end). It starts at the first change after the previous end:
 * MariaDB transactions have no TRANSACTIONBEGIN entry (its GTID event stands in for it).
 */
export function transactionsOf(entries: readonly Entry[]): TransactionGroup[] {
  const groups: TransactionGroup[] = [];
  let current: Change[] = [];
  for (const entry of entries) {
    const type = entryTypeOf(entry);
    if (type === EntryType.TRANSACTIONEND) {
      const xid = entry.storeValue === undefined ? undefined : decodeTransactionEnd(entry.storeValue).transactionId;
      if (current.length > 0) groups.push(xid === undefined ? { changes: current, complete: true } : { changes: current, xid, complete: true });
      current = [];
      continue;
    }
    const changes = changesOf(entry);
    if (changes.length === 1 && changes[0]!.isDdl) {
      if (current.length > 0) groups.push({ changes: current, complete: false });
      groups.push({ changes, complete: true });
      current = [];
      continue;
    }
    current.push(...changes);
  }
  if (current.length > 0) groups.push({ changes: current, complete: false });
  return groups;
}

export interface TableStyle {
  color: boolean;
  /** Longest cell before it is cut with "…". Default 40. */
  maxCellWidth?: number;
}

const ANSI = { reset: "\x1b[0m", bold: "\x1b[1m", dim: "\x1b[2m", red: "\x1b[31m", green: "\x1b[32m", yellow: "\x1b[33m", cyan: "\x1b[36m" };
const TYPE_COLORS: Record<string, string> = { INSERT: ANSI.green, UPDATE: ANSI.yellow, DELETE: ANSI.red };

/** A transaction as text: a header line, then a table per run of changes of one type on one table. */
export function renderTransaction(group: TransactionGroup, batchId: number, style: TableStyle): string {
  const paint = (code: string, text: string) => (style.color ? `${code}${text}${ANSI.reset}` : text);
  const width = style.maxCellWidth ?? 40;
  const first = group.changes[0]!;
  const when = new Date(first.executeTime).toISOString().replace("T", " ").replace("Z", " UTC");
  const facts = [`${first.position.file}:${first.position.offset}`, when, `batch ${batchId}`];
  if (group.xid !== undefined) facts.push(`xid ${group.xid}`);
  if (first.gtid !== undefined) facts.push(`gtid ${first.gtid}`);
  facts.push(`${group.changes.length} change${group.changes.length === 1 ? "" : "s"}${group.complete ? "" : ", continues in the next batch"}`);
  const lines = [paint(ANSI.dim, `── ${facts.join(" · ")} ──`)];

  for (const run of runsOf(group.changes)) {
    const head = run[0]!;
    const title = `${head.type} ${head.database}${head.table === "" ? "" : `.${head.table}`}`;
    lines.push(paint(ANSI.bold + (TYPE_COLORS[head.type] ?? ANSI.cyan), title));
    if (head.sql !== undefined && head.before === undefined && head.after === undefined) {
      lines.push(`  ${head.sql}`);
      continue;
    }
    const names = columnNames(head);
    const rows = run.map((change) => names.map((name) => cellOf(change, name, width)));
    const widths = names.map((name, i) => Math.max(name.length, ...rows.map((row) => row[i]!.text.length)));
    const bar = paint(ANSI.dim, " │ ");
    // The last column is not padded: no trailing spaces.
    const pad = (text: string, i: number) => (i === names.length - 1 ? text : text.padEnd(widths[i]!));
    lines.push(`  ${names.map((name, i) => paint(ANSI.bold, pad(name, i))).join(bar)}`);
    for (const row of rows) lines.push(`  ${row.map((cell, i) => (cell.dim ? paint(ANSI.dim, pad(cell.text, i)) : pad(cell.text, i))).join(bar)}`);
  }
  return `${lines.join("\n")}\n`;
}

/** Consecutive changes of one type on one table with the same columns. */
function runsOf(changes: readonly Change[]): Change[][] {
  const runs: Change[][] = [];
  for (const change of changes) {
    const last = runs[runs.length - 1]?.[0];
    if (last !== undefined && last.type === change.type && last.database === change.database && last.table === change.table && !change.isDdl && columnNames(last).join() === columnNames(change).join()) {
      runs[runs.length - 1]!.push(change);
    } else runs.push([change]);
  }
  return runs;
}

function columnNames(change: Change): string[] {
  return Object.keys(change.after ?? change.before ?? {});
}

/** A cell: the value, "old → new" for an UPDATE column that changed, NULL dimmed. */
function cellOf(change: Change, name: string, width: number): { text: string; dim: boolean } {
  const after = change.after?.[name];
  const before = change.before?.[name];
  const shown = (v: string | null | undefined) => (v === undefined ? "" : v === null ? "NULL" : cut(escape(v), width));
  if (after !== undefined && before !== undefined && after.updated) return { text: `${shown(before.value)} → ${shown(after.value)}`, dim: false };
  const column = after ?? before;
  return { text: shown(column?.value), dim: column?.value === null };
}

function escape(value: string): string {
  // eslint-disable-next-line no-control-regex
  return value.replace(/[\x00-\x1f\x7f]/g, (c) => (c === "\n" ? "\\n" : c === "\t" ? "\\t" : c === "\r" ? "\\r" : `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`));
}

function cut(value: string, width: number): string {
  return value.length <= width ? value : `${value.slice(0, width - 1)}…`;
}
