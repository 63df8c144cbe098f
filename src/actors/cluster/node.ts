/**
 * A canal-ts node in a cluster (canal-facts.md §4.7): one ZooKeeper session, one instance per
 * configured destination (each contending for its running node), and the Canal TCP server,
 * which serves a destination only while its instance runs here ("destination:<d> should
 * start first" otherwise, so clients move on to the running node).
 *
 * Order, as Canal's CanalController: the session and the instances first, the port last. On
 * stop the port first (no new client, GETs held, acks in flight still taken), then every
 * instance hands its destination over (cursors flushed, `{"active":false}`, node deleted, so a
 * standby takes over at once), then the cluster registration goes with the session.
 *
 * Balance (./balance.ts): a node waits a little longer before contending for each destination
 * it already runs, and hands one over when it runs clearly more than another node that could
 * take it, so with several destinations the running instances spread over the nodes.
 */
import type { NodeConfig } from "../../config/types.js";
import { zooKeeperConnectString } from "../../config/addresses.js";
import { resolveRegisterIp } from "../../config/register-ip.js";
import { CanalError } from "../../errors.js";
import type { SessionView } from "../../machines/zk-session.js";
import { clusterNodePath, clusterPath, destinationClusterNodePath, destinationsPath, serverAddress } from "../../protocol/zk-layout.js";
import { CanalServer, type ServerLog } from "../canal-server.js";
import { clusterAdmin, instanceDescription, sessionDescription, sourceStatusRecorder, zkSessionDescription } from "../nats/admin.js";
import { Inspector } from "../nats/inspector.js";
import { NatsLink } from "../nats/link.js";
import type { DestinationHost } from "../session-requests.js";
import { ZooKeeperError } from "../zk/session-client.js";
import { ThreadedBinlogSource } from "../source-thread/threaded-source.js";
import { destinationToRelease, readClusterView } from "./balance.js";
import { ClusterInstance } from "./instance.js";
import { ZkSessionActor } from "./zk-session.js";

export interface ClusterNodeOptions {
  config: NodeConfig;
  log: ServerLog;
}

/** Added to the contend delay per destination this node already runs. */
const BALANCE_STEP_MS = 100;
/** How long a release or stop keeps taking acks already sent (as the server's graceful stop). */
const ACK_DRAIN_MS = 200;
/** How often the node looks whether it runs more than its share (one ZooKeeper read per destination). */
const BALANCE_INTERVAL_MS = 1000;

export class ClusterNode {
  private readonly balancer: ReturnType<typeof setInterval>;
  private balancing = false;

  private constructor(
    readonly server: CanalServer,
    readonly zk: ZkSessionActor,
    readonly instances: ReadonlyMap<string, ClusterInstance>,
    readonly address: string,
    private readonly log: ServerLog,
    private readonly config: NodeConfig,
    /** Inspection and the control plane, when config.nats is set (src/actors/nats). */
    readonly nats: NatsLink | undefined,
    /** Every transition of the node's machines: NATS's when set, else one for live listeners only (/charts). */
    readonly inspector: Inspector,
  ) {
    this.balancer = setInterval(() => void this.balance(), BALANCE_INTERVAL_MS);
    this.balancer.unref();
  }

  static async start({ config, log }: ClusterNodeOptions): Promise<ClusterNode> {
    const zkConfig = config.zookeeper;
    if (zkConfig === undefined) throw new Error("ClusterNode needs a zookeeper configuration");
    const address = serverAddress(resolveRegisterIp(config), config.port);
    // Any destination may come to run here at short notice: have a source thread ready.
    ThreadedBinlogSource.keepSpare();
    const nats = config.nats === undefined ? undefined : NatsLink.start({ servers: config.nats.servers, node: config.nodeId, log });
    const inspector = nats?.inspector ?? new Inspector({ node: config.nodeId, queue: false });
    const instances = new Map<string, ClusterInstance>();
    // Sessions of a destination that stopped running here are closed; the server opens last.
    let server: CanalServer | undefined;
    const runningHere = () => [...instances.values()].filter((i) => i.actor.getSnapshot().hasTag("owner")).length;
    const zk = ZkSessionActor.start({
      connectString: zooKeeperConnectString(zkConfig),
      sessionTimeoutMs: zkConfig.sessionTimeoutMs,
      onView: (view: SessionView) => {
        log({ level: "info", msg: `zookeeper session ${view.state}`, fields: view.state === "gone" ? {} : { sessionId: view.sessionId } });
        if (view.state === "live") void registerNode(zk, view.sessionId, address, log);
        for (const instance of instances.values()) instance.session(view);
      },
      onLoss: (reason) => log({ level: "warn", msg: "zookeeper session lost", fields: { reason } }),
      inspect: inspector.observe(zkSessionDescription),
    });
    for (const dc of config.destinations) {
      instances.set(
        dc.name,
        new ClusterInstance({
          config: dc,
          address,
          zk,
          timing: { antiFlapDelayMs: zkConfig.antiFlapDelayMs, fenceAfterMs: zkConfig.fenceAfterMs, ackDrainMs: ACK_DRAIN_MS },
          balanceDelayMs: () => runningHere() * BALANCE_STEP_MS,
          log,
          onServingEnded: (name) => {
            const closed = server?.closeSessionsOf(name) ?? 0;
            if (closed > 0) log({ level: "info", msg: "closed the sessions of a destination that no longer runs here", fields: { destination: name, sessions: closed } });
          },
          inspect: inspector.observe(instanceDescription(dc.name)),
          onSourceStatus: sourceStatusRecorder(inspector, dc.name),
        }),
      );
    }
    for (const instance of instances.values()) {
      instance.start();
      instance.session(zk.view);
    }
    const host: DestinationHost = {
      destination: (name) => instances.get(name)?.served(),
      whenStarting: async (name) => instances.get(name)?.whenStarting(),
    };
    try {
      server = await CanalServer.start({
        host: config.bind,
        port: config.port,
        user: config.user,
        passwordHash: config.passwordHash,
        destinations: host,
        log,
        ackDrainMs: ACK_DRAIN_MS,
        inspect: (id, remote) => inspector.observe(sessionDescription(id, remote)),
      });
      log({ level: "info", msg: "node ready", fields: { address, destinations: [...instances.keys()] } });
      const node = new ClusterNode(server, zk, instances, address, log, config, nats, inspector);
      nats?.serve(clusterAdmin(node));
      return node;
    } catch (err) {
      await Promise.all([...instances.values()].map((i) => i.stop()));
      await zk.close();
      await nats?.close();
      throw err;
    }
  }

  get port(): number {
    return this.server.port;
  }

  /** Moves a destination away from this node (admin "release"); false when it does not run here. */
  release(destination: string): boolean {
    const instance = this.instances.get(destination);
    if (instance === undefined || !instance.actor.getSnapshot().hasTag("owner")) return false;
    instance.release("released by request");
    return true;
  }

  /**
   * Admin "stop": hands the destination over if it runs here, ends its instance, and takes this
   * node off the destination's cluster list, so it neither contends for it nor counts as a
   * candidate for balance until the node restarts.
   */
  async stopDestination(destination: string): Promise<void> {
    const instance = this.instances.get(destination);
    if (instance === undefined) throw new CanalError(`destination ${destination} is not configured on this node; expected one of ${[...this.instances.keys()].join(", ")}`);
    await instance.stop();
    const view = this.zk.view;
    const client = view.state === "gone" ? undefined : this.zk.client(view.sessionId);
    await client?.delete(destinationClusterNodePath(destination, this.address)).catch(() => undefined);
  }

  /** Releases one destination when this node runs clearly more than another that could take it (./balance.ts). */
  private async balance(): Promise<void> {
    const view = this.zk.view;
    // One move at a time, and only from a settled node: nothing of ours is on its way in or out.
    const settled = [...this.instances.values()].every((i) => ["standby", "running", "stopped"].includes(i.state));
    if (this.balancing || view.state !== "live" || !settled) return;
    const client = this.zk.client(view.sessionId);
    if (client === undefined) return;
    this.balancing = true;
    try {
      const preferred = new Map(this.config.destinations.flatMap((d) => (d.preferredNode === undefined ? [] : [[d.name, d.preferredNode] as const])));
      const destination = destinationToRelease(this.address, await readClusterView(client), preferred);
      if (destination !== undefined && this.instances.get(destination)?.state === "running") {
        this.log({ level: "info", msg: "releasing for balance", fields: { destination, preferredNode: preferred.get(destination) } });
        this.instances.get(destination)!.release(preferred.has(destination) ? "balance: its preferred node is up" : "balance: another node runs fewer destinations");
      }
    } catch (err) {
      this.log({ level: "warn", msg: "balance look failed", fields: { error: String(err) } });
    } finally {
      this.balancing = false;
    }
  }

  /** Graceful stop: port and sessions first, then hand every destination over, then the session. */
  async stop(): Promise<void> {
    clearInterval(this.balancer);
    await this.server.close();
    await Promise.all([...this.instances.values()].map((i) => i.stop()));
    await this.zk.close();
    // Last, so the hand-over transitions above are published (its wait is bounded).
    await this.nats?.close();
  }
}

/** `/otter/canal/cluster/<ip:port>`, once per session (Canal's initCid and its new-session hook). */
async function registerNode(zk: ZkSessionActor, sessionId: string, address: string, log: ServerLog): Promise<void> {
  const client = zk.client(sessionId);
  if (client === undefined) return;
  try {
    await client.ensurePath(clusterPath());
    await client.ensurePath(destinationsPath());
    await client.create(clusterNodePath(address), null, "ephemeral");
  } catch (err) {
    if (err instanceof ZooKeeperError && err.code === "NODE_EXISTS") return;
    log({ level: "warn", msg: "could not register the node in ZooKeeper", fields: { path: clusterNodePath(address), error: String(err) } });
  }
}
