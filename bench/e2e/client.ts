/**
 * The e2e client: one Canal connection doing getWithoutAck/ack with 1 MiB batches until it
 * has seen every row of the workload. Entries stay undecoded (rows come from each header's
 * rowsCount), so the clock measures the node rather than this process.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { CanalConnector } from "../../src/client/index.js";
import { CanalConnectionError } from "../../src/errors.js";
import type { ClientResult, ClientSpec } from "./client-run.js";
import { rowsCountOf } from "./rows-count.js";

/** Connects as soon as the node's port opens: until then the node fills its store with no reader. */
async function connect(spec: ClientSpec): Promise<CanalConnector> {
  const connector = new CanalConnector({ host: spec.host, port: spec.port, destination: spec.destination });
  const deadline = Date.now() + spec.connectWithinMs;
  for (;;) {
    try {
      await connector.connect();
      return connector;
    } catch (err) {
      if (!(err instanceof CanalConnectionError) || Date.now() >= deadline) throw err;
      await sleep(5);
    }
  }
}

async function consume(spec: ClientSpec): Promise<ClientResult> {
  const connector = await connect(spec);
  await connector.subscribe();
  let rows = 0;
  let entries = 0;
  let batches = 0;
  let bytes = 0;
  const started = performance.now();
  let seconds = 0;
  let lastRowAt = 0;
  while (rows < spec.rows) {
    const batch = await connector.getWithoutAck(spec.batchSize, spec.getTimeoutMs);
    if (batch.isEmpty) continue;
    for (const entry of batch.raw) {
      rows += rowsCountOf(entry);
      bytes += entry.length;
    }
    entries += batch.raw.length;
    batches++;
    if (rows >= spec.rows) {
      seconds = (performance.now() - started) / 1000;
      lastRowAt = Date.now();
    }
    await connector.ack(batch);
  }
  await connector.disconnect();
  const usage = process.resourceUsage();
  return {
    rows,
    entries,
    batches,
    bytes,
    seconds,
    lastRowAt,
    cpuSeconds: (usage.userCPUTime + usage.systemCPUTime) / 1e6,
    peakRssMiB: usage.maxRSS / 1024,
  };
}

const spec = JSON.parse(process.argv[2] ?? "null") as ClientSpec | null;
if (spec === null) {
  console.error(`usage: node ${process.argv[1]} '<ClientSpec JSON>'`);
  process.exit(2);
}
consume(spec).then(
  (result) => {
    console.log(JSON.stringify(result));
    process.exit(0);
  },
  (err: unknown) => {
    console.error(`e2e client: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(1);
  },
);
