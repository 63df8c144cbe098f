/**
 * Operations of one node: its metrics, its HTTP port (/metrics, /healthz, /readyz, /charts) and a watch
 * that logs what an operator must hear about even without a dashboard: a destination that comes
 * up here and how long it took, a source that stalls, and clients so slow to ack that the store
 * filled and reading the binlog paused. One line per change of condition, not per tick.
 *
 *   const ops = await NodeOps.start({ config, log });   // before the node: probes see "not ready"
 *   const node = await ClusterNode.start(...);
 *   ops.attachCluster(node);                             // or attachStandalone(node, failed)
 *   ...
 *   await ops.stop();                                    // after the node stopped
 */
import { sessionView } from "../../machines/zk-session.js";
import { instanceState } from "../../machines/instance.js";
import type { NodeConfig } from "../../config/types.js";
import type { ClusterNode } from "../cluster/node.js";
import type { ServerLog } from "../session.js";
import type { StandaloneNode } from "../standalone-node.js";
import { OpsHttpServer } from "./http.js";
import { NodeMetrics } from "./metrics.js";
import { clusterView, standaloneView, type NodeView } from "./node-view.js";
import { sourceHealth, type SourceState } from "./source-health.js";

/** How often the watch looks at the destinations: often enough that a stall is logged within seconds. */
const WATCH_INTERVAL_MS = 1000;

export interface NodeOpsOptions {
  config: NodeConfig;
  log: ServerLog;
  version?: string;
}

export class NodeOps {
  private view: NodeView | undefined;
  private readonly watch: ReturnType<typeof setInterval>;
  private readonly conditions = new Map<string, SourceState>();
  private readonly unsubscribe: Array<() => void> = [];

  private constructor(
    private readonly options: NodeOpsOptions,
    readonly metrics: NodeMetrics,
    readonly http: OpsHttpServer | undefined,
  ) {
    this.watch = setInterval(() => this.look(), WATCH_INTERVAL_MS);
    this.watch.unref();
  }

  /** Opens the HTTP port unless `config.metricsPort` is 0. */
  static async start(options: NodeOpsOptions): Promise<NodeOps> {
    const { config, log } = options;
    const metrics = new NodeMetrics({
      nodeId: config.nodeId,
      version: options.version,
      batchModes: new Map(config.destinations.map((d) => [d.name, d.store.batchMode])),
    });
    const http = config.metricsPort === 0 ? undefined : await OpsHttpServer.start({ host: config.bind, port: config.metricsPort, log, metrics });
    return new NodeOps(options, metrics, http);
  }

  attachStandalone(node: StandaloneNode, failed: ReadonlySet<string>): void {
    this.attach(standaloneView(node, failed));
    this.http?.attachInspector(node.inspector);
  }

  /**
   * From here on, takeovers are timed from the instances' snapshots; one already under way is
   * timed from now, and one that completed during the node's start is not counted.
   */
  attachCluster(node: ClusterNode): void {
    this.attach(clusterView(node));
    this.http?.attachInspector(node.inspector);
    for (const instance of node.instances.values()) {
      const feed = () => {
        const snapshot = instance.actor.getSnapshot();
        const { owner, handover } = snapshot.context;
        const done = this.metrics.instanceSnapshot(instance.name, node.address, instanceState(snapshot), owner, handover);
        if (done !== undefined) {
          this.options.log({ level: "info", msg: "destination taken over", fields: { destination: instance.name, cause: done.cause, ms: done.ms } });
        }
      };
      feed();
      const sub = instance.actor.subscribe(feed);
      this.unsubscribe.push(() => sub.unsubscribe());
    }
    let last = node.zk.view.state;
    const sub = node.zk.actor.subscribe((snapshot) => {
      const state = sessionView(snapshot).state;
      if (state === "gone" && last !== "gone") this.metrics.zookeeperSessionLost();
      last = state;
    });
    this.unsubscribe.push(() => sub.unsubscribe());
  }

  /** Stops the watch and closes the HTTP port; call after the node has stopped. */
  async stop(): Promise<void> {
    clearInterval(this.watch);
    for (const off of this.unsubscribe.splice(0)) off();
    await this.http?.close();
  }

  private attach(view: NodeView): void {
    this.view = view;
    this.metrics.attach(view);
    this.http?.attach(view);
  }

  /** Logs a destination's source condition when it changes for the worse, and when it recovers. */
  private look(): void {
    const view = this.view;
    if (view === undefined) return;
    const now = Date.now();
    for (const d of view.destinations()) {
      if (d.serving === undefined) {
        this.conditions.delete(d.name);
        continue;
      }
      const stats = d.serving.stats;
      const health = sourceHealth(stats.source?.stream, stats.blocked, now);
      const before = this.conditions.get(d.name);
      this.conditions.set(d.name, health.state);
      if (before === health.state || before === undefined) continue;
      const fields = { destination: d.name, lagMs: health.lagMs };
      if (health.state === "blocked") {
        this.options.log({
          level: "warn",
          msg: "slow clients: the store is full, reading the binlog paused until they ack",
          fields: { ...fields, heldEntries: stats.store.heldEntries, heldBytes: stats.store.heldBytes, clients: stats.cursors.map((c) => c.clientId) },
        });
      } else if (health.state === "stalled") {
        this.options.log({ level: "warn", msg: "source stalled: nothing from the database for two heartbeat periods", fields: { ...fields, silentMs: health.silentMs } });
      } else if (before === "blocked" || before === "stalled") {
        this.options.log({ level: "info", msg: `source ${health.state} again`, fields: { ...fields, was: before } });
      }
    }
  }
}
