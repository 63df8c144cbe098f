/**
 * Metrics and health against real processes (issue 9): two cluster nodes on a real ZooKeeper
 * and MariaDB, a consumer following the running node under a sequence load. `/metrics` is
 * scraped during the load and across a kill -9 failover: rows are counted, lag stays small,
 * the standby records exactly one failover with its duration, and /readyz says what each node is.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ZkSessionClient } from "../../src/actors/zk/session-client.js";
import { httpGet, scrapeMetrics, startMariaDB, startZooKeeper } from "../../src/testkit/index.js";
import { startSequenceLoad } from "../../src/testkit/sequence-load.js";
import { eventually, followingConsumer, newOwner, runningAddress, SESSION_TIMEOUT_MS, startNode } from "./cluster-kit.js";

const DESTINATION = "ops";

test("metrics move with the load and record one failover with its duration; health and readiness per node", async () => {
  await using zkServer = await startZooKeeper();
  await using db = await startMariaDB();
  const zk = await ZkSessionClient.connect({ connectString: zkServer.connectString, sessionTimeoutMs: 10_000 });
  const nodes = [await startNode("a", zkServer.connectString, db, DESTINATION), await startNode("b", zkServer.connectString, db, DESTINATION)];
  const load = await startSequenceLoad({ server: db, intervalMs: 10, maxRows: 20_000, maxMs: 90_000 });
  const { consumer, discovery } = await followingConsumer(zkServer.connectString, DESTINATION, load.first);
  try {
    const first = await runningAddress(zk, DESTINATION);
    const owner = nodes.find((n) => n.address === first)!;
    const standby = nodes.find((n) => n.address !== first)!;
    assert.ok(await consumer.caughtUp(load.lastCommitted(), 15_000), "the consumer receives from the first owner");

    // Both nodes are alive and ready: one runs the destination, the other stands by behind it.
    assert.is((await httpGet(owner.metricsPort, "/healthz")).status, 200);
    assert.ok(await eventually(async () => (await httpGet(standby.metricsPort, "/readyz")).status === 200, 5000), "the standby is ready");
    const ready = JSON.parse((await httpGet(owner.metricsPort, "/readyz")).body) as { ready: boolean; zookeeper: string; destinations: Array<{ state: string }> };
    assert.equal([ready.ready, ready.zookeeper, ready.destinations[0]!.state], [true, "live", "running"]);

    // During the load, the owner counts rows in and out and keeps lag small.
    const before = await scrapeMetrics(owner.metricsPort);
    assert.ok(await consumer.caughtUp(load.lastCommitted(), 15_000));
    const during = await scrapeMetrics(owner.metricsPort);
    const d = { destination: DESTINATION };
    assert.ok(during.value("canal_instance_put_rows", d)! > before.value("canal_instance_put_rows", d)!, "put rows grow");
    assert.ok(during.value("canal_instance_ack_rows", d)! > 0, "acked rows are counted");
    assert.ok(during.value("canal_instance_received_binlog_bytes", { ...d, parser: "0" })! > 0);
    assert.ok(during.value("canal_ts_source_lag_seconds", d)! < 3, `lag is small: ${during.value("canal_ts_source_lag_seconds", d)}`);
    assert.is(during.value("canal_ts_source_state", { ...d, state: "streaming" }), 1);
    assert.is(during.value("canal_ts_instance_state", { ...d, state: "running" }), 1);
    assert.is(during.value("canal_instance", { ...d, mode: "spring" }), 1);
    assert.is(during.value("canal_instance_subscriptions", d), 1);
    assert.ok(during.value("canal_ts_clients")! >= 1);
    assert.ok(during.value("canal_ts_cursor_offset", { ...d, client_id: "1001" })! > 0, "the cursor position is shown");
    assert.is(during.value("canal_ts_zookeeper_session", { state: "live" }), 1);
    const standbyBefore = await scrapeMetrics(standby.metricsPort);
    assert.is(standbyBefore.value("canal_ts_instance_state", { ...d, state: "standby" }), 1);
    assert.is(standbyBefore.value("canal_instance_put_rows", d), undefined, "a standby has no instance figures yet");
    assert.is(standbyBefore.sum("canal_ts_takeovers_total", { ...d, cause: "failover" }), 0);

    // kill -9 of the owner: the standby takes over once the session expires, and says how long it took.
    owner.kill("SIGKILL");
    await owner.exited;
    assert.is(await newOwner(zk, DESTINATION, first, 4 * SESSION_TIMEOUT_MS), standby.address);
    assert.ok(await consumer.caughtUp(load.lastCommitted(), 15_000), "the consumer follows to the new owner");
    const after = await scrapeMetrics(standby.metricsPort);
    assert.is(after.value("canal_ts_takeovers_total", { ...d, cause: "failover" }), 1, "one failover");
    assert.is(after.value("canal_ts_takeover_duration_seconds_count", { ...d, cause: "failover" }), 1);
    const seconds = after.value("canal_ts_takeover_last_duration_seconds", { ...d, cause: "failover" })!;
    assert.ok(seconds > 0 && seconds < SESSION_TIMEOUT_MS / 1000 + 2, `failover took ${seconds} s from seeing the owner gone`);
    assert.ok(after.value("canal_instance_put_rows", d)! > 0, "the new owner counts rows");
    assert.ok(after.value("canal_ts_source_lag_seconds", d)! < 3, "and its lag is small");
    assert.is(after.value("canal_ts_instance_state", { ...d, state: "running" }), 1);
    const line = await standby.waitForLog("destination taken over", 5000);
    assert.is(line.fields["cause"], "failover");
    assert.ok(typeof line.fields["time"] === "string" && line.level === "info", "the log line has time and level");
  } finally {
    await load.stop();
    await consumer.stop();
    await discovery.close();
    await zk.close();
    await Promise.all(nodes.map((n) => n.stop()));
  }
});

test.run();
