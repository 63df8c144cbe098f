/**
 * One ZooKeeper session as promises, over the pure-JS `node-zookeeper-client` (1.1.3).
 *
 * One object = one session. A session that expired is dead for good: every operation then
 * rejects SESSION_EXPIRED and the caller connects a new ZkSessionClient (Canal's zkclient
 * silently swaps in a new session instead, which is how a Canal server keeps running without
 * noticing it lost its running node; canal-facts.md §4.5, §11.16). The HA machines need to see
 * the loss, so this adapter never hides it.
 *
 * What it adds to the library, and why:
 *   - Exact session events: `connected` (with the session id), `disconnected`, then exactly one
 *     terminal event, `expired` or `closed`. The library emits `disconnected` again after
 *     `expired`, and keeps queued requests forever once expired; both are absorbed here.
 *   - A dead-connection detector. The library has no read timeout: a server that stops answering
 *     without closing the socket (frozen process, network partition) leaves it "connected"
 *     forever, and a server that accepts TCP but never answers the handshake leaves it
 *     "connecting" forever. Like the Java client, we drop a connection that received nothing
 *     for 2/3 of the negotiated session timeout (the library pings every 1/3 when idle), and a
 *     handshake that takes longer than the library's per-server connect timeout. The library then
 *     reports `disconnected` and tries the next server with the same session.
 *   - Every operation has a deadline (default: the negotiated session timeout). Operations
 *     issued while disconnected are held here, not in the library, and sent once reconnected; if
 *     the deadline passes first they reject TIMEOUT with `outcomeUnknown: false`, and are never
 *     sent later. (The library would send them after any reconnect, long after the caller gave
 *     up: a "failed" create of a running node could then succeed behind the caller's back.) An
 *     operation already sent whose connection dies rejects CONNECTION_LOSS (or TIMEOUT) with
 *     `outcomeUnknown: true`: ZooKeeper may or may not have applied it, so read to find out.
 *     Operations are not retried here: a retry of a non-idempotent write belongs to the caller.
 *   - Watches with one meaning: `read(path, watch)` arms a one-shot exists-watch, which fires on
 *     creation, deletion or data change whether or not the node exists now, so a caller re-reads
 *     and re-arms after every event. Watches survive reconnects (the library re-registers them
 *     with SetWatches), never fire after the session expired, and an event of a read that
 *     rejected is dropped (the caller reads again anyway).
 *   - `multi` with correct versions: the library's Transaction turns version 0 into -1
 *     (`version || -1`), which would make a fencing check on a freshly created node (version 0)
 *     always pass. We set the version on the op after adding it.
 *   - null data: Canal creates its persistent and cluster nodes with jute-null data, which zkCli
 *     prints as `null` (an empty array prints as an empty line); `create(path, null, …)` and
 *     `ensurePath` write null, and reads return null for it.
 *   - The chroot of the connect string (`host:port,…/chroot`) is applied here rather than by the
 *     library, so `ensurePath` can create the chroot node itself like any other parent (with the
 *     library's chroot, or Java's, a missing chroot makes every operation fail NO_NODE).
 *   - A server error code the library does not know (SESSION_MOVED -118 and newer codes) makes
 *     it throw inside its socket handler, which would crash the process; we catch that, drop the
 *     connection (the library reconnects) and fail the operations then in flight as
 *     CONNECTION_LOSS, outcome unknown.
 *   - No CREATE2 in the library, so `create` returns no Stat: read the node afterwards. For an
 *     ephemeral node, `stat.ephemeralOwner === client.sessionId` proves the read saw our node.
 *
 * A client cut off from every server never hears of its expiry from the server (only a
 * reconnect tells it); it just stays `disconnected`. Deciding that "disconnected for longer than
 * the session timeout" means lost is the HA machine's job, not this adapter's.
 *
 * The dead-connection detector, the handshake timeout, the close and the error guard reach into
 * the library's ConnectionManager (`connectionManager.socket`, `.state`, `.findNextServer`,
 * `.onSocketData`): the version is pinned in package.json, and the tests exercise every path.
 */
import type { Socket } from "node:net";
import zookeeper from "node-zookeeper-client";
import { CanalConfigError, CanalError } from "../../errors.js";
import { ZkLease } from "../../protocol/zk-lease.js";

export type ZkCode =
  | "NO_NODE"
  | "NODE_EXISTS"
  | "BAD_VERSION"
  | "NOT_EMPTY"
  | "SESSION_EXPIRED"
  | "CONNECTION_LOSS"
  | "TIMEOUT"
  /** The operation was issued after (or was waiting to be sent when) `close()` was called. */
  | "CLOSED"
  | "OTHER";

/** A ZooKeeper operation failed; `code` says how, `path` which node (for multi: the failing op's node). */
export class ZooKeeperError extends CanalError {
  override name = "ZooKeeperError";
  readonly code: ZkCode;
  /** The node, without chroot; undefined for session-wide failures (connect). */
  readonly path: string | undefined;
  /** The operation: "create", "read", "multi", … */
  readonly op: string;
  /**
   * True when the request reached the wire but no answer came back: ZooKeeper may have applied
   * it. False when it was refused, or never sent.
   */
  readonly outcomeUnknown: boolean;

  constructor(
    message: string,
    options: { code: ZkCode; op: string; path?: string | undefined; outcomeUnknown?: boolean; cause?: unknown },
  ) {
    super(message, { retriable: options.code === "CONNECTION_LOSS" || options.code === "TIMEOUT", cause: options.cause });
    this.code = options.code;
    this.op = options.op;
    this.path = options.path;
    this.outcomeUnknown = options.outcomeUnknown ?? false;
  }
}

export type ZkSessionEvent =
  | { type: "connected"; sessionId: string }
  | { type: "disconnected" }
  /** Terminal: the session is gone on the server, its ephemeral nodes and watches with it. */
  | { type: "expired" }
  /** Terminal: `close()` was called (or the server refused our authentication). */
  | { type: "closed" };

export interface ZkStat {
  /** Data version: what setData / delete / a multi check compare against. */
  version: number;
  /** Children version. */
  cversion: number;
  /** The zxid that created the node: a fencing epoch that changes whenever the node is re-created. */
  czxid: bigint;
  /** The zxid of the last data change. */
  mzxid: bigint;
  /** The owning session for an ephemeral node, formatted like `ZkSessionClient.sessionId`; "0x0" for a persistent node. */
  ephemeralOwner: string;
  ctime: number;
  mtime: number;
  /** 0 for null data as for empty data. */
  dataLength: number;
  numChildren: number;
}

export type ZkWatchEvent = { type: "created" | "deleted" | "changed" | "children" };
export type ZkWatcher = (event: ZkWatchEvent) => void;

export type ZkMultiOp =
  | { op: "check"; path: string; version: number }
  /** data null: jute null (the library's own setData cannot send it; its transactions can). */
  | { op: "set"; path: string; data: Uint8Array | null; version: number }
  | { op: "create"; path: string; data: Uint8Array | null; mode: "persistent" | "ephemeral" }
  | { op: "delete"; path: string; version: number };

export interface ZkConnectOptions {
  /** `host:port[,host:port…][/chroot]`. */
  connectString: string;
  /** Requested; the server clamps it into its [minSessionTimeout, maxSessionTimeout]. */
  sessionTimeoutMs: number;
  /** How long `connect` waits for the first session; default sessionTimeoutMs. */
  connectTimeoutMs?: number;
  /** Deadline of each operation; default the negotiated session timeout. */
  operationTimeoutMs?: number;
  /** Session events, in order; called synchronously (an exception thrown here is rethrown asynchronously). */
  onEvent?(event: ZkSessionEvent): void;
}

// ---- the library's internals we rely on (node-zookeeper-client 1.1.3, lib/ConnectionManager.js) --

const CM_STATE = { DISCONNECTED: 0, CONNECTING: 1, CONNECTED: 2, CLOSING: -1, CLOSED: -2, SESSION_EXPIRED: -3, AUTHENTICATION_FAILED: -4 } as const;

interface ConnectionManager {
  state: number;
  socket: Socket | undefined;
  /** Negotiated once connected. */
  sessionTimeout: number;
  /** Per-server TCP connect timeout: sessionTimeout / number of servers. */
  connectTimeout: number;
  findNextServer(callback: (server: unknown) => void): void;
  onSocketData(buffer: Buffer): void;
  on(event: "state", listener: (state: number) => void): unknown;
  removeListener(event: "state", listener: (state: number) => void): unknown;
}

type Library = typeof zookeeper;
type Client = zookeeper.Client;
type LibraryStat = zookeeper.Stat;
type Callback<T> = (error: Error | zookeeper.Exception | null, value?: T) => void;

const { CreateMode, Event, Exception, State } = zookeeper as Library;

/** The library's error codes we name; anything else is OTHER. */
const CODES: ReadonlyMap<number, ZkCode> = new Map([
  [Exception.NO_NODE, "NO_NODE"],
  [Exception.NODE_EXISTS, "NODE_EXISTS"],
  [Exception.BAD_VERSION, "BAD_VERSION"],
  [Exception.NOT_EMPTY, "NOT_EMPTY"],
  [Exception.SESSION_EXPIRED, "SESSION_EXPIRED"],
  [Exception.CONNECTION_LOSS, "CONNECTION_LOSS"],
  [Exception.OPERATION_TIMEOUT, "TIMEOUT"],
]);

/** A request of ours: held until connected, then sent; settled once. */
interface Pending {
  op: string;
  path: string | undefined;
  send(): void;
  sent: boolean;
  settled: boolean;
  fail(err: ZooKeeperError): void;
}

/** One watcher given to the library, fanning out to the one-shot watches armed through it. */
interface Fanout {
  fire(event: zookeeper.Event): void;
  watches: Set<(event: zookeeper.Event) => void>;
}

export class ZkSessionClient {
  private readonly client: Client;
  private readonly cm: ConnectionManager;
  private readonly chroot: string;
  private readonly hosts: string;
  private readonly operationTimeoutMs: number | undefined;
  private readonly onEvent: ((event: ZkSessionEvent) => void) | undefined;
  /** Not yet sent, in issue order; sent when connected. */
  private readonly held: Pending[] = [];
  private readonly inFlight = new Set<Pending>();
  private id = "0x0";
  private lastEvent: ZkSessionEvent["type"] | undefined;
  private terminal: "expired" | "closed" | undefined;
  private closing: Promise<void> | undefined;
  private silent = false;
  // The dead-connection detector.
  private watchdog: NodeJS.Timeout | undefined;
  /** The library-facing watcher of each kind of watch and path (see oneShot). */
  private readonly fanouts = new Map<string, Fanout>();
  private watchedSocket: Socket | undefined;
  private socketSince = 0;
  private lastReceived = 0;
  /** The lease over all of this session's connections (see lastHeardAt). */
  private heardAt = 0;

  private constructor(options: ZkConnectOptions, hosts: string, chroot: string) {
    this.hosts = hosts;
    this.chroot = chroot;
    this.operationTimeoutMs = options.operationTimeoutMs;
    this.onEvent = options.onEvent;
    this.client = zookeeper.createClient(hosts, {
      sessionTimeout: options.sessionTimeoutMs,
      // After every server was tried, the library waits up to this long (random) before the next
      // round. Its 1 s default is half a 2 s session; keep the gap small next to the session.
      spinDelay: Math.max(50, Math.min(1000, Math.floor(options.sessionTimeoutMs / 10))),
      // Never let the library resend a request on CONNECTION_LOSS: it could apply twice.
      retries: 0,
    });
    this.cm = (this.client as unknown as { connectionManager: ConnectionManager }).connectionManager;
    this.guardLibrary();
    this.client.on("state", (state) => this.onState(state));
  }

  /**
   * Opens a session; resolves once connected. Rejects with a retriable ZooKeeperError TIMEOUT
   * when no server gave a session within connectTimeoutMs (the attempt is then closed), and a
   * CanalConfigError for a malformed connect string.
   */
  static async connect(options: ZkConnectOptions): Promise<ZkSessionClient> {
    const { hosts, chroot } = parseConnectString(options.connectString);
    if (!Number.isInteger(options.sessionTimeoutMs) || options.sessionTimeoutMs <= 0)
      throw new CanalConfigError(`ZooKeeper session timeout ${options.sessionTimeoutMs} ms: expected a positive integer of milliseconds`);
    const zk = new ZkSessionClient(options, hosts, chroot);
    const timeoutMs = options.connectTimeoutMs ?? options.sessionTimeoutMs;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        zk.silent = true;
        void zk.close();
        reject(
          new ZooKeeperError(`no ZooKeeper session with ${options.connectString} within ${timeoutMs} ms`, {
            code: "TIMEOUT",
            op: "connect",
          }),
        );
      }, timeoutMs);
      zk.client.once("connected", () => {
        clearTimeout(timer);
        resolve();
      });
      zk.client.connect();
      zk.startWatchdog();
    });
    return zk;
  }

  /** The session id as ZooKeeper prints it ("0x1000a3c5b2e0000"); also what `ZkStat.ephemeralOwner` holds. */
  get sessionId(): string {
    return this.id;
  }

  /** The session timeout the server granted, ms. */
  get sessionTimeoutMs(): number {
    return this.client.getSessionTimeout();
  }

  /** "host:port" of the server this client is connected to; undefined while not connected. */
  get server(): string | undefined {
    const socket = this.cm.socket;
    if (this.cm.state !== CM_STATE.CONNECTED || socket === undefined || socket.destroyed) return undefined;
    return `${socket.remoteAddress}:${socket.remotePort}`;
  }

  /**
   * Epoch ms when this client sent the latest request a server answered (the handshake, any
   * operation, a ping; see ZkLease); 0 before the first answer. The session cannot have expired
   * before this plus the session timeout, so HA code uses it as a lease: unlike the session
   * events, it goes stale by itself while this process is frozen (SIGSTOP, a long GC pause), and
   * bytes that waited in the socket buffer during the freeze do not renew it when they are read,
   * since the requests they answer were sent before the freeze.
   */
  get lastHeardAt(): number {
    return this.heardAt;
  }

  /** Whether the session is connected to a server right now. */
  get connected(): boolean {
    return this.terminal === undefined && this.cm.state === CM_STATE.CONNECTED;
  }

  // ---- operations --------------------------------------------------------------------------

  /**
   * Creates a node; null data is jute null (zkCli prints `null`), as Canal writes its nodes.
   * Rejects NODE_EXISTS, or NO_NODE when the parent is missing. Returns no Stat (see header).
   */
  async create(path: string, data: Uint8Array | null, mode: "persistent" | "ephemeral"): Promise<void> {
    const real = this.real(path);
    const flags = mode === "ephemeral" ? CreateMode.EPHEMERAL : CreateMode.PERSISTENT;
    await this.run<string>("create", path, (cb) =>
      data === null ? this.client.create(real, flags, cb) : this.client.create(real, toBuffer(data), flags, cb),
    );
  }

  /**
   * Creates `path` and each missing parent (the chroot included) as persistent nodes with null
   * data, as zkclient's createPersistent(path, createParents) does for Canal. Existing nodes are
   * left as they are.
   */
  async ensurePath(path: string): Promise<void> {
    this.real(path);
    if (path === "/") return this.ensureReal(this.chroot);
    return this.ensureReal(this.real(path));
  }

  /**
   * The node's data (null for jute-null data) and Stat; undefined when it does not exist. With
   * `watch`, arms a one-shot watch that fires on creation, deletion or data change (whether or
   * not the node exists now); re-read and re-arm after each event.
   */
  async read(path: string, watch?: ZkWatcher): Promise<{ data: Uint8Array | null; stat: ZkStat } | undefined> {
    const real = this.real(path);
    const watcher = watch && this.oneShot(watch, `read ${real}`);
    try {
      // The watch goes on with `exists` so that it is armed whether or not the node exists;
      // the data is read after it, so any change after the data we return fires the watch.
      const exists = await this.run<LibraryStat | null>("read", path, (cb) =>
        watcher ? this.client.exists(real, watcher.fire, cb) : this.client.exists(real, cb),
      );
      let result: { data: Uint8Array | null; stat: ZkStat } | undefined;
      if (exists) {
        const got = await this.run<[Buffer | undefined, LibraryStat]>("read", path, (cb) =>
          this.client.getData(real, (err, data, stat) => cb(err, [data, stat])),
        ).catch(absentAsUndefined);
        if (got) result = { data: got[0] ?? null, stat: toStat(got[1]) };
      }
      watcher?.arm();
      return result;
    } catch (err) {
      watcher?.disarm();
      throw err;
    }
  }

  /**
   * The child names (unsorted, as the server returns them); [] when the node does not exist.
   * With `watch`, arms a one-shot watch on the child list, or, when the node does not exist,
   * on its creation.
   */
  async children(path: string, watch?: ZkWatcher): Promise<string[]> {
    const real = this.real(path);
    const watcher = watch && this.oneShot(watch, `children ${real}`);
    try {
      for (;;) {
        const names = await this.run<string[]>("children", path, (cb) =>
          watcher ? this.client.getChildren(real, watcher.fire, cb) : this.client.getChildren(real, cb),
        ).catch(absentAsUndefined);
        if (names !== undefined) {
          watcher?.arm();
          return names;
        }
        if (!watcher) return [];
        // Absent: watch for its creation instead. If it appeared meanwhile, list it after all.
        const exists = await this.run<LibraryStat | null>("children", path, (cb) => this.client.exists(real, watcher.fire, cb));
        if (!exists) {
          watcher.arm();
          return [];
        }
      }
    } catch (err) {
      watcher?.disarm();
      throw err;
    }
  }

  /** Writes data if the node's version is `version` (-1: any). Rejects NO_NODE, BAD_VERSION. Jute-null data only goes through `multi`. */
  async setData(path: string, data: Uint8Array, version: number): Promise<ZkStat> {
    const real = this.real(path);
    checkVersion(version, path);
    return toStat(await this.run<LibraryStat>("setData", path, (cb) => this.client.setData(real, toBuffer(data), version, cb)));
  }

  /**
   * Deletes the node if its version is `version` (-1: any). A node already gone counts as
   * deleted (releasing a running node that vanished is success). Rejects BAD_VERSION, NOT_EMPTY.
   */
  async delete(path: string, version = -1): Promise<void> {
    const real = this.real(path);
    checkVersion(version, path);
    await this.run<void>("delete", path, (cb) => this.client.remove(real, version, cb)).catch(absentAsUndefined);
  }

  /** Deletes the node and everything under it, deepest first; missing nodes are fine (Canal's unsubscribe). */
  async deleteRecursive(path: string): Promise<void> {
    if (path === "/") throw new CanalConfigError(`deleteRecursive("/") would delete the whole tree: expected a node below the root`);
    for (const child of await this.children(path)) await this.deleteRecursive(`${path}/${child}`);
    await this.delete(path);
  }

  /**
   * Applies all ops or none. On failure rejects with the failing op's code and path (e.g.
   * BAD_VERSION for a check whose node moved on). Resolves with the new Stat of each "set" op,
   * undefined for the others.
   */
  async multi(ops: readonly ZkMultiOp[]): Promise<Array<ZkStat | undefined>> {
    if (ops.length === 0) return [];
    const tx = this.client.transaction();
    const internal = tx as unknown as { ops: Array<{ version?: number }> };
    // The library's check/setData/remove turn version 0 into -1; set the version afterwards.
    const withVersion = (version: number) => (internal.ops[internal.ops.length - 1]!.version = version);
    for (const op of ops) {
      const real = this.real(op.path);
      switch (op.op) {
        case "check":
          checkVersion(op.version, op.path);
          tx.check(real, op.version);
          withVersion(op.version);
          break;
        case "set":
          checkVersion(op.version, op.path);
          tx.setData(real, op.data === null ? null : toBuffer(op.data), op.version);
          withVersion(op.version);
          break;
        case "delete":
          checkVersion(op.version, op.path);
          tx.remove(real, op.version);
          withVersion(op.version);
          break;
        case "create": {
          const flags = op.mode === "ephemeral" ? CreateMode.EPHEMERAL : CreateMode.PERSISTENT;
          if (op.data === null) tx.create(real, flags);
          else tx.create(real, toBuffer(op.data), flags);
          break;
        }
      }
    }
    type Result = { type: number; err?: number; stat?: LibraryStat };
    const summary = ops.map((o) => `${o.op} ${o.path}`).join(", ");
    const results = await this.run<Result[]>("multi", undefined, (cb) =>
      tx.commit((err, results: Result[] | undefined) => {
        if (!err || !Array.isArray(results)) return cb(err, results);
        // Ops before the failing one report OK, those after it RUNTIME_INCONSISTENCY.
        const index = results.findIndex((r) => r.err !== undefined && r.err !== Exception.OK);
        const failed = ops[index];
        const code = codeOf(err);
        cb(
          new ZooKeeperError(`ZooKeeper multi [${summary}] failed at op ${index} (${failed?.op} ${failed?.path}): ${code}`, {
            code,
            op: "multi",
            path: failed?.path,
            cause: err,
          }),
        );
      }),
    );
    return results.map((r) => (r.stat ? toStat(r.stat) : undefined));
  }

  /**
   * Ends the session: the server deletes its ephemeral nodes at once (when connected; otherwise
   * they go when the session expires). Idempotent; resolves once the connection is closed.
   * Operations not yet sent reject CLOSED; those already sent get their answer first.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  // ---- internals ---------------------------------------------------------------------------

  private async shutdown(): Promise<void> {
    const wasTerminal = this.terminal !== undefined;
    this.terminal ??= "closed";
    this.failHeld("CLOSED", "the client was closed before it was sent", false);
    if (this.cm.state === CM_STATE.CONNECTED) {
      // Send CloseSession and wait for the server to hang up (bounded: it may be frozen).
      const closed = new Promise<void>((resolve) => {
        const onState = (state: number) => {
          if (state !== CM_STATE.CLOSED) return;
          this.cm.removeListener("state", onState);
          resolve();
        };
        this.cm.on("state", onState);
      });
      this.client.close();
      await raceTimeout(closed, Math.min(2000, this.client.getSessionTimeout()));
    }
    this.stopLibrary();
    this.failInFlight("CLOSED", "the client was closed before an answer came", true);
    if (!wasTerminal) this.emit({ type: "closed" });
  }

  /** Stops all library activity for good: no socket, no reconnect, no timers. */
  private stopLibrary(): void {
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = undefined;
    const state = this.cm.state;
    // A socket closing in any other state makes the library reconnect; CLOSING makes it stop.
    if (state === CM_STATE.DISCONNECTED || state === CM_STATE.CONNECTING || state === CM_STATE.CONNECTED) this.cm.state = CM_STATE.CLOSING;
    const socket = this.cm.socket;
    if (socket && !socket.destroyed) socket.destroy();
  }

  /** The library's state events, turned into exact session events. */
  private onState(state: zookeeper.State): void {
    if (this.terminal !== undefined) return;
    if (state === State.SYNC_CONNECTED) {
      this.id = formatSessionId(this.client.getSessionId());
      this.emit({ type: "connected", sessionId: this.id });
      this.flushHeld();
    } else if (state === State.DISCONNECTED) {
      if (this.lastEvent === "connected") this.emit({ type: "disconnected" });
    } else if (state === State.EXPIRED) {
      this.terminal = "expired";
      this.failHeld("SESSION_EXPIRED", "the session expired before it was sent", false);
      this.failInFlight("SESSION_EXPIRED", "the session expired before an answer came", false);
      this.emit({ type: "expired" });
      // The library stops reconnecting once expired; make sure the socket and timers are gone.
      setImmediate(() => this.stopLibrary());
    } else if (state === State.AUTH_FAILED) {
      // We never add auth info, so this is not expected; treat it as a terminal close.
      void this.close();
    }
  }

  private emit(event: ZkSessionEvent): void {
    if (this.lastEvent === event.type && event.type !== "connected") return;
    this.lastEvent = event.type;
    if (this.silent || !this.onEvent) return;
    safely(() => this.onEvent!(event));
  }

  /**
   * Issues one library request with a deadline. While disconnected it waits in `held`; a
   * request sent is in `inFlight` until answered, failed by the library, or failed by us.
   */
  private run<T>(op: string, path: string | undefined, issue: (cb: Callback<T>) => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.terminal !== undefined) {
        const code = this.terminal === "expired" ? "SESSION_EXPIRED" : "CLOSED";
        return reject(this.error(code, op, path, this.terminal === "expired" ? "the session expired" : "the client is closed", false));
      }
      const deadlineMs = this.operationTimeoutMs ?? this.client.getSessionTimeout();
      const pending: Pending = {
        op,
        path,
        sent: false,
        settled: false,
        fail: (err) => {
          if (pending.settled) return;
          pending.settled = true;
          clearTimeout(timer);
          this.inFlight.delete(pending);
          const at = this.held.indexOf(pending);
          if (at >= 0) this.held.splice(at, 1);
          reject(err);
        },
        send: () => {
          pending.sent = true;
          this.inFlight.add(pending);
          try {
            issue((err, value) => {
              if (pending.settled) return;
              if (err) return pending.fail(err instanceof ZooKeeperError ? err : this.fromLibrary(err, op, path));
              pending.settled = true;
              clearTimeout(timer);
              this.inFlight.delete(pending);
              resolve(value as T);
            });
          } catch (err) {
            // The library asserts its arguments synchronously.
            pending.fail(this.error("OTHER", op, path, `refused by the ZooKeeper client: ${(err as Error).message}`, false, err));
          }
        },
      };
      const timer = setTimeout(() => {
        pending.fail(
          pending.sent
            ? this.error("TIMEOUT", op, path, `no answer within ${deadlineMs} ms; it may have been applied`, true)
            : this.error("TIMEOUT", op, path, `not connected within ${deadlineMs} ms; it was not sent`, false),
        );
      }, deadlineMs);
      if (this.cm.state === CM_STATE.CONNECTED) pending.send();
      else this.held.push(pending);
    });
  }

  private flushHeld(): void {
    for (const pending of this.held.splice(0)) if (!pending.settled) pending.send();
  }

  private failHeld(code: ZkCode, why: string, outcomeUnknown: boolean): void {
    for (const p of this.held.splice(0)) p.fail(this.error(code, p.op, p.path, why, outcomeUnknown));
  }

  private failInFlight(code: ZkCode, why: string, outcomeUnknown: boolean, cause?: unknown): void {
    for (const p of [...this.inFlight]) p.fail(this.error(code, p.op, p.path, why, outcomeUnknown, cause));
  }

  private fromLibrary(err: Error | zookeeper.Exception, op: string, path: string | undefined): ZooKeeperError {
    const code = codeOf(err);
    // CONNECTION_LOSS from the library means the socket closed with the request on the wire.
    const outcomeUnknown = code === "CONNECTION_LOSS";
    return this.error(code, op, path, outcomeUnknown ? "the connection was lost before an answer came; it may have been applied" : String(err), outcomeUnknown, err);
  }

  private error(code: ZkCode, op: string, path: string | undefined, why: string, outcomeUnknown: boolean, cause?: unknown): ZooKeeperError {
    const where = path === undefined ? "" : ` ${path}`;
    const session = this.id === "0x0" ? "" : ` (session ${this.id})`;
    return new ZooKeeperError(`ZooKeeper ${op}${where} failed with ${code}${session}: ${why}`, { code, op, path, outcomeUnknown, cause });
  }

  /**
   * A watch that fires once; an event arriving before its read resolved is delivered after it,
   * and dropped if the read failed. `fire` is the function given to the library: one per kind
   * of watch and path, shared by every watch armed there until an event fires them all. The
   * library keeps one listener per distinct function until the node changes, so a fresh
   * function per read would pile up on a node that stays quiet (a client that re-discovers the
   * same running node after every reconnect).
   */
  private oneShot(watch: ZkWatcher, key: string): { fire: (event: zookeeper.Event) => void; arm(): void; disarm(): void } {
    let state: "pending" | "armed" | "done" = "pending";
    let early: ZkWatchEvent | undefined;
    const deliver = (event: ZkWatchEvent) => {
      if (state === "done" || this.terminal !== undefined) return;
      state = "done";
      safely(() => watch(event));
    };
    const onEvent = (event: zookeeper.Event) => {
      const mapped = toWatchEvent(event);
      if (state === "armed") deliver(mapped);
      else if (state === "pending") early ??= mapped;
    };
    const fanout = this.fanoutFor(key);
    fanout.watches.add(onEvent);
    return {
      fire: fanout.fire,
      arm: () => {
        if (state !== "pending") return;
        state = "armed";
        if (early) {
          const event = early;
          queueMicrotask(() => deliver(event));
        }
      },
      disarm: () => {
        state = "done";
        fanout.watches.delete(onEvent);
      },
    };
  }

  private fanoutFor(key: string): Fanout {
    const existing = this.fanouts.get(key);
    if (existing) return existing;
    const fanout: Fanout = {
      watches: new Set(),
      fire: (event) => {
        // An event ends every watch armed so far; the next read arms a new fanout.
        if (this.fanouts.get(key) === fanout) this.fanouts.delete(key);
        const watches = [...fanout.watches];
        fanout.watches.clear();
        for (const onEvent of watches) onEvent(event);
      },
    };
    this.fanouts.set(key, fanout);
    return fanout;
  }

  private async ensureReal(real: string): Promise<void> {
    if (real === "") return;
    const shown = real.slice(this.chroot.length) || "/";
    try {
      await this.run<string>("ensurePath", shown, (cb) => this.client.create(real, CreateMode.PERSISTENT, cb));
    } catch (err) {
      if (err instanceof ZooKeeperError && err.code === "NODE_EXISTS") return;
      if (!(err instanceof ZooKeeperError) || err.code !== "NO_NODE") throw err;
      // Only now walk up: the usual case (the path exists) costs one request.
      await this.ensureReal(real.slice(0, real.lastIndexOf("/")));
      await this.ensureReal(real);
    }
  }

  /** The server-side path: the chroot prefixed, after checking the path's form. */
  private real(path: string): string {
    if (typeof path !== "string" || !path.startsWith("/") || (path !== "/" && (path.endsWith("/") || path.includes("//"))) || path.includes("\u0000"))
      throw new CanalConfigError(`ZooKeeper path ${JSON.stringify(path)}: expected an absolute path like /otter/canal, without a trailing or double '/'`);
    const parts = path.split("/");
    if (parts.some((p) => p === "." || p === ".."))
      throw new CanalConfigError(`ZooKeeper path ${JSON.stringify(path)}: "." and ".." are not allowed as node names`);
    if (this.chroot === "") return path;
    return path === "/" ? this.chroot : this.chroot + path;
  }

  /** See the header: the library's gaps that need its internals. */
  private guardLibrary(): void {
    const cm = this.cm;
    const findNextServer = cm.findNextServer.bind(cm);
    // The library opens the next socket from a timer; once we stopped, it must not.
    cm.findNextServer = (callback) =>
      findNextServer((server) => {
        if (this.terminal === undefined) callback(server);
      });
    // Every socket the library opens: its bytes both ways feed the lease (see ZkLease).
    let socket: Socket | undefined = cm.socket;
    let lease = new ZkLease();
    Object.defineProperty(cm, "socket", {
      get: () => socket,
      set: (opened: Socket | undefined) => {
        socket = opened;
        lease = new ZkLease();
        if (opened === undefined) return;
        const write = opened.write.bind(opened) as (chunk: Uint8Array, ...rest: unknown[]) => boolean;
        const connectionLease = lease;
        opened.write = ((chunk: Uint8Array, ...rest: unknown[]) => {
          connectionLease.sent(chunk, Date.now());
          return write(chunk, ...rest);
        }) as Socket["write"];
      },
    });
    const onSocketData = cm.onSocketData.bind(cm);
    cm.onSocketData = (buffer: Buffer) => {
      this.lastReceived = Date.now();
      lease.received(buffer);
      if (lease.renewedAt > this.heardAt) this.heardAt = lease.renewedAt;
      try {
        onSocketData(buffer);
      } catch (err) {
        // An error code the library cannot name (e.g. SESSION_MOVED): drop this connection.
        this.failInFlight("CONNECTION_LOSS", `the ZooKeeper client failed on the server's answer (${(err as Error).message}); it may have been applied`, true, err);
        cm.socket?.destroy();
      }
    };
  }

  /** Drops a connection that went quiet (see the header): the library then reconnects. */
  private startWatchdog(): void {
    const tickMs = Math.max(20, Math.min(250, Math.floor(this.cm.sessionTimeout / 12)));
    this.watchdog = setInterval(() => {
      const socket = this.cm.socket;
      if (!socket || socket.destroyed) return;
      const now = Date.now();
      if (socket !== this.watchedSocket) {
        this.watchedSocket = socket;
        this.socketSince = now;
        this.lastReceived = now;
      }
      const state = this.cm.state;
      if (state === CM_STATE.CONNECTED && now - this.lastReceived > Math.floor((this.cm.sessionTimeout * 2) / 3)) socket.destroy();
      else if (state === CM_STATE.CONNECTING && now - this.socketSince > Math.max(this.cm.connectTimeout, 2 * tickMs)) socket.destroy();
    }, tickMs);
    this.watchdog.unref();
  }
}

// ---- helpers ---------------------------------------------------------------------------------

/** `host:port[,host:port…][/chroot]` → the hosts for the library, and the chroot ("" for none). */
export function parseConnectString(connectString: string): { hosts: string; chroot: string } {
  const slash = connectString.indexOf("/");
  const hosts = slash < 0 ? connectString : connectString.slice(0, slash);
  let chroot = slash < 0 ? "" : connectString.slice(slash);
  if (chroot === "/") chroot = "";
  const expected = "expected host:port[,host:port…][/chroot]";
  const entries = hosts.split(",");
  if (hosts === "" || entries.some((h) => !/^[^\s:,/]+(:[0-9]{1,5})?$/.test(h)))
    throw new CanalConfigError(`ZooKeeper connect string ${JSON.stringify(connectString)}: ${expected}`);
  if (chroot !== "" && (chroot.endsWith("/") || chroot.includes("//") || chroot.split("/").some((p) => p === "." || p === "..")))
    throw new CanalConfigError(`ZooKeeper connect string ${JSON.stringify(connectString)}: the chroot ${JSON.stringify(chroot)} is not a path; ${expected}`);
  return { hosts, chroot };
}

/** 8 bytes, big endian, as ZooKeeper prints session ids: "0x" and lowercase hex without leading zeros. */
function formatSessionId(bytes: Buffer): string {
  return `0x${bytes.readBigUInt64BE(0).toString(16)}`;
}

function toStat(stat: LibraryStat): ZkStat {
  return {
    version: stat.version,
    cversion: stat.cversion,
    czxid: stat.czxid.readBigInt64BE(0),
    mzxid: stat.mzxid.readBigInt64BE(0),
    ephemeralOwner: formatSessionId(stat.ephemeralOwner),
    ctime: Number(stat.ctime.readBigInt64BE(0)),
    mtime: Number(stat.mtime.readBigInt64BE(0)),
    dataLength: stat.dataLength,
    numChildren: stat.numChildren,
  };
}

function toWatchEvent(event: zookeeper.Event): ZkWatchEvent {
  switch (event.getType()) {
    case Event.NODE_CREATED:
      return { type: "created" };
    case Event.NODE_DELETED:
      return { type: "deleted" };
    case Event.NODE_CHILDREN_CHANGED:
      return { type: "children" };
    default:
      return { type: "changed" };
  }
}

/** The library asserts `Buffer.isBuffer`; a plain Uint8Array is wrapped without a copy. */
function toBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

function codeOf(err: Error | zookeeper.Exception): ZkCode {
  const code = (err as { code?: unknown }).code;
  return (typeof code === "number" && CODES.get(code)) || "OTHER";
}

function checkVersion(version: number, path: string): void {
  if (!Number.isInteger(version) || version < -1 || version > 2147483647)
    throw new CanalConfigError(`ZooKeeper version ${version} for ${path}: expected -1 (any) or a node version from 0 to 2147483647`);
}

function absentAsUndefined(err: unknown): undefined {
  if (err instanceof ZooKeeperError && err.code === "NO_NODE") return undefined;
  throw err;
}

/** Calls back into user code without letting its exception unwind into the library's socket handler. */
function safely(fn: () => void): void {
  try {
    fn();
  } catch (err) {
    queueMicrotask(() => {
      throw err;
    });
  }
}

function raceTimeout(promise: Promise<void>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    void promise.then(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
