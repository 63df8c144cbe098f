/**
 * The canal-ts test kit: real ZooKeeper, MariaDB and NATS servers as throwaway background
 * processes on free loopback ports, for integration tests, benchmarks and the quick start.
 *
 *   const zk = await startZooKeeper();
 *   try { ... await ZkSessionClient.connect({ connectString: zk.connectString, sessionTimeoutMs: 4000 }) ... } finally { await zk.stop(); }
 */
import { CanalConnectionError } from "../errors.js";
import { type MariaDBOptions, type MariaDBServer, startMariaDB } from "./mariadb.js";
import { type NatsOptions, type NatsServer, startNats } from "./nats.js";
import { type ZooKeeperOptions, type ZooKeeperServer, startZooKeeper } from "./zookeeper.js";

export { type CanalNode, type CanalNodeOptions, type LogMatcher, type NodeLogLine, startCanalNode } from "./canal-node.js";
export { httpGet, type MetricSample, type Metrics, parseMetrics, scrapeMetrics } from "./metrics.js";
export { ensureServersInstalled, findServerBinaries, type ServerBinaries } from "./install.js";
export { type BinlogRowMetadata, type MariaDBOptions, type MariaDBServer, startMariaDB } from "./mariadb.js";
export { type NatsOptions, type NatsServer, startNats } from "./nats.js";
export {
  type ExitStatus,
  type ServerProcess,
  type SpawnOptions,
  type StopOptions,
  freePort,
  freePorts,
  isPidAlive,
  logTail,
  spawnServer,
  stopPid,
  waitUntil,
} from "./process.js";
export {
  type BatchRef,
  checkSequence,
  type Duplicate,
  type DuplicateCause,
  type OutOfOrder,
  type ReceivedBatch,
  SequenceChecker,
  type SequenceReport,
} from "./sequence-check.js";
export { type SequenceLoad, type SequenceLoadOptions, type SequenceLoadResult, startSequenceLoad } from "./sequence-load.js";
export {
  type ZooKeeperEnsemble,
  type ZooKeeperMember,
  type ZooKeeperOptions,
  type ZooKeeperServer,
  startZooKeeper,
  startZooKeeperEnsemble,
} from "./zookeeper.js";

export interface AllServers {
  zookeeper: ZooKeeperServer;
  mariadb: MariaDBServer;
  nats: NatsServer;
  /** Stops all three and removes their data dirs. */
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Starts a standalone ZooKeeper, a MariaDB and a NATS in parallel; if one fails, stops the others. */
export async function startAll(
  opts: { zookeeper?: ZooKeeperOptions; mariadb?: MariaDBOptions; nats?: NatsOptions } = {},
): Promise<AllServers> {
  const results = await Promise.allSettled([startZooKeeper(opts.zookeeper), startMariaDB(opts.mariadb), startNats(opts.nats)]);
  const [zookeeper, mariadb, nats] = results;
  if (zookeeper.status === "rejected" || mariadb.status === "rejected" || nats.status === "rejected") {
    await Promise.all(results.map((r) => (r.status === "fulfilled" ? r.value.stop() : undefined)));
    const failures = results.flatMap((r) => (r.status === "rejected" ? [r.reason] : []));
    if (failures.length === 1) throw failures[0];
    const messages = failures.map((e) => (e instanceof Error ? e.message : String(e)));
    throw new CanalConnectionError(`${failures.length} servers failed to start:\n${messages.join("\n")}`, { retriable: false, cause: failures[0] });
  }
  const stop = async () => {
    await Promise.all([zookeeper.value.stop(), mariadb.value.stop(), nats.value.stop()]);
  };
  return { zookeeper: zookeeper.value, mariadb: mariadb.value, nats: nats.value, stop, [Symbol.asyncDispose]: stop };
}
export { TcpRelay, TcpRelayGroup } from "./tcp-relay.js";
