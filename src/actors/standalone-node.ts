/**
 * A standalone canal-ts node: every configured destination (source → store, cursors in
 * meta.dat) and the Canal TCP server in front of them. The order is Canal's (§4.7): the
 * destinations first, the port last; on stop the port first (no new clients, pending gets
 * end), then the destinations, which flush their cursors.
 */
import type { NodeConfig } from "../config/types.js";
import { CanalConfigError, type CanalError } from "../errors.js";
import { CanalServer, type ServerLog } from "./canal-server.js";
import { CursorFile } from "./cursor-file.js";
import { Destination } from "./destination.js";
import { startSink } from "./sink/index.js";
import { sessionDescription, sourceStatusRecorder, standaloneAdmin } from "./nats/admin.js";
import { Inspector } from "./nats/inspector.js";
import { NatsLink } from "./nats/link.js";
import type { DestinationHost } from "./session-requests.js";

export interface StandaloneNodeOptions {
  config: NodeConfig;
  log: ServerLog;
  /** A destination failed for good (its source stopped); the node keeps serving the others. */
  onDestinationError?(destination: string, err: CanalError): void;
}

export class StandaloneNode {
  /** Every configured destination, including those stopped through the control plane. */
  readonly configured: string[];

  private constructor(
    readonly server: CanalServer,
    readonly destinations: Map<string, Destination>,
    /** Inspection and the control plane, when config.nats is set (src/actors/nats). */
    readonly nats: NatsLink | undefined,
    /** Every transition of the node's machines: NATS's when set, else one for live listeners only (/charts). */
    readonly inspector: Inspector,
  ) {
    this.configured = [...destinations.keys()];
  }

  static async start({ config, log, onDestinationError }: StandaloneNodeOptions): Promise<StandaloneNode> {
    if (config.zookeeper) {
      throw new CanalConfigError(
        `zookeeper ${config.zookeeper.servers.join(",")}: high availability through ZooKeeper is not available in this version; run without --zk (standalone)`,
      );
    }
    const destinations = new Map<string, Destination>();
    const nats = config.nats === undefined ? undefined : NatsLink.start({ servers: config.nats.servers, node: config.nodeId, log });
    const inspector = nats?.inspector ?? new Inspector({ node: config.nodeId, queue: false });
    try {
      for (const dc of config.destinations) {
        const recordSource = sourceStatusRecorder(inspector, dc.name);
        const destination = await Destination.start({
          config: dc,
          cursors: await CursorFile.open(config.dataDir, dc.name),
          onError: (err) => {
            log({ level: "error", msg: "destination stopped", fields: { destination: dc.name, error: err.message } });
            onDestinationError?.(dc.name, err);
          },
          onStatus: (status) => {
            log({ level: "info", msg: `source ${status.type}`, fields: { destination: dc.name, ...status } });
            recordSource(status);
          },
        });
        destinations.set(dc.name, destination);
        // Its sink, if configured, publishes while the destination runs and stops when its store closes.
        startSink(dc, destination, log, { nodeId: config.nodeId });
        const { start, from } = destination.startPosition();
        log({ level: "info", msg: "destination started", fields: { destination: dc.name, from, start } });
      }
      const host: DestinationHost = { destination: (name) => destinations.get(name) };
      const server = await CanalServer.start({
        host: config.bind,
        port: config.port,
        user: config.user,
        passwordHash: config.passwordHash,
        destinations: host,
        log,
        inspect: (id, remote) => inspector.observe(sessionDescription(id, remote)),
      });
      log({ level: "info", msg: "node ready", fields: { destinations: [...destinations.keys()] } });
      const node = new StandaloneNode(server, destinations, nats, inspector);
      nats?.serve(standaloneAdmin(node, `${config.bind}:${server.port}`));
      return node;
    } catch (err) {
      await Promise.all([...destinations.values()].map((d) => d.stop()));
      await nats?.close();
      throw err;
    }
  }

  get port(): number {
    return this.server.port;
  }

  /**
   * Admin "stop" of one destination: its clients are disconnected (later requests are refused
   * as for an unknown destination), its source stops and its cursors are written. It starts
   * again with the node. False when it was already stopped.
   */
  async stopDestination(name: string): Promise<boolean> {
    const destination = this.destinations.get(name);
    if (destination === undefined) return false;
    this.destinations.delete(name);
    this.server.closeSessionsOf(name);
    await destination.stop();
    return true;
  }

  /** Graceful stop: close the port and the sessions, then stop the destinations and flush their cursors. */
  async stop(): Promise<void> {
    await this.server.close();
    await Promise.all([...this.destinations.values()].map((d) => d.stop()));
    await this.nats?.close();
  }
}
