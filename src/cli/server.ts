/**
 * `canal-ts server`: runs a node until SIGTERM or SIGINT, then stops it gracefully (port closed,
 * sessions closed, cursors flushed, running destinations handed over) and exits 0. With
 * `--zk` (or zookeeper in the config) the node joins a cluster; without, it runs standalone.
 *
 * The configuration comes from exactly one of: `--config FILE` (YAML or JSON), `--canal-conf DIR`
 * (an existing Canal deployment's canal.properties + <destination>/instance.properties), or the
 * quick-start flags for one destination (`--source mysql://… --destination NAME …`).
 */
import { once } from "node:events";
import { parseArgs } from "node:util";
import { tuneHeap } from "./heap.js";
import { ClusterNode } from "../actors/cluster/node.js";
import { StandaloneNode } from "../actors/standalone-node.js";
import { createNodeLog, parseLogLevel } from "../actors/ops/logger.js";
import { NodeOps } from "../actors/ops/node-ops.js";
import {
  configFromFlags,
  describeConfig,
  formatWarning,
  loadCanalConfDir,
  loadConfigFile,
  QUICK_START_OPTIONS,
  type LoadedConfig,
  type QuickStartFlags,
} from "../config/index.js";
import { CanalConfigError } from "../errors.js";

export const SERVER_USAGE = `canal-ts server --config FILE | --canal-conf DIR | --source mysql://USER:PASS@HOST:PORT [quick-start flags]
  --config FILE        YAML or JSON node configuration (see src/config/README.md)
  --canal-conf DIR     a Canal conf dir: canal.properties and <destination>/instance.properties
  --print-config       print the effective configuration (passwords hidden) and exit
  --log-level LEVEL    debug, info (default), warn or error; overrides logLevel of the config
  --metrics-port PORT  Prometheus /metrics, /healthz, /readyz (default 11112, 0 = off)
  quick start, one destination: --destination NAME (default example) --source URI [--port 11111]
    [--filter REGEX] [--black-filter REGEX] [--data-dir DIR] [--server-id N] [--start FILE[:OFFSET]]
    [--start-gtid GTID] [--user U --passwd HASH] [--bind ADDR] [--time-zone ZONE] [--charset NAME]
  cluster (HA through ZooKeeper): --zk HOST:PORT[,HOST:PORT…][/chroot] [--zk-session-timeout MS]
    [--zk-anti-flap-delay MS] [--register-ip IP] [--node-id ID]`;

function loadConfig(args: string[]): { loaded: LoadedConfig; printOnly: boolean } {
  const { values } = parseArgs({
    args,
    options: { ...QUICK_START_OPTIONS, config: { type: "string" }, "canal-conf": { type: "string" }, "print-config": { type: "boolean" }, "log-level": { type: "string" } },
    strict: true,
  });
  const { config, "canal-conf": canalConf, "print-config": printOnly, "log-level": logLevel, ...flags } = values;
  const quickStart = Object.keys(flags).length > 0;
  const chosen = [config !== undefined, canalConf !== undefined, quickStart].filter(Boolean).length;
  if (chosen !== 1) {
    throw new CanalConfigError(`expected exactly one of --config FILE, --canal-conf DIR or quick-start flags (--source …), got ${chosen}\n${SERVER_USAGE}`);
  }
  const loaded = config !== undefined ? loadConfigFile(config) : canalConf !== undefined ? loadCanalConfDir(canalConf) : configFromFlags(flags as QuickStartFlags);
  // A server-wide flag, whichever way the node is configured: turning up the log of one run must not need an edited file.
  if (logLevel !== undefined) loaded.config.logLevel = parseLogLevel(logLevel, "--log-level");
  return { loaded, printOnly: printOnly ?? false };
}

export async function runServer(args: string[]): Promise<void> {
  tuneHeap();
  const { loaded, printOnly } = loadConfig(args);
  // JSON lines when stderr is not a terminal (services, the test kit), readable lines when it is.
  const { log } = createNodeLog({ level: loaded.config.logLevel });
  for (const warning of loaded.warnings) log({ level: "warn", msg: formatWarning(warning), fields: {} });
  if (printOnly) {
    process.stdout.write(describeConfig(loaded.config));
    return;
  }
  const { config } = loaded;
  // Metrics and health first, so probes see "not ready" while the node starts rather than nothing.
  const ops = await NodeOps.start({ config, log });
  try {
    // With ZooKeeper the node joins a cluster (one running node per destination); without, it runs alone.
    let node: ClusterNode | StandaloneNode;
    if (config.zookeeper) {
      const cluster = await ClusterNode.start({ config, log });
      ops.attachCluster(cluster);
      node = cluster;
    } else {
      const failed = new Set<string>();
      const standalone = await StandaloneNode.start({ config, log, onDestinationError: (name) => failed.add(name) });
      ops.attachStandalone(standalone, failed);
      node = standalone;
    }
    // NATS inspection's drops, as a Prometheus counter beside the status's count.
    const nats = node.nats;
    if (nats !== undefined) ops.metrics.setInspectionDropped(() => nats.inspector.dropped);
    const signal = await Promise.race([once(process, "SIGTERM").then(() => "SIGTERM"), once(process, "SIGINT").then(() => "SIGINT")]);
    log({ level: "info", msg: "stopping", fields: { signal } });
    await node.stop();
    log({ level: "info", msg: "stopped", fields: {} });
  } finally {
    await ops.stop();
  }
}
