/**
 * The canal-ts config file, YAML or JSON (JSON is read by the same YAML 1.2 parser, so both
 * get line numbers in messages). Unknown keys are errors: a typo must not silently fall back
 * to a default. String values may use `${ENV_VAR}` / `${ENV_VAR:default}` placeholders.
 *
 * ```yaml
 * nodeId: node-a
 * port: 11111
 * user: canal
 * passwordHash: e3619321c1a937c46a0d8bd1dac39f93b27d4458
 * zookeeper: zk1:2181,zk2:2181,zk3:2181/canal
 * destinations:
 *   example:
 *     source: mysql://canal:${MYSQL_PASSWORD}@db1:3306
 *     filter: shop\..*
 * ```
 */
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { isAlias, isMap, isScalar, isSeq, LineCounter, type Node, parseDocument, type Document } from "yaml";
import { CanalConfigError } from "../errors.js";
import { hostPortParts, sourceUriParts } from "./addresses.js";
import { type At, buildNodeConfig, type RawDestination, type RawNode, type RawSink, type RawSource, type RawZooKeeper } from "./build.js";
import { type LoadedConfig, type LoadOptions, loadContext } from "./load-options.js";
import { expandPlaceholders } from "./placeholders.js";
import { invalid, missing, type Raw, type Where } from "./where.js";

const NODE_KEYS = ["nodeId", "bind", "registerIp", "port", "metricsPort", "logLevel", "user", "passwordHash", "dataDir", "zookeeper", "nats", "destinations"] as const;
const ZOOKEEPER_KEYS = ["connect", "sessionTimeoutMs", "fenceAfterMs", "antiFlapDelayMs"] as const;
const NATS_KEYS = ["servers"] as const;
const DESTINATION_KEYS = ["source", "filter", "start", "store", "ddlIsolation", "transactionSize", "preferredNode", "sink"] as const;
const SOURCE_KEYS = ["url", "address", "host", "port", "user", "password", "serverId", "connectionCharset", "timeZone", "gtidMode"] as const;
const FILTER_KEYS = ["regex", "blackRegex", "field", "blackField", "queryDml", "queryDcl", "queryDdl"] as const;
const START_KEYS = ["journalName", "position", "timestamp", "gtid"] as const;
const STORE_KEYS = ["maxEntries", "maxBytes", "batchMode", "memUnit"] as const;
const SINK_KEYS = ["enabled", "nats", "stream", "subject", "clientId", "batchSize", "getTimeoutMs", "duplicateWindowMs", "publishTimeoutMs"] as const;

/** Every key the file accepts, by section, for the option table's completeness test. */
export const CONFIG_FILE_KEYS = {
  node: NODE_KEYS,
  zookeeper: ZOOKEEPER_KEYS,
  nats: NATS_KEYS,
  destination: DESTINATION_KEYS,
  source: SOURCE_KEYS,
  filter: FILTER_KEYS,
  start: START_KEYS,
  store: STORE_KEYS,
  sink: SINK_KEYS,
} as const;

/** Reads and validates a config file; relative paths in it are relative to the file. */
export function loadConfigFile(path: string, options: LoadOptions = {}): LoadedConfig {
  const absolute = resolve(options.cwd ?? process.cwd(), path);
  let text: string;
  try {
    text = readFileSync(absolute, "utf8");
  } catch (err) {
    throw new CanalConfigError(`config file ${absolute}: cannot be read (${(err as Error).message})`, { cause: err });
  }
  return parseConfigText(text, absolute, { ...options, cwd: dirname(absolute) });
}

/** Parses config text; `source` names it in messages, `options.cwd` anchors relative paths. */
export function parseConfigText(text: string, source: string, options: LoadOptions = {}): LoadedConfig {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
  const firstError = doc.errors[0];
  if (firstError !== undefined) {
    const line = lines.linePos(firstError.pos[0]).line;
    throw new CanalConfigError(`${source}:${line}: not valid YAML or JSON: ${firstError.message} (expected YAML 1.2 or JSON, each key once)`);
  }
  const ctx = loadContext(options);
  const env = options.env ?? process.env;
  const reader = new YamlReader(doc, lines, source, (name) => env[name]);
  const rootWhere: Where = { key: "(top level)", source, line: 1 };
  const root = reader.map(doc.contents, rootWhere, NODE_KEYS, "");
  return { config: buildNodeConfig(readNode(reader, root, source), ctx), warnings: [] };
}

interface Entry {
  node: Node | null;
  where: Where;
}

/** Walks the YAML tree: each value with its dotted key and line, unknown keys refused. */
class YamlReader {
  constructor(
    private readonly doc: Document,
    private readonly lines: LineCounter,
    private readonly source: string,
    private readonly env: (name: string) => string | undefined,
  ) {}

  /** The entries of a mapping at `where`, whose keys must be among `allowed` ("any": names the user chooses). */
  map(node: Node | null, where: Where, allowed: readonly string[] | "any", prefix: string): Map<string, Entry> {
    const resolved = this.deref(node);
    if (resolved === null || (isScalar(resolved) && resolved.value === null)) return new Map();
    const expected = allowed === "any" ? "a mapping of destination names to destinations" : `a mapping with keys ${allowed.join(", ")}`;
    if (!isMap(resolved)) throw invalid(this.leafRaw(resolved, where), "is not a mapping", expected);
    const entries = new Map<string, Entry>();
    for (const pair of resolved.items) {
      const keyNode = pair.key as Node | null;
      const key = isScalar(keyNode) ? String(keyNode.value) : "";
      const keyWhere: Where = { key: prefix + key, source: this.source, line: this.lineOf(keyNode) ?? where.line };
      if (allowed !== "any" && !allowed.includes(key)) {
        throw new CanalConfigError(`${keyWhere.key} in ${this.source}:${keyWhere.line}: unknown key (expected one of: ${allowed.join(", ")})`);
      }
      entries.set(key, { node: pair.value as Node | null, where: keyWhere });
    }
    return entries;
  }

  /** A scalar value as a Raw, `${ENV}` placeholders expanded. */
  leaf(entry: Entry | undefined, secret = false): Raw | undefined {
    if (entry === undefined) return undefined;
    const raw = this.leafRaw(this.deref(entry.node), entry.where);
    if (isMap(this.deref(entry.node)) || isSeq(this.deref(entry.node))) throw invalid(raw, "is not a single value", "a string, number or boolean");
    return expandPlaceholders(secret ? { ...raw, secret } : raw, this.env);
  }

  isMapping(entry: Entry | undefined): boolean {
    return entry !== undefined && isMap(this.deref(entry.node));
  }

  private leafRaw(node: Node | null, where: Where): Raw {
    const value = node === null ? null : isScalar(node) ? node.value : node.toJSON();
    return { value, where: { ...where, line: this.lineOf(node) ?? where.line } };
  }

  private deref(node: Node | null): Node | null {
    return node !== null && isAlias(node) ? (node.resolve(this.doc) ?? null) : node;
  }

  private lineOf(node: Node | null | undefined): number | undefined {
    const start = node?.range?.[0];
    return start === undefined ? undefined : this.lines.linePos(start).line;
  }
}

/** Field names are dotted paths under `prefix` (`start.journalName`). */
function at(source: string, prefix: string, fallbackLine: number | undefined): At {
  return (field) => ({ key: prefix + field, source, ...(fallbackLine === undefined ? {} : { line: fallbackLine }) });
}

function readNode(r: YamlReader, root: Map<string, Entry>, source: string): RawNode {
  const leaf = (k: string) => r.leaf(root.get(k));
  const destinationsEntry = root.get("destinations");
  const destinations = destinationsEntry === undefined ? new Map<string, Entry>() : r.map(destinationsEntry.node, destinationsEntry.where, "any", "destinations.");
  return {
    at: at(source, "", undefined),
    nodeId: leaf("nodeId"),
    bind: leaf("bind"),
    registerIp: leaf("registerIp"),
    port: leaf("port"),
    metricsPort: leaf("metricsPort"),
    logLevel: leaf("logLevel"),
    user: leaf("user"),
    passwordHash: r.leaf(root.get("passwordHash"), true),
    dataDir: leaf("dataDir"),
    zookeeper: readZooKeeper(r, root.get("zookeeper")),
    nats: readNats(r, root.get("nats")),
    destinations: [...destinations].map(([name, entry]) => readDestination(r, name, entry, source)),
  };
}

function readZooKeeper(r: YamlReader, entry: Entry | undefined): RawZooKeeper | undefined {
  if (entry === undefined) return undefined;
  if (!r.isMapping(entry)) return { connect: r.leaf(entry)! };
  const m = r.map(entry.node, entry.where, ZOOKEEPER_KEYS, "zookeeper.");
  const connect = r.leaf(m.get("connect"));
  if (connect === undefined) throw missing({ ...entry.where, key: "zookeeper.connect" }, "the ZooKeeper servers, host:port[,host:port…][/chroot]");
  return {
    connect,
    sessionTimeoutMs: r.leaf(m.get("sessionTimeoutMs")),
    fenceAfterMs: r.leaf(m.get("fenceAfterMs")),
    antiFlapDelayMs: r.leaf(m.get("antiFlapDelayMs")),
  };
}

function readNats(r: YamlReader, entry: Entry | undefined): Raw | undefined {
  if (entry === undefined || !r.isMapping(entry)) return r.leaf(entry);
  return r.leaf(r.map(entry.node, entry.where, NATS_KEYS, "nats.").get("servers"));
}

function readDestination(r: YamlReader, name: string, entry: Entry, source: string): RawDestination {
  const prefix = `destinations.${name}.`;
  const m = r.map(entry.node, entry.where, DESTINATION_KEYS, prefix);
  const section = (key: string, keys: readonly string[]) => {
    const e = m.get(key);
    return e === undefined ? new Map<string, Entry>() : r.map(e.node, e.where, keys, `${prefix}${key}.`);
  };
  const filterEntry = m.get("filter");
  // `filter: REGEX` is short for `filter: { regex: REGEX }`.
  const filter = filterEntry !== undefined && !r.isMapping(filterEntry) ? new Map([["regex", filterEntry]]) : section("filter", FILTER_KEYS);
  const start = section("start", START_KEYS);
  const store = section("store", STORE_KEYS);
  return {
    at: at(source, prefix, entry.where.line),
    name: { value: name, where: entry.where },
    source: readSource(r, m.get("source"), prefix, source, entry.where),
    filter: { regex: r.leaf(filter.get("regex")), blackRegex: r.leaf(filter.get("blackRegex")), field: r.leaf(filter.get("field")), blackField: r.leaf(filter.get("blackField")), queryDml: r.leaf(filter.get("queryDml")), queryDcl: r.leaf(filter.get("queryDcl")), queryDdl: r.leaf(filter.get("queryDdl")) },
    start: { journalName: r.leaf(start.get("journalName")), position: r.leaf(start.get("position")), timestamp: r.leaf(start.get("timestamp")), gtid: r.leaf(start.get("gtid")) },
    store: { maxEntries: r.leaf(store.get("maxEntries")), maxBytes: r.leaf(store.get("maxBytes")), batchMode: r.leaf(store.get("batchMode")), memUnit: r.leaf(store.get("memUnit")) },
    ddlIsolation: r.leaf(m.get("ddlIsolation")),
    transactionSize: r.leaf(m.get("transactionSize")),
    preferredNode: r.leaf(m.get("preferredNode")),
    sink: readSink(r, m.get("sink"), prefix, source),
  };
}

/** `sink: true` (every default), `sink: false`, or a mapping of SINK_KEYS. */
function readSink(r: YamlReader, entry: Entry | undefined, prefix: string, source: string): RawSink | undefined {
  if (entry === undefined) return undefined;
  const sinkAt = at(source, `${prefix}sink.`, entry.where.line);
  if (!r.isMapping(entry)) return { at: sinkAt, enabled: r.leaf(entry) };
  const m = r.map(entry.node, entry.where, SINK_KEYS, `${prefix}sink.`);
  const leaf = (k: (typeof SINK_KEYS)[number]) => r.leaf(m.get(k));
  return {
    at: sinkAt,
    enabled: leaf("enabled"),
    nats: leaf("nats"),
    stream: leaf("stream"),
    subject: leaf("subject"),
    clientId: leaf("clientId"),
    batchSize: leaf("batchSize"),
    getTimeoutMs: leaf("getTimeoutMs"),
    duplicateWindowMs: leaf("duplicateWindowMs"),
    publishTimeoutMs: leaf("publishTimeoutMs"),
  };
}

/**
 * `source: mysql://user:pass@host:port`, or a mapping with either `url`, or `address`
 * (host:port), or `host` and `port`, plus the other fields.
 */
function readSource(r: YamlReader, entry: Entry | undefined, prefix: string, source: string, destinationWhere: Where): RawSource {
  const sourceAt = at(source, `${prefix}source.`, entry?.where.line ?? destinationWhere.line);
  if (entry === undefined) throw missing({ ...destinationWhere, key: `${prefix}source` }, "the database, as mysql://user:password@host:port or a mapping with host, port, user, password");
  if (!r.isMapping(entry)) return { at: sourceAt, ...sourceUriParts(r.leaf(entry, true)!) };
  const m = r.map(entry.node, entry.where, SOURCE_KEYS, `${prefix}source.`);
  const given = (["url", "address", "host"] as const).filter((k) => m.has(k));
  if (given.length > 1) {
    throw new CanalConfigError(`${prefix}source.${given[1]} in ${source}:${m.get(given[1]!)!.where.line}: set together with ${prefix}source.${given[0]} (expected one of url, address or host)`);
  }
  const url = r.leaf(m.get("url"), true);
  const address = r.leaf(m.get("address"));
  const fromUrl = url === undefined ? undefined : sourceUriParts(url);
  const fromAddress = address === undefined ? undefined : hostPortParts(address, "host:port, IPv6 as [::1]:3306");
  const pick = (key: "port" | "user" | "password", fromParts: Raw | undefined) => {
    const own = r.leaf(m.get(key), key === "password");
    if (own !== undefined && fromParts !== undefined) {
      throw new CanalConfigError(`${own.where.key} in ${source}:${own.where.line}: also given in ${prefix}source.${url !== undefined ? "url" : "address"} (expected it once)`);
    }
    return own ?? fromParts;
  };
  return {
    at: sourceAt,
    host: fromUrl?.host ?? fromAddress?.host ?? r.leaf(m.get("host")),
    port: pick("port", fromUrl?.port ?? fromAddress?.port),
    user: pick("user", fromUrl?.user),
    password: pick("password", fromUrl?.password),
    serverId: r.leaf(m.get("serverId")),
    connectionCharset: r.leaf(m.get("connectionCharset")),
    timeZone: r.leaf(m.get("timeZone")),
    gtidMode: r.leaf(m.get("gtidMode")),
  };
}
