/**
 * A Canal client connection to one server address, compatible on the wire with Canal's Java
 * SimpleCanalConnector (canal-facts.md §1.3, §1.5, §1.9), with typed batches, bounded waits and
 * an optional reconnect.
 *
 *   const connector = new CanalConnector({ host: "127.0.0.1", port: 11111, destination: "example" });
 *   await connector.connect();
 *   await connector.subscribe("shop\\..*");
 *   for await (const batch of connector.batches({ batchSize: 100 })) {
 *     for (const change of batch.changes) console.log(change.type, change.table, change.after);
 *     await batch.ack();
 *   }
 *
 * As the Java client does:
 *   - connect = handshake, auth (scramble411; a null/undefined password sends ""), then, when a
 *     filter is remembered, subscribe again with it, then rollback of every unacked batch
 *     (`rollbackOnConnect`, default true) so they are delivered again under new batch ids;
 *   - clientId 1001; getWithoutAck sends fetch_size (1000 when ≤ 0), timeout (-1 when null or
 *     negative), unit (default ms), auto_ack false; get = getWithoutAck + ack, ack(-1) included;
 *   - ack and rollback are written without waiting for a reply (the server sends none on
 *     success), and disconnect never unsubscribes.
 *
 * Where it does better:
 *   - A server error for an ack or rollback arrives ahead of the reply to the next request.
 *     Java takes it for that reply and stays one reply behind; here it is told apart
 *     (request-channel.ts) and thrown by the next call as CanalLateReplyError, while replies
 *     stay in step.
 *   - Batch ids are per server session. A batch remembers its connection; an ack or rollback
 *     of a batch that is not outstanding on the current connection is dropped with
 *     CanalStaleBatchError and never sent, so it can never confirm a different batch that got
 *     the same id after a reconnect or a server restart.
 *   - Every wait is bounded: connect by `connectTimeoutMs`, each reply by `soTimeoutMs` (a
 *     get's own server-side wait is added to it, so a long poll never trips it), and every call
 *     also takes an AbortSignal. A wait that ends early closes the connection, since its reply
 *     may still come and would be mistaken for the next one's.
 *   - `reconnect`: when the connection is lost, reconnect with backoff, subscribe again, roll
 *     back, and retry the call that was waiting (a get lost in flight is delivered again after
 *     the rollback).
 *   - `resolve` instead of host and port: the server's address is asked for before every connect
 *     and reconnect, so a connector with `reconnect` follows a destination's running node across
 *     failovers (src/client/zk-discovery.ts reads it from ZooKeeper):
 *       new CanalConnector({ resolve: (signal) => runningServer(zk, "example", { signal }), destination: "example", reconnect: true })
 *
 * Delivery is at least once: a batch is confirmed only by ack; every batch not acked when a
 * connection ends is delivered again after the next connect's rollback.
 */
import { CanalAuthError, CanalConfigError, CanalConnectionError, CanalError, CanalProtocolError } from "../errors.js";
import {
  EMPTY_BATCH_ID,
  encodeClientAuthFrame,
  encodeGetFrame,
  encodeSubFrame,
  encodeUnsubFrame,
  expectPacket,
  NO_TIMEOUT,
  PacketType,
  readAck,
  readHandshake,
  readMessagesReply,
  scramble411,
  TimeUnit,
} from "../protocol/index.js";
import { resolveBackoff, backoffDelay, type BackoffOptions, type BackoffPolicy } from "./backoff.js";
import { Batch, type BatchOwner } from "./batch.js";
import { TypedEmitter } from "./emitter.js";
import { CanalLateReplyError, CanalStaleBatchError } from "./errors.js";
import { Mutex } from "./mutex.js";
import { abortError, PacketSocket } from "./packet-socket.js";
import { RequestChannel, type Reply } from "./request-channel.js";

/** The Java client's fixed clientId. */
export const DEFAULT_CLIENT_ID = 1001;
/** SimpleCanalConnector's soTimeout: the longest wait for a reply. */
export const DEFAULT_SO_TIMEOUT_MS = 60_000;
/** SimpleCanalConnector's idleTimeout, sent as ClientAuth net_read/net_write_timeout (ms). */
export const DEFAULT_IDLE_TIMEOUT_MS = 3_600_000;
/** Ours: Java leaves the TCP connect to the OS timeout. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
/** What the Java client asks for when given a batch size ≤ 0. */
export const DEFAULT_FETCH_SIZE = 1000;

/** Where a Canal server listens. */
export interface ServerAddress {
  host: string;
  port: number;
}

/**
 * Finds the server to connect to; called before every connect and reconnect, bounded by
 * `connectTimeoutMs` and by `signal` (aborted by disconnect()). A rejection fails that attempt
 * (a reconnect tries again after its backoff).
 */
export type AddressResolver = (signal: AbortSignal) => Promise<ServerAddress>;

export interface CanalConnectorOptions {
  /** The server's host; with `port`, instead of `resolve`. */
  host?: string;
  port?: number;
  /** Resolves the server's address on every (re)connect, e.g. the running node from ZooKeeper; instead of host and port. */
  resolve?: AddressResolver;
  destination: string;
  /** canal.user of the server; default "" (servers without a user accept any). */
  username?: string;
  /** Plain password, scrambled with the handshake seed. null/undefined sends "" (Java's null). */
  password?: string | null;
  /** Default 1001, Canal's Java client's. The server parses it as a Java short. */
  clientId?: number;
  /** A filter to subscribe with on every connect (Java's setFilter); subscribe() replaces it. */
  filter?: string;
  /** Roll back every unacked batch after connect() (Java default true). A reconnect always does. */
  rollbackOnConnect?: boolean;
  /** Roll back every unacked batch in disconnect() (Java default false). */
  rollbackOnDisconnect?: boolean;
  /** Longest wait for a reply, in ms (Java's soTimeout, default 60000). A get's own wait is added. */
  soTimeoutMs?: number;
  /** Sent to the server, which closes the connection after this long without traffic (ms, default 3600000). */
  idleTimeoutMs?: number;
  /** Longest TCP connect, in ms (default 10000); with `resolve`, also the longest wait for an address. */
  connectTimeoutMs?: number;
  /** Reconnect when the connection is lost: true for the default backoff, or its settings. Default false. */
  reconnect?: boolean | BackoffOptions;
  /** Random source for the reconnect jitter (tests pass a fixed one). */
  random?: () => number;
}

export type ConnectorState = "disconnected" | "connecting" | "connected" | "reconnecting";

export interface ConnectorEvents {
  /** A connection is authenticated, subscribed again if a filter is remembered, and rolled back. */
  connected: { connection: number; address: string; reconnect: boolean };
  /** A connection ended; `error` is undefined when disconnect() ended it. */
  disconnected: { connection: number; address: string; error: CanalError | undefined };
  /** The next reconnect attempt starts after `delayMs`; `error` is why the last connection or attempt failed. */
  reconnecting: { attempt: number; delayMs: number; error: CanalError };
  /** The connector stopped: disconnect(), a lost connection without `reconnect`, or reconnecting gave up (`error`). */
  closed: { error: CanalError | undefined };
}

export interface CallOptions {
  /** Ends the wait early; the connection is then closed (see the module comment). */
  signal?: AbortSignal;
}

export interface BatchesOptions extends CallOptions {
  /** fetch_size of each get (entries, or KiB in the server's MEMSIZE mode). Default 1000. */
  batchSize?: number;
  /** How long each get waits on the server for a full batch before returning what is there, in ms. Default 1000. */
  timeoutMs?: number;
}

interface Waiter {
  resolve(): void;
  reject(err: CanalError): void;
}

const TIME_UNIT_MS = [1e-6, 1e-3, 1, 1000, 60_000, 3_600_000, 86_400_000];

export class CanalConnector extends TypedEmitter<ConnectorEvents> implements BatchOwner {
  /** "host:port" of the current or last server: given, or resolved by the last (re)connect ("(unresolved)" before the first). */
  address: string;
  private readonly options: Required<Omit<CanalConnectorOptions, "host" | "port" | "resolve" | "password" | "filter" | "reconnect" | "random">> & {
    password: string | null;
  };
  private readonly resolveAddress: AddressResolver;
  private readonly identity: { destination: string; clientId: string };
  private readonly backoff: BackoffPolicy | undefined;
  private readonly random: () => number;
  private readonly mutex = new Mutex();
  private stateValue: ConnectorState = "disconnected";
  private channel: RequestChannel | undefined;
  private socket: PacketSocket | undefined;
  private connections = 0;
  /** The filter subscribed with on every connect, once known. */
  private filter: string | undefined;
  /** A batch received by a call that threw CanalLateReplyError; the next get returns it. */
  private stash: Batch | undefined;
  /** Aborted by disconnect(): ends reconnecting and waits for a connection. */
  private lifetime = new AbortController();
  private waiters = new Set<Waiter>();
  private lastError: CanalError | undefined;

  constructor(options: CanalConnectorOptions) {
    super();
    this.options = {
      destination: options.destination,
      username: options.username ?? "",
      password: options.password ?? null,
      clientId: options.clientId ?? DEFAULT_CLIENT_ID,
      rollbackOnConnect: options.rollbackOnConnect ?? true,
      rollbackOnDisconnect: options.rollbackOnDisconnect ?? false,
      soTimeoutMs: options.soTimeoutMs ?? DEFAULT_SO_TIMEOUT_MS,
      idleTimeoutMs: options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
      connectTimeoutMs: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    };
    validate(this.options);
    if (options.resolve !== undefined) {
      if (options.host !== undefined || options.port !== undefined) {
        throw new CanalConfigError(`connector options host ${JSON.stringify(options.host)} and port ${JSON.stringify(options.port)} with resolve: expected either host and port, or resolve`);
      }
      if (typeof options.resolve !== "function") throw new CanalConfigError(`connector option resolve ${String(options.resolve)}: expected a function returning a promise of { host, port }`);
      this.resolveAddress = options.resolve;
      this.address = "(unresolved)";
    } else {
      const fixed = checkAddress({ host: options.host, port: options.port }, "connector option");
      this.resolveAddress = async () => fixed;
      this.address = `${fixed.host}:${fixed.port}`;
    }
    this.identity = { destination: options.destination, clientId: String(this.options.clientId) };
    this.filter = options.filter;
    this.backoff = options.reconnect === undefined || options.reconnect === false ? undefined : resolveBackoff(options.reconnect === true ? {} : options.reconnect);
    this.random = options.random ?? Math.random;
  }

  get state(): ConnectorState {
    return this.stateValue;
  }

  /** Our end of the current connection, `ip:port`; undefined while not connected. */
  get localAddress(): string | undefined {
    return this.socket?.localAddress;
  }

  /** The current connection's number (1, 2, … over the connector's life); 0 before the first. */
  get connection(): number {
    return this.channel?.connection ?? 0;
  }

  /**
   * Connects, authenticates, subscribes again with the remembered filter and rolls back (module
   * comment). One attempt: `reconnect` applies to connections lost later. Throws
   * CanalAuthError for rejected credentials, CanalConnectionError when the server cannot be
   * reached in time.
   */
  async connect(options: CallOptions = {}): Promise<void> {
    if (this.stateValue === "connected") return;
    if (this.stateValue !== "disconnected") return this.whenConnected(options.signal);
    this.lifetime = new AbortController();
    this.stateValue = "connecting";
    try {
      await this.open(false, options.signal);
    } catch (err) {
      this.stateValue = "disconnected";
      this.rejectWaiters(asCanalError(err));
      throw err;
    }
  }

  /**
   * Subscribes the client to the destination with a Canal table filter ("" keeps the server's
   * filter; a non-empty one replaces it on Canal, for every client). Remembered and sent again
   * on every reconnect.
   */
  async subscribe(filter = "", options: CallOptions = {}): Promise<void> {
    await this.call(options.signal, async (channel) => {
      await this.subscribeOn(channel, filter, options.signal);
    });
  }

  /** Unsubscribes (on Canal this deletes the client's cursor). Not sent again on reconnect. */
  async unsubscribe(options: CallOptions = {}): Promise<void> {
    await this.call(options.signal, async (channel) => {
      const reply = await channel.request(encodeUnsubFrame({ ...this.identity, filter: "" }), this.options.soTimeoutMs, options.signal);
      settle(reply, () => {
        readAck(reply.packet);
        this.filter = undefined;
      });
    });
  }

  /**
   * Fetches the next batch without confirming it. `timeout` in `unit` (a TimeUnit ordinal,
   * default MILLISECONDS): null/undefined or negative → return at once with what is there
   * (batch -1 when nothing); 0 → the server waits for a full batch (bounded here by
   * soTimeoutMs, as in Java); > 0 → the server waits up to it, then returns what is there.
   */
  async getWithoutAck(batchSize: number, timeout?: number | null, unit: number = TimeUnit.MILLISECONDS, options: CallOptions = {}): Promise<Batch> {
    if (!Number.isInteger(batchSize)) throw new CanalConfigError(`batchSize ${batchSize}: expected an integer (≤ 0 means ${DEFAULT_FETCH_SIZE})`);
    if (!Number.isInteger(unit) || unit < 0 || unit >= TIME_UNIT_MS.length) {
      throw new CanalConfigError(`time unit ${unit}: expected a TimeUnit ordinal from 0 (NANOSECONDS) to 6 (DAYS)`);
    }
    const wireTimeout = timeout === null || timeout === undefined || timeout < 0 ? NO_TIMEOUT : timeout;
    if (!Number.isSafeInteger(wireTimeout)) throw new CanalConfigError(`timeout ${timeout}: expected an integer`);
    const serverWaitMs = wireTimeout === NO_TIMEOUT ? 0 : Math.ceil(wireTimeout * TIME_UNIT_MS[unit]!);
    const frame = encodeGetFrame({
      ...this.identity,
      fetchSize: batchSize <= 0 ? DEFAULT_FETCH_SIZE : batchSize,
      timeout: wireTimeout,
      unit,
      autoAck: false,
    });
    return this.call(options.signal, async (channel) => {
      if (this.stash !== undefined) {
        const stashed = this.stash;
        this.stash = undefined;
        if (stashed.connection === channel.connection) return stashed;
      }
      const reply = await channel.request(frame, serverWaitMs + this.options.soTimeoutMs, options.signal);
      return settle(reply, () => {
        const messages = readMessagesReply(reply.packet);
        channel.received(messages.batchId);
        return new Batch(messages.batchId, messages.messages, channel.connection, this);
      }, (batch) => {
        if (!batch.isEmpty) this.stash = batch;
      });
    });
  }

  /** getWithoutAck, then ack of what it returned (ack(-1) for an empty batch, as Java does). */
  async get(batchSize: number, timeout?: number | null, unit: number = TimeUnit.MILLISECONDS, options: CallOptions = {}): Promise<Batch> {
    const batch = await this.getWithoutAck(batchSize, timeout, unit, options);
    await this.ack(batch);
    return batch;
  }

  /**
   * Confirms a batch, without waiting for a reply (a rejection surfaces as CanalLateReplyError
   * on the next call). Pass the Batch when you have it: a bare id is checked only against the
   * ids outstanding on the current connection. Throws CanalStaleBatchError, without sending,
   * for a batch that is not outstanding on the current connection.
   */
  async ack(batch: number | Batch): Promise<void> {
    const id = checkBatchId(batch, "ack");
    await this.settleBatch("ack", batch, id);
  }

  /**
   * Asks the server to deliver unacked batches again: all of them without an argument (or 0),
   * else the given one (which on Canal must be the oldest, and rewinds the rest too). Written
   * without waiting for a reply. While reconnecting, a rollback of all is already under way and
   * this returns at once.
   */
  async rollback(batch?: number | Batch): Promise<void> {
    const id = batch === undefined ? 0 : checkBatchId(batch, "rollback");
    if (id === 0) {
      const release = await this.mutex.lock();
      try {
        this.stash = undefined;
        if (this.stateValue === "reconnecting") return;
        await this.connectedChannel().rollback(0);
      } finally {
        release();
      }
      return;
    }
    await this.settleBatch("rollback", batch!, id);
  }

  /**
   * Batches as they come, until `signal` aborts or disconnect() is called. Empty gets are not
   * yielded. Nothing is acked for you: call `batch.ack()` when the batch is processed; a batch
   * never acked is delivered again after the next reconnect (at least once).
   */
  async *batches(options: BatchesOptions = {}): AsyncGenerator<Batch, void, undefined> {
    const batchSize = options.batchSize ?? DEFAULT_FETCH_SIZE;
    const timeoutMs = options.timeoutMs ?? 1000;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new CanalConfigError(`batchSize ${batchSize}: expected an integer ≥ 1`);
    if (!Number.isInteger(timeoutMs) || timeoutMs < 0) throw new CanalConfigError(`timeoutMs ${timeoutMs}: expected an integer ≥ 0 (0: return at once)`);
    const { signal } = options;
    const stopped = () => signal?.aborted === true || this.lifetime.signal.aborted;
    while (!stopped()) {
      let batch: Batch;
      try {
        batch = await this.getWithoutAck(batchSize, timeoutMs === 0 ? NO_TIMEOUT : timeoutMs, TimeUnit.MILLISECONDS, { signal });
      } catch (err) {
        if (stopped()) return;
        throw err;
      }
      if (!batch.isEmpty) yield batch;
    }
  }

  /**
   * Closes the connection (after a rollback of all when `rollbackOnDisconnect`) and stops any
   * reconnecting. Never unsubscribes, as Java. A call waiting for a reply fails.
   */
  async disconnect(): Promise<void> {
    const closing = new CanalConnectionError(`connector to ${this.address} was disconnected`, { retriable: false });
    this.lifetime.abort(closing);
    const wasOpen = this.stateValue !== "disconnected";
    this.stateValue = "disconnected";
    this.stash = undefined;
    this.rejectWaiters(closing);
    const { channel, socket } = this;
    if (channel !== undefined && socket !== undefined) {
      if (this.options.rollbackOnDisconnect) await channel.rollback(0).catch(() => undefined);
      this.forget(channel, socket, undefined);
      socket.close(closing);
    }
    if (wasOpen) this.emit("closed", { error: undefined });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.disconnect();
  }

  // ---- connection lifecycle ---------------------------------------------------------------

  private async open(reconnect: boolean, signal: AbortSignal | undefined): Promise<void> {
    const waits = anySignal(signal, this.lifetime.signal);
    const { host, port } = await this.resolveServer(waits);
    this.address = `${host}:${port}`;
    const socket = await PacketSocket.open({ host, port, connectTimeoutMs: this.options.connectTimeoutMs, signal: waits });
    try {
      const so = this.options.soTimeoutMs;
      const { seeds } = readHandshake(await socket.read(so, waits));
      const { username, password, idleTimeoutMs } = this.options;
      const token = password === null ? "" : scramble411(password, seeds);
      await socket.write(encodeClientAuthFrame({ username, password: Buffer.from(token, "utf8"), netReadTimeout: idleTimeoutMs, netWriteTimeout: idleTimeoutMs }));
      const authReply = await socket.read(so, waits);
      expectPacket(authReply, PacketType.ACK);
      try {
        readAck(authReply);
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        throw new CanalAuthError(`authentication to ${this.address} as user "${username}" failed: ${reason}`, { cause: err });
      }
      const channel = new RequestChannel(this.connections + 1, socket, this.identity);
      if (this.filter !== undefined) await this.subscribeOn(channel, this.filter, waits);
      if (reconnect || this.options.rollbackOnConnect) await channel.rollback(0);
      // disconnect() (or the caller's signal) may have come during the last write.
      if (waits.aborted) throw abortError(`connect to ${this.address}`, waits);
      this.connections = channel.connection;
      this.channel = channel;
      this.socket = socket;
      this.stash = undefined;
      this.stateValue = "connected";
      this.lastError = undefined;
      socket.onClosed((reason) => this.lost(channel, socket, reason));
      for (const waiter of this.waiters) waiter.resolve();
      this.waiters.clear();
      this.emit("connected", { connection: channel.connection, address: this.address, reconnect });
    } catch (err) {
      socket.close(asCanalError(err));
      throw err;
    }
  }

  /** The address to connect to now: the fixed one, or the resolver's answer within connectTimeoutMs. */
  private async resolveServer(waits: AbortSignal): Promise<ServerAddress> {
    const timeoutMs = this.options.connectTimeoutMs;
    // Not AbortSignal.timeout(): its timer is unref'd, and a connect waiting only on it would let the process exit.
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(new CanalConnectionError(`no address within ${timeoutMs} ms`)), timeoutMs);
    const bounded = anySignal(waits, timeout.signal);
    let answer: ServerAddress;
    try {
      answer = await this.resolveAddress(bounded);
    } catch (err) {
      if (waits.aborted) throw abortError("resolving the server address", waits);
      if (err instanceof CanalError && !timeout.signal.aborted) throw err;
      const why = timeout.signal.aborted ? `no address within ${timeoutMs} ms` : String(err);
      throw new CanalConnectionError(`resolving the server address for destination "${this.options.destination}" failed: ${why}`, { cause: err });
    } finally {
      clearTimeout(timer);
    }
    return checkAddress(answer, "resolved address");
  }

  private async subscribeOn(channel: RequestChannel, filter: string, signal: AbortSignal | undefined): Promise<void> {
    const reply = await channel.request(encodeSubFrame({ ...this.identity, filter }), this.options.soTimeoutMs, signal);
    settle(reply, () => {
      readAck(reply.packet);
      this.filter = filter;
    });
  }

  /** The connection ended without disconnect(): reconnect, or stop. */
  private lost(channel: RequestChannel, socket: PacketSocket, reason: CanalError): void {
    if (this.channel !== channel) return;
    this.forget(channel, socket, reason);
    if (this.lifetime.signal.aborted) return;
    if (this.backoff === undefined) {
      this.stop(reason);
      return;
    }
    void this.reconnectLoop(this.backoff, reason);
  }

  private forget(channel: RequestChannel, socket: PacketSocket, error: CanalError | undefined): void {
    if (this.channel !== channel) return;
    this.channel = undefined;
    this.socket = undefined;
    this.stash = undefined;
    this.emit("disconnected", { connection: channel.connection, address: socket.address, error });
  }

  private async reconnectLoop(policy: BackoffPolicy, cause: CanalError): Promise<void> {
    this.stateValue = "reconnecting";
    const lifetime = this.lifetime.signal;
    let error = cause;
    for (let attempt = 1; attempt <= policy.maxAttempts; attempt++) {
      const delayMs = backoffDelay(policy, attempt, this.random);
      this.emit("reconnecting", { attempt, delayMs, error });
      try {
        await sleep(delayMs, lifetime);
        await this.open(true, undefined);
        return;
      } catch (err) {
        if (lifetime.aborted) return;
        error = asCanalError(err);
        if (error instanceof CanalAuthError) break;
      }
    }
    this.stop(error);
  }

  private stop(error: CanalError): void {
    this.stateValue = "disconnected";
    this.lastError = error;
    this.rejectWaiters(error);
    this.emit("closed", { error });
  }

  private whenConnected(signal: AbortSignal | undefined): Promise<void> {
    if (this.stateValue === "connected") return Promise.resolve();
    if (this.stateValue === "disconnected") return Promise.reject(this.notConnected());
    if (signal?.aborted) return Promise.reject(abortError("waiting for a connection", signal));
    return new Promise((resolve, reject) => {
      const onAbort = () => waiter.reject(abortError(`waiting for a connection to ${this.address}`, signal!));
      const waiter: Waiter = {
        resolve: () => (signal?.removeEventListener("abort", onAbort), resolve()),
        reject: (err) => (signal?.removeEventListener("abort", onAbort), this.waiters.delete(waiter), reject(err)),
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiters.add(waiter);
    });
  }

  private rejectWaiters(error: CanalError): void {
    for (const waiter of [...this.waiters]) waiter.reject(error);
    this.waiters.clear();
  }

  private notConnected(): CanalError {
    if (this.lastError !== undefined) return this.lastError;
    return new CanalConnectionError(`connector to ${this.address} is not connected; call connect() first`, { retriable: false });
  }

  private connectedChannel(): RequestChannel {
    if (this.channel === undefined) throw this.notConnected();
    return this.channel;
  }

  // ---- calls --------------------------------------------------------------------------------

  /**
   * Runs `fn` on the current connection, one call at a time. While reconnecting it waits for
   * the new connection; with `reconnect`, a call whose connection was lost under it is run
   * again on the next one (safe for subscribe, unsubscribe and get: after the reconnect's
   * rollback a lost get's batch comes again).
   */
  private async call<T>(signal: AbortSignal | undefined, fn: (channel: RequestChannel) => Promise<T>): Promise<T> {
    for (;;) {
      const release = await this.mutex.lock();
      let channel: RequestChannel | undefined;
      try {
        await this.whenConnected(signal);
        channel = this.connectedChannel();
        return await fn(channel);
      } catch (err) {
        const retry =
          this.backoff !== undefined &&
          channel !== undefined &&
          this.channel !== channel &&
          err instanceof CanalConnectionError &&
          err.retriable &&
          !this.lifetime.signal.aborted &&
          !signal?.aborted;
        if (!retry) throw err;
      } finally {
        release();
      }
    }
  }

  private async settleBatch(op: "ack" | "rollback", batch: number | Batch, id: number): Promise<void> {
    const release = await this.mutex.lock();
    try {
      const channel = this.channel;
      if (id === EMPTY_BATCH_ID) {
        // Nothing to confirm; Java still sends ack(-1), which the server ignores.
        if (op === "ack" && channel !== undefined) await channel.ack(EMPTY_BATCH_ID);
        return;
      }
      const from = typeof batch === "number" ? undefined : batch.connection;
      const current = channel?.connection ?? 0;
      if (channel === undefined || (from !== undefined && from !== current) || !channel.isOutstanding(id)) {
        throw new CanalStaleBatchError(op, id, from, current);
      }
      if (op === "ack") await channel.ack(id);
      else {
        if (this.stash?.id === id) this.stash = undefined;
        await channel.rollback(id);
      }
    } finally {
      release();
    }
  }
}

/**
 * The outcome of a reply: `read` interprets it (throwing the request's own error); when late
 * errors came with it, CanalLateReplyError is thrown instead, after `keep` saw the result.
 */
function settle<T>(reply: Reply, read: () => T, keep?: (result: T) => void): T {
  if (reply.late.length === 0) return read();
  let requestError: CanalProtocolError | undefined;
  try {
    keep?.(read());
  } catch (err) {
    if (!(err instanceof CanalProtocolError)) throw err;
    requestError = err;
  }
  throw new CanalLateReplyError(reply.late, reply.unanswered, requestError);
}

function checkBatchId(batch: number | Batch, op: string): number {
  const id = typeof batch === "number" ? batch : batch.id;
  if (!Number.isSafeInteger(id) || id < EMPTY_BATCH_ID || id === 0) {
    throw new CanalConfigError(`${op} of batch id ${id}: expected a batch id from a get (≥ 1, or -1 for an empty batch)`);
  }
  return id;
}

/** A host and port, checked; `what` names their source in the error ("connector option", "resolved address"). */
function checkAddress(address: { host?: unknown; port?: unknown } | undefined, what: string): ServerAddress {
  const { host, port } = address ?? {};
  if (typeof host !== "string" || host === "") throw new CanalConfigError(`${what} host ${JSON.stringify(host)}: expected a host name or IP address`);
  if (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new CanalConfigError(`${what} port ${JSON.stringify(port)}: expected an integer from 1 to 65535`);
  }
  return { host, port };
}

function validate(o: CanalConnector["options"]): void {
  const fail = (name: string, value: unknown, expected: string) => {
    throw new CanalConfigError(`connector option ${name} ${JSON.stringify(value)}: expected ${expected}`);
  };
  if (typeof o.destination !== "string" || o.destination === "") fail("destination", o.destination, "a non-empty destination name");
  if (!Number.isInteger(o.clientId) || o.clientId < -32768 || o.clientId > 32767) fail("clientId", o.clientId, "an integer from -32768 to 32767 (Canal parses it as a Java short)");
  for (const name of ["soTimeoutMs", "connectTimeoutMs"] as const) {
    if (!Number.isInteger(o[name]) || o[name] < 1) fail(name, o[name], "an integer number of ms ≥ 1");
  }
  if (!Number.isInteger(o.idleTimeoutMs) || o.idleTimeoutMs < 1 || o.idleTimeoutMs > 0x7fffffff) fail("idleTimeoutMs", o.idleTimeoutMs, "an integer number of ms from 1 to 2147483647");
}

function asCanalError(err: unknown): CanalError {
  return err instanceof CanalError ? err : new CanalConnectionError(String(err), { cause: err });
}

/** An AbortSignal for whichever of the given signals aborts first. */
function anySignal(...signals: (AbortSignal | undefined)[]): AbortSignal {
  return AbortSignal.any(signals.filter((s): s is AbortSignal => s !== undefined));
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => (clearTimeout(timer), reject(signal.reason));
    const timer = setTimeout(() => (signal.removeEventListener("abort", onAbort), resolve()), ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
