/**
 * The effective configuration of one canal-ts node, after a loader (config file, quick-start
 * flags or a Canal conf dir) has applied defaults and validated every value. Each field names
 * its default and the Canal key it corresponds to; `README.md` beside this file has the table.
 */

export type LogLevel = "debug" | "info" | "warn" | "error";

/** The whole node. */
export interface NodeConfig {
  /**
   * Name of the node in logs, metrics and NATS subjects (`canal.inspect.<nodeId>.…`), so
   * letters, digits, `_` and `-` only. Default: the host name up to its first dot, `-`, the
   * port (`db7-11111`). No Canal key (Canal names a node by registerIp:port).
   */
  nodeId: string;
  /**
   * Address the TCP server and the metrics HTTP server listen on. Default `0.0.0.0`, like
   * Canal's empty `canal.ip`: a server must be reachable from clients and other nodes.
   */
  bind: string;
  /**
   * Address published in ZooKeeper (`/otter/canal/cluster/<ip:port>`, running JSON).
   * Canal `canal.register.ip`. Undefined: `resolveRegisterIp` falls back as Canal does.
   */
  registerIp: string | undefined;
  /** Canal client TCP port. Canal `canal.port`, default 11111. */
  port: number;
  /** Prometheus metrics and health HTTP port; 0 turns it off. Canal `canal.metrics.pull.port`, default 11112. */
  metricsPort: number;
  /**
   * Least severe log records written. Default "info". No Canal key (Canal configures logback.xml);
   * `canal-ts server --log-level` overrides it.
   */
  logLevel: LogLevel;
  /** User clients must authenticate as; "" accepts any. Canal `canal.user`, default "". */
  user: string;
  /**
   * hex(SHA1(SHA1(password))), lowercase; "" accepts any password. Canal `canal.passwd`,
   * default "". A user with an empty hash is refused, as Canal refuses it.
   */
  passwordHash: string;
  /** Absolute directory for cursors and other local state. Canal `canal.file.data.dir`, default `./data`. */
  dataDir: string;
  /** ZooKeeper for HA; undefined runs standalone (cursor in `dataDir`). Canal `canal.zkServers`. */
  zookeeper: ZooKeeperConfig | undefined;
  /** NATS for inspection, control and the JetStream sink; undefined runs without. No Canal key. */
  nats: NatsConfig | undefined;
  /** At least one. Canal `canal.destinations` plus `<destination>/instance.properties`. */
  destinations: DestinationConfig[];
}

export interface ZooKeeperConfig {
  /** `host:port` of each server, in the order to try them (IPv6 as `[::1]:2181`). */
  servers: string[];
  /** Path every canal-ts node prefixes to `/otter/canal`, "" for none: the `/chroot` of `--zk`. */
  chroot: string;
  /**
   * Session timeout asked of ZooKeeper. Default 4000 ms, the smallest a ZooKeeper with the
   * default tickTime (2000) grants; Canal asks 90 s and is capped at 40 s. Not configurable in Canal.
   */
  sessionTimeoutMs: number;
  /**
   * After the connection drops, a running instance stops serving this long after, before the
   * session can have expired on the server (self-fencing). Default: half the session timeout.
   */
  fenceAfterMs: number;
  /**
   * A node that was not the previous owner waits this long before contending for a freed
   * destination, so the previous owner can retake it after a glitch. Default 200 ms; Canal's
   * fixed 5 s.
   */
  antiFlapDelayMs: number;
}

export interface NatsConfig {
  /** Server URLs (`nats://host:4222`), tried in order. */
  servers: string[];
}

export interface DestinationConfig {
  /** Canal destination name: a directory, a ZooKeeper node and a NATS subject token. */
  name: string;
  source: SourceConfig;
  filter: FilterConfig;
  start: StartConfig;
  store: StoreConfig;
  /** A DDL entry ends a batch. Canal `canal.instance.get.ddl.isolation`, default false. */
  ddlIsolation: boolean;
  /** Most entries handed on as one group of a transaction. Canal `canal.instance.transaction.size`, default 1024. */
  transactionSize: number;
  /**
   * In a cluster, the node (`ip:port` as it registers) that should run this destination
   * whenever it is up: it contends first, and another node running it hands it over once the
   * preferred node is registered. Default none (balance decides). No Canal key.
   */
  preferredNode: string | undefined;
  /**
   * Publish the destination's row changes to a NATS JetStream stream in Canal's flat-message
   * JSON (src/actors/sink). Default none. Canal's nearest is `canal.serverMode` kafka/rocketMQ
   * with `canal.mq.flatMessage=true`.
   */
  sink: SinkConfig | undefined;
}

/** The JetStream sink of one destination (README.md beside this file, "sink"). */
export interface SinkConfig {
  /** NATS servers: the sink's own `servers`, else the node's `nats`. */
  servers: string[];
  /** JetStream stream, created when missing. Default `CANAL_<destination>`. */
  stream: string;
  /** Subject template with {destination}, {database}, {table}. Default `canal.{destination}.{database}.{table}`. */
  subject: string;
  /** Client id the sink reads the store as; its cursor is `<destination>/<clientId>/cursor`. Default 1001, Canal's MQ client id. */
  clientId: number;
  /** Batch size of each get, in the store's batch mode units. Canal `canal.mq.canalBatchSize`, default 50. */
  batchSize: number;
  /** Longest a get waits for a full batch before taking what is there. Canal `canal.mq.canalGetTimeout`, default 100 ms. */
  getTimeoutMs: number;
  /** Duplicate window of a stream the sink creates. Default 300000 ms (5 min); an existing stream's must be at least this. */
  duplicateWindowMs: number;
  /** How long one publish waits for JetStream's acknowledgement. Default 5000 ms. */
  publishTimeoutMs: number;
}

export interface SourceConfig {
  /** Canal `canal.instance.master.address` (host part). */
  host: string;
  /** Canal `canal.instance.master.address` (port part), default 3306. */
  port: number;
  /** Canal `canal.instance.dbUsername`. */
  user: string;
  /** Canal `canal.instance.dbPassword`. Never printed. */
  password: string;
  /**
   * Replica server id given to the database, 1–4294967295. Canal `canal.instance.mysql.slaveId`.
   * Default: derived from nodeId and destination (stable across restarts, different per node).
   */
  serverId: number;
  /** Text decoding charset. Canal `canal.instance.connectionCharset`, default UTF-8. */
  connectionCharset: string;
  /** IANA zone TIMESTAMP columns are rendered in. Default the process's zone, as Canal uses the JVM's. */
  timeZone: string;
  /** Resume by GTID instead of file and offset. Canal `canal.instance.gtidon`, default false. */
  gtidMode: boolean;
}

export interface FilterConfig {
  /** White table filter. Canal `canal.instance.filter.regex`, default `.*\..*` (every table). */
  regex: string;
  /** Black table filter. Canal `canal.instance.filter.black.regex`, default "". */
  blackRegex: string;
  /** Columns to keep, `schema.table:col1/col2,…`. Canal `canal.instance.filter.field`, default "". */
  field: string;
  /** Columns to drop. Canal `canal.instance.filter.black.field`, default "". */
  blackField: string;
  /** Drop statement DML (INSERT/UPDATE/DELETE as text) and row annotations. Canal `canal.instance.filter.query.dml`, default false. */
  queryDml: boolean;
  /** Drop other statements that are not DDL (GRANT, CREATE USER, …). Canal `canal.instance.filter.query.dcl`, default false. */
  queryDcl: boolean;
  /** Drop every statement entry: DDL, statement DML and the rest (Canal's filter.query.ddl drops them all). Canal `canal.instance.filter.query.ddl`, default false. */
  queryDdl: boolean;
}

/**
 * Where to start when a destination has no cursor yet. All unset: the current end of the
 * binlog. Canal `canal.instance.master.journal.name` / `.position` / `.timestamp` / `.gtid`.
 */
export interface StartConfig {
  journalName: string | undefined;
  /** Only with journalName; journalName alone starts at offset 4. */
  position: number | undefined;
  /** Epoch milliseconds. */
  timestamp: number | undefined;
  /** MariaDB `domain-server-seq[,…]` or a MySQL GTID set; needs `source.gtidMode`. */
  gtid: string | undefined;
}

export type BatchMode = "MEMSIZE" | "ITEMSIZE";

export interface StoreConfig {
  /** Most entries held. Canal `canal.instance.memory.buffer.size`, default 16384. */
  maxEntries: number;
  /** Most bytes held (one larger entry still passes). Default maxEntries × memUnit (16 MiB), Canal's bound. */
  maxBytes: number;
  /** What a get's batch size counts. Canal `canal.instance.memory.batch.mode`, default MEMSIZE. */
  batchMode: BatchMode;
  /** Bytes per batch-size unit in MEMSIZE mode. Canal `canal.instance.memory.buffer.memunit`, default 1024. */
  memUnit: number;
}
