/**
 * The canal-ts client library: a Canal connector to one server, typed batches and changes.
 * runningServer / RunningServerDiscovery find a destination's running node in ZooKeeper; with
 * the connector's `resolve` option a reconnecting connector follows it across failovers.
 * createCanalClient is the cluster client: discovery, client election, `for await` batches.
 */
export {
  CanalConnector,
  DEFAULT_CLIENT_ID,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_FETCH_SIZE,
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_SO_TIMEOUT_MS,
  type BatchesOptions,
  type CallOptions,
  type CanalConnectorOptions,
  type ConnectorEvents,
  type ConnectorState,
  type AddressResolver,
  type ServerAddress,
} from "./connector.js";
export { Batch, type BatchOwner } from "./batch.js";
export { changesOf, changeTypeName, type BinlogPoint, type Change, type ChangeType, type ColumnValue, type RowImage } from "./changes.js";
export { CanalLateReplyError, CanalStaleBatchError, type LateReply, type SentWithoutReply } from "./errors.js";
export { backoffDelay, resolveBackoff, type BackoffOptions, type BackoffPolicy } from "./backoff.js";
export type { Listener } from "./emitter.js";
export {
  DEFAULT_DISCOVERY_SESSION_TIMEOUT_MS,
  DEFAULT_DISCOVERY_TIMEOUT_MS,
  type DiscoveryOptions,
  type LookupOptions,
  type RunningServerAddress,
  RunningServerDiscovery,
  runningServer,
} from "./zk-discovery.js";
export {
  CanalClient,
  createCanalClient,
  defaultIdentity,
  DEFAULT_CLIENT_BATCH_SIZE,
  DEFAULT_CLIENT_SESSION_TIMEOUT_MS,
  type CanalClientEvents,
  type CanalClientOptions,
  type CanalClientStatus,
  type NextOptions,
} from "./cluster-client.js";
export type { ClientState } from "../machines/client.js";
