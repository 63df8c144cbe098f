/**
 * The binlog source's IO: logs in to MySQL/MariaDB as a replica, dumps the binlog from a
 * position, decodes each event and hands it to the consumer in order, with backpressure,
 * reconnecting with backoff when the connection drops.
 *
 * Why the dump runs as a command on mysql2's own queue instead of on a socket taken over from
 * mysql2: mysql2 3.24's packet parser is already what we would write. It hands each complete
 * MySQL packet on as (chunk, start, end) over the socket's own buffer, without copying, and
 * only joins bytes when an event spans socket reads or exceeds one 16 MiB packet. Its
 * `pause()` stops the net.Socket *and* holds the packets already cut from the current chunk
 * (as views, not copies), so a paused stream delivers nothing more until `resume()`, and the
 * kernel's receive window then pushes back on the server. It also reports a dropped
 * connection to the running command. What we rely on of its internals, pinned by the exact
 * mysql2 version in package.json: `addCommand(cmd)` calling `cmd.execute(packet, conn)` until
 * it returns true, `cmd.onResult(err)` on connection loss, `writePacket`, `_resetSequenceId`,
 * the packet's `buffer/offset/end`, and `stream` (the net.Socket). See `Mysql2Internals`.
 */
import mysql from "mysql2";
import type { Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { CanalAuthError, CanalConfigError, CanalConnectionError, CanalError, isRetriable } from "../errors.js";
import { BinlogDecoder, type BinlogEvent } from "../protocol/binlog/events/decoder.js";
import { parseMariadbGtidList } from "../protocol/binlog/events/mariadb-gtid.js";
import { parseMysqlGtidSet } from "../protocol/binlog/events/mysql-gtid.js";
import {
  DumpFlag,
  encodeBinlogDump,
  encodeBinlogDumpGtid,
  encodeRegisterReplica,
  replicationSessionStatements,
} from "../protocol/binlog/replication.js";

/** Where to start reading. */
export type BinlogStart =
  | { file: string; position: number }
  /** MariaDB GTID position, `domain-server-seq[,…]`: the last transaction already seen per domain. */
  | { mariadbGtid: string }
  /** MySQL GTID set already seen (`uuid:1-100`); implemented from the documented layout, untested on a server. */
  | { mysqlGtidSet: string }
  /** The current end of the binlog (SHOW MASTER STATUS). */
  | "current";

export interface BinlogStreamOptions {
  host: string;
  port: number;
  user: string;
  password: string;
  /** This replica's server id: must differ from the server's and from every other replica's. */
  serverId: number;
  start: BinlogStart;
  /** Server heartbeat period on an idle binlog (default 5000); no data for 3 periods counts as a lost connection. */
  heartbeatPeriodMs?: number;
  /** Reconnect after a lost connection, waiting minDelayMs doubling up to maxDelayMs; false to fail at once. */
  reconnect?: { minDelayMs?: number; maxDelayMs?: number; maxAttempts?: number } | false;
  connectTimeoutMs?: number;
  /** Called with every event, in binlog order. Call `stream.pause()` from here when full. */
  onEvent(event: BinlogEvent): void;
  /** Called once when the stream stops for good with an error (checksum, auth, retries used up). */
  onError?(err: CanalError): void;
  /** Called after each (re)connection has started dumping; `attempt` 0 is the first connection. */
  onConnected?(info: { attempt: number; resumeFrom: ResumePoint }): void;
}

/** Where reading would resume: after the last transaction boundary handed on. */
export interface ResumePoint {
  file: string;
  position: number;
  /** MariaDB GTID position at that boundary, when the stream started from a GTID. */
  mariadbGtid?: string;
}

export interface BinlogStreamStats {
  events: number;
  bytes: number;
  /** Events of types the decoder does not know, skipped. */
  unknownEvents: number;
  reconnects: number;
  /** Events re-read after a reconnect and not handed on again (they already were). */
  replayedEvents: number;
  /**
   * For lag and stall detection (metrics): epoch ms when anything (an event or a heartbeat)
   * last arrived, when the last heartbeat arrived (the server had nothing newer to send, so we
   * were caught up), when the last real event arrived, and that event's own time (the header's
   * seconds, ×1000). 0 before the first.
   */
  lastReceivedAt: number;
  lastHeartbeatAt: number;
  lastEventAt: number;
  lastEventTime: number;
  /** The heartbeat period asked of the server; silence for longer means the stream stalls. */
  heartbeatPeriodMs: number;
}

/** The parts of a mysql2 3.24 connection the dump runs on (see the module comment). */
interface Mysql2Internals {
  addCommand(cmd: Mysql2Command): void;
  writePacket(packet: { buffer: Buffer; length(): number; writeHeader(sequenceId: number): void }): void;
  _resetSequenceId(): void;
  pause(): void;
  resume(): void;
  destroy(): void;
  stream: Socket;
  _handshakePacket?: { serverVersion?: string };
}
interface Mysql2Packet {
  buffer: Buffer;
  offset: number;
  end: number;
}
interface Mysql2Command {
  execute(packet: Mysql2Packet | undefined, connection: Mysql2Internals): boolean;
  onResult(err: Error): void;
}

const OK = 0x00;
const ERR = 0xff;
const EOF = 0xfe;
/** MySQL packet payloads smaller than this starting with 0xfe are EOF, not data. */
const EOF_MAX_LENGTH = 9;

/** Wraps a payload in a MySQL packet whose header mysql2 fills in with its sequence id. */
function packet(payload: Buffer) {
  const buffer = Buffer.allocUnsafe(4 + payload.length);
  payload.copy(buffer, 4);
  return {
    buffer,
    length: () => buffer.length,
    writeHeader(sequenceId: number) {
      buffer.writeUIntLE(payload.length, 0, 3);
      buffer[3] = sequenceId;
    },
  };
}

function serverError(p: Mysql2Packet): CanalError {
  const code = p.buffer.readUInt16LE(p.offset + 1);
  const hasState = p.buffer[p.offset + 3] === 0x23; // '#' + 5-byte SQLSTATE
  const message = p.buffer.toString("utf8", p.offset + (hasState ? 9 : 3), p.end);
  // 1236 ER_MASTER_FATAL_ERROR_READING_BINLOG: the position is gone or invalid; retrying cannot help.
  const retriable = code !== 1236 && code !== 1045 && code !== 1227;
  return new CanalConnectionError(`replication error ${code}: ${message}`, { retriable });
}

/**
 * Sends one command packet and, for a dump, hands on every event packet that follows. Runs on
 * mysql2's command queue; `execute` returning true ends it.
 */
class ReplicationCommand implements Mysql2Command {
  constructor(
    private readonly payload: Buffer,
    private readonly onPacket: ((buf: Buffer, start: number, end: number) => void) | undefined,
    private readonly done: (err: CanalError | undefined) => void,
  ) {}

  execute(p: Mysql2Packet | undefined, connection: Mysql2Internals): boolean {
    if (p === undefined) {
      connection._resetSequenceId();
      connection.writePacket(packet(this.payload));
      return false;
    }
    const marker = p.buffer[p.offset];
    if (marker === ERR) return this.finish(serverError(p));
    if (marker === EOF && p.end - p.offset < EOF_MAX_LENGTH) return this.finish(new CanalConnectionError("server ended the binlog dump"));
    if (this.onPacket === undefined) return this.finish(undefined); // the OK of COM_REGISTER_SLAVE
    if (marker !== OK) return this.finish(new CanalConnectionError(`unexpected replication packet 0x${marker?.toString(16)}`, { retriable: false }));
    try {
      this.onPacket(p.buffer, p.offset + 1, p.end);
      return false;
    } catch (err) {
      return this.finish(err instanceof CanalError ? err : new CanalError(String(err), { cause: err }));
    }
  }

  onResult(err: Error): void {
    this.done(new CanalConnectionError(`replication connection lost: ${err.message}`, { cause: err }));
  }

  private finish(err: CanalError | undefined): true {
    this.done(err);
    return true;
  }
}

/** Events that belong to a transaction, whose header time is when the change was made. */
const CHANGE_KINDS: ReadonlySet<BinlogEvent["kind"]> = new Set(["query", "xid", "tableMap", "rows", "mariadbGtid", "mysqlGtid", "annotateRows", "rowsQuery"]);

export class BinlogStream {
  readonly stats: BinlogStreamStats = {
    events: 0,
    bytes: 0,
    unknownEvents: 0,
    reconnects: 0,
    replayedEvents: 0,
    lastReceivedAt: 0,
    lastHeartbeatAt: 0,
    lastEventAt: 0,
    lastEventTime: 0,
    heartbeatPeriodMs: 0,
  };
  private connection: Mysql2Internals | undefined;
  /** The connection whose dump is running; errors of a connection still logging in are the login's. */
  private dumping: Mysql2Internals | undefined;
  private decoder: BinlogDecoder | undefined;
  private paused = false;
  private closing = false;
  private resumeAt: ResumePoint | undefined;
  /** The last event handed on: after a reconnect, events up to it are not handed on again. */
  private lastHandedOn: { file: string; nextOffset: number } | undefined;
  private readonly finished: Promise<void>;
  private settle!: (err?: CanalError) => void;

  constructor(private readonly options: BinlogStreamOptions) {
    this.stats.heartbeatPeriodMs = options.heartbeatPeriodMs ?? 5000;
    this.finished = new Promise<void>((resolve, reject) => {
      this.settle = (err) => (err === undefined ? resolve() : reject(err));
    });
    this.finished.catch(() => {}); // reported through onError; `closed` re-exposes it
  }

  /** Connects and starts the dump; resolves once events are flowing, rejects if the first connection fails. */
  static async open(options: BinlogStreamOptions): Promise<BinlogStream> {
    const stream = new BinlogStream(options);
    await stream.connectAndDump(0);
    return stream;
  }

  /** The position after the last transaction boundary handed on, where a restart should begin. */
  get resumePoint(): ResumePoint | undefined {
    return this.resumeAt;
  }

  /** Resolves after `close()`, rejects with the error that stopped the stream. */
  get closed(): Promise<void> {
    return this.finished;
  }

  /** Stops reading from the socket; the event being delivered is the last one until `resume()`. */
  pause(): void {
    if (this.paused) return;
    this.paused = true;
    this.connection?.stream.setTimeout(0); // an unread socket is not an idle server
    this.connection?.pause();
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.armIdleTimeout();
    this.connection?.resume();
  }

  get isPaused(): boolean {
    return this.paused;
  }

  async close(): Promise<void> {
    this.closing = true;
    this.dropConnection();
    this.settle();
  }

  private dropConnection(): void {
    const connection = this.connection;
    this.connection = this.dumping = undefined;
    if (connection === undefined) return;
    connection.destroy(); // marks it closing, so mysql2 reports no error for what follows
    connection.stream.destroy();
  }

  private fail(err: CanalError): void {
    if (this.closing) return;
    this.closing = true;
    this.dropConnection();
    this.options.onError?.(err);
    this.settle(err);
  }

  private armIdleTimeout(): void {
    const period = this.options.heartbeatPeriodMs ?? 5000;
    if (period > 0 && !this.paused) this.connection?.stream.setTimeout(period * 3);
  }

  /** One connection: log in, set up the session, register, dump. Resolves when the dump is sent. */
  private async connectAndDump(attempt: number): Promise<void> {
    const o = this.options;
    const raw = mysql.createConnection({
      host: o.host,
      port: o.port,
      user: o.user,
      password: o.password,
      connectTimeout: o.connectTimeoutMs ?? 10_000,
    });
    const connection = raw as unknown as Mysql2Internals;
    this.connection = connection;
    // During login, errors reject the pending query or command; after it, the dump command's
    // onResult or this handler report them (whichever mysql2 picks), once.
    raw.on("error", (err) => this.connectionLost(connection, new CanalConnectionError(`binlog connection: ${err.message}`, { cause: err })));
    try {
      const query = (sql: string) => raw.promise().query(sql);
      const [rows] = (await query("SELECT @@global.binlog_checksum AS checksum, VERSION() AS version")) as unknown as [Array<{ checksum: string; version: string }>];
      const { checksum, version } = rows[0]!;
      const isMariadb = version.includes("MariaDB");
      const start = this.startFor(o.start);
      const mariadbGtid = typeof start === "object" && "mariadbGtid" in start ? start.mariadbGtid : undefined;
      const mysqlGtidSet = typeof start === "object" && "mysqlGtidSet" in start ? parseMysqlGtidSet(start.mysqlGtidSet) : undefined;
      if (mariadbGtid !== undefined && !isMariadb) throw new CanalConfigError(`start.mariadbGtid needs a MariaDB server; this one is ${version}`);
      if (mysqlGtidSet !== undefined && isMariadb) throw new CanalConfigError("start.mysqlGtidSet needs a MySQL server; MariaDB uses start.mariadbGtid");
      const heartbeatPeriodMs = o.heartbeatPeriodMs ?? 5000;
      for (const sql of replicationSessionStatements({ isMariadb, heartbeatPeriodMs, mariadbGtidPosition: mariadbGtid })) await query(sql);
      let from = { file: "", position: 4 };
      if (typeof start === "object" && "file" in start) from = start;
      else if (start === "current") from = await this.currentPosition(query);
      await this.command(encodeRegisterReplica({ serverId: o.serverId, hostname: "canal-ts", user: o.user }));

      this.decoder = new BinlogDecoder({
        file: from.file,
        checksum: checksum.toUpperCase() === "CRC32",
        mariadbGtidState: mariadbGtid === undefined ? [] : parseMariadbGtidList(mariadbGtid),
      });
      this.decoder.position = from.position;
      this.resumeAt ??= { file: from.file, position: from.position, ...(mariadbGtid === undefined ? {} : { mariadbGtid }) };
      const flags = DumpFlag.SEND_ANNOTATE_ROWS;
      const dump =
        mysqlGtidSet !== undefined
          ? encodeBinlogDumpGtid({ serverId: o.serverId, file: "", position: 4, flags, gtidSet: mysqlGtidSet })
          : encodeBinlogDump({ serverId: o.serverId, file: from.file, position: from.position, flags });
      this.dumping = connection;
      // Reported synchronously: after a bad event, nothing more of the socket chunk may be handed on.
      connection.addCommand(
        new ReplicationCommand(dump, (buf, s, e) => this.onEventBytes(buf, s, e), (err) => this.connectionLost(connection, err ?? new CanalConnectionError("binlog dump ended"))),
      );
      connection.stream.on("timeout", () =>
        this.connectionLost(connection, new CanalConnectionError(`no binlog data or heartbeat for ${heartbeatPeriodMs * 3} ms`)),
      );
      this.armIdleTimeout();
      if (this.paused) connection.pause();
      o.onConnected?.({ attempt, resumeFrom: this.resumeAt });
    } catch (err) {
      if (this.connection === connection) this.dropConnection();
      throw asCanalError(err);
    }
  }

  /** Runs one replication command that the server answers with OK or an error. */
  private command(payload: Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      this.connection!.addCommand(new ReplicationCommand(payload, undefined, (err) => (err === undefined ? resolve() : reject(err))));
    });
  }

  private async currentPosition(query: (sql: string) => Promise<unknown>): Promise<{ file: string; position: number }> {
    const [rows] = (await query("SHOW MASTER STATUS")) as [Array<{ File: string; Position: number }>];
    const row = rows[0];
    if (row === undefined) throw new CanalConfigError("start \"current\": the server has no binary log (log_bin is off)");
    return { file: row.File, position: Number(row.Position) };
  }

  /** After a reconnect, the start is the last boundary handed on, not the configured one. */
  private startFor(configured: BinlogStart): BinlogStart {
    const r = this.resumeAt;
    if (r === undefined) return configured;
    return r.mariadbGtid !== undefined ? { mariadbGtid: r.mariadbGtid } : { file: r.file, position: r.position };
  }

  private onEventBytes(buf: Buffer, start: number, end: number): void {
    const decoder = this.decoder!;
    const event = decoder.decode(buf, start, end);
    this.stats.bytes += end - start;
    this.stats.unknownEvents = decoder.unknownEvents;
    if (event === undefined) return;
    const now = Date.now();
    this.stats.lastReceivedAt = now;
    if (event.kind === "heartbeat") this.stats.lastHeartbeatAt = now;
    else if (CHANGE_KINDS.has(event.kind) && event.header.timestamp > 0) {
      // Only events of transactions tell lag: the format description, rotate and GTID list
      // sent at dump start carry the time the binlog file was created.
      this.stats.lastEventAt = now;
      this.stats.lastEventTime = event.header.timestamp * 1000;
    }
    if (this.alreadyHandedOn(event)) {
      this.stats.replayedEvents++;
      return;
    }
    this.stats.events++;
    if (event.nextOffset > event.offset) this.lastHandedOn = { file: event.file, nextOffset: event.nextOffset };
    if (event.boundary) {
      this.resumeAt = { file: event.file, position: event.nextOffset };
      if (this.startedFromGtid()) this.resumeAt.mariadbGtid = decoder.mariadbGtidPosition;
    }
    this.options.onEvent(event);
  }

  private startedFromGtid(): boolean {
    return typeof this.options.start === "object" && "mariadbGtid" in this.options.start;
  }

  /**
   * Re-read after a reconnect: the dump restarted at the last boundary, so the events of the
   * transaction that was being handed on come again. Only real events of the same file count;
   * rotate/format description/heartbeats always pass.
   */
  private alreadyHandedOn(event: BinlogEvent): boolean {
    const last = this.lastHandedOn;
    return last !== undefined && event.nextOffset > event.offset && event.file === last.file && event.nextOffset <= last.nextOffset;
  }

  private connectionLost(connection: Mysql2Internals, err: CanalError): void {
    if (this.closing || this.dumping !== connection) return;
    this.dropConnection();
    if (!isRetriable(err) || this.options.reconnect === false) {
      this.fail(err);
      return;
    }
    void this.reconnect(err);
  }

  private async reconnect(cause: CanalError): Promise<void> {
    const policy = this.options.reconnect || {};
    const minDelay = policy.minDelayMs ?? 200;
    const maxDelay = policy.maxDelayMs ?? 10_000;
    const maxAttempts = policy.maxAttempts ?? Infinity;
    let lastError = cause;
    for (let attempt = 1; attempt <= maxAttempts && !this.closing; attempt++) {
      await sleep(Math.min(maxDelay, minDelay * 2 ** (attempt - 1)));
      if (this.closing) return;
      try {
        this.stats.reconnects++;
        await this.connectAndDump(attempt);
        return;
      } catch (err) {
        lastError = asCanalError(err);
        if (!isRetriable(lastError)) break;
      }
    }
    this.fail(new CanalConnectionError(`binlog source gave up reconnecting: ${lastError.message}`, { retriable: false, cause: lastError }));
  }
}

function asCanalError(err: unknown): CanalError {
  if (err instanceof CanalError) return err;
  const e = err as { code?: string; errno?: number; message?: string };
  if (e.errno === 1045 || e.code === "ER_ACCESS_DENIED_ERROR") return new CanalAuthError(`binlog source login failed: ${e.message}`, { cause: err });
  return new CanalConnectionError(`binlog source: ${e.message ?? String(err)}`, { cause: err });
}

/**
 * The stream as an async iterable with a bounded queue: reading pauses the socket while
 * `highWaterMark` events wait unconsumed, and resumes when the consumer has taken half.
 * Breaking out of the loop closes the stream.
 */
export async function* binlogEvents(
  options: Omit<BinlogStreamOptions, "onEvent" | "onError">,
  highWaterMark = 1000,
): AsyncGenerator<BinlogEvent, void, undefined> {
  const queue: BinlogEvent[] = [];
  let head = 0;
  let failure: CanalError | undefined;
  let wake: (() => void) | undefined;
  const stream = await BinlogStream.open({
    ...options,
    onEvent(event) {
      queue.push(event);
      if (queue.length - head >= highWaterMark) stream.pause();
      wake?.();
    },
    onError(err) {
      failure = err;
      wake?.();
    },
  });
  try {
    for (;;) {
      while (head < queue.length) {
        const event = queue[head]!;
        queue[head++] = undefined as unknown as BinlogEvent;
        if (stream.isPaused && queue.length - head <= highWaterMark / 2) stream.resume();
        yield event;
      }
      queue.length = head = 0;
      if (failure !== undefined) throw failure;
      await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
    }
  } finally {
    await stream.close();
  }
}
