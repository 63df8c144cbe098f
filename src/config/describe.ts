/**
 * The effective configuration as text, for `canal-ts server --print-config`: YAML in the
 * config-file format (so it can be saved and edited), every default filled in, and secrets
 * replaced by "(hidden)".
 */
import { stringify } from "yaml";
import { zooKeeperConnectString } from "./addresses.js";
import type { DestinationConfig, NodeConfig, SinkConfig } from "./types.js";
import { shownNatsServer } from "../actors/nats/credentials.js";

const HIDDEN = "(hidden)";

export function describeConfig(config: NodeConfig): string {
  const doc = {
    nodeId: config.nodeId,
    bind: config.bind,
    ...(config.registerIp === undefined ? {} : { registerIp: config.registerIp }),
    port: config.port,
    metricsPort: config.metricsPort,
    logLevel: config.logLevel,
    user: config.user,
    passwordHash: config.passwordHash === "" ? "" : HIDDEN,
    dataDir: config.dataDir,
    ...(config.zookeeper === undefined
      ? {}
      : {
          zookeeper: {
            connect: zooKeeperConnectString(config.zookeeper),
            sessionTimeoutMs: config.zookeeper.sessionTimeoutMs,
            fenceAfterMs: config.zookeeper.fenceAfterMs,
            antiFlapDelayMs: config.zookeeper.antiFlapDelayMs,
          },
        }),
    ...(config.nats === undefined ? {} : { nats: { servers: config.nats.servers.map(shownNatsServer).join(",") } }),
    destinations: Object.fromEntries(config.destinations.map((d) => [d.name, describeDestination(d)])),
  };
  const mode = config.zookeeper === undefined ? "standalone (cursors under dataDir)" : "cluster (cursors in ZooKeeper)";
  return `# effective canal-ts configuration, ${mode}; secrets hidden\n${stringify(doc)}`;
}

function describeDestination(d: DestinationConfig): object {
  const start = Object.fromEntries(Object.entries(d.start).filter(([, value]) => value !== undefined));
  return {
    source: { ...d.source, password: d.source.password === "" ? "" : HIDDEN },
    filter: d.filter,
    // No start: the current end of the binlog (README.md); omitted so the output loads again.
    ...(Object.keys(start).length === 0 ? {} : { start }),
    store: d.store,
    ddlIsolation: d.ddlIsolation,
    transactionSize: d.transactionSize,
    ...(d.preferredNode === undefined ? {} : { preferredNode: d.preferredNode }),
    ...(d.sink === undefined ? {} : { sink: describeSink(d.sink) }),
  };
}

/** The sink in the file's form: its servers as `nats`, so the printed file loads back the same. */
function describeSink({ servers, ...rest }: SinkConfig): object {
  return { nats: servers.map(shownNatsServer).join(","), ...rest };
}
