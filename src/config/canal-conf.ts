/**
 * An existing Canal deployment's conf dir: `canal.properties` and, for each destination of
 * `canal.destinations`, `<destination>/instance.properties` (canal-facts.md §8). A Canal user
 * switches by pointing canal-ts at that directory.
 *
 * Lookup order, as Canal's: an environment variable with the dotted key's name
 * (`canal.instance.master.address=… canal-ts server --canal-conf conf/`, as Canal's Docker
 * image is driven), then for instance keys `instance.properties`, then `canal.properties`. A
 * blank value counts as missing and falls through to the next place, then to the default.
 * `${key}` and `${key:default}` placeholders resolve through the same order.
 *
 * Relative paths are resolved against the conf dir, and `canal.conf.dir` means the conf dir
 * itself: Canal resolves against `<canal home>/bin`, a sibling of `conf/`, so Canal's
 * `../conf`-style paths land in the same place whatever the conf dir is called.
 *
 * Keys canal-ts does not use are returned as warnings (with a reason where there is one),
 * never dropped silently.
 */
import { readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { CanalConfigError } from "../errors.js";
import { hostPortParts } from "./addresses.js";
import { buildNodeConfig, type RawDestination, type RawNode } from "./build.js";
import { type LoadedConfig, type LoadOptions, loadContext } from "./load-options.js";
import { expandPlaceholders } from "./placeholders.js";
import { decodePropertiesBytes, parseProperties, type PropertyValue } from "./properties.js";
import { isAbsent } from "./values.js";
import { type ConfigWarning, invalid, type Raw, type Where } from "./where.js";

/** canal.properties keys canal-ts reads. */
export const CANAL_NODE_KEYS = [
  "canal.ip",
  "canal.register.ip",
  "canal.port",
  "canal.metrics.pull.port",
  "canal.user",
  "canal.passwd",
  "canal.zkServers",
  "canal.file.data.dir",
  "canal.destinations",
  "canal.destinations.expr",
] as const;

/** Instance keys canal-ts reads, from instance.properties or (as defaults) canal.properties. */
export const CANAL_INSTANCE_KEYS = [
  "canal.instance.master.address",
  "canal.instance.master.journal.name",
  "canal.instance.master.position",
  "canal.instance.master.timestamp",
  "canal.instance.master.gtid",
  "canal.instance.gtidon",
  "canal.instance.dbUsername",
  "canal.instance.dbPassword",
  "canal.instance.mysql.slaveId",
  "canal.instance.connectionCharset",
  "canal.instance.filter.regex",
  "canal.instance.filter.black.regex",
  "canal.instance.filter.field",
  "canal.instance.filter.black.field",
  "canal.instance.filter.query.dml",
  "canal.instance.filter.query.dcl",
  "canal.instance.filter.query.ddl",
  "canal.instance.memory.buffer.size",
  "canal.instance.memory.buffer.memunit",
  "canal.instance.memory.batch.mode",
  "canal.instance.get.ddl.isolation",
  "canal.instance.transaction.size",
] as const;

/**
 * Canal keys whose value, when it is one of these, asks for what canal-ts does anyway; they
 * are accepted without a warning. `true` accepts any value.
 */
const MATCHING_BEHAVIOUR: Readonly<Record<string, readonly string[] | true>> = {
  "canal.conf.dir": true,
  "canal.serverMode": ["tcp"],
  "canal.withoutNetty": ["false"],
  "canal.instance.global.mode": ["spring"],
  "canal.instance.global.lazy": ["false"],
  // canal-ts picks the cursor store itself: ZooKeeper with canal.zkServers, else a file.
  "canal.instance.global.spring.xml": ["classpath:spring/file-instance.xml", "classpath:spring/default-instance.xml"],
  "canal.instance.memory.rawEntry": ["true"],
};

/** Why a family of Canal keys is ignored, by key prefix (first match wins). */
const IGNORED_BECAUSE: ReadonlyArray<readonly [string, string]> = [
  ["canal.instance.tsdb.", "canal-ts takes table schemas from FULL binlog metadata or the database, without a table-meta history store"],
  ["canal.mq.", "canal-ts has no MQ producers; it serves Canal TCP clients and an optional NATS JetStream sink"],
  ["canal.serverMode", "canal-ts serves Canal TCP clients only (and an optional NATS JetStream sink)"],
  ["canal.admin.", "canal-ts has no canal-admin console; use the CLI and the NATS control subjects"],
  ["canal.instance.standby.", "canal-ts does not switch to a standby database; a GTID start keeps the stream across a database failover"],
  ["canal.instance.detecting.", "canal-ts does not run heartbeat SQL against the database"],
  ["canal.instance.filter.", "canal-ts supports the table, field and statement filters (filter.regex, filter.black.regex, filter.field, filter.black.field, filter.query.dml/dcl/ddl)"],
  ["canal.instance.global.", "canal-ts picks the cursor store itself: ZooKeeper when canal.zkServers is set, else a file under the data dir"],
  ["canal.auto.scan", "canal-ts does not watch the conf dir; restart it to pick up changes"],
  ["canal.instance.network.", "canal-ts uses the operating system's socket buffers and its own timeouts"],
  ["canal.file.flush.period", "canal-ts decides itself when to write the standalone cursor file (after acks)"],
  ["canal.zookeeper.flush.period", "canal-ts writes each acked cursor to ZooKeeper at once; a client's next request waits for it"],
];

const GENERIC_REASON = "not supported by canal-ts; ignored";

/** One place a value may come from, in lookup order. */
interface Layer {
  source: string;
  values: Map<string, PropertyValue>;
  /** Whether lines are meaningful (files) or not (the environment). */
  hasLines: boolean;
}

/** Resolves keys through layers in order, with placeholders and blank-means-missing. */
class Chain {
  constructor(
    private readonly layers: Layer[],
    private readonly confDir: string,
  ) {}

  /** The first non-blank value, placeholders expanded. */
  get(key: string, options: { secret?: boolean; blankIsAValue?: boolean } = {}): Raw | undefined {
    for (const layer of this.layers) {
      const found = layer.values.get(key);
      if (found === undefined) continue;
      const raw: Raw = { value: found.value, where: this.where(layer, key, found), ...(options.secret ? { secret: true } : {}) };
      if (!options.blankIsAValue && isAbsent(raw)) continue;
      return expandPlaceholders(raw, (name) => this.lookupText(name));
    }
    return undefined;
  }

  private lookupText(name: string): string | undefined {
    if (name === "canal.conf.dir") return this.confDir;
    for (const layer of this.layers) {
      const found = layer.values.get(name);
      if (found !== undefined && found.value.trim() !== "") return found.value.trim();
    }
    return undefined;
  }

  private where(layer: Layer, key: string, found: PropertyValue): Where {
    return layer.hasLines ? { key, source: layer.source, line: found.line } : { key, source: layer.source };
  }
}

function readPropertiesFile(path: string): Map<string, PropertyValue> | undefined {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new CanalConfigError(`${path}: cannot be read (${(err as Error).message})`, { cause: err });
  }
  return parseProperties(decodePropertiesBytes(bytes), path);
}

/** Reads a Canal conf dir (or its canal.properties file) into a validated NodeConfig. */
export function loadCanalConfDir(path: string, options: LoadOptions = {}): LoadedConfig {
  const given = resolve(options.cwd ?? process.cwd(), path);
  const confDir = isFile(given) ? resolve(given, "..") : given;
  const canalFile = join(confDir, "canal.properties");
  const canal = readPropertiesFile(canalFile);
  if (canal === undefined) throw new CanalConfigError(`${canalFile}: not found (expected a Canal conf dir containing canal.properties)`);
  const envLayer: Layer = { source: "the environment", values: dottedEnvironment(options.env ?? process.env), hasLines: false };
  const canalLayer: Layer = { source: canalFile, values: canal, hasLines: true };
  const nodeChain = new Chain([envLayer, canalLayer], confDir);
  const warnings: ConfigWarning[] = [];
  const used = new Set<string>([...CANAL_NODE_KEYS, ...CANAL_INSTANCE_KEYS]);

  const destinationsRaw = nodeChain.get("canal.destinations") ?? nodeChain.get("canal.destinations.expr");
  const names = destinationsRaw === undefined ? [] : destinationNames(destinationsRaw);
  const destinations: RawDestination[] = names.map((name) => {
    const instanceFile = join(confDir, name.value as string, "instance.properties");
    const instance = readPropertiesFile(instanceFile);
    if (instance === undefined) {
      warnings.push({ where: { key: String(name.value), source: instanceFile }, message: "no instance.properties; this destination uses canal.properties and the defaults" });
    } else {
      warnings.push(...unusedKeys(instance, instanceFile, used));
    }
    const layers = instance === undefined ? [envLayer, canalLayer] : [envLayer, { source: instanceFile, values: instance, hasLines: true }, canalLayer];
    return readDestination(name, new Chain(layers, confDir), instanceFile, warnings);
  });
  warnings.unshift(...unusedKeys(canal, canalFile, used), ...unusedKeys(envLayer.values, envLayer.source, used, false));

  const zkServers = nodeChain.get("canal.zkServers");
  const raw: RawNode = {
    at: (field) => ({ key: NODE_FIELD_KEYS[field] ?? field, source: canalFile }),
    bind: nodeChain.get("canal.ip"),
    registerIp: nodeChain.get("canal.register.ip"),
    port: nodeChain.get("canal.port"),
    metricsPort: nodeChain.get("canal.metrics.pull.port"),
    user: nodeChain.get("canal.user"),
    passwordHash: nodeChain.get("canal.passwd", { secret: true }),
    dataDir: nodeChain.get("canal.file.data.dir"),
    zookeeper: zkServers === undefined ? undefined : { connect: zkServers },
    destinations,
  };
  return { config: buildNodeConfig(raw, { ...loadContext(options), baseDir: confDir }), warnings };
}

const NODE_FIELD_KEYS: Readonly<Record<string, string>> = {
  passwordHash: "canal.passwd",
  metricsPort: "canal.metrics.pull.port",
  destinations: "canal.destinations",
};

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** Environment variables named like Canal keys (`canal.port`), which Canal reads before its files. */
function dottedEnvironment(env: Readonly<Record<string, string | undefined>>): Map<string, PropertyValue> {
  const values = new Map<string, PropertyValue>();
  for (const [name, value] of Object.entries(env)) {
    if (name.startsWith("canal.") && value !== undefined) values.set(name, { value, line: 0 });
  }
  return values;
}

/**
 * `canal.destinations` (`a,b`) or `canal.destinations.expr` (`inst{1-3}` → inst1, inst2,
 * inst3); each name keeps the where of the key it came from.
 */
function destinationNames(raw: Raw): Raw[] {
  const names: Raw[] = [];
  for (const part of String(raw.value).split(",")) {
    const name = part.trim();
    if (name === "") continue;
    const range = /^(.*)\{(\d+)-(\d+)\}(.*)$/.exec(name);
    if (range === null) {
      names.push({ ...raw, value: name });
      continue;
    }
    const [, prefix, from, to, suffix] = range as unknown as [string, string, string, string, string];
    if (Number(to) < Number(from) || Number(to) - Number(from) > 1000) throw invalid(raw, `has an invalid range {${from}-${to}}`, "a range {first-last} with first ≤ last, at most 1000 names");
    for (let i = Number(from); i <= Number(to); i++) names.push({ ...raw, value: `${prefix}${i}${suffix}` });
  }
  return names;
}

function readDestination(name: Raw, chain: Chain, instanceFile: string, warnings: ConfigWarning[]): RawDestination {
  const keyOf: Readonly<Record<string, string>> = {
    host: "canal.instance.master.address",
    user: "canal.instance.dbUsername",
    "start.journalName": "canal.instance.master.journal.name",
  };
  const at = (field: string): Where => ({ key: keyOf[field] ?? field, source: instanceFile });
  const defaulted = (key: string, value: string): Raw => ({ value, where: { key: `${key} (Canal's default)`, source: instanceFile } });
  const address = chain.get("canal.instance.master.address") ?? defaulted("canal.instance.master.address", "127.0.0.1:3306");
  const { host, port } = hostPortParts(address, "host:port, IPv6 as [::1]:3306");
  const gtidMode = chain.get("canal.instance.gtidon");
  const gtidOn = gtidMode !== undefined && String(gtidMode.value).trim().toLowerCase() === "true";
  const start = {
    journalName: chain.get("canal.instance.master.journal.name"),
    position: chain.get("canal.instance.master.position"),
    timestamp: chain.get("canal.instance.master.timestamp"),
    gtid: chain.get("canal.instance.master.gtid"),
  };
  // Canal uses master.gtid only in GTID mode, and ignores the file position in GTID mode.
  if (!gtidOn && start.gtid !== undefined) {
    warnings.push({ where: start.gtid.where, message: "ignored because canal.instance.gtidon is not true, as Canal ignores it" });
    start.gtid = undefined;
  }
  if (gtidOn && start.gtid !== undefined && start.journalName !== undefined) {
    warnings.push({ where: start.journalName.where, message: "ignored in GTID mode (canal.instance.gtidon=true), as Canal ignores it" });
    start.journalName = undefined;
    start.position = undefined;
  }
  const slaveId = chain.get("canal.instance.mysql.slaveId");
  return {
    at,
    name,
    source: {
      at,
      host,
      port,
      user: chain.get("canal.instance.dbUsername") ?? defaulted("canal.instance.dbUsername", "canal"),
      // A blank password is an empty password here (Canal would fall back to its xml default "retl").
      password: chain.get("canal.instance.dbPassword", { secret: true, blankIsAValue: true }) ?? { ...defaulted("canal.instance.dbPassword", "canal"), secret: true },
      // Canal: 0 means "generate one".
      serverId: slaveId !== undefined && String(slaveId.value).trim() === "0" ? undefined : slaveId,
      connectionCharset: chain.get("canal.instance.connectionCharset"),
      gtidMode,
    },
    filter: {
      regex: chain.get("canal.instance.filter.regex"),
      blackRegex: chain.get("canal.instance.filter.black.regex"),
      field: chain.get("canal.instance.filter.field"),
      blackField: chain.get("canal.instance.filter.black.field"),
      queryDml: chain.get("canal.instance.filter.query.dml"),
      queryDcl: chain.get("canal.instance.filter.query.dcl"),
      queryDdl: chain.get("canal.instance.filter.query.ddl"),
    },
    start,
    store: {
      maxEntries: chain.get("canal.instance.memory.buffer.size"),
      batchMode: chain.get("canal.instance.memory.batch.mode"),
      memUnit: chain.get("canal.instance.memory.buffer.memunit"),
    },
    ddlIsolation: chain.get("canal.instance.get.ddl.isolation"),
    transactionSize: chain.get("canal.instance.transaction.size"),
  };
}

/** Warnings for the keys of one file (or the environment) that canal-ts does not use. */
function unusedKeys(values: Map<string, PropertyValue>, source: string, used: ReadonlySet<string>, hasLines = true): ConfigWarning[] {
  const warnings: ConfigWarning[] = [];
  for (const [key, { value, line }] of values) {
    // A blank value asks for nothing (Canal too treats it as missing).
    if (used.has(key) || value.trim() === "") continue;
    const matching = MATCHING_BEHAVIOUR[key];
    if (matching === true || (matching !== undefined && matching.includes(value.trim()))) continue;
    const reason = IGNORED_BECAUSE.find(([prefix]) => key.startsWith(prefix))?.[1] ?? GENERIC_REASON;
    warnings.push({ where: hasLines ? { key, source, line } : { key, source }, message: reason === GENERIC_REASON ? reason : `ignored: ${reason}` });
  }
  return warnings;
}
