/**
 * The live charts on the node's HTTP port without a node (issue 8): the Inspector's live
 * listeners and current picture, /charts (the committed SVGs inlined), /charts/state and
 * /charts/events on a real loopback server, and where the SVGs are looked for.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, rmSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Inspector } from "../../src/actors/nats/inspector.js";
import type { TransitionDoc } from "../../src/actors/nats/subjects.js";
import { findChartsDir, readCharts } from "../../src/actors/ops/charts-page.js";
import { OpsHttpServer } from "../../src/actors/ops/http.js";
import { NodeMetrics } from "../../src/actors/ops/metrics.js";
import { CanalConfigError } from "../../src/errors.js";
import { httpGet } from "../../src/testkit/index.js";

const silent = () => undefined;

function instanceDoc(inspector: Inspector, from: string | null, to: string): void {
  inspector.record({ destination: "d1", actor: "instance", from, to, event: "X", fields: { owner: "10.0.0.1:11111" } });
}

test("inspector without a ring: listeners hear every document, current() keeps the last of each actor and forgets a closed session", () => {
  const inspector = new Inspector({ node: "n1", queue: false });
  const heard: TransitionDoc[] = [];
  const off = inspector.listen((doc) => heard.push(doc));
  instanceDoc(inspector, null, "standby.watching");
  instanceDoc(inspector, "standby.watching", "active.serving");
  inspector.record({ destination: "d1", actor: "session-1", from: null, to: "open.handshake", event: "x", fields: {} }, { key: "session-1" });
  assert.equal(heard.map((d) => d.to), ["standby.watching", "active.serving", "open.handshake"]);
  assert.equal(inspector.current().map((d) => [d.actor, d.to]), [["instance", "active.serving"], ["session-1", "open.handshake"]]);
  inspector.record({ destination: "d1", actor: "session-1", from: "closing", to: "closed", event: "x", fields: {} }, { key: "session-1", gone: true });
  assert.equal(inspector.current().map((d) => d.actor), ["instance"]);
  assert.is(inspector.queued, 0, "no ring: nothing waits for NATS");
  assert.is(inspector.dropped, 0, "and nothing counts as dropped");
  assert.is(inspector.lastSeq, 4);
  off();
  instanceDoc(inspector, "active.serving", "active.releasing");
  assert.is(heard.length, 4, "an unsubscribed listener hears nothing more");
});

test("a listener that throws does not stop the transition or the others", () => {
  const inspector = new Inspector({ node: "n1" });
  const heard: string[] = [];
  inspector.listen(() => {
    throw new Error("boom");
  });
  inspector.listen((doc) => heard.push(doc.to));
  instanceDoc(inspector, null, "offline");
  assert.equal(heard, ["offline"]);
  assert.is(inspector.queued, 1, "with a ring, the document still waits for NATS");
});

test("the committed charts are found from the source tree; a tree without them says where it looked", async () => {
  const dir = findChartsDir();
  assert.ok(dir?.endsWith(join("docs", "charts")), String(dir));
  const charts = await readCharts(dir);
  assert.ok(charts.instance.startsWith("<svg") && charts.instance.includes("<title>standby.watching</title>"));
  assert.ok(!charts.session.includes("<!--"), "comments are stripped");
  const empty = mkdtempSync(join(tmpdir(), "charts-"));
  try {
    assert.is(findChartsDir(empty), null);
    await readCharts(null).then(
      () => assert.unreachable("expected a CanalConfigError"),
      (err: unknown) => assert.ok(err instanceof CanalConfigError && /no state charts: expected docs\/charts\/instance\.svg/.test(err.message), String(err)),
    );
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
});

test("/charts, /charts/state and /charts/events on a loopback server", async () => {
  const http = await OpsHttpServer.start({ host: "127.0.0.1", port: 0, log: silent, metrics: new NodeMetrics({ nodeId: "n1", batchModes: new Map() }) });
  try {
    assert.is((await httpGet(http.port, "/charts/state")).status, 503, "starting: no inspection yet");
    const inspector = new Inspector({ node: "n1", queue: false });
    instanceDoc(inspector, null, "standby.watching");
    http.attachInspector(inspector);

    const page = await httpGet(http.port, "/charts");
    assert.is(page.status, 200);
    assert.ok(page.body.includes('<template id="chart-instance"><svg') && page.body.includes("new EventSource(\"/charts/events\")"));
    assert.not.match(page.body, /<script[^>]+src=|<link /, "no external resources");

    const state = JSON.parse((await httpGet(http.port, "/charts/state")).body) as { seq: number; destinations: Array<{ name: string; instance: string; owner: string }> };
    assert.equal(state.destinations, [{ name: "d1", instance: "standby.watching", source: null, owner: "10.0.0.1:11111" }]);
    assert.is(state.seq, 1);

    // The stream: a document recorded after the client connected arrives as one event.
    const events = await new Promise<string>((resolve, reject) => {
      const req = request({ host: "127.0.0.1", port: http.port, path: "/charts/events" }, (res) => {
        assert.is(res.headers["content-type"], "text/event-stream");
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          text += chunk;
          if (text.includes("data: ")) {
            req.destroy();
            resolve(text);
          }
        });
        instanceDoc(inspector, "standby.watching", "active.serving");
      });
      req.on("error", reject);
      req.end();
    });
    const data = events.split("\n").find((l) => l.startsWith("data: "))!;
    assert.equal((JSON.parse(data.slice(6)) as TransitionDoc).to, "active.serving");
    assert.match(events, /^retry: \d+\n/);
    assert.match(events, /\nid: 2\n/);
    assert.is((await httpGet(http.port, "/nope")).status, 404);
  } finally {
    await http.close();
  }
});

test("a client that stops reading is dropped once it falls behind, and the node keeps nothing for it", async () => {
  const http = await OpsHttpServer.start({ host: "127.0.0.1", port: 0, log: silent, metrics: new NodeMetrics({ nodeId: "n1", batchModes: new Map() }) });
  const inspector = new Inspector({ node: "n1", queue: false });
  http.attachInspector(inspector);
  try {
    const res = await new Promise<import("node:http").IncomingMessage>((resolve, reject) => {
      const req = request({ host: "127.0.0.1", port: http.port, path: "/charts/events" }, resolve);
      req.on("error", reject);
      req.end();
    });
    res.pause(); // a browser tab that stopped reading
    assert.is(http.liveFeed.stats.clients, 1);
    const big = "x".repeat(2000);
    // Bounded: the socket's buffers fill, then the pending list, then the client goes.
    for (let round = 0; round < 200 && http.liveFeed.stats.clients > 0; round++) {
      for (let i = 0; i < 300; i++) inspector.record({ destination: "d1", actor: "instance", from: null, to: "standby", event: "X", fields: { big } });
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.is(http.liveFeed.stats.clients, 0, "the slow client was dropped");
    assert.is(http.liveFeed.stats.dropped, 1);
    res.destroy();
  } finally {
    await http.close();
  }
});

test.run();
