/**
 * Groups converted entries into the units the binlog source hands on, as Canal's
 * EventTransactionBuffer and EntryEventSink do (canal-facts.md §2.3):
 *   - a TRANSACTIONBEGIN flushes what came before it, then starts the next group;
 *   - a TRANSACTIONEND ends its group, which is flushed;
 *   - a ROWDATA entry that is not INSERT/UPDATE/DELETE (DDL, QUERY…) is flushed at once;
 *   - a group that reaches `size` entries is flushed before the next entry (large
 *     transactions are split);
 *   - a flushed group without any ROWDATA (an "empty transaction": begin/end only, e.g.
 *     every row was filtered out) is dropped, except that one gets through every
 *     `emptyIntervalMs` or `emptyThreshold` groups, so the consumer's cursor keeps moving.
 * Pure: no IO, the clock is passed in.
 */
import type { EntryKind } from "../protocol/binlog/entry-writer.js";
import { EventType } from "../protocol/entry.js";

/** What grouping needs of an entry (the entry writer's WrittenEntry has it). */
export interface GroupedEntry {
  kind: EntryKind;
  /** Header eventType; undefined on TRANSACTIONBEGIN/END. */
  eventType: number | undefined;
}

export interface TransactionBufferOptions {
  /** Canal's canal.instance.transaction.size (default 1024). */
  size?: number;
  /** Let one empty transaction through after this long (Canal: 5 s). */
  emptyIntervalMs?: number;
  /** … or after this many were dropped (Canal: 8192). */
  emptyThreshold?: number;
  now?: () => number;
}

export function isDml(eventType: number | undefined): boolean {
  return eventType === EventType.INSERT || eventType === EventType.UPDATE || eventType === EventType.DELETE;
}

export class TransactionBuffer<E extends GroupedEntry> {
  /** Empty groups dropped so far. */
  droppedEmpty = 0;
  private group: E[] = [];
  private readonly size: number;
  private readonly emptyIntervalMs: number;
  private readonly emptyThreshold: number;
  private readonly now: () => number;
  private emptySinceLastPass = 0;
  private lastEmptyPassAt: number;

  constructor(
    private readonly flushTo: (group: E[]) => void,
    options: TransactionBufferOptions = {},
  ) {
    this.size = options.size ?? 1024;
    this.emptyIntervalMs = options.emptyIntervalMs ?? 5000;
    this.emptyThreshold = options.emptyThreshold ?? 8192;
    this.now = options.now ?? Date.now;
    this.lastEmptyPassAt = this.now();
  }

  add(entry: E): void {
    switch (entry.kind) {
      case "begin":
        this.flush();
        this.put(entry);
        break;
      case "end":
        this.put(entry);
        this.flush();
        break;
      default: // ROWDATA: rows, DDL, other statements
        this.put(entry);
        if (!isDml(entry.eventType)) this.flush();
        break;
    }
  }

  /** Hands on what is buffered (if anything that should pass). */
  flush(): void {
    const group = this.group;
    if (group.length === 0) return;
    this.group = [];
    if (!group.some((e) => e.kind !== "begin" && e.kind !== "end") && !this.letEmptyThrough()) {
      this.droppedEmpty++;
      return;
    }
    this.flushTo(group);
  }

  private put(entry: E): void {
    if (this.group.length >= this.size) this.flush();
    this.group.push(entry);
  }

  private letEmptyThrough(): boolean {
    const now = this.now();
    if (++this.emptySinceLastPass > this.emptyThreshold || now - this.lastEmptyPassAt > this.emptyIntervalMs) {
      this.emptySinceLastPass = 0;
      this.lastEmptyPassAt = now;
      return true;
    }
    return false;
  }
}
