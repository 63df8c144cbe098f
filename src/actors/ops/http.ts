/**
 * The node's HTTP port (Canal's `canal.metrics.pull.port`, default 11112):
 *
 *   GET /metrics  Prometheus text format 0.0.4 (also at `/`, as Canal's exporter serves both)
 *   GET /healthz  200 while the process answers: for a liveness probe
 *   GET /readyz   200 when the node does what it should: its ZooKeeper session is live and every
 *                 destination runs here or stands by while another node runs it (standalone:
 *                 every destination runs); 503 otherwise. The JSON body says why, per destination.
 *   GET /charts   the live view of the node's machines (./charts-page.ts), with /charts/state
 *                 (JSON) and /charts/events (server-sent events of every transition)
 *
 * It opens before the node starts (so a probe sees "not ready" rather than a refused
 * connection) and closes after it stopped.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { CanalConfigError } from "../../errors.js";
import type { Inspector } from "../nats/inspector.js";
import type { ServerLog } from "../session.js";
import { chartsPage, chartState, readCharts } from "./charts-page.js";
import { LiveFeed } from "./live-feed.js";
import type { NodeMetrics } from "./metrics.js";
import type { NodeView } from "./node-view.js";

export interface Readiness {
  ready: boolean;
  reasons: string[];
  zookeeper?: string;
  destinations: Array<{ name: string; state: string; owner?: string; ok: boolean }>;
}

/** Whether the node is ready, and why not. Pure over the view, for the endpoint and for tests. */
export function readiness(view: NodeView | undefined): Readiness {
  if (view === undefined) return { ready: false, reasons: ["the node is starting"], destinations: [] };
  const reasons: string[] = [];
  const zk = view.zookeeper();
  if (zk !== undefined && zk.state !== "live") reasons.push(`ZooKeeper session ${zk.state}`);
  const destinations = view.destinations().map((d) => {
    if (!d.settled) reasons.push(`destination ${d.name} is ${d.state}${d.state === "standby" ? " with no node running it" : ""}`);
    return { name: d.name, state: d.state, ...(d.owner === undefined ? {} : { owner: d.owner }), ok: d.settled };
  });
  return { ready: reasons.length === 0, reasons, ...(zk === undefined ? {} : { zookeeper: zk.state }), destinations };
}

export interface OpsHttpOptions {
  host: string;
  /** 0 picks a free port (tests); the config's 0 ("off") means: do not start this at all. */
  port: number;
  metrics: NodeMetrics;
  log: ServerLog;
}

export class OpsHttpServer {
  private view: NodeView | undefined;
  private inspector: Inspector | undefined;
  private readonly feed = new LiveFeed();

  private constructor(
    private readonly server: Server,
    private readonly options: OpsHttpOptions,
  ) {}

  static async start(options: OpsHttpOptions): Promise<OpsHttpServer> {
    if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535) {
      throw new CanalConfigError(`metrics port ${options.port}: expected an integer from 0 to 65535`);
    }
    let ops: OpsHttpServer | undefined;
    const server = createServer((req, res) => void ops?.handle(req, res));
    ops = new OpsHttpServer(server, options);
    await new Promise<void>((resolve, reject) => {
      server.once("error", (err) => reject(new CanalConfigError(`metrics port ${options.host}:${options.port}: cannot listen (${err.message}); expected a free port, or 0 to turn metrics off`, { cause: err })));
      server.listen(options.port, options.host, () => resolve());
    });
    server.on("error", (err) => options.log({ level: "error", msg: "metrics server socket error", fields: { error: err } }));
    // Keep-alive scrapers must not hold the node's stop.
    server.keepAliveTimeout = 5000;
    options.log({ level: "info", msg: "metrics listening", fields: { host: options.host, port: ops.port, paths: ["/metrics", "/healthz", "/readyz", "/charts"] } });
    return ops;
  }

  get port(): number {
    const address = this.server.address();
    return typeof address === "object" && address !== null ? address.port : 0;
  }

  attach(view: NodeView): void {
    this.view = view;
  }

  /** The node's inspection, for the live charts; until then /charts/state and /charts/events answer 503. */
  attachInspector(inspector: Inspector): void {
    this.inspector = inspector;
    this.feed.attach(inspector);
  }

  get liveFeed(): LiveFeed {
    return this.feed;
  }

  async close(): Promise<void> {
    // Event streams never end by themselves: end them, or close() would wait for the browsers.
    this.feed.close();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? "/").split("?")[0];
    try {
      if (req.method !== "GET" && req.method !== "HEAD") return reply(res, 405, "text/plain", "expected GET\n");
      if (path === "/metrics" || path === "/") return reply(res, 200, this.options.metrics.contentType, await this.options.metrics.render());
      if (path === "/healthz") return reply(res, 200, "text/plain", "ok\n");
      if (path === "/readyz") {
        const r = readiness(this.view);
        return reply(res, r.ready ? 200 : 503, "application/json", `${JSON.stringify(r)}\n`);
      }
      if (path === "/charts") {
        const inspector = this.inspector;
        const node = inspector?.node ?? "(starting)";
        let charts: Awaited<ReturnType<typeof readCharts>>;
        try {
          charts = await readCharts();
        } catch (err) {
          if (err instanceof CanalConfigError) return reply(res, 404, "text/plain", `${err.message}\n`);
          throw err;
        }
        return reply(res, 200, "text/html; charset=utf-8", chartsPage(node, charts));
      }
      if (path === "/charts/state") {
        if (this.inspector === undefined) return reply(res, 503, "text/plain", "the node is starting: no inspection yet; expected it within seconds\n");
        return reply(res, 200, "application/json", `${JSON.stringify(chartState(this.inspector, this.view))}\n`);
      }
      if (path === "/charts/events") return this.feed.serve(res);
      reply(res, 404, "text/plain", `no ${path}; expected /metrics, /healthz, /readyz, /charts, /charts/state or /charts/events\n`);
    } catch (err) {
      this.options.log({ level: "error", msg: "metrics request failed", fields: { path, error: err instanceof Error ? err : String(err) } });
      if (!res.headersSent) reply(res, 500, "text/plain", "metrics failed\n");
    }
  }
}

function reply(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, { "content-type": contentType, "content-length": Buffer.byteLength(body) });
  res.end(body);
}
