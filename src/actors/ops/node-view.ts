/**
 * What the metrics, health checks and the node's watch read from a running node, the same for
 * both kinds: a standalone node (every destination runs here) and a cluster node (each
 * destination runs here, stands by, or is on its way). Reading only: nothing here changes a node.
 */
import type { SessionView } from "../../machines/zk-session.js";
import type { CanalServerStats } from "../canal-server.js";
import type { ClusterNode } from "../cluster/node.js";
import type { Destination } from "../destination.js";
import type { StandaloneNode } from "../standalone-node.js";

export interface DestinationView {
  name: string;
  /** One word: the instance state in a cluster (standby, running, …); running or failed standalone. */
  state: string;
  /** Where it should be for readiness: running, or standing by while another node runs it. */
  settled: boolean;
  /** The node running it, as ZooKeeper says (cluster only). */
  owner: string | undefined;
  /** The destination while it serves clients here. */
  serving: Destination | undefined;
}

export interface NodeView {
  mode: "standalone" | "cluster";
  /** This node's address (`ip:port`) in a cluster, the bound port's address standalone. */
  address: string;
  server(): CanalServerStats;
  destinations(): DestinationView[];
  /** The ZooKeeper session; undefined standalone. */
  zookeeper(): SessionView | undefined;
}

/** `failed`: destinations whose source stopped for good (StandaloneNode's onDestinationError). */
export function standaloneView(node: StandaloneNode, failed: ReadonlySet<string>): NodeView {
  return {
    mode: "standalone",
    address: `${node.server.host}:${node.port}`,
    server: () => node.server.stats(),
    destinations: () =>
      [...node.destinations].map(([name, destination]) => {
        const ok = !failed.has(name);
        return { name, state: ok ? "running" : "failed", settled: ok, owner: undefined, serving: ok ? destination : undefined };
      }),
    zookeeper: () => undefined,
  };
}

export function clusterView(node: ClusterNode): NodeView {
  return {
    mode: "cluster",
    address: node.address,
    server: () => node.server.stats(),
    destinations: () =>
      [...node.instances.values()].map((instance) => {
        const state = instance.state;
        const owner = instance.actor.getSnapshot().context.owner;
        // Standing by is right only while another node runs it; with nobody running it, this
        // node is about to contend (or cannot), which is not ready.
        const settled = state === "running" || (state === "standby" && owner !== undefined && owner !== node.address);
        return { name: instance.name, state, settled, owner, serving: state === "running" ? instance.served() : undefined };
      }),
    zookeeper: () => node.zk.view,
  };
}
