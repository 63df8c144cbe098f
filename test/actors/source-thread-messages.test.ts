/**
 * What crosses between the binlog source's thread and the main thread: batches packed and
 * unpacked give back the same entries and resume points, and errors keep their class and fields.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { SourceBatch } from "../../src/actors/binlog-source.js";
import { receiveError, sendError } from "../../src/actors/source-thread/messages.js";
import { ChunkPool } from "../../src/actors/source-thread/chunk-pool.js";
import { BatchPacker, unpackBatches } from "../../src/actors/source-thread/packed-batches.js";
import { CanalAuthError, CanalConnectionError, CanalError, isRetriable } from "../../src/errors.js";
import type { WrittenEntry } from "../../src/protocol/binlog/entry-writer.js";
import { BinlogChecksumError, BinlogFormatError } from "../../src/protocol/binlog/events/errors.js";
import { EventType } from "../../src/protocol/entry.js";

/** Entries as the writer leaves them: rows entries back to back in a chunk, others on their own. */
function sampleBatches(chunk: Uint8Array = new Uint8Array(64)): SourceBatch[] {
  chunk.forEach((_, i) => (chunk[i] = i));
  const entry = (over: Partial<WrittenEntry>): WrittenEntry => ({
    bytes: new Uint8Array([255]),
    kind: "rows",
    key: "0-1-7#0",
    eventType: EventType.INSERT,
    schema: "shop",
    table: "orders",
    rowCount: 1,
    file: "mysql-bin.000001",
    offset: 4,
    nextOffset: 100,
    gtid: "0-1-7",
    serverId: 1,
    executeTime: 1_700_000_000_000,
    boundary: false,
    ...over,
  });
  return [
    {
      entries: [
        entry({ bytes: chunk.subarray(0, 10), key: "0-1-7#31", offset: 400 }),
        entry({ bytes: chunk.subarray(12, 25), key: "0-1-7#95", offset: 464, rowCount: 3, eventType: EventType.UPDATE }),
        entry({ bytes: new Uint8Array([1, 2, 3]), kind: "end", key: "0-1-7#200", eventType: undefined, schema: undefined, table: undefined, rowCount: 0, boundary: true }),
      ],
      resumeAfter: { file: "mysql-bin.000001", position: 631, mariadbGtid: "0-1-7" },
    },
    {
      entries: [entry({ bytes: chunk.subarray(30, 40), kind: "ddl", key: "mysql-bin.000002:4", eventType: EventType.CREATE, gtid: undefined, file: "mysql-bin.000002", boundary: true })],
      resumeAfter: { file: "mysql-bin.000002", position: 900 },
    },
    { entries: [entry({ bytes: chunk.subarray(40, 64), key: "0-1-8#31", serverId: 2 })], resumeAfter: undefined },
  ];
}

const plain = (batches: SourceBatch[]) => batches.map((b) => ({ ...b, entries: b.entries.map((e) => ({ ...e, bytes: [...e.bytes] })) }));

test("batches packed and unpacked are the same entries, bytes and resume points", () => {
  const batches = sampleBatches();
  const packer = new BatchPacker();
  for (const b of batches) packer.add(b);
  assert.is(packer.bytes, 10 + 13 + 3 + 10 + 24);
  const packed = packer.take();
  assert.ok(packer.empty, "take empties the packer");
  assert.is(packed.transfer.length, 1);
  assert.is(packed.transfer[0]!.byteLength, 25 + 3 + 34, "bytes not in shared memory are copied into one buffer, the 2 between two entries too");
  assert.equal(plain(unpackBatches(structuredClone(packed, { transfer: packed.transfer }))), plain(batches));
});

test("entries in shared memory are not copied, packed (consecutive ones make one segment of their chunk, a few bytes apart or across batches) or unpacked", () => {
  const chunk = new Uint8Array(new SharedArrayBuffer(64));
  const batches = sampleBatches(chunk);
  const packer = new BatchPacker();
  for (const b of batches) packer.add(b);
  const packed = packer.take();
  assert.equal(
    packed.segments.map((s) => [s.buffer === chunk.buffer, s.offset, s.length]),
    [
      [true, 0, 25],
      [false, 0, 3],
      [true, 30, 34],
    ],
  );
  assert.is(packed.transfer[0]!.byteLength, 3, "only the entry outside the chunk is copied");
  const unpacked = unpackBatches(structuredClone(packed, { transfer: packed.transfer }));
  assert.equal(plain(unpacked), plain(batches));
  const rows = unpacked[0]!.entries[0]!.bytes;
  assert.instance(rows.buffer, SharedArrayBuffer);
  chunk[rows.byteOffset] = 99;
  assert.is(rows[0], 99, "an unpacked entry is a view of the writer's chunk, not a copy");
});

test("an empty take is no batch at all, and the packer is reusable", () => {
  const packer = new BatchPacker();
  assert.equal(unpackBatches(packer.take()), []);
  packer.add(sampleBatches()[2]!);
  assert.equal(plain(unpackBatches(packer.take())), plain([sampleBatches()[2]!]));
});

test("a chunk is used again only once the writer left it and the main thread released it up to its last entry", () => {
  const pool = new ChunkPool(64);
  const first = pool.allocate(64, undefined);
  assert.instance(first.buffer, SharedArrayBuffer);
  pool.released(first.buffer, 30);
  const second = pool.allocate(64, { chunk: first, used: 50 });
  assert.is.not(second.buffer, first.buffer);
  const third = pool.allocate(64, { chunk: second, used: 10 });
  assert.is.not(third.buffer, first.buffer, "the first chunk is released up to 30 of 50");
  pool.released(second.buffer, 10);
  pool.released(first.buffer, 50);
  assert.is(pool.freeCount, 2);
  const reused = [pool.allocate(64, { chunk: third, used: 5 }).buffer, pool.allocate(64, undefined).buffer];
  assert.ok(reused.includes(first.buffer) && reused.includes(second.buffer), "both come back");
  const large = pool.allocate(200, undefined);
  assert.is(large.length, 200);
  pool.allocate(64, { chunk: large, used: 200 });
  pool.released(large.buffer, 200);
  assert.is(pool.freeCount, 0, "a chunk of another size is left to the collector");
});

test("messages are released oldest first; beyond 64 unreleased the oldest are forgotten and their releases still counted off", () => {
  const pool = new ChunkPool(128);
  const chunk = pool.allocate(128, undefined);
  // 70 messages of one byte each, all in one chunk.
  for (let i = 0; i < 70; i++) pool.sent([{ buffer: chunk.buffer, offset: i, length: 1 }]);
  assert.is(pool.unreleasedMessages, 64, "the 6 oldest are forgotten: nothing keeps their chunks alive here");
  pool.allocate(128, { chunk, used: 70 });
  pool.releasedMessages(69);
  assert.is(pool.freeCount, 0, "released up to 69 of 70: the forgotten 6 were counted off first, not 6 newer ones");
  pool.releasedMessages(1);
  assert.is(pool.freeCount, 1, "the last message released: the chunk is free");
  assert.is(pool.unreleasedMessages, 0);
});

test("errors keep their class, message, retriability and fields across the threads", () => {
  const checksum = receiveError(structuredClone(sendError(new BinlogChecksumError({ file: "mysql-bin.000003", offset: 1234 }, 0xdeadbeef, 0x1234))));
  assert.instance(checksum, BinlogChecksumError);
  assert.is(checksum.name, "BinlogChecksumError");
  assert.equal((checksum as BinlogChecksumError).location, { file: "mysql-bin.000003", offset: 1234 });
  assert.is((checksum as BinlogChecksumError).expected, 0xdeadbeef);
  assert.match(checksum.message, /mysql-bin.000003:1234/);

  const format = receiveError(structuredClone(sendError(new BinlogFormatError("truncated", { file: "f", offset: 9 }))));
  assert.instance(format, BinlogFormatError);
  assert.instance(receiveError(sendError(new CanalAuthError("denied"))), CanalAuthError);
  const lost = receiveError(structuredClone(sendError(new CanalConnectionError("gone"))));
  assert.instance(lost, CanalConnectionError);
  assert.ok(isRetriable(lost));

  const other = receiveError(structuredClone(sendError(new TypeError("boom"))));
  assert.is(other.constructor, CanalError);
  assert.is(other.message, "boom");
  assert.not.ok(isRetriable(other));
});

test.run();
