/**
 * Validation of single values. Each takes a `Raw` (the value as read and where it came from)
 * and returns the typed value or throws a CanalConfigError naming key, value and expectation.
 * Values arrive as strings from .properties files and flags, and as numbers, booleans or
 * strings from YAML/JSON, so every parser accepts both spellings.
 */
import { CanalConfigError } from "../errors.js";
import { charsetFromName } from "../protocol/binlog/row-values.js";
import { compileNameFilter, parseFieldFilter } from "../protocol/filter.js";
import type { BatchMode, LogLevel } from "./types.js";
import { invalid, type Raw } from "./where.js";

/** Absent: not given, YAML null, or blank (Canal treats a blank value as missing, too). */
export function isAbsent(raw: Raw | undefined): raw is undefined {
  return raw === undefined || raw.value === undefined || raw.value === null || (typeof raw.value === "string" && raw.value.trim() === "");
}

export function text(raw: Raw): string {
  if (typeof raw.value === "string") return raw.value.trim();
  if (typeof raw.value === "number" || typeof raw.value === "boolean") return String(raw.value);
  throw invalid(raw, "is not a text value", "a string");
}

/** An integer in [min, max]; `what` ("a port") names the kind of value in the message. */
export function integer(raw: Raw, min: number, max: number, what?: string): number {
  const s = typeof raw.value === "number" ? String(raw.value) : typeof raw.value === "string" ? raw.value.trim() : "";
  const n = /^-?\d+$/.test(s) ? Number(s) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    const problem = what !== undefined ? `is not ${what}` : Number.isSafeInteger(n) ? "is out of range" : "is not an integer";
    throw invalid(raw, problem, `an integer ${min}–${max}`);
  }
  return n;
}

export function port(raw: Raw): number {
  return integer(raw, 1, 65535, "a port");
}

/** A port, or 0 for "off". */
export function portOrOff(raw: Raw): number {
  return integer(raw, 0, 65535, "a port");
}

export function durationMs(raw: Raw, min: number, max: number): number {
  return integer(raw, min, max, "a duration in milliseconds");
}

export function bool(raw: Raw): boolean {
  if (typeof raw.value === "boolean") return raw.value;
  const s = typeof raw.value === "string" ? raw.value.trim().toLowerCase() : "";
  if (s === "true") return true;
  if (s === "false") return false;
  throw invalid(raw, "is not a boolean", "true or false");
}

export function logLevel(raw: Raw): LogLevel {
  const s = text(raw).toLowerCase();
  if (s === "debug" || s === "info" || s === "warn" || s === "error") return s;
  throw invalid(raw, "is not a log level", "debug, info, warn or error");
}

export function batchMode(raw: Raw): BatchMode {
  const s = text(raw).toUpperCase();
  if (s === "MEMSIZE" || s === "ITEMSIZE") return s;
  throw invalid(raw, "is not a batch mode", "MEMSIZE or ITEMSIZE");
}

const UNITS: Readonly<Record<string, number>> = { "": 1, b: 1, k: 1024, kb: 1024, kib: 1024, m: 1024 ** 2, mb: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3, gib: 1024 ** 3 };

/** A byte count: an integer, or a string such as `64MiB` (units are powers of 1024). */
export function byteSize(raw: Raw, min: number): number {
  const s = typeof raw.value === "number" ? String(raw.value) : typeof raw.value === "string" ? raw.value.trim() : "";
  const m = /^(\d+)\s*([a-zA-Z]*)$/.exec(s);
  const unit = m === null ? undefined : UNITS[m[2]!.toLowerCase()];
  const n = m === null || unit === undefined ? NaN : Number(m[1]) * unit;
  if (!Number.isSafeInteger(n) || n < min) {
    throw invalid(raw, "is not a byte size", `an integer ≥ ${min}, optionally with a unit KiB, MiB or GiB`);
  }
  return n;
}

/** canal.passwd: hex(SHA1(SHA1(password))), either case (Canal accepts both); "" for none. */
export function passwordHash(raw: Raw): string {
  const s = text(raw);
  if (s === "" || /^[0-9a-fA-F]{40}$/.test(s)) return s.toLowerCase();
  throw invalid({ ...raw, secret: true }, "is not a password hash", "40 hex digits, hex(SHA1(SHA1(password))) as in canal.passwd");
}

/**
 * A name used as a directory, a ZooKeeper node and a NATS subject token: letters, digits,
 * `_` and `-`. Dots would split a NATS subject, slashes a path.
 */
export function nameToken(raw: Raw, what: string): string {
  const s = text(raw);
  if (/^[A-Za-z0-9_-]{1,128}$/.test(s)) return s;
  throw invalid(raw, `is not a valid ${what}`, "1–128 letters, digits, '_' or '-'");
}

/** A host name or IP address (IPv6 without brackets). */
export function host(raw: Raw): string {
  const s = text(raw).replace(/^\[(.*)\]$/, "$1");
  if (/^[A-Za-z0-9._:%-]+$/.test(s)) return s;
  throw invalid(raw, "is not a host", "a host name or an IP address");
}

/** A node's address as published in ZooKeeper: `<ip or host>:<port>` (the name of its cluster znode). */
export function nodeAddress(raw: Raw): string {
  const s = text(raw);
  const match = /^([A-Za-z0-9._-]+):([0-9]{1,5})$/.exec(s);
  if (match !== null && Number(match[2]) >= 1 && Number(match[2]) <= 65535) return s;
  throw invalid(raw, "is not a node address", "<ip>:<port> as the node registers it, for example 10.0.0.11:11111");
}

/** The replica server id: MySQL and MariaDB take 1–2³²−1 (0 is refused by the server). */
export function serverId(raw: Raw): number {
  return integer(raw, 1, 4294967295, "a server id");
}

/** An IANA time zone name, checked against this Node's time zone database. */
export function timeZone(raw: Raw): string {
  const s = text(raw);
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: s });
    return s;
  } catch {
    throw invalid(raw, "is not a time zone", 'an IANA zone name such as "Asia/Shanghai" or "UTC"');
  }
}

export function connectionCharset(raw: Raw): string {
  const s = text(raw);
  try {
    charsetFromName(s);
    return s;
  } catch {
    throw invalid(raw, "is not a supported charset", "UTF-8 (or UTF8MB4) or ISO-8859-1 (latin1)");
  }
}

/**
 * The filter module's complaint without the pattern it quotes, which the message already
 * shows; the failing piece is named when the pattern has several.
 */
function reason(err: unknown, pattern: string): string {
  if (!(err instanceof CanalConfigError)) throw err;
  const m = /^(?:filter regex|field filter entry) ("(?:[^"\\]|\\.)*")(?: in "(?:[^"\\]|\\.)*")?(?: is invalid)?: (.*)$/s.exec(err.message);
  if (m === null) return err.message;
  const piece = JSON.parse(m[1]!) as string;
  return piece === pattern ? m[2]! : `${m[1]}: ${m[2]}`;
}

/** A table filter, compiled here so a bad regex fails at load, not at the first event. */
export function tableFilter(raw: Raw, white: boolean): string {
  const s = text(raw);
  try {
    compileNameFilter(s, white);
  } catch (err) {
    throw invalid(raw, `is not a valid table filter: ${reason(err, s)}`, "comma-separated Perl5 regexes matched against schema.table");
  }
  return s;
}

export function fieldFilter(raw: Raw): string {
  const s = text(raw);
  try {
    parseFieldFilter(s);
  } catch (err) {
    // The module's reason is the expected form, which the message states anyway; keep the entry.
    const entry = /^("(?:[^"\\]|\\.)*"): /.exec(reason(err, s))?.[1];
    throw invalid(raw, `is not a valid field filter${entry === undefined ? "" : `: entry ${entry} is malformed`}`, "schema.table:col1/col2,schema2.table2:colA");
  }
  return s;
}

const MARIADB_GTID = /^\d+-\d+-\d+(,\d+-\d+-\d+)*$/;
const MYSQL_GTID_SET = /^[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}(:\d+(-\d+)?)+(,\s*[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}(:\d+(-\d+)?)+)*$/;

export function gtid(raw: Raw): string {
  const s = text(raw);
  if (MARIADB_GTID.test(s) || MYSQL_GTID_SET.test(s)) return s;
  throw invalid(raw, "is not a GTID position", "MariaDB domain-server-seq[,…] such as 0-1-100, or a MySQL GTID set uuid:1-100");
}

export function journalName(raw: Raw): string {
  const s = text(raw);
  if (/^[^\s/\\]+$/.test(s)) return s;
  throw invalid(raw, "is not a binlog file name", "a name such as mysql-bin.000003, without spaces or slashes");
}

/** A JetStream stream name: no whitespace, dots, wildcards or path separators (the server refuses them). */
export function streamName(raw: Raw): string {
  const s = text(raw);
  if (/^[A-Za-z0-9_-]{1,255}$/.test(s)) return s;
  throw invalid(raw, "is not a JetStream stream name", "1–255 letters, digits, '_' or '-'");
}
