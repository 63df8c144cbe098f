/**
 * The effects the client machine (src/machines/client.ts) names, over one ZooKeeper session
 * (ZkSessionActor) and one CanalConnector per connection. Built by src/client/cluster-client.ts,
 * which owns the state they share (the current connection, the batch being delivered).
 *
 * ZooKeeper side, Canal's node and JSON (canal-facts.md §3.3, §5.2):
 *   claim     create `/otter/canal/destinations/<d>/<clientId>/running` EPHEMERAL with
 *             {"active":true,"address":"<host IP>","clientId":N,"identity":"…"}; on NodeExists read
 *             it (ours when its ephemeralOwner is our session); on NoNode create the parent and retry;
 *   takeOver  delete our stale node at the version read, so a node re-created meanwhile stays;
 *   announce  rewrite it with the local socket ip:port, only while our session owns it;
 *   release   delete it when our session owns it.
 * Discovery (§1.9 ClusterNodeAccessStrategy, §4.8): the running node's address when it is
 * active; after `clusterFallbackMs` without one, any server registered under
 * `/destinations/<d>/cluster` (a Canal server in lazy mode starts the destination when a client
 * subscribes; a canal-ts node that is not running it answers "should start first", which is
 * retried); otherwise wait on watches of both, in bounded steps.
 */
import { fromCallback, fromPromise } from "xstate";
import { ZkSessionActor } from "../actors/cluster/zk-session.js";
import { ZooKeeperError, type ZkSessionClient } from "../actors/zk/session-client.js";
import { CanalAuthError, CanalConfigError, CanalConnectionError, CanalError, CanalProtocolError } from "../errors.js";
import type { ClaimClientResult, ClientEvent, ConnectResult, FetchResult, ServerFound } from "../machines/client.js";
import { TimeUnit } from "../protocol/index.js";
import {
  clientPath,
  clientRunningPath,
  destinationClusterPath,
  formatClientRunning,
  parseClientRunning,
  parseServerAddress,
  parseServerRunning,
  runningPath,
} from "../protocol/zk-layout.js";
import { Batch } from "./batch.js";
import { CanalConnector, type ServerAddress } from "./connector.js";
import { CanalLateReplyError } from "./errors.js";

/** What the actors need from the cluster client. */
export interface ClusterActorHost {
  readonly destination: string;
  readonly clientId: number;
  readonly identity: string;
  readonly hostIp: string;
  readonly filter: string;
  readonly batchSize: number;
  readonly pollMs: number;
  readonly username: string;
  readonly password: string | null;
  readonly soTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly discoveryStepMs: number;
  readonly clusterFallbackMs: number;
  /** Fixed servers (no ZooKeeper): tried in turn. */
  readonly servers: readonly ServerAddress[] | undefined;
  /** The ZooKeeper session, in ZooKeeper mode. */
  readonly zk: ZkSessionActor | undefined;
  /** The connection the machine works on now. */
  current: { connection: number; connector: CanalConnector } | undefined;
  /** Connections made so far (the machine's connection numbers). */
  connections: number;
  /** The batch the last fetch received, until the consumer takes it. */
  received: { batch: Batch; inner: Batch } | undefined;
  /** Tells the machine (a lost connection). */
  send(event: ClientEvent): void;
  /** The ack or rollback in progress settles here. */
  settled(outcome: { ok: true } | { ok: false; error: CanalError }): void;
  /** Where a delivered batch's ack() and rollback() go: the client checks them against the machine. */
  ackBatch(batch: Batch): Promise<void>;
  rollbackBatch(batch: Batch): Promise<void>;
}

const encoder = new TextEncoder();

export function clusterActors(host: ClusterActorHost) {
  const path = clientRunningPath(host.destination, host.clientId);
  // Decided by the options, not by whether the session exists yet (it starts after the machine).
  const zkMode = host.servers === undefined;

  const session = (sessionId: string): ZkSessionClient => {
    const client = host.zk?.client(sessionId);
    if (client === undefined) {
      throw new ZooKeeperError(`ZooKeeper session ${sessionId} is no longer current`, { code: "SESSION_EXPIRED", op: "client", path });
    }
    return client;
  };

  const connectionOf = (connection: number): CanalConnector => {
    const current = host.current;
    if (current === undefined || current.connection !== connection) {
      throw new CanalConnectionError(`connection #${connection} to the Canal server is closed`);
    }
    return current.connector;
  };

  const claimClient = fromPromise<ClaimClientResult, { sessionId: string }>(async ({ input }) => {
    if (!zkMode) return { won: true };
    const zk = session(input.sessionId);
    const data = encoder.encode(formatClientRunning({ active: true, address: host.hostIp, clientId: host.clientId, identity: host.identity }));
    // Each turn either creates, reads a holder, or creates the missing parent: three turns suffice
    // unless the node comes and goes under us, which the machine's retry then absorbs.
    for (let turn = 0; turn < 4; turn++) {
      try {
        await zk.create(path, data, "ephemeral");
        return { won: true };
      } catch (err) {
        if (!(err instanceof ZooKeeperError)) throw err;
        if (err.code === "NO_NODE") {
          await zk.ensurePath(clientPath(host.destination, host.clientId));
          continue;
        }
        if (err.code !== "NODE_EXISTS") throw err;
      }
      const node = await zk.read(path);
      if (node === undefined) continue;
      if (node.stat.ephemeralOwner === input.sessionId) return { won: true };
      let address = "(unreadable client node)";
      let identity: string | undefined;
      try {
        const parsed = parseClientRunning(node.data ?? new Uint8Array());
        address = parsed.address;
        identity = parsed.identity;
      } catch {
        // A node we cannot read is someone else's: stand by behind it rather than fail.
      }
      return { won: false, address, identity, owner: node.stat.ephemeralOwner, version: node.stat.version };
    }
    throw new CanalConnectionError(`client node ${path} kept appearing and disappearing; electing again`);
  });

  const takeOver = fromPromise<void, { sessionId: string; version: number }>(async ({ input }) => {
    await session(input.sessionId).delete(path, input.version);
  });

  const announce = fromPromise<void, { sessionId: string; local: string }>(async ({ input }) => {
    if (!zkMode) return;
    const zk = session(input.sessionId);
    const node = await zk.read(path);
    if (node === undefined || node.stat.ephemeralOwner !== input.sessionId) {
      throw new CanalError(`client node ${path} is no longer held by session ${input.sessionId}`);
    }
    const data = encoder.encode(formatClientRunning({ active: true, address: input.local, clientId: host.clientId, identity: host.identity }));
    await zk.setData(path, data, node.stat.version);
  });

  const release = fromPromise<void, { sessionId: string | undefined }>(async ({ input }) => {
    closeConnection();
    if (!zkMode || input.sessionId === undefined) return;
    const zk = host.zk?.client(input.sessionId);
    if (zk === undefined) return;
    const node = await zk.read(path);
    if (node !== undefined && node.stat.ephemeralOwner === input.sessionId) await zk.delete(path, node.stat.version);
  });

  const watchClient = fromCallback<ClientEvent, { sessionId: string }>(({ sendBack, input }) => {
    if (!zkMode) return () => undefined;
    return watchNode(host, input.sessionId, path, (node) => {
      if (node === undefined) return sendBack({ type: "CLIENT.ABSENT" });
      let address = "(unreadable client node)";
      let active = true;
      try {
        ({ address, active } = parseClientRunning(node.data ?? new Uint8Array()));
      } catch {
        // Unreadable: held all the same (by its session), active.
      }
      sendBack({ type: "CLIENT.HELD", address, active, ours: node.stat.ephemeralOwner === input.sessionId });
    });
  });

  const watchServer = fromCallback<ClientEvent>(({ sendBack }) => {
    const zk = host.zk;
    if (zk === undefined) return () => undefined;
    const view = zk.view;
    if (view.state === "gone") return () => undefined;
    return watchNode(host, view.sessionId, runningPath(host.destination), (node) => {
      if (node?.data == null) return;
      try {
        const running = parseServerRunning(node.data);
        if (running.active) sendBack({ type: "SERVER.MOVED", address: running.address });
      } catch {
        // An unreadable running node moves nobody.
      }
    });
  });

  const discover = fromPromise<ServerFound, { attempt: number }>(async ({ input, signal }) => {
    if (host.servers !== undefined) {
      const server = host.servers[Math.max(0, input.attempt) % host.servers.length]!;
      return { address: `${server.host}:${server.port}` };
    }
    return discoverFromZooKeeper(host, signal);
  });

  const connect = fromPromise<ConnectResult, { server: string }>(async ({ input, signal }) => {
    const { host: serverHost, port } = parseServerAddress(input.server);
    const connector = new CanalConnector({
      host: serverHost,
      port,
      destination: host.destination,
      username: host.username,
      password: host.password,
      clientId: host.clientId,
      // The subscribing state sends the subscription and the rollback, in Canal's order.
      rollbackOnConnect: false,
      soTimeoutMs: host.soTimeoutMs,
      connectTimeoutMs: host.connectTimeoutMs,
    });
    const stop = () => void connector.disconnect();
    signal.addEventListener("abort", stop, { once: true });
    try {
      await connector.connect({ signal });
    } catch (err) {
      throw classify(err);
    } finally {
      signal.removeEventListener("abort", stop);
    }
    if (signal.aborted) {
      await connector.disconnect();
      throw new CanalConnectionError(`connect to ${input.server} was cancelled`);
    }
    closeConnection();
    const connection = ++host.connections;
    host.current = { connection, connector };
    connector.on("closed", ({ error }) => {
      if (error !== undefined) host.send({ type: "CONNECTION.LOST", connection, error });
    });
    return { connection, local: connector.localAddress ?? `${host.hostIp}:0` };
  });

  const subscribe = fromPromise<void, { connection: number }>(async ({ input, signal }) => {
    const connector = connectionOf(input.connection);
    try {
      await connector.subscribe(host.filter, { signal });
      // rollbackOnConnect: every unacked batch of this clientId comes again, under new ids (§5.4).
      await connector.rollback();
    } catch (err) {
      throw classify(err);
    }
  });

  const fetch = fromPromise<FetchResult, { connection: number }>(async ({ input, signal }) => {
    const connector = connectionOf(input.connection);
    let inner: Batch;
    try {
      inner = await connector.getWithoutAck(host.batchSize, host.pollMs, TimeUnit.MILLISECONDS, { signal });
    } catch (err) {
      if (err instanceof CanalLateReplyError) {
        // The server refused an earlier ack: its rows are still unacked. Roll back so that
        // everything unacked comes again, in order, rather than skipping ahead of it.
        await connector.rollback().catch(() => undefined);
        return { batchId: -1, empty: true };
      }
      throw classify(err);
    }
    if (inner.isEmpty) return { batchId: inner.id, empty: true };
    // Batches carry the client's connection number, so an ack can be matched to its connection
    // across the connectors this client goes through.
    host.received = { inner, batch: new Batch(inner.id, inner.raw, input.connection, clusterOwner) };
    return { batchId: inner.id, empty: false };
  });

  const settle = (op: "ack" | "rollback") =>
    fromPromise<void, { batchId: number; connection: number }>(async ({ input }) => {
      const received = host.received;
      try {
        const connector = connectionOf(input.connection);
        if (received === undefined || received.batch.id !== input.batchId) throw new CanalConnectionError(`batch ${input.batchId} is not the one outstanding`);
        if (op === "ack") await connector.ack(received.inner);
        else await connector.rollback(received.inner);
        host.received = undefined;
        host.settled({ ok: true });
      } catch (err) {
        const error = classify(err);
        host.settled({ ok: false, error });
        throw error;
      }
    });

  function closeConnection(): void {
    const current = host.current;
    host.current = undefined;
    host.received = undefined;
    if (current !== undefined) void current.connector.disconnect();
  }

  // Batches are settled through the client (it checks them against the machine first).
  const clusterOwner = { ack: (b: Batch) => host.ackBatch(b), rollback: (b: Batch) => host.rollbackBatch(b) };

  return {
    actors: { claimClient, takeOver, announce, release, watchClient, watchServer, discover, connect, subscribe, fetch, ack: settle("ack"), rollback: settle("rollback") },
    closeConnection,
  };
}

/**
 * Only a failure no retry can fix stops the client: bad credentials, a bad option. Everything
 * else (a refused connect, a server that does not run the destination yet, a lost connection,
 * a server error reply) is retried with backoff on a fresh connection.
 */
export function classify(err: unknown): CanalError {
  if (err instanceof CanalAuthError || err instanceof CanalConfigError) return err;
  if (err instanceof CanalError && err.retriable) return err;
  const message = err instanceof Error ? err.message : String(err);
  const code = err instanceof CanalProtocolError ? err.code : undefined;
  return new CanalConnectionError(code === undefined ? message : `${message} (will retry on a new connection)`, { cause: err });
}

/**
 * Reads `path` with a watch and calls `onNode` with what it holds, again after every change,
 * until the returned stop is called or the session ends (the machine is told of that by the
 * session). A failed read is tried again after a pause: bounded by the session's own life.
 */
function watchNode(
  host: ClusterActorHost,
  sessionId: string,
  path: string,
  onNode: (node: { data: Uint8Array | null; stat: { ephemeralOwner: string; version: number } } | undefined) => void,
): () => void {
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const look = () => {
    if (stopped) return;
    const zk = host.zk?.client(sessionId);
    if (zk === undefined) return;
    zk.read(path, () => look()).then(
      (node) => {
        if (!stopped) onNode(node);
      },
      () => {
        if (!stopped) timer = setTimeout(look, 200);
      },
    );
  };
  look();
  return () => {
    stopped = true;
    if (timer !== undefined) clearTimeout(timer);
  };
}

/** The running server's address, or after clusterFallbackMs one from the destination's cluster; waits in bounded steps. */
async function discoverFromZooKeeper(host: ClusterActorHost, signal: AbortSignal): Promise<ServerFound> {
  const zkActor = host.zk!;
  const started = Date.now();
  const deadline = started + host.discoveryStepMs;
  for (;;) {
    if (signal.aborted) throw new CanalConnectionError("discovery cancelled");
    const view = zkActor.view;
    const zk = view.state === "gone" ? undefined : zkActor.client(view.sessionId);
    if (zk === undefined) throw new CanalConnectionError(`no ZooKeeper session to discover the server of destination "${host.destination}" with`);
    let wake!: () => void;
    const changed = new Promise<void>((resolve) => (wake = resolve));
    const node = await zk.read(runningPath(host.destination), () => wake());
    if (node?.data != null) {
      try {
        const running = parseServerRunning(node.data);
        if (running.active) return { address: running.address };
      } catch {
        // Unreadable: as if none ran.
      }
    }
    if (Date.now() - started >= host.clusterFallbackMs) {
      const members = (await zk.children(destinationClusterPath(host.destination), () => wake())).filter((m) => {
        try {
          parseServerAddress(m);
          return true;
        } catch {
          return false;
        }
      });
      if (members.length > 0) return { address: members[Math.floor(Math.random() * members.length)]! };
    }
    const left = deadline - Date.now();
    if (left <= 0) {
      throw new CanalConnectionError(`no server runs destination "${host.destination}" (no active ${runningPath(host.destination)}, no server under its cluster) after ${host.discoveryStepMs} ms; looking again`);
    }
    // Wake for a change, for the fallback's turn, or at the step's end, whichever comes first.
    const fallbackIn = host.clusterFallbackMs - (Date.now() - started);
    await waitFor(changed, Math.max(1, Math.min(left, fallbackIn > 0 ? fallbackIn : left)), signal);
  }
}

function waitFor(changed: Promise<void>, ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const finish = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", finish);
      resolve();
    };
    const timer = setTimeout(finish, ms);
    signal.addEventListener("abort", finish, { once: true });
    void changed.then(finish);
  });
}
