// The pure parts of operations: lag and stall rules, takeover timing, readiness, the log line
// format the test kit parses, config logLevel, and the metrics text a standalone view renders.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { Writable } from "node:stream";
import { createNodeLog, describeError, parseLogLevel } from "../../src/actors/ops/logger.js";
import { NodeMetrics } from "../../src/actors/ops/metrics.js";
import { readiness } from "../../src/actors/ops/http.js";
import type { NodeView } from "../../src/actors/ops/node-view.js";
import { sourceHealth } from "../../src/actors/ops/source-health.js";
import { TakeoverClock } from "../../src/actors/ops/takeover-clock.js";
import { configFromFlags, parseConfigText } from "../../src/config/index.js";
import { CanalConfigError, CanalConnectionError } from "../../src/errors.js";
import { parseMetrics } from "../../src/testkit/metrics.js";
import { OPTIONS } from "../config/helpers.js";

const Ops = suite("ops");

Ops("source health: idle after a heartbeat, streaming with the arrival delay, stalled after two silent periods, blocked when the store is full", () => {
  const base = { lastReceivedAt: 10_000, lastHeartbeatAt: 0, lastEventAt: 10_000, lastEventTime: 9_000, heartbeatPeriodMs: 5000 };
  assert.equal(sourceHealth(undefined, false, 1), { state: "starting", lagMs: 0, silentMs: 0 });
  assert.equal(sourceHealth(base, false, 10_500), { state: "streaming", lagMs: 1000, silentMs: 500 });
  assert.equal(sourceHealth({ ...base, lastHeartbeatAt: 15_000, lastReceivedAt: 15_000 }, false, 16_000), { state: "idle", lagMs: 0, silentMs: 1000 });
  // Silent for 11 s > 2 × 5 s: lag counts from the last moment known caught up (the heartbeat).
  assert.equal(sourceHealth({ ...base, lastHeartbeatAt: 15_000, lastReceivedAt: 15_000 }, false, 26_000), { state: "stalled", lagMs: 11_000, silentMs: 11_000 });
  assert.equal(sourceHealth(base, true, 12_000), { state: "blocked", lagMs: 3000, silentMs: 2000 });
});

Ops("takeover clock: failover from the owner's loss, handover, start from contending; another winner cancels", () => {
  const clock = new TakeoverClock("me:1");
  assert.is(clock.update("standby", "other:1", false, 0), undefined);
  assert.is(clock.update("standby", undefined, false, 1000), undefined); // owner gone: clock starts
  assert.is(clock.update("contending", undefined, false, 1200), undefined);
  assert.is(clock.update("starting", "me:1", false, 1300), undefined);
  assert.equal(clock.update("running", "me:1", false, 1500), { cause: "failover", ms: 500 });
  assert.is(clock.update("running", "me:1", false, 1600), undefined, "once per takeover");

  const handover = new TakeoverClock("me:1");
  handover.update("standby", "other:1", true, 0);
  handover.update("standby", undefined, true, 100);
  handover.update("contending", undefined, true, 110);
  assert.equal(handover.update("running", "me:1", false, 180), { cause: "handover", ms: 80 });

  const start = new TakeoverClock("me:1");
  start.update("offline", undefined, false, 0);
  start.update("standby", undefined, false, 10);
  start.update("contending", undefined, false, 20);
  assert.equal(start.update("running", "me:1", false, 50), { cause: "start", ms: 30 });

  const lost = new TakeoverClock("me:1");
  lost.update("standby", "other:1", false, 0);
  lost.update("standby", undefined, false, 100);
  lost.update("standby", "third:1", false, 400); // another node won
  assert.is(lost.update("running", "me:1", false, 9000), undefined);
});

function fakeView(over: Partial<NodeView> & { states: Array<[string, string, boolean]> }): NodeView {
  return {
    mode: "cluster",
    address: "127.0.0.1:1",
    server: () => ({ connectionsOpen: 2, connectionsAccepted: 3, packets: { GET: 5 }, bytesIn: 10, bytesOut: 20, batches: 1, entriesOut: 4, emptyBatches: 0, errors: {}, closes: {}, getLatency: { count: 1, sumMs: 3, buckets: [0, 1, 1, 1, 1, 1, 1] } }),
    destinations: () => over.states.map(([name, state, settled]) => ({ name, state, settled, owner: settled && state === "standby" ? "other:1" : undefined, serving: undefined })),
    zookeeper: () => ({ state: "live", sessionId: "0x1" }),
    ...over,
  };
}

Ops("readiness: live session and every destination running or standing by behind another node", () => {
  assert.is(readiness(undefined).ready, false);
  assert.is(readiness(fakeView({ states: [["a", "running", true], ["b", "standby", true]] })).ready, true);
  const contending = readiness(fakeView({ states: [["a", "contending", false]] }));
  assert.is(contending.ready, false);
  assert.equal(contending.reasons, ["destination a is contending"]);
  const zkDown = readiness(fakeView({ states: [["a", "running", true]], zookeeper: () => ({ state: "suspended" }) as never }));
  assert.equal(zkDown.reasons, ["ZooKeeper session suspended"]);
});

Ops("metrics render Canal's names without _total, ours with, and the node-wide client figures", async () => {
  const metrics = new NodeMetrics({ nodeId: "n1" });
  metrics.attach(fakeView({ states: [["a", "standby", true]] }));
  metrics.instanceSnapshot("a", "127.0.0.1:1", "standby", "other:1", false);
  metrics.instanceSnapshot("a", "127.0.0.1:1", "standby", undefined, false);
  metrics.instanceSnapshot("a", "127.0.0.1:1", "running", "127.0.0.1:1", false);
  let dropped = 7;
  metrics.setInspectionDropped(() => dropped);
  const m = parseMetrics(await metrics.render());
  assert.is(m.value("canal_ts_instance_state", { destination: "a", state: "standby" }), 1);
  assert.is(m.value("canal_ts_instance_state", { destination: "a", state: "running" }), 0);
  assert.is(m.value("canal_ts_takeovers_total", { destination: "a", cause: "failover" }), 1);
  assert.is(m.value("canal_ts_takeover_duration_seconds_count", { destination: "a", cause: "failover" }), 1);
  assert.is(m.value("canal_ts_clients"), 2);
  assert.is(m.value("canal_ts_client_packets_total", { packetType: "GET" }), 5);
  assert.is(m.value("canal_ts_client_get_latency_ms_bucket", { le: "10" }), 1);
  assert.is(m.value("canal_ts_zookeeper_session", { state: "live" }), 1);
  assert.is(m.value("canal_ts_inspection_dropped_events_total"), 7);
  assert.ok(m.samples.some((s) => s.name === "process_cpu_user_seconds_total"), "process metrics");
  dropped = 9;
  const again = parseMetrics(await metrics.render());
  assert.is(again.value("canal_ts_inspection_dropped_events_total"), 9);
  assert.is(again.value("canal_ts_client_packets_total", { packetType: "GET" }), 5, "a scrape adds only what grew");
});

Ops("log lines: JSON with time, level label, msg and the fields at top level; an Error with its cause", () => {
  const lines: string[] = [];
  const stream = new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) });
  const { log } = createNodeLog({ level: "info", stream, pretty: false });
  log({ level: "debug", msg: "hidden", fields: {} });
  const cause = Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
  log({ level: "warn", msg: "source stalled", fields: { destination: "d", error: new CanalConnectionError("lost", { cause }), level: "x" } });
  assert.is(lines.length, 1);
  const record = JSON.parse(lines[0]!) as Record<string, unknown>;
  assert.is(record["level"], "warn");
  assert.is(record["msg"], "source stalled");
  assert.is(record["destination"], "d");
  assert.is(record["field.level"], "x");
  assert.ok(!Number.isNaN(Date.parse(String(record["time"]))) && String(record["time"]).endsWith("Z"));
  assert.equal(record["error"], { type: "CanalConnectionError", message: "lost", cause: { type: "Error", message: "connect ECONNREFUSED", code: "ECONNREFUSED" } });
  assert.equal(describeError(new Error("x")), { type: "Error", message: "x" });

  const pretty: string[] = [];
  const tty = new Writable({ write: (chunk, _enc, done) => (pretty.push(String(chunk)), done()) });
  createNodeLog({ stream: tty, pretty: true }).log({ level: "info", msg: "node ready", fields: { port: 1 } });
  assert.match(pretty[0]!, /^\d\d:\d\d:\d\d\.\d\d\d info  node ready port=1\n$/);
});

Ops("log level: config logLevel and --log-level values are checked by name", () => {
  assert.is(parseLogLevel("WARN", "--log-level"), "warn");
  assert.throws(() => parseLogLevel("verbose", "--log-level"), (err: unknown) => err instanceof CanalConfigError && /--log-level: "verbose" is not a log level \(expected one of debug, info, warn, error\)/.test(err.message));
  assert.is(configFromFlags({ source: "mysql://u@h" }, OPTIONS).config.logLevel, "info");
  const yaml = "logLevel: debug\ndestinations:\n  d:\n    source: mysql://u@h\n";
  assert.is(parseConfigText(yaml, "node.yaml", OPTIONS).config.logLevel, "debug");
  assert.throws(() => parseConfigText(yaml.replace("debug", "loud"), "node.yaml", OPTIONS), /logLevel.*"loud" is not a log level \(expected debug, info, warn or error\)/);
});

Ops.run();
