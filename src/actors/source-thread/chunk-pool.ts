/**
 * The entry chunks of the binlog source thread: shared memory, handed out again once nothing
 * uses it any more.
 *
 * Why recycle: a chunk's memory is freed only when the garbage collectors of both threads have
 * dropped their handles to it, and the source thread writes ~1 MiB of entries per few hundred KB
 * of JavaScript garbage, so between two of its collections tens of MiB of dead chunks piled up
 * (60-110 MiB measured in the e2e benchmark), on top of the live ones.
 *
 * When a chunk is free: the entry writer has left it (`retired`, with the bytes of its entries)
 * and the main thread has copied all those bytes out (`copied`, reported as it takes each
 * message). The main thread copies every entry out of shared memory before it hands the entry
 * on, so after that nothing reads the chunk. A chunk never fully accounted for (a source that
 * stopped with entries unsent) is simply left to the collector.
 */
import type { ChunkAllocator } from "../../protocol/binlog/rows-entry.js";

/** Free chunks kept for reuse; beyond that, freed ones are left to the collector. */
const MAX_FREE = 16;

interface Tracked {
  /** Bytes of the entries written into the chunk, known once the writer has left it. */
  entryBytes: number | undefined;
  copied: number;
}

export class ChunkPool {
  private readonly free: Buffer[] = [];
  private readonly tracked = new Map<ArrayBufferLike, Tracked>();

  constructor(private readonly chunkSize = 1 << 20) {}

  readonly allocate: ChunkAllocator = (size, retired) => {
    if (retired !== undefined) this.settle(retired.chunk.buffer, (t) => (t.entryBytes = retired.entryBytes));
    const chunk = (size === this.chunkSize ? this.free.pop() : undefined) ?? Buffer.from(new SharedArrayBuffer(size));
    this.tracked.set(chunk.buffer, { entryBytes: undefined, copied: 0 });
    return chunk;
  };

  /** The main thread copied `length` bytes of this chunk's entries out. */
  copied(buffer: ArrayBufferLike, length: number): void {
    this.settle(buffer, (t) => (t.copied += length));
  }

  /** Chunks handed out and not yet free (for tests). */
  get inUse(): number {
    return this.tracked.size;
  }

  get freeCount(): number {
    return this.free.length;
  }

  private settle(buffer: ArrayBufferLike, update: (t: Tracked) => void): void {
    const t = this.tracked.get(buffer);
    if (t === undefined) return;
    update(t);
    if (t.entryBytes === undefined || t.copied < t.entryBytes) return;
    this.tracked.delete(buffer);
    if (buffer.byteLength === this.chunkSize && this.free.length < MAX_FREE) this.free.push(Buffer.from(buffer));
  }
}
