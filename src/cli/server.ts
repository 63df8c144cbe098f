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
import { ClusterNode } from "../actors/cluster/node.js";
import { StandaloneNode } from "../actors/standalone-node.js";
import type { LogRecord } from "../actors/session.js";
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
  quick start, one destination: --destination NAME (default example) --source URI [--port 11111]
    [--filter REGEX] [--black-filter REGEX] [--data-dir DIR] [--server-id N] [--start FILE[:OFFSET]]
    [--start-gtid GTID] [--user U --passwd HASH] [--bind ADDR] [--time-zone ZONE] [--charset NAME]
  cluster (HA through ZooKeeper): --zk HOST:PORT[,HOST:PORT…][/chroot] [--zk-session-timeout MS]
    [--zk-anti-flap-delay MS] [--register-ip IP] [--node-id ID]`;

function loadConfig(args: string[]): { loaded: LoadedConfig; printOnly: boolean } {
  const { values } = parseArgs({
    args,
    options: { ...QUICK_START_OPTIONS, config: { type: "string" }, "canal-conf": { type: "string" }, "print-config": { type: "boolean" } },
    strict: true,
  });
  const { config, "canal-conf": canalConf, "print-config": printOnly, ...flags } = values;
  const quickStart = Object.keys(flags).length > 0;
  const chosen = [config !== undefined, canalConf !== undefined, quickStart].filter(Boolean).length;
  if (chosen !== 1) {
    throw new CanalConfigError(`expected exactly one of --config FILE, --canal-conf DIR or quick-start flags (--source …), got ${chosen}\n${SERVER_USAGE}`);
  }
  const loaded = config !== undefined ? loadConfigFile(config) : canalConf !== undefined ? loadCanalConfDir(canalConf) : configFromFlags(flags as QuickStartFlags);
  return { loaded, printOnly: printOnly ?? false };
}

/** One readable line per record on a terminal, JSON lines otherwise. */
function logTo(stream: NodeJS.WriteStream): (record: LogRecord) => void {
  return ({ level, msg, fields }) => {
    if (level === "debug") return;
    const line = stream.isTTY
      ? `${new Date().toISOString().slice(11, 23)} ${level.padEnd(5)} ${msg} ${Object.entries(fields).map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`).join(" ")}`
      : JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields });
    stream.write(`${line}\n`);
  };
}

export async function runServer(args: string[]): Promise<void> {
  const { loaded, printOnly } = loadConfig(args);
  const log = logTo(process.stderr);
  for (const warning of loaded.warnings) log({ level: "warn", msg: formatWarning(warning), fields: {} });
  if (printOnly) {
    process.stdout.write(describeConfig(loaded.config));
    return;
  }
  // With ZooKeeper the node joins a cluster (one running node per destination); without, it runs alone.
  const node = loaded.config.zookeeper ? await ClusterNode.start({ config: loaded.config, log }) : await StandaloneNode.start({ config: loaded.config, log });
  const signal = await Promise.race([once(process, "SIGTERM").then(() => "SIGTERM"), once(process, "SIGINT").then(() => "SIGINT")]);
  log({ level: "info", msg: "stopping", fields: { signal } });
  await node.stop();
  log({ level: "info", msg: "stopped", fields: {} });
}
