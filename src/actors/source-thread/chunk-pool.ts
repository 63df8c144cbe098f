/**
 * The entry chunks of the binlog source thread: shared memory, handed out again once nothing
 * uses it any more.
 *
 * Why recycle: a chunk's memory is freed only when the garbage collectors of both threads have
 * dropped their handles to it, and the source thread writes ~1 MiB of entries per few hundred KB
 * of JavaScript garbage, so between two of its collections tens of MiB of dead chunks piled up
 * (60-110 MiB measured in the e2e benchmark), on top of the live ones. Fresh chunks also cost
 * page faults on first write.
 *
 * When a chunk is free: the entry writer has left it (`retired`, with the end of its last entry)
 * and the main thread has released everything up to there (`released`: acked, and read by no
 * reply or sink; entries are written, sent and released in order). A chunk never released up
 * to its end (a source stopped with entries unsent, or a reader that holds on) is forgotten
 * once MAX_TRACKED newer ones are, and left to the collector.
 */
import type { ChunkAllocator } from "../../protocol/binlog/rows-entry.js";
import type { Segment } from "./packed-batches.js";

/** Free chunks kept for reuse; beyond that, freed ones are left to the collector. */
const MAX_FREE = 16;
/** Chunks awaiting their release; the oldest is forgotten beyond that (64 MiB, 4 default stores). */
const MAX_TRACKED = 64;
/**
 * Messages awaiting their release; the oldest is forgotten beyond that. A reader that never
 * finishes (a client that stopped reading its socket, until its idle timeout) holds back every
 * release after it while other clients' acks keep the stream going: without a bound, the
 * segments kept here would keep every chunk since then alive.
 */
const MAX_UNRELEASED = 64;

interface Tracked {
  /** The end of the chunk's last entry, known once the writer has left it. */
  used: number | undefined;
  /** How far the main thread has released the chunk. */
  releasedTo: number;
}

export class ChunkPool {
  private readonly free: Buffer[] = [];
  private readonly tracked = new Map<ArrayBufferLike, Tracked>();
  /** The shared segments of each message sent and not yet released, oldest first. */
  private readonly unreleased: Segment[][] = [];
  /** Oldest messages dropped from `unreleased` (beyond MAX_UNRELEASED) that releases still count off. */
  private forgotten = 0;

  constructor(private readonly chunkSize = 1 << 20) {}

  readonly allocate: ChunkAllocator = (size, retired) => {
    if (retired !== undefined) this.settle(retired.chunk.buffer, (t) => (t.used = retired.used));
    const chunk = (size === this.chunkSize ? this.free.pop() : undefined) ?? Buffer.from(new SharedArrayBuffer(size));
    this.tracked.set(chunk.buffer, { used: undefined, releasedTo: 0 });
    if (this.tracked.size > MAX_TRACKED) this.tracked.delete(this.tracked.keys().next().value!);
    return chunk;
  };

  /** A message went out carrying these ranges of shared chunks. */
  sent(segments: Segment[]): void {
    this.unreleased.push(segments);
    if (this.unreleased.length > MAX_UNRELEASED) {
      this.unreleased.shift();
      this.forgotten++;
    }
  }

  /** The main thread no longer reads the oldest `count` messages sent (releases come in the order sent). */
  releasedMessages(count: number): void {
    const skipped = Math.min(count, this.forgotten);
    this.forgotten -= skipped;
    for (let i = skipped; i < count; i++) {
      for (const segment of this.unreleased.shift() ?? []) this.released(segment.buffer, segment.offset + segment.length);
    }
  }

  /** The main thread no longer reads this chunk up to `end`. */
  released(buffer: ArrayBufferLike, end: number): void {
    this.settle(buffer, (t) => (t.releasedTo = Math.max(t.releasedTo, end)));
  }

  /** Messages sent and not yet released (the forgotten ones aside). */
  get unreleasedMessages(): number {
    return this.unreleased.length;
  }

  /** Free chunks waiting to be handed out again. */
  get freeCount(): number {
    return this.free.length;
  }

  private settle(buffer: ArrayBufferLike, update: (t: Tracked) => void): void {
    const t = this.tracked.get(buffer);
    if (t === undefined) return;
    update(t);
    if (t.used === undefined || t.releasedTo < t.used) return;
    this.tracked.delete(buffer);
    if (buffer.byteLength === this.chunkSize && this.free.length < MAX_FREE) this.free.push(Buffer.from(buffer));
  }
}
