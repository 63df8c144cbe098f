/**
 * From values as read (`Raw`, each knowing its key, file and line) to a validated NodeConfig:
 * every default lives here, so the three loaders (config file, flags, Canal conf dir) only
 * say where each value came from and cannot disagree about defaults or rules.
 */
import { resolve } from "node:path";
import { CanalConfigError } from "../errors.js";
import { parseNatsServers, parseZooKeeperAddress } from "./addresses.js";
import { DEFAULT_SUBJECT_TEMPLATE, reservedPrefixOf, streamSubjectOf, templateProblem } from "../actors/sink/subject.js";
import type { DestinationConfig, NodeConfig, SinkConfig, SourceConfig, StartConfig, StoreConfig, ZooKeeperConfig } from "./types.js";
import * as v from "./values.js";
import { describeWhere, invalid, missing, type Raw, type Where } from "./where.js";

/** Names the key of a field that is absent, for "missing" and cross-field messages. */
export type At = (field: string) => Where;

export interface RawSource {
  at: At;
  host?: Raw;
  port?: Raw;
  user?: Raw;
  password?: Raw;
  serverId?: Raw;
  connectionCharset?: Raw;
  timeZone?: Raw;
  gtidMode?: Raw;
}

export interface RawDestination {
  at: At;
  name: Raw;
  source: RawSource;
  filter: { regex?: Raw; blackRegex?: Raw; field?: Raw; blackField?: Raw; queryDml?: Raw; queryDcl?: Raw; queryDdl?: Raw };
  start: { journalName?: Raw; position?: Raw; timestamp?: Raw; gtid?: Raw };
  store: { maxEntries?: Raw; maxBytes?: Raw; batchMode?: Raw; memUnit?: Raw };
  ddlIsolation?: Raw;
  transactionSize?: Raw;
  preferredNode?: Raw;
  sink?: RawSink;
}

/** `sink: true`, or its mapping; `enabled` false (or absent with no other key) means no sink. */
export interface RawSink {
  at: At;
  enabled?: Raw;
  /** The sink's own NATS servers (comma-separated), or `true` for the node's. */
  nats?: Raw;
  stream?: Raw;
  subject?: Raw;
  clientId?: Raw;
  batchSize?: Raw;
  getTimeoutMs?: Raw;
  duplicateWindowMs?: Raw;
  publishTimeoutMs?: Raw;
}

export interface RawZooKeeper {
  /** `hosts[/chroot]`. */
  connect: Raw;
  sessionTimeoutMs?: Raw;
  fenceAfterMs?: Raw;
  antiFlapDelayMs?: Raw;
}

export interface RawNode {
  at: At;
  nodeId?: Raw;
  bind?: Raw;
  registerIp?: Raw;
  port?: Raw;
  metricsPort?: Raw;
  logLevel?: Raw;
  user?: Raw;
  passwordHash?: Raw;
  dataDir?: Raw;
  zookeeper?: RawZooKeeper;
  /** Comma-separated NATS server URLs. */
  nats?: Raw;
  destinations: RawDestination[];
}

export interface BuildContext {
  /** Relative paths (dataDir) are resolved against this directory. */
  baseDir: string;
  /** Host name for the default nodeId. */
  hostname: string;
  /** Zone for TIMESTAMP rendering when a destination sets none: the process's, as Canal uses the JVM's. */
  defaultTimeZone: string;
}

export const DEFAULTS = {
  bind: "0.0.0.0",
  port: 11111,
  metricsPort: 11112,
  logLevel: "info",
  dataDir: "data",
  sourcePort: 3306,
  connectionCharset: "UTF-8",
  zookeeper: { sessionTimeoutMs: 4000, antiFlapDelayMs: 200 },
  filter: { regex: ".*\\..*", blackRegex: "", field: "", blackField: "", queryDml: false, queryDcl: false, queryDdl: false },
  store: { maxEntries: 16384, batchMode: "MEMSIZE", memUnit: 1024 },
  ddlIsolation: false,
  transactionSize: 1024,
  sink: { clientId: 1001, batchSize: 50, getTimeoutMs: 100, duplicateWindowMs: 300_000, publishTimeoutMs: 5000 },
} as const;

/** `f(raw)` when the value is present, else `fallback`. */
function opt<T>(raw: Raw | undefined, f: (raw: Raw) => T, fallback: T): T {
  return v.isAbsent(raw) ? fallback : f(raw);
}

function required<T>(raw: Raw | undefined, where: Where, expected: string, f: (raw: Raw) => T): T {
  if (v.isAbsent(raw)) throw missing(where, expected);
  return f(raw);
}

export function buildNodeConfig(raw: RawNode, ctx: BuildContext): NodeConfig {
  const port = opt(raw.port, v.port, DEFAULTS.port);
  const bind = opt(raw.bind, v.host, DEFAULTS.bind);
  const metricsPort = opt(raw.metricsPort, v.portOrOff, DEFAULTS.metricsPort);
  if (metricsPort === port) {
    throw new CanalConfigError(`${describeWhere(raw.metricsPort?.where ?? raw.at("metricsPort"))}: ${metricsPort} is also the client port (expected a different port, or 0 to turn metrics off)`);
  }
  const user = opt(raw.user, v.text, "");
  const passwordHash = opt(raw.passwordHash, v.passwordHash, "");
  if (user !== "" && passwordHash === "") {
    // Canal's CanalController refuses this too: a user without a password would accept anyone.
    throw new CanalConfigError(
      `${describeWhere(raw.user!.where)}: ${JSON.stringify(user)} is set but ${raw.at("passwordHash").key} is empty (expected ${raw.at("passwordHash").key} too, hex(SHA1(SHA1(password))); Canal refuses a user without a password as well)`,
    );
  }
  const nodeId = opt(raw.nodeId, (r) => v.nameToken(r, "node id"), defaultNodeId(ctx.hostname, port));
  const nats = v.isAbsent(raw.nats) ? undefined : { servers: parseNatsServers(raw.nats) };
  const zookeeper = raw.zookeeper === undefined || v.isAbsent(raw.zookeeper.connect) ? undefined : buildZooKeeper(raw.zookeeper);
  const destinations = raw.destinations.map((d) => buildDestination(d, nodeId, ctx, nats?.servers, zookeeper));
  if (destinations.length === 0) throw missing(raw.at("destinations"), "at least one destination");
  const seen = new Set<string>();
  raw.destinations.forEach((d, i) => {
    const name = destinations[i]!.name;
    if (seen.has(name)) throw new CanalConfigError(`${describeWhere(d.name.where)}: destination ${JSON.stringify(name)} is listed twice (expected each destination once)`);
    seen.add(name);
  });
  return {
    nodeId,
    bind,
    registerIp: opt(raw.registerIp, v.host, undefined),
    port,
    metricsPort,
    logLevel: opt(raw.logLevel, v.logLevel, DEFAULTS.logLevel),
    user,
    passwordHash,
    dataDir: resolve(ctx.baseDir, opt(raw.dataDir, v.text, DEFAULTS.dataDir)),
    zookeeper,
    nats,
    destinations,
  };
}

/** `db7-11111` from host `db7.example.com`: unique per node on a host, stable across restarts. */
function defaultNodeId(hostname: string, port: number): string {
  const short = hostname.split(".")[0]!.replace(/[^A-Za-z0-9_-]/g, "-") || "node";
  return `${short}-${port}`;
}

function buildZooKeeper(raw: RawZooKeeper): ZooKeeperConfig {
  const address = parseZooKeeperAddress(raw.connect);
  const sessionTimeoutMs = opt(raw.sessionTimeoutMs, (r) => v.durationMs(r, 1000, 600_000), DEFAULTS.zookeeper.sessionTimeoutMs);
  const fenceAfterMs = opt(raw.fenceAfterMs, (r) => v.durationMs(r, 1, sessionTimeoutMs - 1), Math.floor(sessionTimeoutMs / 2));
  return {
    servers: address.servers,
    chroot: address.chroot,
    sessionTimeoutMs,
    fenceAfterMs,
    antiFlapDelayMs: opt(raw.antiFlapDelayMs, (r) => v.durationMs(r, 0, 60_000), DEFAULTS.zookeeper.antiFlapDelayMs),
  };
}

function buildDestination(raw: RawDestination, nodeId: string, ctx: BuildContext, nats: string[] | undefined, zookeeper: ZooKeeperConfig | undefined): DestinationConfig {
  const name = v.nameToken(raw.name, "destination name");
  const source = buildSource(raw.source, raw.start.gtid, nodeId, name, ctx);
  const start = buildStart(raw);
  if (start.gtid !== undefined && !source.gtidMode) {
    throw new CanalConfigError(`${describeWhere(raw.start.gtid!.where)}: ${JSON.stringify(start.gtid)} is set but ${describeWhere(raw.source.gtidMode!.where)} is false (expected GTID mode on to start from a GTID)`);
  }
  return {
    name,
    source,
    filter: {
      regex: opt(raw.filter.regex, (r) => v.tableFilter(r, true), DEFAULTS.filter.regex),
      blackRegex: opt(raw.filter.blackRegex, (r) => v.tableFilter(r, false), DEFAULTS.filter.blackRegex),
      field: opt(raw.filter.field, v.fieldFilter, DEFAULTS.filter.field),
      blackField: opt(raw.filter.blackField, v.fieldFilter, DEFAULTS.filter.blackField),
      queryDml: opt(raw.filter.queryDml, v.bool, DEFAULTS.filter.queryDml),
      queryDcl: opt(raw.filter.queryDcl, v.bool, DEFAULTS.filter.queryDcl),
      queryDdl: opt(raw.filter.queryDdl, v.bool, DEFAULTS.filter.queryDdl),
    },
    start,
    store: buildStore(raw.store),
    ddlIsolation: opt(raw.ddlIsolation, v.bool, DEFAULTS.ddlIsolation),
    transactionSize: opt(raw.transactionSize, (r) => v.integer(r, 1, 1 << 20), DEFAULTS.transactionSize),
    preferredNode: opt(raw.preferredNode, v.nodeAddress, undefined),
    sink: raw.sink === undefined ? undefined : buildSink(raw.sink, name, nats, zookeeper),
  };
}

/** The JetStream sink; undefined when `enabled` is false. */
function buildSink(raw: RawSink, destination: string, nodeNats: string[] | undefined, zookeeper: ZooKeeperConfig | undefined): SinkConfig | undefined {
  if (!opt(raw.enabled, v.bool, true)) return undefined;
  // `nats: true` (or absent) means the node's servers; a string names the sink's own.
  const own = raw.nats === undefined || v.isAbsent(raw.nats) || raw.nats.value === true || raw.nats.value === "true" ? undefined : parseNatsServers(raw.nats);
  const servers = own ?? (nodeNats === undefined ? undefined : [...nodeNats]);
  if (servers === undefined) throw missing(raw.at("nats"), "NATS servers for the JetStream sink: the top-level nats (--nats), or the sink's own nats");
  const subject = opt(raw.subject, v.text, DEFAULT_SUBJECT_TEMPLATE);
  const subjectProblem = templateProblem(subject);
  if (subjectProblem !== undefined) throw invalid(raw.subject!, subjectProblem, "a NATS subject template such as canal.{destination}.{database}.{table}");
  const reserved = reservedPrefixOf(subject, destination);
  if (reserved !== undefined) {
    const where = raw.subject ?? { value: subject, where: raw.at("subject") };
    throw invalid(where, `gives destination ${destination} the subjects ${streamSubjectOf(subject, destination)}, which overlap ${reserved}.> (inspection and control plane)`, "a template or destination name outside canal.inspect and canal.admin");
  }
  const duplicateWindowMs = opt(raw.duplicateWindowMs, (r) => v.durationMs(r, 1000, 7 * 86_400_000), DEFAULTS.sink.duplicateWindowMs);
  if (zookeeper !== undefined && duplicateWindowMs < 2 * zookeeper.sessionTimeoutMs + zookeeper.antiFlapDelayMs) {
    throw invalid(
      raw.duplicateWindowMs ?? { value: duplicateWindowMs, where: raw.at("duplicateWindowMs") },
      `is shorter than a failover may take (twice the ZooKeeper session timeout ${zookeeper.sessionTimeoutMs} ms plus the anti-flap delay ${zookeeper.antiFlapDelayMs} ms), so a replay after failover could be stored twice`,
      `at least ${2 * zookeeper.sessionTimeoutMs + zookeeper.antiFlapDelayMs} ms`,
    );
  }
  return {
    servers,
    stream: opt(raw.stream, v.streamName, `CANAL_${destination}`),
    subject,
    clientId: opt(raw.clientId, (r) => v.integer(r, 1, 32767, "a client id"), DEFAULTS.sink.clientId),
    batchSize: opt(raw.batchSize, (r) => v.integer(r, 1, 1 << 20), DEFAULTS.sink.batchSize),
    getTimeoutMs: opt(raw.getTimeoutMs, (r) => v.durationMs(r, 1, 60_000), DEFAULTS.sink.getTimeoutMs),
    duplicateWindowMs,
    publishTimeoutMs: opt(raw.publishTimeoutMs, (r) => v.durationMs(r, 100, 600_000), DEFAULTS.sink.publishTimeoutMs),
  };
}

function buildSource(raw: RawSource, gtid: Raw | undefined, nodeId: string, destination: string, ctx: BuildContext): SourceConfig {
  return {
    host: required(raw.host, raw.at("host"), "the database host", v.host),
    port: opt(raw.port, v.port, DEFAULTS.sourcePort),
    user: required(raw.user, raw.at("user"), "the database user canal-ts replicates as", v.text),
    // Not trimmed and not "blank means default": a password is what it is.
    password: raw.password === undefined || raw.password.value === null ? "" : String(raw.password.value),
    serverId: opt(raw.serverId, v.serverId, defaultServerId(nodeId, destination)),
    connectionCharset: opt(raw.connectionCharset, v.connectionCharset, DEFAULTS.connectionCharset),
    timeZone: opt(raw.timeZone, v.timeZone, ctx.defaultTimeZone),
    // Setting a start GTID means resuming by GTID unless said otherwise.
    gtidMode: opt(raw.gtidMode, v.bool, !v.isAbsent(gtid)),
  };
}

/**
 * A replica server id no database server or other replica is likely to use: FNV-1a of
 * `nodeId/destination` above one million. Stable across restarts; different per node, so two
 * nodes of one cluster never present the same id to the database.
 */
export function defaultServerId(nodeId: string, destination: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(`${nodeId}/${destination}`, "utf8")) {
    hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  }
  return 1_000_000 + (hash % (4294967295 - 1_000_000));
}

function buildStart(raw: RawDestination): StartConfig {
  const s = raw.start;
  const start: StartConfig = {
    journalName: opt(s.journalName, v.journalName, undefined),
    position: opt(s.position, (r) => v.integer(r, 4, Number.MAX_SAFE_INTEGER, "a binlog offset"), undefined),
    timestamp: opt(s.timestamp, (r) => v.integer(r, 0, Number.MAX_SAFE_INTEGER, "a timestamp in epoch milliseconds"), undefined),
    gtid: opt(s.gtid, v.gtid, undefined),
  };
  if (start.position !== undefined && start.journalName === undefined) {
    throw new CanalConfigError(`${describeWhere(s.position!.where)}: ${start.position} is set without ${raw.at("start.journalName").key} (expected the binlog file the offset is in)`);
  }
  if (start.gtid !== undefined && start.journalName !== undefined) {
    throw new CanalConfigError(
      `${describeWhere(s.gtid!.where)}: ${JSON.stringify(start.gtid)} is set together with ${describeWhere(s.journalName!.where)} (expected a GTID or a binlog file and offset, not both)`,
    );
  }
  return start;
}

function buildStore(raw: RawDestination["store"]): StoreConfig {
  const maxEntries = opt(raw.maxEntries, (r) => v.integer(r, 1, 1 << 24), DEFAULTS.store.maxEntries);
  const memUnit = opt(raw.memUnit, (r) => v.integer(r, 1, 1 << 20), DEFAULTS.store.memUnit);
  return {
    maxEntries,
    maxBytes: opt(raw.maxBytes, (r) => v.byteSize(r, 1024), maxEntries * memUnit),
    batchMode: opt(raw.batchMode, v.batchMode, DEFAULTS.store.batchMode),
    memUnit,
  };
}
