/**
 * Address syntaxes: `host[:port]` (IPv6 as `[::1]:3306`), the quick-start source URI
 * `mysql://user:pass@host:port`, ZooKeeper connect strings with Canal's `;` rule and a
 * chroot, and NATS server URLs. Each splits the text into Raw parts that keep the original's
 * `where`, so later validation still names the key the user wrote.
 */
import { invalid, type Raw } from "./where.js";
import { natsConnectOptions, shownNatsServer } from "../actors/nats/credentials.js";

/**
 * `host`, `host:port`, `[v6]`, `[v6]:port`; a bare IPv6 address (two colons or more) is a
 * host without a port, since its last group cannot be told from a port.
 */
export function splitHostPort(text: string): { host: string; port: string | undefined } | undefined {
  const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(text);
  if (bracketed !== null) return { host: bracketed[1]!, port: bracketed[2] };
  const colons = text.split(":").length - 1;
  if (colons === 1) {
    const at = text.indexOf(":");
    return { host: text.slice(0, at), port: text.slice(at + 1) };
  }
  return text === "" || text.includes("[") || text.includes("]") ? undefined : { host: text, port: undefined };
}

/** A `host[:port]` value as two Raws (for validation by `values.host` / `values.port`). */
export function hostPortParts(raw: Raw, expected: string): { host: Raw; port: Raw | undefined } {
  const parts = splitHostPort(String(raw.value).trim());
  if (parts === undefined || parts.host === "") throw invalid(raw, "is not an address", expected);
  return {
    host: { ...raw, value: parts.host },
    port: parts.port === undefined ? undefined : { ...raw, value: parts.port },
  };
}

export interface SourceUriParts {
  host: Raw;
  port: Raw | undefined;
  user: Raw | undefined;
  password: Raw | undefined;
}

const SOURCE_URI_EXPECTED = "mysql://user:password@host:port (mariadb:// also; percent-encode special characters in the password)";

/** The URI with its password replaced, for messages and printed configs. */
export function maskUriPassword(uri: string): string {
  return uri.replace(/^([a-z]+:\/\/[^:@/]*:)([^/]*)@/i, "$1***@");
}

/**
 * Splits `mysql://user:pass@host:port` (or `mariadb://`). User and password are
 * percent-decoded; a missing port is left for the default (3306). A path or query is refused
 * rather than ignored: canal-ts reads the binlog of the whole server.
 */
export function sourceUriParts(raw: Raw): SourceUriParts {
  const uri = String(raw.value).trim();
  // Parts other than the password are shown in messages; the URI itself only masked.
  const shown: Raw = { ...raw, value: maskUriPassword(uri), secret: false };
  const m = /^(mysql|mariadb):\/\/(?:([^:@/]*)(?::([^/]*))?@)?([^/?#@]+)([/?#].*)?$/i.exec(uri);
  if (m === null) throw invalid(shown, "is not a source URI", SOURCE_URI_EXPECTED);
  const [, , user, password, address, rest] = m as unknown as [string, string, string | undefined, string | undefined, string, string | undefined];
  if (rest !== undefined && rest !== "/") throw invalid(shown, "has a path or query, which canal-ts does not use", SOURCE_URI_EXPECTED);
  const decode = (part: string, what: string): string => {
    try {
      return decodeURIComponent(part);
    } catch {
      throw invalid(shown, `has a badly percent-encoded ${what}`, SOURCE_URI_EXPECTED);
    }
  };
  const hp = splitHostPort(address);
  if (hp === undefined || hp.host === "") throw invalid(shown, "has no valid host", SOURCE_URI_EXPECTED);
  return {
    host: { ...shown, value: hp.host },
    port: hp.port === undefined ? undefined : { ...shown, value: hp.port },
    user: user === undefined ? undefined : { ...shown, value: decode(user, "user") },
    password: password === undefined ? undefined : { ...raw, value: decode(password, "password"), secret: true },
  };
}

export interface ZooKeeperAddress {
  servers: string[];
  chroot: string;
}

const ZK_EXPECTED = "host:port[,host:port…][;more hosts…][/chroot], for example zk1:2181,zk2:2181/canal";

/**
 * A ZooKeeper connect string. `,` separates hosts; `;` separates alternative clusters, whose
 * hosts Canal appends after the first cluster's (§3.2), so here all become one ordered list.
 * A chroot may follow the last host. A host without a port gets 2181.
 */
export function parseZooKeeperAddress(raw: Raw): ZooKeeperAddress {
  const textValue = String(raw.value).trim();
  const slash = textValue.indexOf("/");
  const hostsPart = slash < 0 ? textValue : textValue.slice(0, slash);
  const chrootPart = slash < 0 ? "" : textValue.slice(slash);
  const chroot = chrootPart === "/" ? "" : chrootPart;
  if (chroot !== "" && !/^(\/[^/\s]+)+$/.test(chroot)) {
    throw invalid(raw, `has an invalid chroot ${JSON.stringify(chrootPart)}`, ZK_EXPECTED);
  }
  const servers: string[] = [];
  for (const host of hostsPart.split(/[;,]/)) {
    if (host.trim() === "") continue;
    const hp = splitHostPort(host.trim());
    const port = hp?.port === undefined ? 2181 : /^\d+$/.test(hp.port) ? Number(hp.port) : NaN;
    if (hp === undefined || hp.host === "" || !(port >= 1 && port <= 65535)) {
      throw invalid(raw, `has an invalid server ${JSON.stringify(host.trim())}`, ZK_EXPECTED);
    }
    servers.push(hp.host.includes(":") ? `[${hp.host}]:${port}` : `${hp.host}:${port}`);
  }
  if (servers.length === 0) throw invalid(raw, "names no server", ZK_EXPECTED);
  return { servers, chroot };
}

/** The connect string a ZooKeeper client takes: servers, then the chroot. */
export function zooKeeperConnectString(zk: ZooKeeperAddress): string {
  return zk.servers.join(",") + zk.chroot;
}

/** NATS server URLs, comma-separated; `host:port` alone means `nats://host:port`. */
export function parseNatsServers(raw: Raw): string[] {
  const servers = String(raw.value)
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "")
    .map((s) => (/^[a-z]+:\/\//i.test(s) ? s : `nats://${s}`));
  const expected = "nats://host:port[,nats://host:port…]";
  if (servers.length === 0) throw invalid(raw, "names no server", expected);
  for (const s of servers) {
    if (!isNatsUrl(s)) {
      throw invalid(raw, servers.length === 1 ? "is not a NATS server URL" : `has an invalid URL ${JSON.stringify(maskUriPassword(s))}`, expected);
    }
  }
  try {
    natsConnectOptions(servers); // credentials, if any, the same on every URL
  } catch (err) {
    throw invalid({ ...raw, value: servers.map(shownNatsServer).join(","), secret: false }, (err as Error).message, expected);
  }
  return servers;
}

function isNatsUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return ["nats:", "tls:", "ws:", "wss:"].includes(url.protocol) && url.hostname !== "";
  } catch {
    return false;
  }
}
