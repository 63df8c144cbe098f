/**
 * What our source does with each decoded event in the decode benchmark: binlog → Canal Entry
 * bytes, the whole conversion the issue measures. Every event goes through EntryWriter, as the
 * source hands them on; names come from FULL binlog metadata (the schema lookup is a query per
 * table, not per row, so it is left out). The entries are written into chunks from a ChunkPool,
 * as in the node's source thread, and each is handed back as soon as it is counted, as the
 * node's main thread hands chunks back once their entries are acked and written.
 */
import { ChunkPool } from "../../src/actors/source-thread/chunk-pool.js";
import { EntryWriter } from "../../src/protocol/binlog/entry-writer.js";
import type { BinlogEvent } from "../../src/protocol/binlog/events/decoder.js";

export class EntrySink {
  /** Row changes in the entries written: Canal's rowsCount, where an UPDATE's pair counts once. */
  rows = 0;
  /** Entry bytes written: a run that wrote none skipped something. */
  outputBytes = 0;
  private readonly chunks = new ChunkPool();
  private readonly writer = new EntryWriter({ allocateChunk: this.chunks.allocate });

  accept(event: BinlogEvent): void {
    const entry = this.writer.write(event);
    if (entry === undefined) return;
    this.rows += entry.rowCount;
    this.outputBytes += entry.bytes.length;
    this.chunks.released(entry.bytes.buffer, entry.bytes.byteOffset + entry.bytes.length);
  }
}
