/**
 * Canal's cursor JSON, exactly as Canal's fastjson2 writes it (canal-facts.md §3.3, §11.14):
 * keys in alphabetical order, nulls omitted, the misspelled key `postion` kept.
 *
 *   ZooKeeper `<clientId>/cursor` (with "@type" first; Canal cannot read it back otherwise):
 *     {"@type":"com.alibaba.otter.canal.protocol.position.LogPosition",
 *      "identity":{"slaveId":-1,"sourceAddress":{"address":"10.35.165.15","port":3306}},
 *      "postion":{"gtid":"","included":false,"journalName":"mysql-bin.000003","position":4567,
 *                 "serverId":1,"timestamp":1700000000000}}
 *   ZooKeeper `<dest>/parse` and the cursors inside meta.dat: the same without "@type".
 *   meta.dat (FileMixedMetaManager, `<data dir>/<dest>/meta.dat`):
 *     {"clientDatas":[{"clientIdentity":{"clientId":1001,"destination":"example","filter":""},
 *                      "cursor":{"identity":{…},"postion":{…}}}],"destination":"example"}
 *
 * Parsing follows what Canal accepts: nested key order does not matter, extra keys are
 * ignored, `gtid`, `serverId` and `timestamp` may be missing, `address` may be null. The typed
 * ZooKeeper form must start with the LogPosition "@type", as Canal requires. Anything else is a
 * CanalProtocolError that says what was expected. Pure: no IO.
 */
import { CanalProtocolError } from "../errors.js";

export const LOG_POSITION_TYPE = "com.alibaba.otter.canal.protocol.position.LogPosition";

/** Canal's LogPosition: where a client's cursor (or the parser) stands. */
export interface LogPosition {
  /** identity.sourceAddress: the MySQL server the position was read from; address null when unresolved. */
  sourceAddress: { address: string | null; port: number };
  journalName: string;
  /** Start offset of the ack-point event. */
  position: number;
  serverId?: number;
  /** The event's executeTime, ms. */
  timestamp?: number;
  /** "" when the binlog carried no GTID. */
  gtid?: string;
  included: boolean;
}

/** meta.dat: the cursors of one destination's clients. */
export interface MetaDat {
  destination: string;
  clients: MetaClient[];
}

export interface MetaClient {
  clientId: number;
  /** The client's subscribe filter; undefined is written as no key (Java null). */
  filter?: string;
  /** undefined: subscribed, no cursor yet. */
  cursor?: LogPosition;
}

// ---- writing ---------------------------------------------------------------------------------

/** The typed form Canal writes to ZooKeeper `<clientId>/cursor`. */
export function formatCursorJson(position: LogPosition): string {
  return jsonObject([["@type", JSON.stringify(LOG_POSITION_TYPE)], ...logPositionFields(position)]);
}

/** The untyped form: ZooKeeper `<dest>/parse`, and each cursor in meta.dat. */
export function formatLogPositionJson(position: LogPosition): string {
  return jsonObject(logPositionFields(position));
}

export function formatMetaDat(meta: MetaDat): string {
  const destination = JSON.stringify(meta.destination);
  const clients = meta.clients.map((client) =>
    jsonObject([
      ["clientIdentity", jsonObject([["clientId", String(client.clientId)], ["destination", destination], ["filter", json(client.filter)]])],
      ["cursor", client.cursor === undefined ? undefined : formatLogPositionJson(client.cursor)],
    ]),
  );
  return jsonObject([["clientDatas", `[${clients.join(",")}]`], ["destination", destination]]);
}

/** A key and its value as JSON text; undefined leaves the key out, as fastjson leaves out nulls. */
type JsonField = [key: string, json: string | undefined];

function logPositionFields(p: LogPosition): JsonField[] {
  const sourceAddress = jsonObject([["address", JSON.stringify(p.sourceAddress.address)], ["port", String(p.sourceAddress.port)]]);
  return [
    ["identity", jsonObject([["slaveId", "-1"], ["sourceAddress", sourceAddress]])],
    [
      "postion",
      jsonObject([
        ["gtid", json(p.gtid)],
        ["included", String(p.included)],
        ["journalName", JSON.stringify(p.journalName)],
        ["position", String(p.position)],
        ["serverId", json(p.serverId)],
        ["timestamp", json(p.timestamp)],
      ]),
    ],
  ];
}

/** The fields in the order given (callers list them alphabetically, as fastjson writes them). */
function jsonObject(fields: JsonField[]): string {
  return `{${fields.flatMap(([key, value]) => (value === undefined ? [] : [`${JSON.stringify(key)}:${value}`])).join(",")}}`;
}

function json(value: string | number | undefined): string | undefined {
  return value === undefined ? undefined : JSON.stringify(value);
}

// ---- reading ---------------------------------------------------------------------------------

/** Reads the typed ZooKeeper cursor; "@type" must be the first key and name LogPosition. */
export function parseCursorJson(text: string): LogPosition {
  const root = parseObject(text, "cursor");
  const first = Object.keys(root)[0];
  if (first !== "@type" || root["@type"] !== LOG_POSITION_TYPE)
    throw new CanalProtocolError(`cursor JSON must start with "@type":"${LOG_POSITION_TYPE}", as Canal requires; got ${text.slice(0, 80)}`);
  return readLogPosition(root, "cursor");
}

/** Reads the untyped form (a "@type", if present, is ignored). */
export function parseLogPositionJson(text: string): LogPosition {
  return readLogPosition(parseObject(text, "log position"), "log position");
}

export function parseMetaDat(text: string): MetaDat {
  const root = parseObject(text, "meta.dat");
  const destination = field(root, "destination", "string", "meta.dat");
  const clientDatas = root["clientDatas"] ?? [];
  if (!Array.isArray(clientDatas)) throw invalid("meta.dat", "clientDatas", "an array", clientDatas);
  const clients = clientDatas.map((data: unknown, i): MetaClient => {
    const where = `meta.dat clientDatas[${i}]`;
    const client = asObject(data, where);
    const identity = asObject(client["clientIdentity"], `${where}.clientIdentity`);
    const clientId = integer(identity, "clientId", where);
    const filter = identity["filter"] ?? undefined;
    if (filter !== undefined && typeof filter !== "string") throw invalid(where, "filter", "a string", filter);
    const cursor = client["cursor"] == null ? undefined : readLogPosition(asObject(client["cursor"], `${where}.cursor`), `${where}.cursor`);
    return { clientId, ...(filter !== undefined && { filter }), ...(cursor !== undefined && { cursor }) };
  });
  return { destination, clients };
}

type JsonObject = Record<string, unknown>;

function readLogPosition(root: JsonObject, what: string): LogPosition {
  const identity = asObject(root["identity"], `${what} identity`);
  const source = asObject(identity["sourceAddress"], `${what} identity.sourceAddress`);
  const address = source["address"] ?? null;
  if (address !== null && typeof address !== "string") throw invalid(what, "sourceAddress.address", "a string or null", address);
  const port = integer(source, "port", what);
  if (port > 65535) throw invalid(what, "sourceAddress.port", "a port from 0 to 65535", port);
  const postion = asObject(root["postion"], `${what} postion`);
  const gtid = postion["gtid"] ?? undefined;
  if (gtid !== undefined && typeof gtid !== "string") throw invalid(what, "gtid", "a string", gtid);
  const included = postion["included"] ?? false;
  if (typeof included !== "boolean") throw invalid(what, "included", "true or false", included);
  return {
    sourceAddress: { address, port },
    journalName: field(postion, "journalName", "string", what),
    position: integer(postion, "position", what),
    ...(postion["serverId"] != null && { serverId: integer(postion, "serverId", what) }),
    ...(postion["timestamp"] != null && { timestamp: integer(postion, "timestamp", what) }),
    ...(gtid !== undefined && { gtid }),
    included,
  };
}

function parseObject(text: string, what: string): JsonObject {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new CanalProtocolError(`${what} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  return asObject(value, what);
}

function asObject(value: unknown, what: string): JsonObject {
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new CanalProtocolError(`${what}: expected a JSON object, got ${JSON.stringify(value) ?? String(value)}`);
  return value as JsonObject;
}

function field(object: JsonObject, key: string, type: "string", what: string): string {
  const value = object[key];
  if (typeof value !== type) throw invalid(what, key, `a ${type}`, value);
  return value as string;
}

function integer(object: JsonObject, key: string, what: string): number {
  const value = object[key];
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) throw invalid(what, key, "a non-negative integer", value);
  return value;
}

function invalid(what: string, key: string, expected: string, value: unknown): CanalProtocolError {
  return new CanalProtocolError(`${what}: "${key}" must be ${expected}, got ${JSON.stringify(value) ?? "nothing"}`);
}
