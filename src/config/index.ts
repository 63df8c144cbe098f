/**
 * Node configuration: the typed config, its three loaders (config file, quick-start flags, a
 * Canal conf dir), and its description for `--print-config`. Option table: ./README.md.
 */
export type { BatchMode, DestinationConfig, FilterConfig, NatsConfig, NodeConfig, SourceConfig, StartConfig, StoreConfig, ZooKeeperConfig } from "./types.js";
export type { LoadedConfig, LoadOptions } from "./load-options.js";
export type { ConfigWarning } from "./where.js";
export { formatWarning } from "./where.js";
export { CONFIG_FILE_KEYS, loadConfigFile, parseConfigText } from "./file.js";
export { configFromFlags, QUICK_START_FLAGS, QUICK_START_OPTIONS, type QuickStartFlag, type QuickStartFlags } from "./flags.js";
export { CANAL_INSTANCE_KEYS, CANAL_NODE_KEYS, loadCanalConfDir } from "./canal-conf.js";
export { describeConfig } from "./describe.js";
export { resolveRegisterIp } from "./register-ip.js";
export { zooKeeperConnectString } from "./addresses.js";
export { DEFAULTS, defaultServerId } from "./build.js";
