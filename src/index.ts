/**
 * canal-ts as a library. The error family, the Canal wire protocol codec and the client
 * (CanalConnector); the HA runtime is added here as it lands.
 */
export * from "./errors.js";
export * from "./protocol/index.js";
export * from "./client/index.js";
