/**
 * A consumer for the failover tests and benchmark: one CanalConnector that resolves the running
 * node from ZooKeeper on every (re)connect, doing getWithoutAck/ack in a loop. Every batch goes to the
 * sequence checker with its connection, server and ack outcome; the benchmark asks it for the
 * receive time of the first row newer than a given number.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { CanalConnector } from "../client/connector.js";
import { CanalLateReplyError, CanalStaleBatchError } from "../client/errors.js";
import type { RunningServerDiscovery } from "../client/zk-discovery.js";
import { CanalConnectionError } from "../errors.js";
import { SequenceChecker, type ReceivedBatch } from "./sequence-check.js";

/** KiB per get in the node's default MEMSIZE mode: ~100 rows of the seq table, so each get returns soon. */
const BATCH_SIZE_KIB = 16;
/**
 * How long a get may wait on the node for a full batch. With one row every few ms a batch is
 * never full, so every get waits this long: it bounds what the consumer adds to a measured time.
 */
const GET_TIMEOUT_MS = 5;
/**
 * Fast reconnects: a failover's time should be the cluster's, not the client's backoff. After a
 * kill -9 the running node names the dead node until its session expires, and a node that has
 * just taken the running node answers "should start first" until it serves; each refusal costs
 * one backoff step, so the steps stay short.
 */
const RECONNECT = { initialDelayMs: 5, maxDelayMs: 20 };

export interface Arrival {
  /** Epoch ms at which the get returned. */
  at: number;
  /** The highest n in the batch. */
  n: number;
  server: string;
  connection: number;
}

interface Waiter {
  after: number;
  notFrom: string | undefined;
  resolve(arrival: Arrival): void;
}

export class FollowingConsumer {
  readonly checker: SequenceChecker;
  private readonly connector: CanalConnector;
  private readonly stopping = new AbortController();
  private readonly waiters = new Set<Waiter>();
  private loop: Promise<void> | undefined;
  /** Errors the loop got past (a connection lost between get and ack, and the like), for the report. */
  readonly hiccups: string[] = [];
  /** The connector's events, for a trial's breakdown. */
  readonly timeline: { at: number; what: string }[] = [];
  /** Each connection's server, in order: where the consumer followed the running node. */
  readonly servers: { connection: number; server: string; at: number }[] = [];

  /**
   * `first`: the load's first number; `table`: the load's table name (rows of other tables are
   * left out); `checker`: a checker shared with another consumer (a fresh one by default).
   */
  constructor(discovery: RunningServerDiscovery, destination: string, first: number, private readonly table: string, checker?: SequenceChecker) {
    this.checker = checker ?? new SequenceChecker({ first });
    this.connector = new CanalConnector({
      resolve: discovery.resolver(destination),
      destination,
      reconnect: RECONNECT,
      soTimeoutMs: 5000,
      connectTimeoutMs: 10_000,
    });
    this.connector.on("connected", ({ connection, address }) => this.servers.push({ connection, server: address, at: Date.now() }));
    this.connector.on("disconnected", ({ connection }) => this.timeline.push({ at: Date.now(), what: `disconnected #${connection}` }));
    this.connector.on("reconnecting", ({ attempt, delayMs, error }) => this.timeline.push({ at: Date.now(), what: `reconnecting ${attempt} in ${delayMs} ms after: ${error.message}` }));
    this.connector.on("connected", ({ connection, address }) => this.timeline.push({ at: Date.now(), what: `connected #${connection} to ${address}` }));
  }

  async start(): Promise<void> {
    await this.connector.connect();
    await this.connector.subscribe();
    this.loop = this.run().catch((err: unknown) => {
      // Not a failover (those the loop rides out): a bug; kept for the report rather than crashing the run.
      this.hiccups.push(`consumer stopped: ${err instanceof Error ? err.message : String(err)}`);
      this.failed = err;
    });
  }

  /** Why the consumer loop stopped by itself, if it did. */
  failed: unknown;

  /**
   * Resolves with the first batch holding a row newer than `after` (from a server other than
   * `notFrom`, when given), or undefined after `timeoutMs`.
   */
  firstNewerThan(after: number, timeoutMs: number, notFrom?: string): Promise<Arrival | undefined> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => (this.waiters.delete(waiter), resolve(undefined)), timeoutMs);
      const waiter: Waiter = { after, notFrom, resolve: (a) => (clearTimeout(timer), this.waiters.delete(waiter), resolve(a)) };
      this.waiters.add(waiter);
    });
  }

  /** Waits until every number up to `n` has been received; false after `timeoutMs`. */
  async caughtUp(n: number, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.checker.maxReceived() < n) {
      if (Date.now() > deadline) return false;
      await sleep(10);
    }
    return true;
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await this.connector.disconnect();
    await this.loop;
  }

  private async run(): Promise<void> {
    const { signal } = this.stopping;
    // Canal's ack has no reply: a failed ack (the node could not persist the cursor) is told as
    // an error before the reply to the next request. So a batch goes to the checker once the
    // next request shows whether its ack held.
    let unconfirmed: ReceivedBatch | undefined;
    const confirm = (held: boolean) => {
      if (unconfirmed !== undefined) this.checker.add({ ...unconfirmed, acked: unconfirmed.acked && held });
      unconfirmed = undefined;
    };
    while (!signal.aborted) {
      let batch;
      try {
        batch = await this.connector.getWithoutAck(BATCH_SIZE_KIB, GET_TIMEOUT_MS, undefined, { signal });
        confirm(true);
      } catch (err) {
        const refused = err instanceof CanalLateReplyError && err.requests.some((r) => r.type === "ack" && r.batchId === unconfirmed?.batchId);
        // A connection lost after the ack: it may have been taken or not (the checker's "last ack on a connection").
        confirm(!refused);
        if (signal.aborted) return;
        // The connector retries a get across reconnects; what reaches here ended one attempt for good.
        this.hiccups.push(`get: ${(err as Error).message}`);
        if (!(err instanceof CanalConnectionError) || err.retriable) await sleep(20);
        else await sleep(100);
        continue;
      }
      const at = Date.now();
      if (batch.isEmpty) continue;
      const server = this.connector.address;
      const ns = batch.changes.filter((c) => c.table === this.table && c.type === "INSERT").map((c) => Number(c.after!["n"]!.value));
      let acked = false;
      try {
        await batch.ack();
        acked = true;
      } catch (err) {
        // The connection ended between get and ack: this batch comes again after the rollback.
        if (!(err instanceof CanalStaleBatchError || err instanceof CanalConnectionError)) throw err;
        this.hiccups.push(`ack of batch ${batch.id}: ${err.message}`);
      }
      unconfirmed = { batchId: batch.id, connection: batch.connection, server, ns, acked, at };
      if (!acked) confirm(false);
      if (ns.length === 0) continue;
      const top = Math.max(...ns);
      for (const waiter of [...this.waiters]) {
        if (top > waiter.after && server !== waiter.notFrom) waiter.resolve({ at, n: top, server, connection: batch.connection });
      }
    }
    confirm(true);
  }
}
