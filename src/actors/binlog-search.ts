/**
 * Start by time (Canal's `canal.instance.master.timestamp`, our `start.timestamp`): the binlog
 * position where the first transaction committed at or after a moment begins, for a destination
 * that has no cursor.
 *
 * Binlog files only grow in time, so the file to search is the last one that was opened at or
 * before the moment (its format description event carries its creation time); the search then
 * reads that file from its start and stops at the first transaction whose first event is not
 * older than the moment. Event times have whole seconds, as Canal's executeTime does, so a
 * transaction in the same second as the moment is included: delivery stays at-least-once, a
 * few changes of that second early rather than any change late.
 *
 * Each look is a short replication dump of its own (the server id is the destination's: the
 * looks run one after another and before the destination's own dump registers).
 */
import mysql from "mysql2/promise";
import { CanalConnectionError } from "../errors.js";
import type { BinlogEvent } from "../protocol/binlog/events/decoder.js";
import { BinlogStream } from "./binlog-stream.js";

export interface BinlogServer {
  host: string;
  port: number;
  user: string;
  password: string;
  serverId: number;
}

export interface BinlogPositionFound {
  file: string;
  position: number;
}

/** Longest a single look may take: a file is read at network speed, a stalled server must not hang the start. */
const LOOK_TIMEOUT_MS = 120_000;

/** Where reading should start to get every transaction committed at or after `timestampMs` (epoch ms). */
export async function findStartByTimestamp(server: BinlogServer, timestampMs: number): Promise<BinlogPositionFound> {
  const files = await binaryLogs(server);
  const seconds = Math.floor(timestampMs / 1000);
  // The last file opened at or before the moment; if none was, everything in the binlog is later.
  let index = 0;
  for (let i = files.length - 1; i > 0; i--) {
    if ((await openedAt(server, files[i]!.name)) <= seconds) {
      index = i;
      break;
    }
  }
  for (let i = index; i < files.length; i++) {
    const found = await firstTransactionFrom(server, files[i]!, seconds);
    if (found !== undefined) return found;
  }
  // Nothing that recent yet: start where the binlog ends now.
  const last = files[files.length - 1]!;
  return { file: last.name, position: last.size };
}

interface BinaryLog {
  name: string;
  size: number;
}

async function binaryLogs(server: BinlogServer): Promise<BinaryLog[]> {
  const connection = await mysql.createConnection({ host: server.host, port: server.port, user: server.user, password: server.password });
  try {
    const [rows] = (await connection.query("SHOW BINARY LOGS")) as unknown as [Array<{ Log_name: string; File_size: number | string }>];
    if (rows.length === 0) throw new CanalConnectionError(`${server.host}:${server.port} lists no binary logs: is log_bin on?`, { retriable: false });
    return rows.map((r) => ({ name: r.Log_name, size: Number(r.File_size) }));
  } finally {
    await connection.end();
  }
}

/** The creation time (epoch seconds) of a binlog file: its format description event's. */
async function openedAt(server: BinlogServer, file: string): Promise<number> {
  let seconds = 0;
  await look(server, file, (event) => {
    if (event.kind !== "formatDescription") return false;
    seconds = event.header.timestamp;
    return true;
  });
  return seconds;
}

/** Events of a file's header and end: they belong to no transaction. */
const FILE_EVENTS = new Set<BinlogEvent["kind"]>(["formatDescription", "mariadbGtidList", "previousGtids", "binlogCheckpoint", "rotate", "stop"]);

/** The start of the first transaction in `log` whose first event is at or after `seconds`, or undefined when it has none. */
async function firstTransactionFrom(server: BinlogServer, log: BinaryLog, seconds: number): Promise<BinlogPositionFound | undefined> {
  let found: BinlogPositionFound | undefined;
  // Where the transaction being read began; undefined between transactions.
  let transactionStart: number | undefined;
  await look(server, log.name, (event) => {
    // Artificial events (the rotate into the file) and heartbeats take no room in the file.
    if (event.nextOffset === event.offset) return false;
    const fileEnds = event.nextOffset >= log.size || event.kind === "rotate" || event.kind === "stop";
    if (FILE_EVENTS.has(event.kind)) return fileEnds;
    transactionStart ??= event.offset;
    if (event.header.timestamp >= seconds) {
      found = { file: log.name, position: transactionStart };
      return true;
    }
    if (event.boundary) transactionStart = undefined;
    return fileEnds;
  });
  return found;
}

/** Dumps `file` from its start, handing each event to `until` until it returns true (or the file ends). */
async function look(server: BinlogServer, file: string, until: (event: BinlogEvent) => boolean): Promise<void> {
  let done!: () => void;
  let failed!: (err: unknown) => void;
  const finished = new Promise<void>((resolve, reject) => ((done = resolve), (failed = reject)));
  let stop = false;
  const stream = await BinlogStream.open({
    host: server.host,
    port: server.port,
    user: server.user,
    password: server.password,
    serverId: server.serverId,
    start: { file, position: 4 },
    reconnect: false,
    onEvent: (event) => {
      if (stop) return;
      if (until(event)) {
        stop = true;
        done();
      }
    },
    onError: (err) => failed(err),
  });
  const timer = setTimeout(() => failed(new CanalConnectionError(`reading binlog ${file} to find a start by time took over ${LOOK_TIMEOUT_MS} ms`)), LOOK_TIMEOUT_MS);
  try {
    await finished;
  } finally {
    clearTimeout(timer);
    await stream.close();
  }
}
