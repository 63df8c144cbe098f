/**
 * The event store against Canal's rules (canal-facts.md §6, §10, §11.19-21) and our bounds
 * (design decision 6). Pure: entries are small synthetic records; waits use timeouts of tens
 * of ms at most.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  BatchNotFoundError,
  BatchOrderError,
  EventStore,
  type Batch,
  type EventStoreOptions,
  type StoreEntry,
} from "../../src/actors/event-store.js";
import { CanalConfigError, CanalError, CanalServerError } from "../../src/errors.js";
import { EventType } from "../../src/protocol/entry.js";

const CLIENT = 1001;
let nextOffset = 4;

interface EntryOptions {
  size?: number;
  eventType?: EventType;
  gtid?: string;
  rows?: number;
}

function entry(kind: StoreEntry["kind"], options: EntryOptions = {}): StoreEntry {
  const offset = nextOffset;
  nextOffset += 100;
  const bytes = new Uint8Array(options.size ?? 10).fill(offset & 0xff);
  return {
    bytes,
    kind,
    eventType: options.eventType ?? (kind === "rows" ? EventType.INSERT : kind === "ddl" ? EventType.ALTER : undefined),
    key: `mysql-bin.000001:${offset}`,
    rowCount: options.rows ?? (kind === "rows" ? 1 : 0),
    file: "mysql-bin.000001",
    offset,
    gtid: options.gtid,
    serverId: 1,
    executeTime: 1_700_000_000_000 + offset,
  };
}
const begin = (options?: EntryOptions) => entry("begin", options);
const end = (options?: EntryOptions) => entry("end", options);
const row = (options?: EntryOptions) => entry("rows", options);
const ddl = (options?: EntryOptions) => entry("ddl", options);
const rows = (n: number, options?: EntryOptions) => Array.from({ length: n }, () => row(options));

function store(options: Partial<EventStoreOptions> = {}, entries: StoreEntry[] = []): EventStore {
  const s = new EventStore({ destination: "example", ...options });
  assert.is(s.putAll(entries), entries.length, "all initial entries fit");
  return s;
}
const itemStore = (entries: StoreEntry[] = [], options: Partial<EventStoreOptions> = {}) => store({ batchMode: "ITEMSIZE", ...options }, entries);

/** Which of the given entries a batch holds, by index. */
function indexes(batch: Batch | undefined, all: StoreEntry[]): number[] {
  return (batch?.entries ?? []).map((bytes) => all.findIndex((e) => e.bytes === bytes));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function throwsWith(fn: () => unknown, type: Function, message: string): void {
  try {
    fn();
  } catch (err) {
    assert.instance(err, type);
    assert.is((err as Error).message, message);
    return;
  }
  assert.unreachable(`expected ${type.name}: ${message}`);
}

// ---- batches ---------------------------------------------------------------------------------

test("ITEMSIZE: a batch is up to batchSize entries, and begin/end entries count", () => {
  const all = [begin(), row(), row(), row(), end()];
  const s = itemStore(all);
  assert.equal(indexes(s.tryGet(CLIENT, 2), all), [0, 1]);
  assert.equal(indexes(s.tryGet(CLIENT, 2), all), [2, 3]);
  assert.equal(indexes(s.tryGet(CLIENT, 2), all), [4]);
  assert.is(s.tryGet(CLIENT, 2), undefined);
});

test("MEMSIZE: entries go in while the bytes so far are ≤ batchSize × 1024, so the last one crosses the limit", () => {
  const all = rows(5, { size: 400 });
  const s = store({}, all);
  assert.equal(indexes(s.tryGet(CLIENT, 1), all), [0, 1, 2], "0, 400, 800 ≤ 1024 before each add");
  assert.equal(indexes(s.tryGet(CLIENT, 1), all), [3, 4]);
});

test("MEMSIZE: tryGet(16) over 16 small events returns all 16 (the limit is 16 × 1024 bytes, not 16 items)", () => {
  const all = rows(16, { size: 100 });
  const s = store({}, all);
  assert.is(s.tryGet(CLIENT, 16)!.entries.length, 16);
});

test("MEMSIZE: the first oversized event passes (bufferSize 1, one 1025-byte event), and batchSize 0 still returns one entry", () => {
  const big = row({ size: 1025 });
  const s = store({ bufferSize: 1 });
  assert.ok(s.tryPut(big));
  const batch = s.tryGet(CLIENT, 0)!;
  assert.equal(batch.entries, [big.bytes]);
  assert.is(batch.entries[0], big.bytes, "the stored Uint8Array itself, not a copy");
});

test("ITEMSIZE: batchSize below 1 is a 400 server error, as Canal fails there", () => {
  const s = itemStore([row()]);
  throwsWith(() => s.tryGet(CLIENT, 0), CanalServerError, "batchSize 0 of destination example: expected at least 1 entry in ITEMSIZE mode");
});

test("batch ids start at 1 per client, are consecutive, and keep growing across rollbacks", () => {
  const s = itemStore(rows(6));
  assert.is(s.tryGet(CLIENT, 1)!.id, 1);
  assert.is(s.tryGet(CLIENT, 1)!.id, 2);
  assert.is(s.tryGet(1002, 1)!.id, 1, "another client counts on its own");
  s.rollback(CLIENT);
  assert.is(s.tryGet(CLIENT, 1)!.id, 3);
  s.forgetClient(CLIENT);
  assert.is(s.tryGet(CLIENT, 1)!.id, 4, "an unsubscribed client's old ids are never reused");
});

test("an empty get uses no batch id", async () => {
  const s = itemStore();
  assert.is(s.tryGet(CLIENT, 10), undefined);
  assert.is(await s.get(CLIENT, { batchSize: 10, timeoutMs: 5 }), undefined);
  s.putAll([row()]);
  assert.is(s.tryGet(CLIENT, 10)!.id, 1);
});

test("several batches may be outstanding; each get continues after the previous one", () => {
  const all = rows(4);
  const s = itemStore(all);
  assert.equal(indexes(s.tryGet(CLIENT, 2), all), [0, 1]);
  assert.equal(indexes(s.tryGet(CLIENT, 2), all), [2, 3]);
  assert.equal(s.outstandingBatches(CLIENT), [1, 2]);
});

test("a batch carries its keys, bytes and rows", () => {
  const all = [begin(), row({ rows: 3, size: 7 }), end()];
  const batch = itemStore(all).tryGet(CLIENT, 10)!;
  assert.equal(batch.keys, all.map((e) => e.key));
  assert.is(batch.bytes, 27);
  assert.is(batch.rows, 3);
});

// ---- ack -------------------------------------------------------------------------------------

test("after acking everything, get returns nothing and nothing is held", () => {
  const s = itemStore(rows(5));
  const a = s.tryGet(CLIENT, 3)!;
  const b = s.tryGet(CLIENT, 3)!;
  s.ack(CLIENT, a.id);
  s.ack(CLIENT, b.id);
  assert.is(s.tryGet(CLIENT, 3), undefined);
  s.rollback(CLIENT);
  assert.is(s.tryGet(CLIENT, 3), undefined, "acked entries are not fetched again after a rollback");
  assert.is(s.stats().heldEntries, 0);
  assert.is(s.stats().heldBytes, 0);
});

test("ack must name the oldest outstanding batch, with Canal's texts", () => {
  const s = itemStore(rows(3));
  s.tryGet(CLIENT, 1);
  s.tryGet(CLIENT, 1);
  throwsWith(() => s.ack(CLIENT, 2), BatchOrderError, "batchId:2 is not the firstly:1");
  throwsWith(() => s.ack(CLIENT, 99), BatchNotFoundError, "ack error , clientId:1001 batchId:99 is not exist , please check");
  throwsWith(() => s.ack(1002, 1), BatchNotFoundError, "ack error , clientId:1002 batchId:1 is not exist , please check");
  s.ack(CLIENT, 1);
  throwsWith(() => s.ack(CLIENT, 1), BatchNotFoundError, "ack error , clientId:1001 batchId:1 is not exist , please check");
  s.ack(CLIENT, 2);
});

test("the errors are 400 server errors", () => {
  const s = itemStore();
  try {
    s.ack(CLIENT, 1);
    assert.unreachable();
  } catch (err) {
    assert.instance(err, CanalServerError);
    assert.is((err as CanalServerError).code, 400);
    assert.is((err as CanalServerError).retriable, false);
  }
});

test("ack returns the last TRANSACTIONEND, DDL or BEGIN without GTID in the batch; otherwise the cursor does not move", () => {
  const all = [begin(), row(), end(), begin(), row(), ddl(), row(), begin({ gtid: "0-1-5" }), row(), begin(), row()];
  const s = itemStore(all);
  const at = (i: number) => ({ file: "mysql-bin.000001", offset: all[i]!.offset, timestamp: all[i]!.executeTime, serverId: 1, gtid: all[i]!.gtid });
  const ackOf = (n: number) => s.ack(CLIENT, s.tryGet(CLIENT, n)!.id);
  assert.equal(ackOf(2), at(0), "BEGIN without GTID");
  assert.equal(ackOf(3), at(3), "the last one: the END at 2 is followed by a BEGIN at 3");
  assert.equal(ackOf(3), at(5), "DDL; the BEGIN after it has a GTID, so is no ack point");
  assert.equal(ackOf(1), undefined, "rows are no ack point");
  assert.equal(ackOf(1), at(9));
  assert.equal(ackOf(1), undefined);
});

test("a QUERY entry is no ack point; Canal's DDL types are", () => {
  const query = entry("query", { eventType: EventType.QUERY });
  const s = itemStore([query, ...[EventType.CREATE, EventType.ERASE, EventType.RENAME, EventType.TRUNCATE, EventType.CINDEX, EventType.DINDEX].map((t) => ddl({ eventType: t }))]);
  assert.is(s.ack(CLIENT, s.tryGet(CLIENT, 1)!.id), undefined);
  for (let i = 0; i < 6; i++) assert.ok(s.ack(CLIENT, s.tryGet(CLIENT, 1)!.id));
});

// ---- rollback --------------------------------------------------------------------------------

test("rollback makes the same events fetchable again", () => {
  const all = [begin(), ...rows(3), end()];
  const s = itemStore(all);
  const first = s.tryGet(CLIENT, 3)!;
  s.tryGet(CLIENT, 3);
  s.rollback(CLIENT);
  assert.equal(s.outstandingBatches(CLIENT), []);
  const again = s.tryGet(CLIENT, 3)!;
  assert.equal(again.entries, first.entries);
  assert.is(again.id, 3);
  throwsWith(() => s.ack(CLIENT, 1), BatchNotFoundError, "ack error , clientId:1001 batchId:1 is not exist , please check");
});

test("MEMSIZE rollback rewinds the byte count too: the same batches come again", () => {
  const all = rows(6, { size: 600 });
  const s = store({}, all);
  const batches = [s.tryGet(CLIENT, 1)!, s.tryGet(CLIENT, 1)!];
  s.rollback(CLIENT);
  assert.equal(indexes(s.tryGet(CLIENT, 1), all), indexes(batches[0], all));
  assert.equal(indexes(s.tryGet(CLIENT, 1), all), indexes(batches[1], all));
});

test("rollback of one batch still rewinds the whole store; then acking the re-fetched data fails 'not the firstly'", () => {
  const all = rows(4);
  const s = itemStore(all);
  s.tryGet(CLIENT, 2);
  s.tryGet(CLIENT, 2);
  s.rollback(CLIENT, 1);
  assert.equal(s.outstandingBatches(CLIENT), [2]);
  const refetched = s.tryGet(CLIENT, 2)!;
  assert.equal(indexes(refetched, all), [0, 1]);
  throwsWith(() => s.ack(CLIENT, refetched.id), BatchOrderError, "batchId:3 is not the firstly:2");
});

test("rollback of one batch must name the oldest that exists, with Canal's texts", () => {
  const s = itemStore(rows(2));
  s.tryGet(CLIENT, 1);
  s.tryGet(CLIENT, 1);
  throwsWith(() => s.rollback(CLIENT, 7), BatchNotFoundError, "rollback error, clientId:1001 batchId:7 is not exist , please check");
  throwsWith(() => s.rollback(CLIENT, 2), BatchOrderError, "batchId:2 is not the firstly:1");
});

test("acking a batch beyond what was fetched again moves the read cursor past it", () => {
  const all = rows(6);
  const s = itemStore(all);
  s.tryGet(CLIENT, 2);
  s.tryGet(CLIENT, 2);
  s.rollback(CLIENT, 1);
  s.ack(CLIENT, 2); // the client's own choice: entries 0-3 are done
  assert.equal(indexes(s.tryGet(CLIENT, 2), all), [4, 5]);
  assert.is(s.stats().heldEntries, 2);
});

test("one read cursor per destination: two clients split the stream, and a rollback rewinds it for both", () => {
  const all = rows(4);
  const s = itemStore(all);
  assert.equal(indexes(s.tryGet(1001, 2), all), [0, 1]);
  assert.equal(indexes(s.tryGet(1002, 2), all), [2, 3]);
  s.ack(1002, 1); // frees 0-3, client 1001's batch included
  s.ack(1001, 1); // already freed: nothing more to do
  s.putAll(rows(1));
  s.tryGet(1001, 1);
  s.rollback(1002);
  assert.is(s.tryGet(1002, 1)!.entries.length, 1, "client 1001's batch is fetched again by 1002");
});

// ---- waiting gets ------------------------------------------------------------------------------

test("a get with timeout ≤ 0 waits for a full ITEMSIZE batch, then resolves", async () => {
  const s = itemStore([row(), row()]);
  let got: Batch | undefined;
  const pending = s.get(CLIENT, { batchSize: 3, timeoutMs: 0 }).then((b) => (got = b));
  await sleep(5);
  assert.is(got, undefined, "two of three: still waiting");
  s.putAll([row(), row()]);
  await pending;
  assert.is(got!.entries.length, 3);
});

test("a get with timeout ≤ 0 waits for batchSize × 1024 unread bytes in MEMSIZE mode", async () => {
  const s = store({}, rows(2, { size: 500 }));
  let got: Batch | undefined;
  const pending = s.get(CLIENT, { batchSize: 1, timeoutMs: -5 }).then((b) => (got = b));
  await sleep(5);
  assert.is(got, undefined);
  s.putAll([row({ size: 24 })]);
  await pending;
  assert.is(got!.bytes, 1024);
});

test("a get with timeout > 0 returns what is there when the time is up, or nothing", async () => {
  const s = itemStore([row(), row()]);
  const partial = await s.get(CLIENT, { batchSize: 10, timeoutMs: 20 });
  assert.is(partial!.entries.length, 2);
  assert.is(await s.get(CLIENT, { batchSize: 10, timeoutMs: 10 }), undefined);
});

test("a get with timeout > 0 returns as soon as the batch is full", async () => {
  const s = itemStore();
  const pending = s.get(CLIENT, { batchSize: 2, timeoutMs: 10_000 });
  s.putAll(rows(3));
  assert.is((await pending)!.entries.length, 2, "returned long before 10 s (the test would time out otherwise)");
});

test("a get without timeout does not wait", async () => {
  const s = itemStore([row()]);
  assert.is((await s.get(CLIENT, { batchSize: 10 }))!.entries.length, 1);
  assert.is(await s.get(CLIENT, { batchSize: 10 }), undefined);
});

test("an aborted wait resolves undefined and takes nothing", async () => {
  const s = itemStore([row()]);
  const abort = new AbortController();
  const pending = s.get(CLIENT, { batchSize: 5, timeoutMs: 0, signal: abort.signal });
  abort.abort();
  assert.is(await pending, undefined);
  assert.is(s.tryGet(CLIENT, 5)!.id, 1, "the entry is still there, no batch id was used");
  assert.is(await s.get(CLIENT, { batchSize: 5, timeoutMs: 0, signal: abort.signal }), undefined, "already aborted");
});

test("waiting gets are served in arrival order", async () => {
  const all = rows(4);
  const s = itemStore();
  const first = s.get(1001, { batchSize: 2, timeoutMs: 0 });
  const second = s.get(1002, { batchSize: 2, timeoutMs: 0 });
  s.putAll(all);
  assert.equal(indexes(await first, all), [0, 1]);
  assert.equal(indexes(await second, all), [2, 3]);
});

test("a waiting get returns a smaller batch when the store is full: no full batch could ever come", async () => {
  const s = itemStore([], { bufferSize: 4 });
  assert.is(s.putAll(rows(5)), 4);
  const batch = await s.get(CLIENT, { batchSize: 10, timeoutMs: 0 });
  assert.is(batch!.entries.length, 4);
});

test("a rollback wakes a waiting get", async () => {
  const s = itemStore(rows(2));
  s.tryGet(CLIENT, 2);
  const pending = s.get(1002, { batchSize: 2, timeoutMs: 0 });
  s.rollback(CLIENT);
  assert.is((await pending)!.entries.length, 2);
});

// ---- bounds and backpressure -------------------------------------------------------------------

test("backpressure: a put beyond the entry bound is refused, and whenWritable resolves when an ack frees room", async () => {
  const all = rows(6);
  const s = itemStore([], { bufferSize: 4 });
  assert.is(s.putAll(all), 4);
  let writable = false;
  const waiting = s.whenWritable().then(() => (writable = true));
  const batch = s.tryGet(CLIENT, 2)!;
  await sleep(1);
  assert.not.ok(writable, "fetching frees nothing; only an ack does");
  s.ack(CLIENT, batch.id);
  await waiting;
  assert.is(s.putAll(all, 4), 6);
  assert.equal(indexes(s.tryGet(CLIENT, 10), all), [2, 3, 4, 5]);
  const stats = s.stats();
  assert.is(stats.refusedPuts, 1);
  assert.ok(stats.blockedMs >= 0);
});

test("whenWritable resolves at once when no put was refused", async () => {
  await itemStore().whenWritable();
});

test("the byte bound is never exceeded, except by one oversized entry in an empty store", () => {
  const maxBytes = 1000;
  const s = store({ maxBytes, bufferSize: 64 });
  let seed = 7;
  const random = () => (seed = (seed * 48271) % 2147483647) / 2147483647;
  for (let round = 0; round < 300; round++) {
    const size = random() < 0.05 ? 1500 : 1 + Math.floor(random() * 300);
    const before = s.stats().heldBytes;
    const stored = s.tryPut(row({ size }));
    const held = s.stats().heldBytes;
    if (stored && held > maxBytes) assert.is(before, 0, `only a lone entry may exceed the bound (held ${held})`);
    if (!stored) assert.ok(before + size > maxBytes || s.stats().heldEntries === 64);
    if (random() < 0.3) {
      const batch = s.tryGet(CLIENT, 1);
      if (batch !== undefined) s.ack(CLIENT, batch.id);
    }
  }
});

test("an entry larger than the byte bound waits until everything held is acked, then passes alone", async () => {
  const s = store({ maxBytes: 1000 }, rows(2, { size: 300 }));
  const big = row({ size: 5000 });
  assert.not.ok(s.tryPut(big));
  const first = s.tryGet(CLIENT, 0)!;
  s.ack(CLIENT, first.id);
  await s.whenWritable();
  assert.not.ok(s.tryPut(big), "one small entry is still held");
  s.ack(CLIENT, s.tryGet(CLIENT, 0)!.id);
  await s.whenWritable();
  assert.ok(s.tryPut(big));
  assert.not.ok(s.tryPut(row({ size: 1 })), "nothing joins it until it is acked");
  const batch = s.tryGet(CLIENT, 1)!;
  assert.is(batch.entries[0], big.bytes);
  s.ack(CLIENT, batch.id);
  assert.ok(s.tryPut(row({ size: 1 })));
});

test("the entry bound holds in MEMSIZE mode too, and fetched-but-unacked entries hold their slots", () => {
  const s = store({ bufferSize: 2 }, rows(2, { size: 1 }));
  s.tryGet(CLIENT, 1);
  assert.not.ok(s.tryPut(row({ size: 1 })));
});

// ---- ddlIsolation ------------------------------------------------------------------------------

for (const batchMode of ["ITEMSIZE", "MEMSIZE"] as const) {
  test(`ddlIsolation (${batchMode}): a DDL ends the batch before it, or is returned alone`, () => {
    const all = [row(), row(), ddl(), row(), ddl(), ddl()];
    const s = store({ batchMode, ddlIsolation: true }, all);
    assert.equal(indexes(s.tryGet(CLIENT, 100), all), [0, 1]);
    assert.equal(indexes(s.tryGet(CLIENT, 100), all), [2]);
    assert.equal(indexes(s.tryGet(CLIENT, 100), all), [3]);
    assert.equal(indexes(s.tryGet(CLIENT, 100), all), [4]);
    assert.equal(indexes(s.tryGet(CLIENT, 100), all), [5]);
  });
}

test("without ddlIsolation a DDL shares its batch; a QUERY entry is never isolated", () => {
  const all = [row(), ddl(), row()];
  assert.is(store({}, all).tryGet(CLIENT, 100)!.entries.length, 3);
  const withQuery = [row(), entry("query", { eventType: EventType.QUERY }), row()];
  assert.is(store({ ddlIsolation: true }, withQuery).tryGet(CLIENT, 100)!.entries.length, 3);
});

// ---- positions, counters, lifecycle ---------------------------------------------------------------

test("firstPosition: the first entry before any ack, then the last acked entry", () => {
  const s = itemStore();
  assert.is(s.firstPosition(), undefined);
  const all = [begin(), row(), end()];
  s.putAll(all);
  assert.is(s.firstPosition()!.offset, all[0]!.offset);
  s.ack(CLIENT, s.tryGet(CLIENT, 2)!.id);
  assert.is(s.firstPosition()!.offset, all[1]!.offset);
});

test("stats count put, get and ack sequences, bytes and rows", () => {
  const s = itemStore([begin({ size: 5 }), row({ rows: 4, size: 20 }), end({ size: 5 })]);
  s.ack(CLIENT, s.tryGet(CLIENT, 2)!.id);
  s.tryGet(CLIENT, 1);
  const stats = s.stats();
  assert.equal(
    [stats.putSequence, stats.getSequence, stats.ackSequence, stats.putBytes, stats.getBytes, stats.ackBytes],
    [2, 2, 1, 30, 30, 25],
  );
  assert.equal([stats.putRows, stats.getRows, stats.ackRows, stats.heldEntries, stats.heldBytes], [4, 4, 4, 1, 5]);
  s.rollback(CLIENT);
  assert.equal([s.stats().getSequence, s.stats().getBytes], [1, 25]);
});

test("close ends every wait; later calls fail with Canal's 'should start first'", async () => {
  const s = itemStore([], { bufferSize: 1 });
  s.putAll(rows(2));
  s.tryGet(CLIENT, 5); // full, and nothing unread: both sides wait
  const writable = s.whenWritable();
  const pending = s.get(CLIENT, { batchSize: 5, timeoutMs: 0 });
  const timed = s.get(1002, { batchSize: 5, timeoutMs: 60_000 });
  s.close();
  assert.is(await pending, undefined);
  assert.is(await timed, undefined);
  await writable;
  throwsWith(() => s.tryGet(CLIENT, 1), CanalServerError, "destination:example should start first");
  throwsWith(() => s.ack(CLIENT, 1), CanalServerError, "destination:example should start first");
  throwsWith(() => s.tryPut(row()), CanalError, "the event store of destination example is closed");
});

test("drain hands out no batch but still takes acks and rollbacks; close then ends the held gets empty", async () => {
  const all = [begin(), ...rows(2), end(), begin(), ...rows(2), end()];
  const s = itemStore(all);
  const out = s.tryGet(CLIENT, 4)!;
  let waitingSettled = false;
  const waiting = s.get(CLIENT, { batchSize: 100, timeoutMs: 20 }).then((b) => ((waitingSettled = true), b));
  s.drain();
  assert.is(s.tryGet(CLIENT, 4), undefined, "no batch while draining");
  assert.is(await s.get(CLIENT, { batchSize: 4, timeoutMs: undefined }), undefined, "a non-blocking get ends empty at once");
  const held = s.get(CLIENT, { batchSize: 4, timeoutMs: 10 });
  await new Promise((resolve) => setTimeout(resolve, 40));
  assert.is(waitingSettled, false, "a get's own timeout no longer hands out a batch");
  assert.ok(s.ack(CLIENT, out.id), "the ack of a batch already out moves the cursor");
  s.rollback(CLIENT);
  assert.is(s.stats().getSequence, s.stats().ackSequence, "nothing more was taken");
  s.close();
  assert.is(await waiting, undefined);
  assert.is(await held, undefined);
});

test("entries are released to the producer once acked and no batch being read holds them, by any client's ack", () => {
  const released: number[] = [];
  const s = itemStore([...rows(6)], { onReleased: (count) => released.push(count) });
  const first = s.tryGet(CLIENT, 2)!;
  const second = s.tryGet(2002, 2)!;
  s.doneReading(second);
  s.ack(2002, second.id);
  assert.equal(released, [], "the other client's ack frees the first batch's entries too, but they are still being written");
  s.doneReading(first);
  assert.equal(released, [4], "written: everything acked is released");
  const third = s.tryGet(CLIENT, 2)!;
  s.ack(CLIENT, first.id);
  s.ack(CLIENT, third.id);
  assert.equal(released, [4], "acked before its reader is done: kept");
  s.doneReading(third);
  s.doneReading(third);
  assert.equal(released, [4, 6], "released once, with the count of entries put");
});

test("a rolled-back batch still being read holds its entries; fetched again, they are released once both reads are done", () => {
  const released: number[] = [];
  const s = itemStore([...rows(3)], { onReleased: (count) => released.push(count) });
  const first = s.tryGet(CLIENT, 3)!;
  s.rollback(CLIENT);
  const again = s.tryGet(CLIENT, 3)!;
  s.doneReading(again);
  s.ack(CLIENT, again.id);
  assert.equal(released, []);
  s.doneReading(first);
  assert.equal(released, [3]);
});

test("a bufferSize that is not a power of 2 is a config error naming it", () => {
  throwsWith(() => new EventStore({ destination: "example", bufferSize: 1000 }), CanalConfigError, "event store bufferSize 1000 of destination example: expected a power of 2 from 1 to 2^30");
});

test.run();
