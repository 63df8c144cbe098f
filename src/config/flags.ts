/**
 * Quick start: one destination from command-line flags, for example
 * `canal-ts server --port 11111 --destination example --source mysql://canal:canal@127.0.0.1:3306 --filter 'shop\..*'`.
 * The CLI parses argv with `QUICK_START_OPTIONS` (node:util parseArgs) and passes the values
 * to `configFromFlags`.
 */
import { sourceUriParts } from "./addresses.js";
import { buildNodeConfig, type RawNode } from "./build.js";
import { type LoadedConfig, type LoadOptions, loadContext } from "./load-options.js";
import { missing, type Raw, type Where } from "./where.js";
import { CanalConfigError } from "../errors.js";

/** Flag name → what it sets (the option table in README.md lists the same). */
export const QUICK_START_FLAGS = {
  "node-id": "node id",
  bind: "listen address",
  "register-ip": "address published in ZooKeeper",
  port: "Canal client TCP port",
  "metrics-port": "metrics HTTP port (0 = off)",
  user: "user clients log in as",
  passwd: "hex(SHA1(SHA1(password))), as canal.passwd",
  "data-dir": "directory for cursors",
  zk: "ZooKeeper HOST:PORT[,HOST:PORT…][/chroot]",
  "zk-session-timeout": "ZooKeeper session timeout, ms",
  "zk-anti-flap-delay": "wait before taking over from another node, ms",
  nats: "NATS server URL(s)",
  destination: "destination name, or several as a,b,c (default example)",
  source: "mysql://user:password@host:port",
  filter: "white table filter regex",
  "black-filter": "black table filter regex",
  "server-id": "replica server id",
  charset: "connection charset",
  "time-zone": "zone for TIMESTAMP values",
  start: "start at FILE[:OFFSET] when there is no cursor",
  "start-gtid": "start at this GTID when there is no cursor",
  "start-timestamp": "start at this time (epoch ms) when there is no cursor",
  prefer: "in a cluster, the node (ip:port) that should run the destination(s) when it is up",
  sink: "publish to this JetStream stream (needs --nats)",
  "sink-subject": "subject template of the JetStream sink",
} as const;

export type QuickStartFlag = keyof typeof QUICK_START_FLAGS;
export type QuickStartFlags = Partial<Record<QuickStartFlag, string>>;

/** The `options` argument of node:util `parseArgs` for the quick-start flags. */
export const QUICK_START_OPTIONS = Object.fromEntries(Object.keys(QUICK_START_FLAGS).map((name) => [name, { type: "string" as const }])) as Record<
  QuickStartFlag,
  { type: "string" }
>;

const COMMAND_LINE = "the command line";

export function configFromFlags(flags: QuickStartFlags, options: LoadOptions = {}): LoadedConfig {
  const where = (flag: string): Where => ({ key: `--${flag}`, source: COMMAND_LINE });
  const flag = (name: QuickStartFlag, secret = false): Raw | undefined =>
    flags[name] === undefined ? undefined : { value: flags[name], where: where(name), ...(secret ? { secret } : {}) };
  checkServerId(flags);
  const source = flag("source", true);
  if (source === undefined) throw missing(where("source"), "the database to read, as --source mysql://user:password@host:port");
  const uri = sourceUriParts(source);
  const start = splitStart(flag("start"));
  const raw: RawNode = {
    at: (field) => where(FIELD_FLAGS[field] ?? field),
    nodeId: flag("node-id"),
    bind: flag("bind"),
    registerIp: flag("register-ip"),
    port: flag("port"),
    metricsPort: flag("metrics-port"),
    user: flag("user"),
    passwordHash: flag("passwd", true),
    dataDir: flag("data-dir"),
    zookeeper:
      flags.zk === undefined
        ? undefined
        : {
            connect: flag("zk")!,
            sessionTimeoutMs: flag("zk-session-timeout"),
            antiFlapDelayMs: flag("zk-anti-flap-delay"),
          },
    nats: flag("nats"),
    // Like canal.destinations, `--destination a,b` names several destinations of the same source.
    destinations: destinationNames(flag("destination")).map((name) => ({
      at: (field: string) => where(FIELD_FLAGS[field] ?? "destination"),
      name,
      source: {
        at: () => where("source"),
        ...uri,
        serverId: flag("server-id"),
        connectionCharset: flag("charset"),
        timeZone: flag("time-zone"),
      },
      filter: { regex: flag("filter"), blackRegex: flag("black-filter") },
      start: { ...start, timestamp: flag("start-timestamp"), gtid: flag("start-gtid") },
      store: {},
      preferredNode: flag("prefer"),
      ...(flags.sink === undefined && flags["sink-subject"] === undefined
        ? {}
        : { sink: { at: (field: string) => where(field === "subject" ? "sink-subject" : field === "nats" ? "nats" : "sink"), stream: flag("sink"), subject: flag("sink-subject") } }),
    })),
  };
  return { config: buildNodeConfig(raw, loadContext(options)), warnings: [] };
}

/** `--destination a,b` → one Raw per name (each validated as a destination name later); "example" by default. */
function destinationNames(raw: Raw | undefined): Raw[] {
  if (raw === undefined) return [{ value: "example", where: { key: "--destination", source: COMMAND_LINE } }];
  return String(raw.value)
    .split(",")
    .map((name) => ({ ...raw, value: name.trim() }));
}

/** One replica server id cannot serve two destinations: the database would drop one of the two dumps. */
function checkServerId(flags: QuickStartFlags): void {
  if (flags["server-id"] !== undefined && destinationNames(flags.destination === undefined ? undefined : { value: flags.destination, where: { key: "--destination", source: COMMAND_LINE } }).length > 1)
    throw new CanalConfigError(`--server-id ${flags["server-id"]} with several destinations (--destination ${flags.destination}): expected no --server-id, so each destination gets its own`);
}

/** The flag that sets a config field, for messages about fields without a value. */
const FIELD_FLAGS: Readonly<Record<string, QuickStartFlag>> = {
  passwordHash: "passwd",
  metricsPort: "metrics-port",
  "start.journalName": "start",
  destinations: "destination",
};

/** `--start mysql-bin.000003:4` → journal and offset; `--start mysql-bin.000003` → journal only. */
function splitStart(raw: Raw | undefined): { journalName?: Raw; position?: Raw } {
  if (raw === undefined) return {};
  const text = String(raw.value);
  const colon = text.lastIndexOf(":");
  if (colon < 0) return { journalName: raw };
  return { journalName: { ...raw, value: text.slice(0, colon) }, position: { ...raw, value: text.slice(colon + 1) } };
}
