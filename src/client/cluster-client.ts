/**
 * The cluster client: Canal's ClusterCanalConnector with client HA (canal-facts.md §1.9, §5),
 * as the client machine (src/machines/client.ts) running over a ZooKeeper session.
 *
 *   const client = createCanalClient({ zk: "127.0.0.1:2181", destination: "example", filter: "shop\\..*" });
 *   client.on("state", ({ state }) => console.error(state));
 *   for await (const batch of client) {
 *     for (const change of batch.changes) console.log(change.type, change.table, change.after);
 *     await batch.ack();
 *   }
 *   ...
 *   await client.close();   // releases the client node: a standby takes over at once
 *
 * What it does:
 *   - Election: clients of one destination and clientId elect one active consumer with Canal's
 *     EPHEMERAL `/otter/canal/destinations/<d>/<clientId>/running` node and its ClientRunningData
 *     JSON (first written with the host IP, then with the local socket ip:port once connected), so
 *     Java Canal clients and canal-ts clients of one clientId exclude each other. The others stand
 *     by on a watch and contend the moment the node goes.
 *   - Identity: the node also carries `"identity"` (an extra key, which Canal's parser ignores).
 *     A client that finds a node with its own identity held by another session, the first time
 *     it elects, takes it over instead of waiting for the old session to expire: the process
 *     before a crash, a power loss or a kill -9 restarted with the same identity. The default,
 *     `<hostname>/<hash of the working directory and the entry script>`, is stable across restarts
 *     of one deployment on one host and differs between deployments. Give `identity` explicitly
 *     when that is not what "the same client" means (a pod name in a StatefulSet, say); two live
 *     processes sharing one identity make the newer one active and the older one stand by.
 *   - Discovery: the server comes from the destination's running node (watched: when it names
 *     another server the client moves at once), with Canal's fallback to the servers registered
 *     under `/destinations/<d>/cluster`; or from a fixed `servers` list, tried in turn, without
 *     ZooKeeper and without election.
 *   - Every (re)connect subscribes with the filter and rolls back every unacked batch, so they
 *     come again under new batch ids; a batch is acked only on the connection it came from
 *     (CanalStaleBatchError otherwise, never sent).
 *   - close() releases the client node before ending the session, so a standby takes over at
 *     once: a rolling restart whose new client starts first completes when the old one stops.
 *
 * Delivery is at least once: a batch not acked when its connection or its client ends is
 * delivered again, to this client or to the standby that takes over.
 */
import { createHash } from "node:crypto";
import { hostname, networkInterfaces } from "node:os";
import { createActor, type Actor, type InspectionEvent, type Observer } from "xstate";
import { ZkSessionActor } from "../actors/cluster/zk-session.js";
import { CanalConfigError, CanalConnectionError, CanalError } from "../errors.js";
import { clientMachine, clientState, DEFAULT_CLIENT_RETRY_DELAY_MS, type ClientEvent, type ClientState } from "../machines/client.js";
import { compileNameFilter } from "../protocol/filter.js";
import { clientRunningPath, parseServerAddress } from "../protocol/zk-layout.js";
import { backoffDelay, resolveBackoff, type BackoffOptions } from "./backoff.js";
import type { Batch } from "./batch.js";
import { clusterActors, type ClusterActorHost } from "./cluster-actors.js";
import { DEFAULT_CLIENT_ID, DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_SO_TIMEOUT_MS, type ServerAddress } from "./connector.js";
import { TypedEmitter } from "./emitter.js";
import { CanalStaleBatchError } from "./errors.js";

/** The client's ZooKeeper session timeout by default: how long a killed active client keeps a standby waiting. */
export const DEFAULT_CLIENT_SESSION_TIMEOUT_MS = 6000;
/** Entries per get by default (Java's fetch size when none is given). */
export const DEFAULT_CLIENT_BATCH_SIZE = 1000;

export interface CanalClientOptions {
  /** ZooKeeper connect string `host:port[,…][/chroot]`: discovery and client election. Either this or `servers`. */
  zk?: string;
  /** Fixed Canal servers, `"host:port"` (comma-separated) or a list, tried in turn; no ZooKeeper, no election. */
  servers?: string | readonly (string | ServerAddress)[];
  destination: string;
  /** Canal clientId, default 1001 (the Java client's). Clients with one clientId share one cursor and elect one consumer. */
  clientId?: number;
  /** Canal table filter to subscribe with; default "" (keep the server's). */
  filter?: string;
  /** fetch_size of each get (entries, or KiB in the server's MEMSIZE mode). Default 1000. */
  batchSize?: number;
  /** How long one get waits on the server for a full batch, in ms. Default 1000. */
  pollMs?: number;
  username?: string;
  password?: string | null;
  /** Who this client is across restarts (see the module comment). */
  identity?: string;
  /** ZooKeeper session timeout requested, in ms (default 6000): a killed active client's node goes after this. */
  zkSessionTimeoutMs?: number;
  /** Longest standby wait before the client fails with a CanalError, in ms; default: wait until close(). */
  standbyTimeoutMs?: number;
  /** Backoff of reconnects (default 100 ms doubling to 5 s, jittered). */
  reconnect?: BackoffOptions;
  /** Longest wait for one reply (Java's soTimeout), ms; default 60000. */
  soTimeoutMs?: number;
  /** Longest TCP connect, ms; default 10000. */
  connectTimeoutMs?: number;
  /** After this long without a running node, try servers registered under the destination's cluster (Canal's fallback), ms; default 1000. */
  clusterFallbackMs?: number;
  /** Random source for the jitter (tests pass a fixed one). */
  random?: () => number;
  /** XState inspection of the client machine: every snapshot with the event that made it (model replays, tracing). */
  inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void);
}

export interface CanalClientEvents {
  /** Every change of the client's state; `error` is the last failure it got past, if any. */
  state: { state: ClientState; previous: ClientState; server: string | undefined; holder: string | undefined; error: CanalError | undefined };
  /** The client ended: close(), or a failure no retry can fix (`error`). */
  closed: { error: CanalError | undefined };
}

export interface NextOptions {
  /** Ends the wait for a batch (the next call carries on). */
  signal?: AbortSignal;
}

export interface CanalClientStatus {
  state: ClientState;
  active: boolean;
  standby: boolean;
  /** The server connected to, `ip:port`. */
  server: string | undefined;
  /** The client node's holder while standing by. */
  holder: string | undefined;
  identity: string;
  activations: number;
  takeovers: number;
  lastError: CanalError | undefined;
}

interface Pull {
  resolve(batch: Batch | undefined): void;
  reject(err: CanalError): void;
}

/** Starts a cluster client (see the module comment); it elects, connects and subscribes in the background. */
export function createCanalClient(options: CanalClientOptions): CanalClient {
  const client = new CanalClient(options);
  client.start();
  return client;
}

export class CanalClient extends TypedEmitter<CanalClientEvents> {
  readonly destination: string;
  readonly clientId: number;
  readonly identity: string;
  private readonly actor: Actor<typeof clientMachine>;
  private readonly host: ClusterActorHost;
  private readonly zkOptions: { connectString: string; sessionTimeoutMs: number } | undefined;
  private pull: Pull | undefined;
  /** A batch fetched for a pull that was abandoned: the next call returns it. */
  private undelivered: Batch | undefined;
  private settling: { resolve(): void; reject(err: CanalError): void } | undefined;
  private lastState: ClientState = "offline";
  private zkActor: ZkSessionActor | undefined;
  private ended: Promise<void>;
  private endedResolve!: () => void;

  constructor(options: CanalClientOptions) {
    super();
    const o = resolveOptions(options);
    this.destination = o.destination;
    this.clientId = o.clientId;
    this.identity = o.identity;
    this.zkOptions = o.zk === undefined ? undefined : { connectString: o.zk, sessionTimeoutMs: o.zkSessionTimeoutMs };
    this.ended = new Promise((resolve) => (this.endedResolve = resolve));
    const self = this;
    this.host = {
      destination: o.destination,
      clientId: o.clientId,
      identity: o.identity,
      hostIp: hostIp(),
      filter: o.filter,
      batchSize: o.batchSize,
      pollMs: o.pollMs,
      username: o.username,
      password: o.password,
      soTimeoutMs: o.soTimeoutMs,
      connectTimeoutMs: o.connectTimeoutMs,
      discoveryStepMs: Math.max(5000, o.clusterFallbackMs * 2),
      clusterFallbackMs: o.clusterFallbackMs,
      servers: o.servers,
      get zk() {
        return self.zkActor;
      },
      current: undefined,
      connections: 0,
      received: undefined,
      send: (event: ClientEvent) => this.actor.send(event),
      settled: (outcome) => {
        const settling = this.settling;
        this.settling = undefined;
        if (outcome.ok) settling?.resolve();
        else settling?.reject(outcome.error);
      },
      ackBatch: (batch) => this.settle("ack", batch),
      rollbackBatch: (batch) => this.settle("rollback", batch),
    };
    const effects = clusterActors(this.host);
    const policy = resolveBackoff(o.reconnect);
    const random = o.random;
    const machine = clientMachine.provide({
      actors: effects.actors,
      actions: {
        closeConnection: () => effects.closeConnection(),
        deliverBatch: () => this.deliver(),
      },
      delays: {
        RECONNECT_DELAY: ({ context }) => backoffDelay(policy, Math.max(1, context.attempt), random),
        RETRY_DELAY: DEFAULT_CLIENT_RETRY_DELAY_MS,
        // Stop consuming well before the servers can expire the session and let a standby in.
        FENCE_AFTER: Math.floor(o.zkSessionTimeoutMs / 2),
        STANDBY_TIMEOUT: o.standbyTimeoutMs ?? 0x7fffffff,
      },
    });
    this.actor = createActor(machine, { input: { destination: o.destination, clientId: o.clientId, identity: o.identity }, inspect: options.inspect });
    this.actor.subscribe({
      next: (snapshot) => {
        const state = clientState(snapshot);
        // Leaving acking/rollingBack other than through the actor's own outcome: the connection went under it.
        if (this.settling !== undefined && state !== "acking" && state !== "rollingBack" && state !== "delivered") {
          this.host.settled({ ok: false, error: new CanalConnectionError(`the connection ended during the ack or rollback; the batch will be delivered again`) });
        }
        if (state !== this.lastState) {
          const previous = this.lastState;
          this.lastState = state;
          const { server, holder, lastError } = snapshot.context;
          this.emit("state", { state, previous, server, holder, error: lastError });
        }
        if (snapshot.status === "done") this.finish(snapshot.context.error);
      },
      error: (err) => this.finish(err instanceof CanalError ? err : new CanalError(String(err), { cause: err })),
    });
  }

  /** Starts electing (createCanalClient calls this). */
  start(): void {
    this.actor.start();
    if (this.zkOptions === undefined) {
      // No ZooKeeper: no election, a session that is always there.
      this.actor.send({ type: "ZK.LIVE", sessionId: "static" });
      return;
    }
    this.zkActor = ZkSessionActor.start({
      ...this.zkOptions,
      onView: (view) => {
        if (view.state === "live") this.actor.send({ type: "ZK.LIVE", sessionId: view.sessionId });
        else if (view.state === "suspended") this.actor.send({ type: "ZK.SUSPENDED" });
        else this.actor.send({ type: "ZK.GONE" });
      },
    });
  }

  get state(): ClientState {
    return this.lastState;
  }

  get status(): CanalClientStatus {
    const snapshot = this.actor.getSnapshot();
    const { server, holder, activations, takeovers, lastError } = snapshot.context;
    return {
      state: clientState(snapshot),
      active: snapshot.hasTag("active"),
      standby: snapshot.hasTag("standby"),
      server,
      holder,
      identity: this.identity,
      activations,
      takeovers,
      lastError,
    };
  }

  /** The ZooKeeper node this client elects with. */
  get clientNodePath(): string {
    return clientRunningPath(this.destination, this.clientId);
  }

  /**
   * The next non-empty batch, once this client is active and one arrives; undefined once the
   * client is closed. Rejects with the client's error when it failed, and with a CanalError when
   * the batch received last is neither acked nor rolled back yet.
   */
  async next(options: NextOptions = {}): Promise<Batch | undefined> {
    const snapshot = this.actor.getSnapshot();
    if (snapshot.status === "done") {
      if (snapshot.context.error !== undefined) throw snapshot.context.error;
      return undefined;
    }
    if (this.undelivered !== undefined) {
      const batch = this.undelivered;
      this.undelivered = undefined;
      return batch;
    }
    const outstanding = snapshot.context.batch;
    // While acking or rolling back the batch is settled as far as the consumer goes: the pull waits its turn.
    if (outstanding !== undefined && clientState(snapshot) === "delivered") {
      throw new CanalError(`batch ${outstanding.batchId} is neither acked nor rolled back: call batch.ack() or batch.rollback() before asking for the next batch`);
    }
    if (this.pull !== undefined) throw new CanalError("next() is already waiting for a batch: one call at a time");
    const { signal } = options;
    if (signal?.aborted) throw abortReason(signal);
    return new Promise<Batch | undefined>((resolve, reject) => {
      const onAbort = () => {
        if (this.pull === pull) this.pull = undefined;
        reject(abortReason(signal!));
      };
      const pull: Pull = {
        resolve: (batch) => (signal?.removeEventListener("abort", onAbort), resolve(batch)),
        reject: (err) => (signal?.removeEventListener("abort", onAbort), reject(err)),
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.pull = pull;
      this.actor.send({ type: "PULL" });
    });
  }

  /** `for await (const batch of client)`: batches until close(); ack or roll back each before the next. */
  async *[Symbol.asyncIterator](): AsyncGenerator<Batch, void, undefined> {
    for (;;) {
      const batch = await this.next();
      if (batch === undefined) return;
      yield batch;
    }
  }

  /**
   * Releases the client node (a standby takes over at once), closes the connection and the
   * ZooKeeper session. A batch not acked is delivered again to whoever consumes next.
   */
  async close(): Promise<void> {
    this.actor.send({ type: "CLOSE" });
    await this.ended;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** Resolves when the client has ended (closed or failed). */
  get closed(): Promise<void> {
    return this.ended;
  }

  private deliver(): void {
    const received = this.host.received;
    if (received === undefined) return;
    const pull = this.pull;
    this.pull = undefined;
    if (pull !== undefined) pull.resolve(received.batch);
    else this.undelivered = received.batch;
  }

  private settle(op: "ack" | "rollback", batch: Batch): Promise<void> {
    const snapshot = this.actor.getSnapshot();
    const { batch: outstanding, connection } = snapshot.context;
    if (this.undelivered === batch) this.undelivered = undefined;
    if (clientState(snapshot) !== "delivered" || outstanding === undefined || outstanding.batchId !== batch.id || outstanding.connection !== batch.connection) {
      return Promise.reject(new CanalStaleBatchError(op, batch.id, batch.connection, connection));
    }
    return new Promise<void>((resolve, reject) => {
      this.settling = { resolve, reject };
      this.actor.send({ type: op === "ack" ? "BATCH.ACK" : "BATCH.ROLLBACK", batchId: batch.id, connection: batch.connection });
    });
  }

  private finish(error: CanalError | undefined): void {
    const pull = this.pull;
    this.pull = undefined;
    if (pull !== undefined) {
      if (error !== undefined) pull.reject(error);
      else pull.resolve(undefined);
    }
    const zk = this.zkActor;
    void (zk === undefined ? Promise.resolve() : zk.close()).finally(() => {
      this.emit("closed", { error });
      this.endedResolve();
    });
  }
}

interface ResolvedOptions {
  zk: string | undefined;
  servers: ServerAddress[] | undefined;
  destination: string;
  clientId: number;
  filter: string;
  batchSize: number;
  pollMs: number;
  username: string;
  password: string | null;
  identity: string;
  zkSessionTimeoutMs: number;
  standbyTimeoutMs: number | undefined;
  reconnect: BackoffOptions;
  soTimeoutMs: number;
  connectTimeoutMs: number;
  clusterFallbackMs: number;
  random: () => number;
}

function resolveOptions(options: CanalClientOptions): ResolvedOptions {
  const fail = (name: string, value: unknown, expected: string): never => {
    throw new CanalConfigError(`client option ${name} ${JSON.stringify(value)}: expected ${expected}`);
  };
  const int = (name: keyof CanalClientOptions, value: number | undefined, fallback: number, min: number, max = 0x7fffffff): number => {
    const v = value ?? fallback;
    if (!Number.isInteger(v) || v < min || v > max) fail(name, v, `an integer from ${min} to ${max}`);
    return v;
  };
  if ((options.zk === undefined) === (options.servers === undefined)) {
    fail("zk/servers", { zk: options.zk, servers: options.servers }, "exactly one of zk (a ZooKeeper connect string) or servers");
  }
  if (options.zk !== undefined && (typeof options.zk !== "string" || options.zk.trim() === "")) fail("zk", options.zk, "a ZooKeeper connect string host:port[,host:port…][/chroot]");
  const servers = options.servers === undefined ? undefined : parseServers(options.servers);
  if (typeof options.destination !== "string" || options.destination === "") fail("destination", options.destination, "a non-empty destination name");
  const clientId = int("clientId", options.clientId, DEFAULT_CLIENT_ID, 0, 32767);
  clientRunningPath(options.destination, clientId); // a destination that cannot be a node name fails here
  const filter = options.filter ?? "";
  if (typeof filter !== "string") fail("filter", filter, "a Canal table filter string");
  if (filter !== "") compileNameFilter(filter, true);
  const identity = options.identity ?? defaultIdentity();
  if (typeof identity !== "string" || identity === "" || identity.length > 200) fail("identity", identity, "a non-empty string of at most 200 characters");
  const standbyTimeoutMs = options.standbyTimeoutMs === undefined ? undefined : int("standbyTimeoutMs", options.standbyTimeoutMs, 0, 1);
  const resolved: ResolvedOptions = {
    zk: options.zk,
    servers,
    destination: options.destination,
    clientId,
    filter,
    batchSize: int("batchSize", options.batchSize, DEFAULT_CLIENT_BATCH_SIZE, 1),
    pollMs: int("pollMs", options.pollMs, 1000, 0, 60_000),
    username: options.username ?? "",
    password: options.password ?? null,
    identity,
    zkSessionTimeoutMs: int("zkSessionTimeoutMs", options.zkSessionTimeoutMs, DEFAULT_CLIENT_SESSION_TIMEOUT_MS, 1000),
    standbyTimeoutMs,
    reconnect: options.reconnect ?? {},
    soTimeoutMs: int("soTimeoutMs", options.soTimeoutMs, DEFAULT_SO_TIMEOUT_MS, 1),
    connectTimeoutMs: int("connectTimeoutMs", options.connectTimeoutMs, DEFAULT_CONNECT_TIMEOUT_MS, 1),
    clusterFallbackMs: int("clusterFallbackMs", options.clusterFallbackMs, 1000, 0),
    random: options.random ?? Math.random,
  };
  resolveBackoff(resolved.reconnect);
  return resolved;
}

function parseServers(servers: string | readonly (string | ServerAddress)[]): ServerAddress[] {
  const list = typeof servers === "string" ? servers.split(",").map((s) => s.trim()) : [...servers];
  if (list.length === 0) throw new CanalConfigError(`client option servers ${JSON.stringify(servers)}: expected at least one "host:port"`);
  return list.map((entry) => {
    if (typeof entry !== "string") return entry;
    try {
      return parseServerAddress(entry);
    } catch (err) {
      throw new CanalConfigError(`client option servers entry ${JSON.stringify(entry)}: expected "host:port"`, { cause: err });
    }
  });
}

/**
 * `<hostname>/<10 hex digits>`: the hash of the working directory and the entry script, so a
 * deployment restarted in place is the same client, and two deployments on one host are not.
 */
export function defaultIdentity(): string {
  const where = `${process.cwd()}\u0000${process.argv[1] ?? ""}`;
  return `${hostname()}/${createHash("sha256").update(where).digest("hex").slice(0, 10)}`;
}

/** The host's IP as Canal's AddressUtils.getHostIp gives it: the first non-loopback IPv4, else 127.0.0.1. */
function hostIp(): string {
  for (const addresses of Object.values(networkInterfaces())) {
    for (const a of addresses ?? []) if (a.family === "IPv4" && !a.internal) return a.address;
  }
  return "127.0.0.1";
}

function abortReason(signal: AbortSignal): CanalError {
  return signal.reason instanceof CanalError ? signal.reason : new CanalConnectionError(`wait for a batch aborted: ${String(signal.reason)}`, { retriable: false });
}
