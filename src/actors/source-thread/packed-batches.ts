/**
 * Source batches as one message between the binlog source's thread and the node's main thread.
 *
 * Structured cloning an array of entry objects costs about a microsecond per object on each
 * side, as much as decoding the entry took. So a message carries columns instead: the entries'
 * bytes as segments, its numbers in a Float64Array, its strings as indexes into a table of the
 * distinct strings (files, schemas, tables and GTIDs repeat from entry to entry), and the keys,
 * unique to each entry, as one newline-joined string (keys are `<gtid>#<d>` or `<file>:<offset>`:
 * no newline).
 *
 * The bytes: rows entries are written into chunks of shared memory (chunk-pool.ts), back to
 * back, so a segment is a range of such a chunk, which postMessage shares instead of copying; the
 * other entries (transaction ends, DDL; small) are copied into one buffer that the message moves.
 * Unpacked entries are views of those bytes where they are: the receiver tells the sender when
 * it no longer reads them (threaded-source.ts), and only then are the chunks written again.
 */
import type { EntryKind, WrittenEntry } from "../../protocol/binlog/entry-writer.js";
import type { EventType } from "../../protocol/entry.js";
import type { SourceBatch } from "../binlog-source.js";

/** Consecutive entries' bytes (and the few bytes between them): a range of a shared chunk, or of the message's own copy. */
export interface Segment {
  buffer: ArrayBufferLike;
  offset: number;
  length: number;
}

export interface PackedBatches {
  /** The entries' bytes; each entry names its segment and its offset there. */
  segments: Segment[];
  /** What postMessage must move: the buffer of the copied bytes. */
  transfer: ArrayBuffer[];
  /** Per entry, NUMBERS_PER_ENTRY numbers: see BatchPacker.take. */
  numbers: Float64Array;
  /** Per entry, file, schema, table and gtid as indexes into `strings` (-1: undefined). */
  refs: Int32Array;
  strings: string[];
  keys: string;
  /** Per batch: the index after its last entry, and its resume point (file and gtid as refs, -1: none). */
  batchEnds: Int32Array;
  resumeFiles: Int32Array;
  resumePositions: Float64Array;
  resumeGtids: Int32Array;
}

/** Bytes between two entries that still make one segment (more is another segment). */
const MAX_GAP = 64;
const KINDS: readonly EntryKind[] = ["begin", "end", "rows", "ddl", "query"];
const KIND_CODES = Object.fromEntries(KINDS.map((kind, code) => [kind, code])) as Record<EntryKind, number>;
const BOUNDARY = 8;
const NUMBERS_PER_ENTRY = 10;
const REFS_PER_ENTRY = 4;

/** Collects batches until `take` packs them into one message. */
export class BatchPacker {
  private batches: SourceBatch[] = [];
  private entryCount = 0;
  private byteCount = 0;

  add(batch: SourceBatch): void {
    this.batches.push(batch);
    this.entryCount += batch.entries.length;
    for (const entry of batch.entries) this.byteCount += entry.bytes.length;
  }

  /** Entry bytes collected so far. */
  get bytes(): number {
    return this.byteCount;
  }

  get empty(): boolean {
    return this.batches.length === 0;
  }

  /** The batches collected since the last take, packed; the ArrayBuffer is the message's to move. */
  take(): PackedBatches {
    const { batches, entryCount } = this;
    const bytes = new ByteRuns();
    const numbers = new Float64Array(entryCount * NUMBERS_PER_ENTRY);
    const refs = new Int32Array(entryCount * REFS_PER_ENTRY);
    const strings = new StringTable();
    const keys: string[] = [];
    const batchEnds = new Int32Array(batches.length);
    const resumeFiles = new Int32Array(batches.length);
    const resumePositions = new Float64Array(batches.length);
    const resumeGtids = new Int32Array(batches.length);
    let i = 0;
    for (let b = 0; b < batches.length; b++) {
      const batch = batches[b]!;
      for (const e of batch.entries) {
        const n = i * NUMBERS_PER_ENTRY;
        bytes.add(e.bytes, numbers, n + 8);
        numbers[n] = e.bytes.length;
        numbers[n + 1] = e.offset;
        numbers[n + 2] = e.nextOffset;
        numbers[n + 3] = e.serverId;
        numbers[n + 4] = e.executeTime;
        numbers[n + 5] = e.rowCount;
        numbers[n + 6] = e.eventType ?? -1;
        numbers[n + 7] = KIND_CODES[e.kind] | (e.boundary ? BOUNDARY : 0);
        const r = i * REFS_PER_ENTRY;
        refs[r] = strings.ref(e.file, 0);
        refs[r + 1] = strings.ref(e.schema, 1);
        refs[r + 2] = strings.ref(e.table, 2);
        refs[r + 3] = strings.ref(e.gtid, 3);
        keys.push(e.key);
        i++;
      }
      batchEnds[b] = i;
      resumeFiles[b] = strings.ref(batch.resumeAfter?.file, 0);
      resumePositions[b] = batch.resumeAfter?.position ?? -1;
      resumeGtids[b] = strings.ref(batch.resumeAfter?.mariadbGtid, 4);
    }
    this.batches = [];
    this.entryCount = 0;
    this.byteCount = 0;
    const { segments, transfer } = bytes.finish();
    return {
      segments,
      transfer,
      numbers,
      refs,
      strings: strings.list,
      keys: keys.join("\n"),
      batchEnds,
      resumeFiles,
      resumePositions,
      resumeGtids,
    };
  }
}

/** The batches of a message, as the source handed them on; their bytes are views of the message's segments. */
export function unpackBatches(packed: PackedBatches): SourceBatch[] {
  const { numbers, refs, strings, batchEnds, segments } = packed;
  const str = (ref: number): string | undefined => (ref < 0 ? undefined : strings[ref]);
  const keys = packed.keys.split("\n");
  const batches: SourceBatch[] = [];
  let i = 0;
  for (let b = 0; b < batchEnds.length; b++) {
    const entries: WrittenEntry[] = [];
    for (; i < batchEnds[b]!; i++) {
      const n = i * NUMBERS_PER_ENTRY;
      const r = i * REFS_PER_ENTRY;
      const length = numbers[n]!;
      const { buffer, offset } = segments[numbers[n + 8]!]!;
      const eventType = numbers[n + 6]!;
      const flags = numbers[n + 7]!;
      entries.push({
        bytes: new Uint8Array(buffer, offset + numbers[n + 9]!, length),
        kind: KINDS[flags & (BOUNDARY - 1)]!,
        key: keys[i]!,
        eventType: eventType < 0 ? undefined : (eventType as EventType),
        schema: str(refs[r + 1]!),
        table: str(refs[r + 2]!),
        rowCount: numbers[n + 5]!,
        file: str(refs[r]!)!,
        offset: numbers[n + 1]!,
        nextOffset: numbers[n + 2]!,
        gtid: str(refs[r + 3]!),
        serverId: numbers[n + 3]!,
        executeTime: numbers[n + 4]!,
        boundary: (flags & BOUNDARY) !== 0,
      });
    }
    const file = str(packed.resumeFiles[b]!);
    const mariadbGtid = str(packed.resumeGtids[b]!);
    const resumeAfter = file === undefined ? undefined : { file, position: packed.resumePositions[b]!, ...(mariadbGtid === undefined ? {} : { mariadbGtid }) };
    batches.push({ entries, resumeAfter });
  }
  return batches;
}

/**
 * Entry bytes as segments. Entries written one after another lie in the writer's chunks in
 * order, a few bytes apart at most (the room reserved for a length prefix that came out
 * shorter), so a run of them makes one segment, those bytes between included. Runs outside
 * shared memory are copied into one buffer for the message to move.
 */
class ByteRuns {
  private readonly runs: Segment[] = [];

  /** Adds an entry's bytes; writes its segment index and offset there at `place` and `place + 1`. */
  add(bytes: Uint8Array, numbers: Float64Array, place: number): void {
    let last = this.runs[this.runs.length - 1];
    const end = last === undefined ? 0 : last.offset + last.length;
    if (last === undefined || bytes.buffer !== last.buffer || bytes.byteOffset < end || bytes.byteOffset - end > MAX_GAP) {
      last = { buffer: bytes.buffer, offset: bytes.byteOffset, length: 0 };
      this.runs.push(last);
    }
    numbers[place] = this.runs.length - 1;
    numbers[place + 1] = bytes.byteOffset - last.offset;
    last.length = bytes.byteOffset + bytes.length - last.offset;
  }

  finish(): { segments: Segment[]; transfer: ArrayBuffer[] } {
    let copied = 0;
    for (const run of this.runs) if (!(run.buffer instanceof SharedArrayBuffer)) copied += run.length;
    if (copied === 0) return { segments: this.runs, transfer: [] };
    const copy = new Uint8Array(copied);
    let at = 0;
    const segments = this.runs.map((run) => {
      if (run.buffer instanceof SharedArrayBuffer) return run;
      copy.set(new Uint8Array(run.buffer, run.offset, run.length), at);
      at += run.length;
      return { buffer: copy.buffer, offset: at - run.length, length: run.length };
    });
    return { segments, transfer: [copy.buffer] };
  }
}

/**
 * Distinct strings and their indexes; -1 stands for undefined. Each kind of string (file,
 * schema, ...) has a slot remembering its last one: consecutive entries mostly repeat them.
 */
class StringTable {
  readonly list: string[] = [];
  private readonly index = new Map<string, number>();
  private readonly last: Array<string | undefined> = [];
  private readonly lastRef: number[] = [];

  ref(s: string | undefined, slot: number): number {
    if (s === undefined) return -1;
    if (this.last[slot] === s) return this.lastRef[slot]!;
    let ref = this.index.get(s);
    if (ref === undefined) {
      ref = this.list.length;
      this.list.push(s);
      this.index.set(s, ref);
    }
    this.last[slot] = s;
    this.lastRef[slot] = ref;
    return ref;
  }
}
