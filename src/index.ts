/**
 * canal-ts as a library. Today: the error family and the Canal wire protocol codec; the server,
 * the client and the HA runtime are added here as they land.
 */
export * from "./errors.js";
export * from "./protocol/index.js";
