/**
 * Event store throughput: entries/s through put → get → ack, with no reference and no
 * assertion. Two shapes, each the best of a few runs:
 *   - sync:  one loop fills the store until it refuses, then gets and acks one batch;
 *   - async: a producer that awaits whenWritable() when refused, and a consumer doing
 *            blocking gets (timeout 0) and acks, as the source and a session will.
 * Entries are 200-byte records in 1000-row transactions (begin, rows, end); the defaults of
 * canal.properties: MEMSIZE, batch 1000 (≈ 1 MiB), 16384 entries / 16 MiB.
 *
 *   node --import tsx bench/event-store.bench.ts [entries, default 5000000] [runs, default 3]
 */
import { EventStore, type StoreEntry } from "../src/actors/event-store.js";
import { EventType } from "../src/protocol/entry.js";

const CLIENT = 1001;
const BATCH_SIZE = 1000;
const total = Number(process.argv[2] ?? 5_000_000);
const runs = Number(process.argv[3] ?? 3);

/** One transaction's entries; the store keeps the records as they are, so they can be reused. */
const transaction: StoreEntry[] = Array.from({ length: 1002 }, (_, i) => ({
  bytes: new Uint8Array(200).fill(i & 0xff),
  kind: i === 0 ? "begin" : i === 1001 ? "end" : "rows",
  eventType: i === 0 || i === 1001 ? undefined : EventType.INSERT,
  key: `mysql-bin.000001:${4 + i * 200}`,
  rowCount: i === 0 || i === 1001 ? 0 : 1,
  file: "mysql-bin.000001",
  offset: 4 + i * 200,
  gtid: undefined,
  serverId: 1,
  executeTime: 1_700_000_000_000,
}));
const at = (n: number) => transaction[n % transaction.length]!;

function syncRun(): number {
  const store = new EventStore({ destination: "bench" });
  let put = 0;
  let done = 0;
  while (done < total) {
    while (put < total && store.tryPut(at(put))) put++;
    const batch = store.tryGet(CLIENT, BATCH_SIZE);
    if (batch === undefined) continue;
    done += batch.entries.length;
    store.ack(CLIENT, batch.id);
  }
  return done;
}

async function asyncRun(): Promise<number> {
  const store = new EventStore({ destination: "bench" });
  // The stream's last batch is never full: once everything is put, the waiting get is ended and the rest drained.
  const producerDone = new AbortController();
  const producer = (async () => {
    let put = 0;
    while (put < total) {
      while (put < total && store.tryPut(at(put))) put++;
      await store.whenWritable();
    }
    producerDone.abort();
  })();
  let done = 0;
  while (done < total) {
    const batch = producerDone.signal.aborted
      ? store.tryGet(CLIENT, BATCH_SIZE)
      : await store.get(CLIENT, { batchSize: BATCH_SIZE, timeoutMs: 0, signal: producerDone.signal });
    if (batch === undefined) continue;
    done += batch.entries.length;
    store.ack(CLIENT, batch.id);
  }
  await producer;
  return done;
}

async function best(name: string, run: () => number | Promise<number>): Promise<number> {
  let rate = 0;
  for (let i = 1; i <= runs; i++) {
    const started = performance.now();
    const entries = await run();
    const seconds = (performance.now() - started) / 1000;
    const r = entries / seconds;
    console.log(`  run ${i} ${name}: ${entries} entries in ${seconds.toFixed(3)} s, ${Math.round(r)} entries/s`);
    rate = Math.max(rate, r);
  }
  return rate;
}

const sync = await best("sync", syncRun);
const asyncRate = await best("async", asyncRun);
console.log(`event-store: ${Math.round(sync)} entries/s sync, ${Math.round(asyncRate)} entries/s async (put+get+ack, MEMSIZE batch ${BATCH_SIZE}, 200-byte entries)`);
