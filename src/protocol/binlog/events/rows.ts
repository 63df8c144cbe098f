/**
 * WRITE/UPDATE/DELETE_ROWS events: v1 (23/24/25, what MariaDB writes) and v2 (30/31/32, MySQL 5.6+).
 *
 *   post-header: table_id u48 (u32 when the post-header is 6 bytes) | flags u16
 *                v2 only: extra_data_len u16 (counts itself) | extra data
 *   body: column_count lenenc | columns_present bitmap ((column_count + 7) / 8)
 *         UPDATE only: columns_present_after bitmap
 *         rows: one image (WRITE: after, DELETE: before) or two (UPDATE: before, after) per row:
 *               null bitmap (one bit per *present* column) | values of present non-NULL columns
 *
 * This is the hot path, so nothing here makes an object per row or per column: `decodeRows`
 * reads only the event's header part, and `RowCursor` walks the images in place, leaving each
 * column's value as an offset into the event bytes for the value renderer to read.
 */
import { ByteReader } from "./byte-reader.js";
import { BinlogFormatError } from "./errors.js";
import { EventType } from "./event-type.js";
import type { TableMap } from "./table-map.js";

export type RowAction = "insert" | "update" | "delete";

/** Rows event flags. */
export const RowsFlag = {
  /** Last rows event of a statement. */
  STMT_END: 0x0001,
  NO_FOREIGN_KEY_CHECKS: 0x0002,
  RELAXED_UNIQUE_CHECKS: 0x0004,
  /** The images hold every column (binlog_row_image=FULL). */
  COMPLETE_ROWS: 0x0008,
} as const;

export interface RowsEvent {
  action: RowAction;
  version: 1 | 2;
  tableId: number;
  flags: number;
  /** v2 extra data (e.g. NDB info, partition ids); empty for v1. */
  extraData: Buffer;
  columnCount: number;
  /** The event bytes the offsets below point into. */
  buf: Buffer;
  /** Offset of the columns-present bitmap of the (first) image. */
  presentBitmap: number;
  /** Offset of the columns-present bitmap of after images (UPDATE); else `presentBitmap`. */
  presentBitmapAfter: number;
  /** Row images span [rowsStart, rowsEnd). */
  rowsStart: number;
  rowsEnd: number;
}

export function rowsAction(type: number): RowAction | undefined {
  switch (type) {
    case EventType.WRITE_ROWS_V1:
    case EventType.WRITE_ROWS_V2:
      return "insert";
    case EventType.UPDATE_ROWS_V1:
    case EventType.UPDATE_ROWS_V2:
      return "update";
    case EventType.DELETE_ROWS_V1:
    case EventType.DELETE_ROWS_V2:
      return "delete";
    default:
      return undefined;
  }
}

const EMPTY: Buffer = Buffer.alloc(0);

/** Decodes the fixed part of a rows event body [start, end); the images stay in place. */
export function decodeRows(type: number, buf: Buffer, start: number, end: number, postHeaderLength: number): RowsEvent {
  const action = rowsAction(type);
  if (action === undefined) throw new BinlogFormatError(`event type ${type} is not a rows event`);
  const version = type >= EventType.WRITE_ROWS_V2 ? 2 : 1;
  const r = new ByteReader(buf, start, end);
  const tableIdBytes = postHeaderLength === 6 ? 4 : 6;
  const tableId = r.uint(tableIdBytes);
  const flags = r.u16();
  let extraData = EMPTY;
  if (version === 2) {
    const extraLength = r.u16();
    if (extraLength < 2) throw new BinlogFormatError(`rows event extra data length ${extraLength} < 2`);
    extraData = r.bytes(extraLength - 2);
  }
  const columnCount = r.lenenc();
  const bitmapBytes = (columnCount + 7) >> 3;
  const presentBitmap = r.take(bitmapBytes);
  const presentBitmapAfter = action === "update" ? r.take(bitmapBytes) : presentBitmap;
  return { action, version, tableId, flags, extraData, columnCount, buf, presentBitmap, presentBitmapAfter, rowsStart: r.pos, rowsEnd: end };
}

/**
 * Reads (or just steps over) the non-NULL value of column `column` that starts at `offset`,
 * within a row image that cannot extend past `end`; returns the offset after it. The value
 * renderer owns the per-type byte layouts (row-values.ts `readColumnValue` has this shape once
 * bound to a table's planned readers), so the cursor walks images without knowing them, and a
 * caller can render each value in the same pass.
 */
export type ColumnValueReader = (buf: Buffer, offset: number, end: number, column: number) => number;

/** Marks in `RowCursor.valueStart`. */
export const NULL_VALUE = -1;
export const ABSENT_VALUE = -2;

/**
 * Walks the row images of rows events without allocating: after `next()` returns true,
 * `valueStart[i]` / `valueEnd[i]` delimit column i's value in `buf`, or `valueStart[i]` is
 * NULL_VALUE (SQL NULL) or ABSENT_VALUE (not in this image: MINIMAL/NOBLOB row images).
 * One cursor serves any number of events; its arrays grow to the widest table seen.
 */
export class RowCursor {
  valueStart = new Int32Array(16);
  valueEnd = new Int32Array(16);
  buf: Buffer = EMPTY;
  /** True when the current image is the after image of an UPDATE. */
  isAfterImage = false;
  private event: RowsEvent | undefined;
  private pos = 0;
  private presentCount = 0;
  private presentCountAfter = 0;

  constructor(private readonly readValue: ColumnValueReader) {}

  /** Starts walking `event`, whose columns `table` describes. */
  begin(event: RowsEvent, table: TableMap): void {
    if (table.tableId !== event.tableId || table.columns.length !== event.columnCount) {
      throw new BinlogFormatError(
        `rows event for table id ${event.tableId} with ${event.columnCount} columns does not match ` +
          `table map ${table.schema}.${table.table} (id ${table.tableId}, ${table.columns.length} columns)`,
      );
    }
    if (this.valueStart.length < event.columnCount) {
      this.valueStart = new Int32Array(event.columnCount);
      this.valueEnd = new Int32Array(event.columnCount);
    }
    this.event = event;
    this.buf = event.buf;
    this.pos = event.rowsStart;
    this.isAfterImage = false;
    this.presentCount = countBits(event.buf, event.presentBitmap, event.columnCount);
    this.presentCountAfter = countBits(event.buf, event.presentBitmapAfter, event.columnCount);
  }

  /** Reads the next image (UPDATE: before, then after, for each row); false when none is left. */
  next(): boolean {
    const event = this.event!;
    const isAfter = event.action === "update" && !this.isAfterImage && this.pos > event.rowsStart;
    if (this.pos >= event.rowsEnd) {
      if (isAfter) throw new BinlogFormatError(`update rows event for table id ${event.tableId} ends without an after image`);
      return false;
    }
    this.isAfterImage = isAfter;
    const buf = event.buf;
    const present = isAfter ? event.presentBitmapAfter : event.presentBitmap;
    const nullBitmap = this.pos;
    let p = nullBitmap + (((isAfter ? this.presentCountAfter : this.presentCount) + 7) >> 3);
    const { valueStart, valueEnd, readValue } = this;
    const rowsEnd = event.rowsEnd;
    for (let i = 0, k = 0; i < event.columnCount; i++) {
      if ((buf[present + (i >> 3)]! & (1 << (i & 7))) === 0) {
        valueStart[i] = ABSENT_VALUE;
        continue;
      }
      if ((buf[nullBitmap + (k >> 3)]! & (1 << (k & 7))) !== 0) {
        valueStart[i] = NULL_VALUE;
      } else {
        valueStart[i] = p;
        p = readValue(buf, p, rowsEnd, i);
        valueEnd[i] = p;
      }
      k++;
    }
    if (p > rowsEnd) throw new BinlogFormatError(`row image of table id ${event.tableId} runs ${p - rowsEnd} bytes past its event`);
    this.pos = p;
    return true;
  }
}

function countBits(buf: Buffer, offset: number, bits: number): number {
  let n = 0;
  for (let i = 0; i < bits; i++) if ((buf[offset + (i >> 3)]! & (1 << (i & 7))) !== 0) n++;
  return n;
}
