/**
 * NATS down during a load (issue 7, design Decision 7): a node with --nats keeps serving its
 * client while nats-server is killed; the inspection documents it cannot publish are dropped
 * and counted (the ring is bounded), the count shows in its status once NATS is back, and
 * inspection resumes by itself.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { adminSubject, type AdminReply, type NodeStatus, type TransitionDoc } from "../../src/actors/nats/subjects.js";
import { CanalConnector } from "../../src/client/connector.js";
import { startCanalNode } from "../../src/testkit/canal-node.js";
import { startMariaDB, startNats, type NatsServer } from "../../src/testkit/index.js";
import { scrapeMetrics } from "../../src/testkit/metrics.js";
import { startSequenceLoad } from "../../src/testkit/sequence-load.js";

const DESTINATION = "seq";
let consumerError: unknown;

async function until(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (consumerError !== undefined) throw new Error(`the client failed: ${String(consumerError)}`);
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

test("nats-server killed under load: the client keeps receiving, drops are counted and shown in status, inspection resumes", async () => {
  const [db, firstNats] = await Promise.all([startMariaDB(), startNats()]);
  let nats: NatsServer = firstNats;
  const node = await startCanalNode({
    nodeId: "solo",
    args: ["--source", db.uri(), "--destination", DESTINATION, "--filter", "seqload\\.seq", "--nats", nats.url],
  });
  const load = await startSequenceLoad({ server: db, intervalMs: 5, maxRows: 20_000, maxMs: 50_000 });
  const client = new CanalConnector({ host: "127.0.0.1", port: node.port, destination: DESTINATION, soTimeoutMs: 10_000 });
  let received = 0;
  let maxN = 0;
  let consuming = true;
  const consumer = (async () => {
    await client.connect();
    await client.subscribe();
    while (consuming) {
      const batch = await client.getWithoutAck(50, 50);
      for (const c of batch.changes) if (c.type === "INSERT") (received++, (maxN = Math.max(maxN, Number(c.after!["n"]!.value))));
      if (!batch.isEmpty) await batch.ack();
    }
  })().catch((err: unknown) => void (consumerError = err));
  let watcher: NatsConnection | undefined;
  try {
    watcher = await connect({ servers: nats.url });
    await until(() => maxN >= load.lastCommitted() && maxN > 20, 15_000, "the client receives");

    // ---- NATS dies ------------------------------------------------------------------------------
    await watcher.close();
    process.kill(nats.pid, "SIGKILL");
    await node.waitForLog("nats disconnected", 5000);
    const atKill = received;
    // Short client connections during the outage: each is a session machine with several
    // transitions, more than the 256-document ring holds.
    for (let i = 0; i < 60; i++) {
      const c = new CanalConnector({ host: "127.0.0.1", port: node.port, destination: DESTINATION, clientId: 2001, rollbackOnDisconnect: false });
      await c.connect();
      await c.disconnect();
    }
    const target = load.lastCommitted();
    await until(() => maxN >= target, 10_000, `the client keeps receiving while NATS is down (at ${maxN} of ${target})`);
    assert.ok(received > atKill, "rows arrived during the outage");

    // ---- NATS returns on the same port -------------------------------------------------------
    await nats.stop();
    nats = await startNats({ port: nats.port });
    await node.waitForLog("nats reconnected", 10_000);
    watcher = await connect({ servers: nats.url });
    const docs: TransitionDoc[] = [];
    watcher.subscribe(`canal.inspect.solo.>`, { callback: (err, msg) => void (err === null && docs.push(msg.json<TransitionDoc>())) });
    await watcher.flush();
    const status = (await watcher.request(adminSubject("solo", "status"), "", { timeout: 5000 })).json<AdminReply<NodeStatus>>();
    assert.ok(status.ok, JSON.stringify(status));
    if (!status.ok) return;
    assert.ok(status.inspection.dropped > 0, `drops are counted: ${JSON.stringify(status.inspection)}`);
    assert.ok(status.inspection.connected);
    assert.is(status.mode, "standalone");
    assert.is(status.destinations[0]!.state, "running");
    assert.is(status.destinations[0]!.clients, 1);
    const metrics = await scrapeMetrics(node.metricsPort);
    assert.ok(metrics.sum("canal_ts_inspection_dropped_events_total") >= status.inspection.dropped, "and as a Prometheus counter");
    console.log(`inspection after the outage: ${JSON.stringify(status.inspection)}; client received ${received - atKill} rows during it`);

    // Inspection resumes: a new client's session is seen, with a seq past the dropped ones.
    const late = new CanalConnector({ host: "127.0.0.1", port: node.port, destination: DESTINATION, clientId: 2001, rollbackOnDisconnect: false });
    await late.connect();
    await late.disconnect();
    await until(() => docs.some((d) => d.actor.startsWith("session-") && d.to.startsWith("open.authenticated")), 5000, "inspection resumes");
    const seen = docs.find((d) => d.actor.startsWith("session-"))!;
    assert.ok(seen.seq > status.inspection.dropped, "sequence numbers count the dropped documents too");

    const { lastCommitted } = await load.stop();
    await until(() => maxN >= lastCommitted, 10_000, "every committed row arrives");
  } finally {
    consuming = false;
    await consumer.catch(() => undefined);
    await client.disconnect().catch(() => undefined);
    await load.stop();
    await watcher?.close().catch(() => undefined);
    await node.stop();
    await Promise.all([db.stop(), nats.stop()]);
  }
});

test.run();
