/**
 * Canal's ZooKeeper layout (canal-facts.md §3): the node paths and the JSON of the two
 * "running" nodes, exactly as Canal's ZookeeperPathUtils and fastjson2 produce them, so Java
 * Canal servers, clients and zkCli read what canal-ts writes and the other way round.
 *
 *   /otter/canal/cluster/<ip:port>                      EPHEMERAL, null: a live server
 *   /otter/canal/destinations/<d>/running               EPHEMERAL, {"active":true,"address":"1.2.3.4:11111"}
 *   /otter/canal/destinations/<d>/cluster/<ip:port>     EPHEMERAL, null: a server able to serve <d>
 *   /otter/canal/destinations/<d>/<clientId>/running    EPHEMERAL, {"active":true,"address":"10.0.0.5:51234","clientId":1001}
 *   /otter/canal/destinations/<d>/<clientId>/cursor     the cursor JSON of cursor-json.ts
 *   /otter/canal/destinations/<d>/<clientId>/filter     the filter string, UTF-8, not JSON
 *
 * Names that end up as one path component (destination, server address) are checked here,
 * because a '/' in them would silently address another node. Pure: no IO.
 */
import { CanalConfigError, CanalProtocolError } from "../errors.js";

export const ZK_ROOT = "/otter/canal";

/** `/otter/canal/cluster`: every live server registers an ephemeral child. */
export const clusterPath = (): string => `${ZK_ROOT}/cluster`;
/** `/otter/canal/cluster/<ip:port>` */
export const clusterNodePath = (address: string): string => `${clusterPath()}/${component(address, "server address")}`;
/** `/otter/canal/destinations` */
export const destinationsPath = (): string => `${ZK_ROOT}/destinations`;
/** `/otter/canal/destinations/<d>` */
export const destinationPath = (destination: string): string => `${destinationsPath()}/${component(destination, "destination")}`;
/** `/otter/canal/destinations/<d>/running`: the ServerRunningData of the server running <d>. */
export const runningPath = (destination: string): string => `${destinationPath(destination)}/running`;
/** `/otter/canal/destinations/<d>/cluster`: servers that can serve <d> (lazy start, §4.8). */
export const destinationClusterPath = (destination: string): string => `${destinationPath(destination)}/cluster`;
/** `/otter/canal/destinations/<d>/cluster/<ip:port>` */
export const destinationClusterNodePath = (destination: string, address: string): string =>
  `${destinationClusterPath(destination)}/${component(address, "server address")}`;
/** `/otter/canal/destinations/<d>/<clientId>`: a subscription (persistent, null). */
export const clientPath = (destination: string, clientId: number): string => `${destinationPath(destination)}/${clientIdName(clientId)}`;
/** `/otter/canal/destinations/<d>/<clientId>/cursor`: the acked position, cursor JSON with "@type". */
export const clientCursorPath = (destination: string, clientId: number): string => `${clientPath(destination, clientId)}/cursor`;
/** `/otter/canal/destinations/<d>/<clientId>/running`: the ClientRunningData of the active consumer. */
export const clientRunningPath = (destination: string, clientId: number): string => `${clientPath(destination, clientId)}/running`;
/** `/otter/canal/destinations/<d>/<clientId>/filter`: the subscribe filter, raw UTF-8. */
export const clientFilterPath = (destination: string, clientId: number): string => `${clientPath(destination, clientId)}/filter`;

/**
 * Whether a child of `/destinations/<d>` is a subscription: Canal's listAllSubscribeInfo takes
 * every child whose name is all digits (commons-lang isNumeric) as a clientId.
 */
export function isClientIdNode(name: string): boolean {
  return /^[0-9]+$/.test(name);
}

/** The clientIds among the children of `/destinations/<d>`, ascending, as Canal lists them. */
export function clientIdsOf(children: readonly string[]): number[] {
  return children
    .filter(isClientIdNode)
    .map(Number)
    .filter(Number.isSafeInteger)
    .sort((a, b) => a - b);
}

/** `<host>:<port>`, the name of a cluster node and the address in ServerRunningData. */
export function serverAddress(host: string, port: number): string {
  if (host === "" || host.includes(":") || host.includes("/"))
    throw new CanalConfigError(`server host ${JSON.stringify(host)} cannot be published in ZooKeeper: expected an IPv4 address or a host name without ':' or '/'`);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new CanalConfigError(`server port ${port} is not a port: expected an integer from 1 to 65535`);
  return `${host}:${port}`;
}

/** Splits `<host>:<port>` as Canal's readers do: exactly two parts on ':', the port an integer. */
export function parseServerAddress(address: string): { host: string; port: number } {
  const parts = address.split(":");
  const port = parts.length === 2 && /^[0-9]{1,5}$/.test(parts[1]!) ? Number(parts[1]) : NaN;
  if (parts.length !== 2 || parts[0] === "" || !(port >= 0 && port <= 65535))
    throw new CanalProtocolError(`server address ${JSON.stringify(address)} is not <ip>:<port>: expected exactly one ':' followed by a port from 0 to 65535`);
  return { host: parts[0]!, port };
}

// ---- ServerRunningData: /destinations/<d>/running -------------------------------------------

export interface ServerRunning {
  /** false is Canal's manual switch-over request: the named server releases (§4.4). */
  active: boolean;
  /** `<ip>:<port>` of the server running the destination. */
  address: string;
}

export interface ParsedServerRunning extends ServerRunning {
  host: string;
  port: number;
}

/** `{"active":true,"address":"1.2.3.4:11111"}`: fastjson2's alphabetical keys; `cid` is null in Canal, so absent. */
export function formatServerRunning(data: ServerRunning): string {
  parseServerAddress(data.address);
  return `{"active":${data.active},"address":${JSON.stringify(data.address)}}`;
}

/** Reads a running node as Canal does: a missing `active` means true; the address must be ip:port. */
export function parseServerRunning(bytes: Uint8Array | string): ParsedServerRunning {
  const { root, text } = parseObject(bytes, "ServerRunningData");
  const active = activeField(root, text, "ServerRunningData");
  const address = root["address"];
  if (typeof address !== "string") throw invalid("ServerRunningData", text, `"address" must be a string "<ip>:<port>"`);
  let split: { host: string; port: number };
  try {
    split = parseServerAddress(address);
  } catch (err) {
    throw invalid("ServerRunningData", text, `"address" must be "<ip>:<port>" (${(err as Error).message})`);
  }
  return { active, address, ...split };
}

// ---- ClientRunningData: /destinations/<d>/<clientId>/running --------------------------------

export interface ClientRunning {
  active: boolean;
  /** The client's local `ip:port` once connected; just its IP in the first write (§3.3, §11.26). */
  address: string;
  clientId: number;
  /**
   * canal-ts only: who the client is across restarts (src/client/cluster-client.ts), so a
   * restarted client recognises its own stale node. An extra key, last in fastjson2's
   * alphabetical order; Canal's parser ignores keys its class does not have.
   */
  identity?: string;
}

/** `{"active":true,"address":"10.0.0.5:51234","clientId":1001}`, plus `"identity"` when given. */
export function formatClientRunning(data: ClientRunning): string {
  clientIdName(data.clientId);
  const identity = data.identity === undefined ? "" : `,"identity":${JSON.stringify(data.identity)}`;
  return `{"active":${data.active},"address":${JSON.stringify(data.address)},"clientId":${data.clientId}${identity}}`;
}

/** Reads a client running node; a missing `active` means true, as for the server node. */
export function parseClientRunning(bytes: Uint8Array | string): ClientRunning {
  const { root, text } = parseObject(bytes, "ClientRunningData");
  const active = activeField(root, text, "ClientRunningData");
  const address = root["address"];
  if (typeof address !== "string" || address === "") throw invalid("ClientRunningData", text, `"address" must be a non-empty string`);
  const clientId = root["clientId"];
  if (typeof clientId !== "number" || !Number.isInteger(clientId) || clientId < 0 || clientId > 32767)
    throw invalid("ClientRunningData", text, `"clientId" must be an integer from 0 to 32767 (a Java short)`);
  const identity = root["identity"];
  // A Java client writes no identity; one that is not a string is someone else's key, ignored as Canal would.
  return typeof identity === "string" ? { active, address, clientId, identity } : { active, address, clientId };
}

// ---- helpers ---------------------------------------------------------------------------------

/** One path component: ZooKeeper refuses "", "." and ".." and NUL, and a '/' would nest. */
function component(name: string, what: string): string {
  if (name === "" || name === "." || name === ".." || /[/\u0000]/.test(name))
    throw new CanalConfigError(`${what} ${JSON.stringify(name)} cannot be a ZooKeeper node name: expected a non-empty name without '/' or NUL, not "." or ".."`);
  return name;
}

/** A clientId as its node name: Canal's clientIds are Java shorts, and only digit-only names count (isClientIdNode). */
function clientIdName(clientId: number): string {
  if (!Number.isInteger(clientId) || clientId < 0 || clientId > 32767)
    throw new CanalConfigError(`clientId ${clientId} cannot be a ZooKeeper subscription node: expected an integer from 0 to 32767`);
  return String(clientId);
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

function parseObject(bytes: Uint8Array | string, what: string): { root: Record<string, unknown>; text: string } {
  let text: string;
  try {
    text = typeof bytes === "string" ? bytes : utf8.decode(bytes);
  } catch (err) {
    throw new CanalProtocolError(`${what} is not UTF-8: got bytes ${hex((bytes as Uint8Array).subarray(0, 60))}`, { cause: err });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw invalid(what, text, `a JSON object (${(err as Error).message})`, err);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw invalid(what, text, "a JSON object");
  return { root: value as Record<string, unknown>, text };
}

const hex = (bytes: Uint8Array): string => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

function activeField(root: Record<string, unknown>, text: string, what: string): boolean {
  const active = root["active"] ?? true;
  if (typeof active !== "boolean") throw invalid(what, text, `"active" must be true or false`);
  return active;
}

function invalid(what: string, text: string, expected: string, cause?: unknown): CanalProtocolError {
  const shown = text.length > 160 ? `${text.slice(0, 160)}…` : text;
  return new CanalProtocolError(`${what} ${JSON.stringify(shown)}: expected ${expected}`, cause === undefined ? {} : { cause });
}
