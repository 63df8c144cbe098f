/**
 * The hot path: one rows event to the bytes of one Canal ROWDATA Entry, encoded by hand
 * (byte-identical to encodeEntry of the same logical Entry; the tests hold it to that).
 *
 *   Entry     = 0a len Header | 10 02 (ROWDATA) | 1a len RowChange
 *   RowChange = 08 tableId | 10 eventType | 50 00 (isDdl false) | (62 len RowData)*
 *   RowData   = (0a len Column)* before image | (12 len Column)* after image
 *
 * One pass over the row images, one copy of each value: as the cursor reaches a value, its
 * Column is written into the RowChange being built, and the value is rendered (ValueBytes)
 * straight into the place it takes there (text: copied from the row image and checked in the
 * same pass). A Column's length comes before its value, so the value is rendered where its
 * length is expected to put it, and moved when it turns out otherwise: a text's length is read
 * from the row image beforehand, other values are expected to take one byte (nearly always:
 * numbers, dates). The fixed fields come precomputed from the TablePlan, as two byte runs per
 * Column (table-plan.ts). A RowData's length is known only at its end, so two bytes are
 * reserved for it (enough up to 16 KiB) and the row is moved when it needs fewer or more. The
 * RowChange is built in the memory the entry is handed out in, behind room for the header,
 * which carries the row count and goes in front of it at the end. Nothing is
 * allocated per row or per column, bar a view per value of 512 bytes or more (byte-copy.ts:
 * copied and checked natively).
 *
 * Measured by replaying the decode benchmark's binlog through EntryWriter: rendering values into
 * a scratch buffer first and copying them into the RowChange after took ~23% longer.
 */
import { EntryType, EventType } from "../entry.js";
import { varintSize, writeVarint } from "../varint.js";
import { copyRange, equalRanges } from "./byte-copy.js";
import { NULL_VALUE, RowCursor, type RowsEvent } from "./events/rows.js";
import type { TableMap } from "./events/table-map.js";
import { lengthPrefix, renderColumnValue } from "./row-values.js";
import type { ViewedBytes } from "./byte-copy.js";
import { type ColumnPlan, HEAD_UPDATED_FROM_END, type TablePlan } from "./table-plan.js";
import { ValueBytes } from "./value-bytes.js";

/** The header fields of an entry that come from its event (fact sheet §2.2). */
export interface EventHeaderFields {
  /** UTF-8 of the binlog file name. */
  fileBytes: Uint8Array;
  offset: number;
  serverId: number;
  /** Event timestamp in ms (seconds × 1000). */
  executeTime: number;
  eventLength: number;
}

// A module-local copy: hot loops should not go through an import binding on every use.
const NULL = NULL_VALUE;

const BEFORE_COLUMN_TAG = 0x0a; // RowData.beforeColumns = 1
const AFTER_COLUMN_TAG = 0x12; // RowData.afterColumns = 2
const UTF8 = new TextEncoder().encode("UTF-8");
const ROWS_COUNT = new TextEncoder().encode("rowsCount");

/**
 * Where entry chunks come from: a chunk of `size` bytes. `retired` is the chunk being left, with
 * the end of its last entry, so that an allocator that recycles chunks (the node's binlog source
 * thread: src/actors/source-thread/chunk-pool.ts) knows which bytes are in use.
 */
export type ChunkAllocator = (size: number, retired: { chunk: Buffer; used: number } | undefined) => Buffer;

const freshChunk: ChunkAllocator = (size) => Buffer.allocUnsafeSlow(size);

/**
 * Memory for entries, in large chunks handed out front to back: an entry's bytes stay valid
 * for as long as they are referenced. Entries are built in place at or after `used`, and handed
 * out when done.
 */
class Chunks {
  chunk: Buffer = Buffer.allocUnsafeSlow(0);
  view = new DataView(this.chunk.buffer);
  used = 0;

  constructor(
    private readonly chunkSize: number,
    private readonly allocate: ChunkAllocator,
  ) {}

  /** Starts a new chunk unless `n` bytes are left in this one. */
  ensure(n: number): void {
    if (this.used + n <= this.chunk.length) return;
    const retired = this.chunk.length === 0 ? undefined : { chunk: this.chunk, used: this.used };
    this.chunk = this.allocate(Math.max(this.chunkSize, n), retired);
    this.view = new DataView(this.chunk.buffer, this.chunk.byteOffset, this.chunk.byteLength);
    this.used = 0;
  }

  /** The entry built at [start, end) of the current chunk (start >= used). */
  handOut(start: number, end: number): Buffer {
    this.used = end;
    return this.chunk.subarray(start, end);
  }

  take(n: number): Buffer {
    this.ensure(n);
    return this.handOut(this.used, this.used + n);
  }
}

export class RowsEntryEncoder {
  /** The RowChange being built; values are rendered into it where they go. */
  private readonly out = new ValueBytes(64 * 1024);
  private readonly cursor: RowCursor;
  private readonly chunks: Chunks;
  private readonly chunkSize: number;
  private header = Buffer.allocUnsafe(1024);
  private headerView = new DataView(this.header.buffer, this.header.byteOffset, this.header.byteLength);

  // The image being written: its table, kind and row, and the next column not yet written.
  private plan: TablePlan | undefined;
  private update = false;
  private isAfter = false;
  private row = 0;
  private nextColumn = 0;
  // Each column's before-image value in the RowChange for the current UPDATE row pair (for
  // `updated`): the row it is from, and where its value bytes are (start -1: NULL).
  private beforeRow = new Int32Array(16);
  private beforeStart = new Int32Array(16);
  private beforeEnd = new Int32Array(16);

  constructor(options: { chunkSize?: number; allocateChunk?: ChunkAllocator } = {}) {
    this.chunkSize = options.chunkSize ?? 1 << 20;
    this.chunks = new Chunks(this.chunkSize, options.allocateChunk ?? freshChunk);
    this.cursor = new RowCursor((buf, offset, end, column) => this.writeValueColumn(buf, offset, end, column));
  }

  /** The Entry bytes of `rows`; `rowCount` is set to the number of row changes in it. */
  encode(rows: RowsEvent, tableMap: TableMap, plan: TablePlan, fields: EventHeaderFields): { bytes: Uint8Array; rowCount: number } {
    const update = rows.action === "update";
    const eventType = update ? EventType.UPDATE : rows.action === "insert" ? EventType.INSERT : EventType.DELETE;
    const columnCount = rows.columnCount;
    this.fitColumns(columnCount);
    this.beforeRow.fill(-1, 0, columnCount);
    this.plan = plan;
    this.update = update;
    const cursor = this.cursor;
    cursor.begin(rows, tableMap);

    // The entry is built where it is handed out: the RowChange goes into the current chunk,
    // behind room for what comes in front of it (the Entry's header, which carries the row
    // count, and the lengths), written once the rows are done. Building it in a buffer of its
    // own and copying it into a chunk after cost ~4% of the decode benchmark (CPU profile:
    // Buffer#copy's _copyActual). The chunk is started afresh unless it has room for what the
    // entry most likely takes (3× the row images; the workload's entries take ~2.1×); an entry
    // that outgrows it anyway moves to a buffer of its own and is copied into a chunk after.
    const chunks = this.chunks;
    const imageBytes = rows.rowsEnd - rows.rowsStart;
    // The header but its last field, the row count, which is appended at the end.
    const headerStart = this.encodeHeader(fields, plan, eventType);
    const headerBound = headerStart + rowsCountSize(imageBytes); // no more rows than bytes
    const prefixBound = 1 + varintSize(headerBound) + headerBound + 3 + 5;
    chunks.ensure(prefixBound + Math.min(this.chunkSize >> 2, 3 * imageBytes + 256));
    const bodyStart = chunks.used + prefixBound;
    const out = this.out;
    out.adopt(chunks.chunk, chunks.view, bodyStart);
    out.reserve(32);
    const b = out.scratch;
    b[bodyStart] = 0x08;
    let p = writeVarint(b, bodyStart + 1, rows.tableId);
    b[p++] = 0x10;
    b[p++] = eventType;
    b[p++] = 0x50;
    b[p++] = 0;
    out.pos = p;
    let rowCount = 0;
    let rowStart = 0;
    for (let image = 0; ; image++) {
      // UPDATE: before and after image in one RowData; INSERT: after images; DELETE: before images.
      const isAfter = update ? (image & 1) === 1 : rows.action === "insert";
      const imageStart = out.pos;
      if (!update || !isAfter) {
        out.reserve(3);
        out.scratch[out.pos] = 0x62;
        out.pos += 3; // the RowData's tag and two bytes for its length
        rowStart = out.pos;
      }
      this.isAfter = isAfter;
      this.row = rowCount;
      this.nextColumn = 0;
      if (!cursor.next()) {
        out.pos = imageStart;
        break;
      }
      this.writeColumnsBefore(columnCount);
      if (!update || isAfter) {
        out.pos = this.endRowData(rowStart, out.pos);
        rowCount++;
      }
    }
    this.plan = undefined;

    const body = out.scratch;
    const bodyEnd = out.pos;
    const bodySize = bodyEnd - bodyStart;
    const headerSize = rowCount > 0 ? this.appendRowsCount(headerStart, rowCount) : headerStart;
    const entryStart = bodyStart - (1 + varintSize(headerSize) + headerSize + 3 + varintSize(bodySize));
    body[entryStart] = 0x0a;
    let q = writeVarint(body, entryStart + 1, headerSize);
    q = copyRange(this.header, this.headerView, 0, headerSize, body, out.view, q);
    body[q++] = 0x10;
    body[q++] = EntryType.ROWDATA;
    body[q++] = 0x1a;
    writeVarint(body, q, bodySize);
    let entry: Buffer;
    if (body === chunks.chunk) {
      entry = chunks.handOut(entryStart, bodyEnd);
    } else {
      entry = chunks.take(bodyEnd - entryStart);
      body.copy(entry, 0, entryStart, bodyEnd);
    }
    return { bytes: entry, rowCount };
  }

  /** Writes the NULL columns of the current image before column `end` that are not written yet. */
  private writeColumnsBefore(end: number): void {
    const states = this.cursor.valueStart;
    const columns = this.plan!.columns;
    for (let i = this.nextColumn; i < end; i++) {
      // Values are written as the cursor reads them, so what is left here is NULL or absent.
      if (states[i] === NULL && columns[i]!.kept) this.writeNullColumn(i, columns[i]!);
    }
    this.nextColumn = end;
  }

  private writeNullColumn(i: number, column: ColumnPlan): void {
    const out = this.out;
    const fields = column.nullColumn;
    const size = fields.bytes.length;
    out.reserve(size + 6); // tag and length
    const b = out.scratch;
    b[out.pos] = this.isAfter ? AFTER_COLUMN_TAG : BEFORE_COLUMN_TAG;
    const at = writeSmallVarint(b, out.pos + 1, size);
    out.pos = copyRange(fields.bytes, fields.view, 0, size, b, out.view, at);
    // Unchanged only when the before value was NULL too (Canal's isUpdate).
    const update = this.update;
    if (this.isAfter && !(update && this.beforeRow[i] === this.row && this.beforeStart[i] === -1)) b[at + column.nullUpdatedAt] = 1;
    if (update && !this.isAfter) this.noteBefore(i, -1, -1);
  }

  /** The cursor's callback: writes column `i`, whose value starts at `buf[offset]`, and the NULL columns before it. */
  private writeValueColumn(buf: Buffer, offset: number, end: number, i: number): number {
    this.writeColumnsBefore(i);
    this.nextColumn = i + 1;
    const column = this.plan!.columns[i]!;
    const reader = column.reader;
    const out = this.out;
    const columnStart = out.pos;
    if (!column.kept) {
      // Read to find where the next value starts, then forgotten.
      const next = renderColumnValue(reader, buf, offset, end, out);
      out.pos = columnStart;
      return next;
    }
    // The value is rendered where it goes if its length is as expected: a text's length is
    // known beforehand; other values are nearly always shorter than 128 bytes. The head goes
    // in first, where that puts it, two whole words at a time: the up to 7 bytes past its end
    // that its last words write are where the value's length and the value go next (or what
    // comes after, which is written later).
    let headLength = column.headLength;
    const suffixLength = column.suffixLength;
    const lengthBytes = column.textLengthBytes;
    let guess: number;
    let headAt: number;
    if (lengthBytes === 0 || offset + lengthBytes > end) {
      guess = columnStart + column.shortValueAt;
      headAt = guess - headLength - 1;
    } else {
      const known = lengthPrefix(buf, offset, lengthBytes);
      const knownBytes = smallVarintSize(known);
      headAt = columnStart + 1 + smallVarintSize(headLength + knownBytes + known + suffixLength);
      guess = headAt + headLength + knownBytes;
    }
    out.reserve(guess - columnStart + 8);
    const words = column.headWords;
    let view = out.view;
    for (let w = 0, at = headAt; w < words.length; w += 2, at += 8) {
      view.setUint32(at, words[w]!, true);
      view.setUint32(at + 4, words[w + 1]!, true);
    }
    out.pos = guess;
    const next = renderColumnValue(reader, buf, offset, end, out);
    const length = out.end - out.start;
    let head: ViewedBytes | undefined;
    if (out.sqlType !== reader.sqlType) {
      head = column.headFor(out.sqlType); // unsigned promotion
      headLength = head.bytes.length;
    }
    const lengthSize = smallVarintSize(length);
    const size = headLength + lengthSize + length + suffixLength;
    const valueAt = columnStart + 1 + smallVarintSize(size) + headLength + lengthSize;
    const columnEnd = valueAt + length + suffixLength;
    if (columnEnd > out.pos) out.reserve(columnEnd - out.pos);
    const b = out.scratch;
    view = out.view;
    if (valueAt !== guess) b.copyWithin(valueAt, guess, guess + length);

    const isAfter = this.isAfter;
    b[columnStart] = isAfter ? AFTER_COLUMN_TAG : BEFORE_COLUMN_TAG;
    let p = writeSmallVarint(b, columnStart + 1, size);
    if (p !== headAt || head !== undefined) {
      // The head is elsewhere, or another one (rare): written again, exactly.
      head ??= column.valueHead;
      copyRange(head.bytes, head.view, 0, headLength, b, view, p);
    }
    p += headLength;
    const update = this.update;
    if (isAfter && !(update && this.beforeRow[i] === this.row && this.sameAsBefore(i, valueAt, length))) b[p - HEAD_UPDATED_FROM_END] = 1;
    writeSmallVarint(b, p, length);
    if (update && !isAfter) this.noteBefore(i, valueAt, valueAt + length);
    const suffix = column.suffix;
    out.pos = suffixLength === 0 ? valueAt + length : copyRange(suffix.bytes, suffix.view, 0, suffixLength, b, view, valueAt + length);
    return next;
  }

  private noteBefore(column: number, start: number, end: number): void {
    this.beforeRow[column] = this.row;
    this.beforeStart[column] = start;
    this.beforeEnd[column] = end;
  }

  /** Canal's `updated` test for a non-NULL after value: the before value is non-NULL with the same string (bytes). */
  private sameAsBefore(column: number, start: number, length: number): boolean {
    const before = this.beforeStart[column]!;
    if (before < 0 || this.beforeEnd[column]! - before !== length) return false;
    return equalRanges(this.out.scratch, this.out.view, before, start, length);
  }

  /** Writes the length of the RowData in [rowStart, end), moving it if its length is not two bytes long; returns its end. */
  private endRowData(rowStart: number, end: number): number {
    const length = end - rowStart;
    const lengthBytes = varintSize(length);
    if (lengthBytes !== 2) {
      this.out.reserve(lengthBytes);
      this.out.scratch.copyWithin(rowStart - 2 + lengthBytes, rowStart, end);
    }
    writeVarint(this.out.scratch, rowStart - 2, length);
    return end - 2 + lengthBytes;
  }

  /** The rows entry's Header into `this.header`; returns its size. */
  private encodeHeader(fields: EventHeaderFields, plan: TablePlan, eventType: number): number {
    const most = 128 + fields.fileBytes.length + plan.schemaBytes.length + plan.tableBytes.length;
    if (this.header.length < most) {
      this.header = Buffer.allocUnsafe(most);
      this.headerView = new DataView(this.header.buffer, this.header.byteOffset, this.header.byteLength);
    }
    const h = this.header;
    let p = 0;
    h[p++] = 0x08; // version 1
    h[p++] = 1;
    p = stringField(h, p, 0x12, fields.fileBytes);
    h[p++] = 0x18;
    p = writeVarint(h, p, fields.offset);
    h[p++] = 0x20;
    p = writeVarint(h, p, fields.serverId);
    p = stringField(h, p, 0x2a, UTF8);
    h[p++] = 0x30;
    p = writeVarint(h, p, fields.executeTime);
    h[p++] = 0x38; // sourceType MYSQL
    h[p++] = 2;
    p = stringField(h, p, 0x42, plan.schemaBytes);
    p = stringField(h, p, 0x4a, plan.tableBytes);
    h[p++] = 0x50;
    p = writeVarint(h, p, fields.eventLength);
    h[p++] = 0x58;
    h[p++] = eventType;
    return p;
  }

  /**
   * Appends the header's props, Pair{key "rowsCount", value the count in decimal}, at `p`;
   * returns the header's size. The digits are written here: a string and Buffer#write per
   * entry cost ~1% of the decode benchmark's profile (latin1Write).
   */
  private appendRowsCount(p: number, rowCount: number): number {
    const h = this.header;
    const digits = decimalDigits(rowCount);
    h[p++] = 0x62;
    h[p++] = 2 + ROWS_COUNT.length + 2 + digits;
    p = stringField(h, p, 0x0a, ROWS_COUNT);
    h[p++] = 0x12;
    h[p++] = digits;
    for (let k = p + digits - 1, n = rowCount; k >= p; k--, n = Math.floor(n / 10)) h[k] = 48 + (n % 10);
    return p + digits;
  }

  private fitColumns(n: number): void {
    if (this.beforeRow.length >= n) return;
    this.beforeRow = new Int32Array(n);
    this.beforeStart = new Int32Array(n);
    this.beforeEnd = new Int32Array(n);
  }
}

function decimalDigits(n: number): number {
  let digits = 1;
  for (; n >= 10; n = Math.floor(n / 10)) digits++;
  return digits;
}

/** The size of the header's props for `rowCount` rows. */
function rowsCountSize(rowCount: number): number {
  return 2 + 2 + ROWS_COUNT.length + 2 + decimalDigits(rowCount);
}

function stringField(out: Buffer, p: number, fieldTag: number, bytes: Uint8Array): number {
  out[p++] = fieldTag;
  p = writeSmallVarint(out, p, bytes.length);
  out.set(bytes, p);
  return p + bytes.length;
}

/** A non-negative varint, fast for the lengths that fit in one or two bytes. */
function writeSmallVarint(out: Buffer, p: number, v: number): number {
  if (v < 0x80) {
    out[p] = v;
    return p + 1;
  }
  if (v < 0x4000) {
    out[p] = (v & 0x7f) | 0x80;
    out[p + 1] = v >>> 7;
    return p + 2;
  }
  return writeVarint(out, p, v);
}

function smallVarintSize(v: number): number {
  return v < 0x80 ? 1 : v < 0x4000 ? 2 : varintSize(v);
}
