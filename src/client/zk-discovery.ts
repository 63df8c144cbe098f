/**
 * Server discovery through ZooKeeper, simple form: the address of the node running a
 * destination, read from `/otter/canal/destinations/<d>/running` (canal-facts.md §3.3, written
 * by canal-ts and Canal servers alike), waiting while no node runs it. With the connector's
 * `resolve` option a reconnecting connector follows the running node across failovers:
 *
 *   const discovery = await RunningServerDiscovery.connect("127.0.0.1:2181");
 *   const connector = new CanalConnector({ resolve: discovery.resolver("example"), destination: "example", reconnect: true });
 *   ...
 *   await connector.disconnect();
 *   await discovery.close();
 *
 * or, for one look-up with a session of its own, `await runningServer("127.0.0.1:2181", "example")`.
 *
 * A running node whose data says `"active":false` is Canal's manual switch-over request: its
 * server is about to release, so it counts as "no node runs" and the wait goes on. So does a
 * running node whose JSON cannot be read (it is named in the error if the wait times out).
 *
 * After a kill -9 the running node names the dead server until its session expires; a connect
 * to it fails, and the connector's reconnect asks again after its backoff. (The full cluster
 * client with Canal's ClusterNodeAccessStrategy and client election builds on this later.)
 */
import { ZkSessionClient, type ZkSessionEvent, ZooKeeperError } from "../actors/zk/session-client.js";
import { CanalConfigError, CanalConnectionError } from "../errors.js";
import { parseServerRunning, runningPath } from "../protocol/zk-layout.js";
import type { AddressResolver, ServerAddress } from "./connector.js";

/** How long a look-up waits for a running node by default. */
export const DEFAULT_DISCOVERY_TIMEOUT_MS = 30_000;
/** The discovery session holds no ephemeral node, so its timeout only bounds how soon a lost ZooKeeper is noticed. */
export const DEFAULT_DISCOVERY_SESSION_TIMEOUT_MS = 10_000;

export interface RunningServerAddress extends ServerAddress {
  /** "ip:port", as the running node holds it. */
  address: string;
}

export interface LookupOptions {
  /** Ends the wait; the look-up rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Longest wait for a running node, in ms (default 30000). */
  timeoutMs?: number;
}

export interface DiscoveryOptions {
  /** ZooKeeper session timeout requested, in ms (default 10000). */
  sessionTimeoutMs?: number;
}

/** A ZooKeeper session kept for repeated look-ups: one per connector, rather than one per reconnect. */
export class RunningServerDiscovery {
  private session: ZkSessionClient | undefined;
  private connecting: Promise<ZkSessionClient> | undefined;
  /** Woken when the session ends, so waits re-arm their watch on a new one. */
  private readonly sessionEnded = new Set<() => void>();
  private closed = false;

  private constructor(
    readonly connectString: string,
    private readonly sessionTimeoutMs: number,
  ) {}

  /** Opens the session; rejects with a ZooKeeperError (retriable TIMEOUT) when no ZooKeeper answers within the session timeout. */
  static async connect(connectString: string, options: DiscoveryOptions = {}): Promise<RunningServerDiscovery> {
    const sessionTimeoutMs = options.sessionTimeoutMs ?? DEFAULT_DISCOVERY_SESSION_TIMEOUT_MS;
    if (!Number.isInteger(sessionTimeoutMs) || sessionTimeoutMs < 1) {
      throw new CanalConfigError(`discovery sessionTimeoutMs ${sessionTimeoutMs}: expected an integer number of ms ≥ 1`);
    }
    const discovery = new RunningServerDiscovery(connectString, sessionTimeoutMs);
    await discovery.zk();
    return discovery;
  }

  /**
   * The address of the node running `destination`. Waits, with a watch on the running node,
   * while there is none (or it is inactive or unreadable); rejects with CanalConnectionError
   * when `timeoutMs` passes first, or with the signal's reason when it aborts.
   */
  async runningServer(destination: string, options: LookupOptions = {}): Promise<RunningServerAddress> {
    const path = runningPath(destination);
    const timeoutMs = options.timeoutMs ?? DEFAULT_DISCOVERY_TIMEOUT_MS;
    if (!Number.isFinite(timeoutMs) || timeoutMs < 0) throw new CanalConfigError(`discovery timeoutMs ${timeoutMs}: expected a number of ms ≥ 0`);
    const { signal } = options;
    if (signal?.aborted) throw abortReason(signal);
    const deadline = Date.now() + timeoutMs;
    /** Why the last read gave no address, for the timeout's message. */
    let lastSeen = "no running node";
    // The first read sets no watch: usually a node runs, and a watch would stay armed until the
    // node next changes, one per reconnect. Only a read that found no address arms one.
    let watching = false;
    for (;;) {
      if (signal?.aborted) throw abortReason(signal);
      if (this.closed) throw new CanalConnectionError(`discovery of destination "${destination}" through ZooKeeper ${this.connectString} was closed`, { retriable: false });
      let wake!: () => void;
      const changed = new Promise<void>((resolve) => (wake = resolve));
      this.sessionEnded.add(wake);
      try {
        const zk = await this.zk();
        let node: Awaited<ReturnType<ZkSessionClient["read"]>>;
        try {
          node = await zk.read(path, watching ? () => wake() : undefined);
        } catch (err) {
          // The session ended under the read: read again on a new one (within the deadline).
          if (err instanceof ZooKeeperError && err.code === "SESSION_EXPIRED" && Date.now() < deadline) continue;
          throw err;
        }
        if (node !== undefined && node.data !== null) {
          try {
            const running = parseServerRunning(node.data);
            if (running.active) return { host: running.host, port: running.port, address: running.address };
            lastSeen = `an inactive running node (${running.address} is releasing)`;
          } catch (err) {
            lastSeen = `an unreadable running node (${(err as Error).message})`;
          }
        } else {
          lastSeen = node === undefined ? "no running node" : "a running node without data";
        }
        if (!watching) {
          watching = true;
          continue;
        }
        const left = deadline - Date.now();
        if (left <= 0 || !(await waitFor(changed, left, signal))) {
          throw new CanalConnectionError(
            `no canal-ts server is running destination "${destination}": ZooKeeper ${this.connectString} has ${lastSeen} at ${path} after ${timeoutMs} ms`,
          );
        }
      } finally {
        this.sessionEnded.delete(wake);
      }
    }
  }

  /** For `new CanalConnector({ resolve })`: each (re)connect looks the running node up, bounded by the connector's signal. */
  resolver(destination: string, options: { timeoutMs?: number } = {}): AddressResolver {
    runningPath(destination); // a bad destination fails here, not on the first connect
    return (signal) => this.runningServer(destination, { signal, ...options });
  }

  /** Ends the session; waits in progress reject. */
  async close(): Promise<void> {
    this.closed = true;
    for (const wake of this.sessionEnded) wake();
    const session = this.session ?? (await this.connecting?.catch(() => undefined));
    this.session = undefined;
    await session?.close();
  }

  /** The live session, or a new one when the last expired (a session that expired is dead for good). */
  private zk(): Promise<ZkSessionClient> {
    if (this.session !== undefined) return Promise.resolve(this.session);
    this.connecting ??= ZkSessionClient.connect({
      connectString: this.connectString,
      sessionTimeoutMs: this.sessionTimeoutMs,
      onEvent: (event) => this.onSessionEvent(event),
    }).then(
      (session) => {
        this.connecting = undefined;
        if (this.closed) {
          void session.close();
          throw new CanalConnectionError(`discovery through ZooKeeper ${this.connectString} was closed`, { retriable: false });
        }
        this.session = session;
        return session;
      },
      (err: unknown) => {
        this.connecting = undefined;
        throw err;
      },
    );
    return this.connecting;
  }

  private onSessionEvent(event: ZkSessionEvent): void {
    if (event.type !== "expired" && event.type !== "closed") return;
    // Its watches are gone with it: every wait reads again on a new session.
    this.session = undefined;
    for (const wake of this.sessionEnded) wake();
  }
}

/**
 * One look-up with a ZooKeeper session of its own, closed afterwards: the address of the node
 * running `destination`, waiting while none does (see RunningServerDiscovery.runningServer).
 */
export async function runningServer(
  zkConnect: string,
  destination: string,
  options: LookupOptions & DiscoveryOptions = {},
): Promise<RunningServerAddress> {
  runningPath(destination);
  const discovery = await RunningServerDiscovery.connect(zkConnect, options);
  try {
    return await discovery.runningServer(destination, options);
  } finally {
    await discovery.close();
  }
}

/** True when `changed` settles first; false when `ms` passes; rejects with the reason when `signal` aborts. */
function waitFor(changed: Promise<void>, ms: number, signal: AbortSignal | undefined): Promise<boolean> {
  return new Promise<boolean>((resolve, reject) => {
    if (signal?.aborted) return reject(abortReason(signal));
    const timer = setTimeout(() => finish(() => resolve(false)), ms);
    const onAbort = () => finish(() => reject(abortReason(signal!)));
    const finish = (settle: () => void) => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      settle();
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    void changed.then(() => finish(() => resolve(true)));
  });
}

function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new CanalConnectionError(`discovery aborted: ${String(signal.reason)}`, { retriable: false });
}
