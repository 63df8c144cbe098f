/**
 * The JetStream sink on its own, against a real nats-server: an event store fed with Canal
 * entries (test/client/entries.ts) and a stand-in destination that records acked cursors. The
 * cursor moves only after JetStream acknowledged every message of a batch; a stream that does
 * not capture the subjects, and NATS going away, hold the cursor until they are fixed.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { EventStore, type BinlogPosition } from "../../src/actors/event-store.js";
import type { LogRecord } from "../../src/actors/session.js";
import { JetStreamSink } from "../../src/actors/sink/index.js";
import type { SinkConfig } from "../../src/config/types.js";
import { startNats } from "../../src/testkit/index.js";
import { readStream, streamCount, until } from "../integration/sink-kit.js";
import { storeEntry, transaction, updateEntry } from "../client/entries.js";

function harness(servers: string[], overrides: Partial<SinkConfig> = {}) {
  const store = new EventStore({ destination: "d", batchMode: "ITEMSIZE" });
  const acked: BinlogPosition[] = [];
  const subscribed = new Set<number>();
  const logs: LogRecord[] = [];
  const destination = {
    name: "d",
    store,
    isSubscribed: (id: number) => subscribed.has(id),
    subscribe: async (id: number) => void subscribed.add(id),
    acked: async (_id: number, cursor: BinlogPosition) => void acked.push(cursor),
  };
  const config: SinkConfig = { servers, stream: "D", subject: "canal.{destination}.{database}.{table}", clientId: 1001, batchSize: 50, getTimeoutMs: 20, duplicateWindowMs: 60_000, publishTimeoutMs: 1000, ...overrides };
  const sink = JetStreamSink.start({ destination, config, log: (r) => logs.push(r) });
  return { store, acked, logs, sink, subscribed };
}

test("publishes every row, then acks; an UPDATE that changed nothing has old [{}] as in Canal", async () => {
  await using nats = await startNats();
  const h = harness([nats.url]);
  try {
    for (const e of transaction(1000, [{ id: 1, name: "a" }, { id: 2, name: "b" }], 7)) h.store.tryPut(storeEntry(e));
    h.store.tryPut(storeEntry(updateEntry(2000, [[{ id: 1, name: "a" }, { id: 1, name: "a" }]])));
    await until(() => h.acked.length > 0, 10_000, "the transaction's batch is acked");
    assert.ok(h.subscribed.has(1001), "the sink subscribed as client 1001");
    const stored = await readStream(nats.url, "D");
    assert.equal(stored.map((m) => [m.subject, m.msgId, m.json.type]), [
      ["canal.d.test.t1", "d:mysql-bin.000003:1100/0", "INSERT"],
      ["canal.d.test.t1", "d:mysql-bin.000003:1100/1", "INSERT"],
      ["canal.d.test.t1", "d:mysql-bin.000003:2000/0", "UPDATE"],
    ]);
    assert.equal(stored[2]!.json.old, [{}]);
    assert.is(h.acked[0]!.offset, 1200, "the cursor is the transaction end");
    assert.is(h.sink.stats.published, 3);
  } finally {
    await h.sink.stop();
  }
});

test("a stream that does not capture the subjects: an error that names it, no ack; fixed, the sink goes on", async () => {
  await using nats = await startNats();
  const nc = await connect({ servers: nats.url });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: "D", subjects: ["other.>"], duplicate_window: 60_000 * 1e6 });
  const h = harness([nats.url]);
  try {
    for (const e of transaction(1000, [{ id: 1, name: "a" }], 7)) h.store.tryPut(storeEntry(e));
    await until(() => h.logs.some((l) => l.msg === "sink failed; rolled back, will try again"), 5000, "the failure is logged");
    const failure = h.logs.find((l) => l.msg === "sink failed; rolled back, will try again")!;
    assert.is(failure.level, "error");
    assert.match(String(failure.fields["error"]), /JetStream stream D has subjects \["other\.>"\], which do not capture canal\.d\.\*\.\* \(expected a stream subject covering it/);
    assert.equal(h.acked, []);
    await jsm.streams.update("D", { subjects: ["other.>", "canal.d.>"] });
    await until(() => h.acked.length > 0, 10_000, "acked once the stream captures the subjects");
    assert.is(await streamCount(nats.url, "D"), 1);
    assert.ok(h.logs.some((l) => l.msg === "sink publishing again"));
  } finally {
    await h.sink.stop();
    await nc.close();
  }
});

test("NATS gone: nothing is acked while the publishes fail; NATS back: the stream is made again and the batch acked", async () => {
  const first = await startNats();
  const port = first.port;
  const h = harness([first.url], { publishTimeoutMs: 300 });
  let second: Awaited<ReturnType<typeof startNats>> | undefined;
  try {
    for (const e of transaction(1000, [{ id: 1, name: "a" }], 7)) h.store.tryPut(storeEntry(e));
    await until(() => h.acked.length === 1, 10_000, "the first batch is acked");
    await first.stop();
    for (const e of transaction(2000, [{ id: 2, name: "b" }], 8)) h.store.tryPut(storeEntry(e));
    await until(() => h.sink.stats.failures > 0, 10_000, "the publish fails");
    assert.is(h.acked.length, 1, "no ack without JetStream's");
    second = await startNats({ port });
    await until(() => h.acked.length === 2, 15_000, "acked once NATS is back");
    const stored = await readStream(second.url, "D");
    assert.equal(stored.map((m) => m.msgId), ["d:mysql-bin.000003:2100/0"], "a fresh server: the stream made again holds the new row");
  } finally {
    await h.sink.stop();
    await second?.stop();
  }
});

test.run();
