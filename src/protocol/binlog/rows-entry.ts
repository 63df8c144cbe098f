/**
 * The hot path: one rows event to the bytes of one Canal ROWDATA Entry, encoded by hand
 * (byte-identical to encodeEntry of the same logical Entry; the tests hold it to that).
 *
 *   Entry     = 0a len Header | 10 02 (ROWDATA) | 1a len RowChange
 *   RowChange = 08 tableId | 10 eventType | 50 00 (isDdl false) | (62 len RowData)*
 *   RowData   = (0a len Column)* before image | (12 len Column)* after image
 *
 * One pass over the row images. As the cursor walks an image, each value is rendered as
 * UTF-8 bytes (ValueBytes); then each Column is written whole, since its length is known once
 * its value is: the fixed fields come precomputed from the TablePlan. A RowData's length is
 * known only at its end, so two bytes are reserved for it (enough up to 16 KiB) and the row
 * is moved when it needs fewer or more. The RowChange is built in a buffer reused from event
 * to event; then the header, which carries the row count, goes in front of it in the memory
 * the entry is handed out in. Nothing is allocated per row or per column.
 */
import { EntryType, EventType } from "../entry.js";
import { varintSize, writeVarint } from "../varint.js";
import { ABSENT_VALUE, NULL_VALUE, RowCursor, type RowsEvent } from "./events/rows.js";
import type { TableMap } from "./events/table-map.js";
import { renderColumnValue } from "./row-values.js";
import type { TablePlan } from "./table-plan.js";
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

// Module-local copies: hot loops should not go through an import binding on every use.
const ABSENT = ABSENT_VALUE;
const NULL = NULL_VALUE;
/** Copies shorter than this are faster as a byte loop than as a native call (measured). */
const NATIVE_COPY_MIN = 16;

const BEFORE_COLUMN_TAG = 0x0a; // RowData.beforeColumns = 1
const AFTER_COLUMN_TAG = 0x12; // RowData.afterColumns = 2
const UTF8 = new TextEncoder().encode("UTF-8");
const ROWS_COUNT = new TextEncoder().encode("rowsCount");

/** Hands out memory for entries from large chunks; an entry's bytes stay valid for as long as they are referenced. */
class Chunks {
  private chunk = Buffer.allocUnsafeSlow(0);
  private used = 0;

  constructor(private readonly chunkSize: number) {}

  take(n: number): Buffer {
    if (this.used + n > this.chunk.length) {
      this.chunk = Buffer.allocUnsafeSlow(Math.max(this.chunkSize, n));
      this.used = 0;
    }
    const out = this.chunk.subarray(this.used, this.used + n);
    this.used += n;
    return out;
  }
}

export class RowsEntryEncoder {
  private readonly values = new ValueBytes();
  private readonly cursor: RowCursor;
  private readers = [] as TablePlan["readers"];
  private readonly chunks: Chunks;
  private header = Buffer.allocUnsafe(1024);
  /** The RowChange being built. */
  private body = Buffer.allocUnsafe(64 * 1024);

  // The value of each column in the current image, as the cursor's callback renders it.
  private valueStart = new Int32Array(16);
  private valueEnd = new Int32Array(16);
  private valueInSource = new Uint8Array(16);
  private valueSqlType = new Int32Array(16);
  // Each column's before-image value in `body` for the current UPDATE row pair (for `updated`):
  // the row it is from, and where its value bytes are (start -1: NULL).
  private beforeRow = new Int32Array(16);
  private beforeStart = new Int32Array(16);
  private beforeEnd = new Int32Array(16);

  constructor(options: { chunkSize?: number } = {}) {
    this.chunks = new Chunks(options.chunkSize ?? 1 << 20);
    this.cursor = new RowCursor((buf, offset, end, column) => {
      const values = this.values;
      const next = renderColumnValue(this.readers[column]!, buf, offset, end, values);
      this.valueStart[column] = values.start;
      this.valueEnd[column] = values.end;
      this.valueInSource[column] = values.inSource ? 1 : 0;
      this.valueSqlType[column] = values.sqlType;
      return next;
    });
  }

  /** The Entry bytes of `rows`; `rowCount` is set to the number of row changes in it. */
  encode(rows: RowsEvent, tableMap: TableMap, plan: TablePlan, fields: EventHeaderFields): { bytes: Uint8Array; rowCount: number } {
    const update = rows.action === "update";
    const eventType = update ? EventType.UPDATE : rows.action === "insert" ? EventType.INSERT : EventType.DELETE;
    this.fitColumns(rows.columnCount);
    this.beforeRow.fill(-1, 0, rows.columnCount);
    this.readers = plan.readers;
    const cursor = this.cursor;
    cursor.begin(rows, tableMap);

    this.reserve(0, 32);
    const b = this.body;
    b[0] = 0x08;
    let p = writeVarint(b, 1, rows.tableId);
    b[p++] = 0x10;
    b[p++] = eventType;
    b[p++] = 0x50;
    b[p++] = 0;
    let rowCount = 0;
    let rowStart = 0;
    while (cursor.next()) {
      const isAfter = rows.action === "insert" || cursor.isAfterImage;
      if (!update || !isAfter) {
        this.reserve(p, 3);
        this.body[p] = 0x62;
        p += 3; // the RowData's tag and two bytes for its length
        rowStart = p;
      }
      p = this.writeImage(p, isAfter, update, rowCount, plan, rows.buf);
      if (!update || isAfter) {
        p = this.endRowData(rowStart, p);
        rowCount++;
      }
    }

    const headerSize = this.encodeHeader(fields, plan, eventType, rowCount);
    const size = 1 + varintSize(headerSize) + headerSize + 2 + 1 + varintSize(p) + p;
    const out = this.chunks.take(size);
    out[0] = 0x0a;
    let q = writeVarint(out, 1, headerSize);
    q += this.header.copy(out, q, 0, headerSize);
    out[q++] = 0x10;
    out[q++] = EntryType.ROWDATA;
    out[q++] = 0x1a;
    q = writeVarint(out, q, p);
    this.body.copy(out, q, 0, p);
    return { bytes: out, rowCount };
  }

  /** The Column fields of the image the cursor is on, written at `p` in `body`; returns the end. */
  private writeImage(p: number, isAfter: boolean, update: boolean, row: number, plan: TablePlan, source: Buffer): number {
    const columnTag = isAfter ? AFTER_COLUMN_TAG : BEFORE_COLUMN_TAG;
    const valueStart = this.cursor.valueStart;
    const scratch = this.values.scratch;
    const columns = plan.columns;
    for (let i = 0; i < columns.length; i++) {
      const state = valueStart[i]!;
      const column = columns[i]!;
      if (state === ABSENT || !column.kept) continue;
      const suffix = column.suffix;
      if (state === NULL) {
        const prefix = column.nullPrefix;
        const size = prefix.length + 4 + suffix.length;
        this.reserve(p, size + 6); // tag and length
        const b = this.body;
        b[p++] = columnTag;
        p = writeSmallVarint(b, p, size);
        p = copyBytes(prefix, b, p);
        b[p++] = 0x28;
        // Unchanged only when the before value was NULL too (Canal's isUpdate).
        b[p++] = isAfter && !(update && this.beforeRow[i] === row && this.beforeStart[i] === -1) ? 1 : 0;
        b[p++] = 0x30;
        b[p++] = 1;
        p = copyBytes(suffix, b, p);
        if (update && !isAfter) this.noteBefore(i, row, -1, -1);
        continue;
      }
      const from = this.valueInSource[i] === 1 ? source : scratch;
      const start = this.valueStart[i]!;
      const length = this.valueEnd[i]! - start;
      const prefix = column.prefixFor(this.valueSqlType[i]!);
      const size = prefix.length + 5 + smallVarintSize(length) + length + suffix.length;
      this.reserve(p, size + 6); // tag and length
      const b = this.body;
      b[p++] = columnTag;
      p = writeSmallVarint(b, p, size);
      p = copyBytes(prefix, b, p);
      b[p++] = 0x28;
      b[p++] = isAfter && !(update && this.beforeRow[i] === row && this.sameAsBefore(i, from, start, length)) ? 1 : 0;
      b[p++] = 0x30;
      b[p++] = 0;
      b[p++] = 0x42;
      p = writeSmallVarint(b, p, length);
      if (update && !isAfter) this.noteBefore(i, row, p, p + length);
      if (length >= NATIVE_COPY_MIN) p += from.copy(b, p, start, start + length);
      else for (let k = start; k < start + length; k++) b[p++] = from[k]!;
      p = copyBytes(suffix, b, p);
    }
    this.values.reset();
    return p;
  }

  private noteBefore(column: number, row: number, start: number, end: number): void {
    this.beforeRow[column] = row;
    this.beforeStart[column] = start;
    this.beforeEnd[column] = end;
  }

  /** Canal's `updated` test for a non-NULL after value: the before value is non-NULL with the same string (bytes). */
  private sameAsBefore(column: number, from: Buffer, start: number, length: number): boolean {
    const before = this.beforeStart[column]!;
    if (before < 0 || this.beforeEnd[column]! - before !== length) return false;
    const b = this.body;
    if (length >= NATIVE_COPY_MIN) return b.compare(from, start, start + length, before, before + length) === 0;
    for (let k = 0; k < length; k++) if (b[before + k] !== from[start + k]) return false;
    return true;
  }

  /** Writes the length of the RowData in [rowStart, end), moving it if its length is not two bytes long; returns its end. */
  private endRowData(rowStart: number, end: number): number {
    const length = end - rowStart;
    const lengthBytes = varintSize(length);
    if (lengthBytes !== 2) {
      this.reserve(end, lengthBytes);
      this.body.copyWithin(rowStart - 2 + lengthBytes, rowStart, end);
    }
    writeVarint(this.body, rowStart - 2, length);
    return end - 2 + lengthBytes;
  }

  /** Makes room for `n` bytes at `p` in `body`. */
  private reserve(p: number, n: number): void {
    if (p + n <= this.body.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.body.length * 2, p + n));
    this.body.copy(grown, 0, 0, p);
    this.body = grown;
  }

  /** The rows entry's Header into `this.header`; returns its size. */
  private encodeHeader(fields: EventHeaderFields, plan: TablePlan, eventType: number, rowCount: number): number {
    const most = 128 + fields.fileBytes.length + plan.schemaBytes.length + plan.tableBytes.length;
    if (this.header.length < most) this.header = Buffer.allocUnsafe(most);
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
    if (rowCount > 0) {
      const count = String(rowCount);
      h[p++] = 0x62; // props: Pair{key "rowsCount", value count}
      h[p++] = 2 + ROWS_COUNT.length + 2 + count.length;
      p = stringField(h, p, 0x0a, ROWS_COUNT);
      h[p++] = 0x12;
      h[p++] = count.length;
      p += h.write(count, p, "latin1");
    }
    return p;
  }

  private fitColumns(n: number): void {
    if (this.valueStart.length >= n) return;
    this.valueStart = new Int32Array(n);
    this.valueEnd = new Int32Array(n);
    this.valueInSource = new Uint8Array(n);
    this.valueSqlType = new Int32Array(n);
    this.beforeRow = new Int32Array(n);
    this.beforeStart = new Int32Array(n);
    this.beforeEnd = new Int32Array(n);
  }
}

function stringField(out: Buffer, p: number, fieldTag: number, bytes: Uint8Array): number {
  out[p++] = fieldTag;
  p = writeSmallVarint(out, p, bytes.length);
  return copyBytes(bytes, out, p);
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

function copyBytes(bytes: Uint8Array, out: Buffer, p: number): number {
  const n = bytes.length;
  if (n >= NATIVE_COPY_MIN) {
    out.set(bytes, p);
    return p + n;
  }
  for (let i = 0; i < n; i++) out[p++] = bytes[i]!;
  return p;
}
