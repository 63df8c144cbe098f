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
import type { DestinationHost } from "./session-requests.js";

export interface StandaloneNodeOptions {
  config: NodeConfig;
  log: ServerLog;
  /** A destination failed for good (its source stopped); the node keeps serving the others. */
  onDestinationError?(destination: string, err: CanalError): void;
}

export class StandaloneNode {
  private constructor(
    readonly server: CanalServer,
    readonly destinations: ReadonlyMap<string, Destination>,
  ) {}

  static async start({ config, log, onDestinationError }: StandaloneNodeOptions): Promise<StandaloneNode> {
    if (config.zookeeper) {
      throw new CanalConfigError(
        `zookeeper ${config.zookeeper.servers.join(",")}: high availability through ZooKeeper is not available in this version; run without --zk (standalone)`,
      );
    }
    const destinations = new Map<string, Destination>();
    try {
      for (const dc of config.destinations) {
        const destination = await Destination.start({
          config: dc,
          cursors: await CursorFile.open(config.dataDir, dc.name),
          onError: (err) => {
            log({ level: "error", msg: "destination stopped", fields: { destination: dc.name, error: err.message } });
            onDestinationError?.(dc.name, err);
          },
          onStatus: (status) => log({ level: "info", msg: `source ${status.type}`, fields: { destination: dc.name, ...status } }),
        });
        destinations.set(dc.name, destination);
        const { start, from } = destination.startPosition();
        log({ level: "info", msg: "destination started", fields: { destination: dc.name, from, start } });
      }
      const host: DestinationHost = { destination: (name) => destinations.get(name) };
      const server = await CanalServer.start({ host: config.bind, port: config.port, user: config.user, passwordHash: config.passwordHash, destinations: host, log });
      log({ level: "info", msg: "node ready", fields: { destinations: [...destinations.keys()] } });
      return new StandaloneNode(server, destinations);
    } catch (err) {
      await Promise.all([...destinations.values()].map((d) => d.stop()));
      throw err;
    }
  }

  get port(): number {
    return this.server.port;
  }

  /** Graceful stop: close the port and the sessions, then stop the destinations and flush their cursors. */
  async stop(): Promise<void> {
    await this.server.close();
    await Promise.all([...this.destinations.values()].map((d) => d.stop()));
  }
}
