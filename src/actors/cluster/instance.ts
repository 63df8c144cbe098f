/**
 * One destination on one node of a cluster: the instance machine (src/machines/instance.ts)
 * with its effects provided over ZooKeeper, Canal's way (canal-facts.md §3, §4).
 *
 *   watchRunning   reads `/destinations/<d>/running` with an exists-watch and reads again after
 *                  every event, so a change is never missed between two reads; a node whose
 *                  ephemeralOwner is our session is ours. A wake-up by a data change that finds
 *                  the node gone is a handover (the owner wrote "active":false, then deleted it).
 *   claimRunning   creates the ephemeral running node with this node's ServerRunningData. Its
 *                  creation zxid is the epoch. A create whose reply was lost is recognised by
 *                  the ephemeralOwner on the next read.
 *   serve          takes the destination's cursors over in ZooKeeper (ZkCursorStore.takeOver
 *                  bumps every cursor's version, so a previous owner's late write fails) and
 *                  starts the Destination from them. Stopping it HALTS at once: the sessions no
 *                  longer see the destination, its store closes (waiting gets end empty), its
 *                  cursor store refuses writes, and the source stops in the background.
 *   releaseRunning drains the store (no batch handed out, acks still taken), waits briefly for
 *                  acks in flight, stops the Destination (its cursors flushed to ZooKeeper), then
 *                  writes {"active":false} into the running node and deletes it.
 *
 * The cluster node (./node.ts) feeds session changes in and asks `served()` for the sessions.
 */
import { createActor, fromCallback, fromPromise, type Actor } from "xstate";
import type { DestinationConfig } from "../../config/types.js";
import { CanalError } from "../../errors.js";
import {
  instanceMachine,
  instanceState,
  type ClaimResult,
  type InstanceEvent,
  type InstanceSnapshot,
  type InstanceState,
  type ReleaseInput,
} from "../../machines/instance.js";
import type { SessionView } from "../../machines/zk-session.js";
import { destinationClusterNodePath, destinationPath, formatServerRunning, parseServerRunning, runningPath } from "../../protocol/zk-layout.js";
import type { SourceStatus } from "../binlog-source.js";
import { Destination } from "../destination.js";
import { startSink, type JetStreamSink } from "../sink/index.js";
import type { InspectObserver } from "../nats/inspector.js";
import type { ServerLog } from "../session.js";
import { ZkCursorStore } from "../zk/cursor-store.js";
import { ZooKeeperError, type ZkSessionClient } from "../zk/session-client.js";
import type { ZkSessionActor } from "./zk-session.js";

export interface InstanceTiming {
  /** Wait of a non-owner before contending for a freed running node (Canal's 5 s anti-flap). */
  antiFlapDelayMs: number;
  /** How long a running instance serves while ZooKeeper is unreachable. */
  fenceAfterMs: number;
  /** How long a release keeps taking acks already sent, with no batch handed out. */
  ackDrainMs: number;
}

export interface ClusterInstanceOptions {
  config: DestinationConfig;
  /** This node's `ip:port` as published in ZooKeeper. */
  address: string;
  zk: ZkSessionActor;
  timing: InstanceTiming;
  /** Extra wait before contending, from the node's balance: a little per destination it already runs. */
  balanceDelayMs(): number;
  log: ServerLog;
  /** Every snapshot, for status, inspection and the node's balance. */
  onSnapshot?(snapshot: InstanceSnapshot): void;
  /** The destination stopped running here (released or fenced): its clients' sessions must close. */
  onServingEnded?(destination: string): void;
  /** XState inspection of the instance machine (the node's NATS inspection). */
  inspect?: InspectObserver;
  /** The binlog source's status changes (it has no machine), for inspection. */
  onSourceStatus?(status: SourceStatus): void;
}

/** Longest a client request waits for a destination this node is starting. */
const STARTING_WAIT_MS = 5000;
/** How long to wait before reading the running node again after a retriable ZooKeeper error. */
const REREAD_DELAY_MS = 100;

export class ClusterInstance {
  readonly name: string;
  readonly actor: Actor<typeof instanceMachine>;
  /** The destination while it serves clients; undefined otherwise (sessions then get "should start first"). */
  private serving: Destination | undefined;
  /** A halted destination still stopping in the background. */
  private halting: Promise<void> | undefined;
  /** The destination's JetStream sink while it runs here (config `sink`). */
  private sink: JetStreamSink | undefined;
  /** Version of our running node, for the handover write. */
  private runningVersion = 0;

  constructor(private readonly options: ClusterInstanceOptions) {
    const { config, address, timing } = options;
    this.name = config.name;
    const machine = instanceMachine.provide({
      actors: {
        watchRunning: fromCallback<InstanceEvent, { sessionId: string }>(({ sendBack, input }) => this.watchRunning(input.sessionId, sendBack)),
        claimRunning: fromPromise<ClaimResult, { sessionId: string }>(({ input }) => this.claimRunning(input.sessionId)),
        serve: fromCallback<InstanceEvent, { sessionId: string; epoch: string }>(({ sendBack, input }) => this.serve(input.sessionId, sendBack)),
        releaseRunning: fromPromise<void, ReleaseInput>(({ input }) => this.releaseRunning(input)),
        awaitHalted: fromPromise<void>(() => this.halting ?? Promise.resolve()),
      },
      delays: {
        // The preferred node (config preferredNode) contends at once: the destination belongs here.
        contendDelay: ({ context }) =>
          config.preferredNode === address ? 0 : (context.handover ? 0 : timing.antiFlapDelayMs) + options.balanceDelayMs(),
        // Counted from when ZooKeeper was last heard from, not from when the loss was noticed
        // (a silent connection is only declared dead after 2/3 of the session timeout).
        FENCE_AFTER: () => Math.max(0, timing.fenceAfterMs - (Date.now() - options.zk.lastHeardAt())),
      },
    });
    this.actor = createActor(machine, { input: { destination: config.name, address }, inspect: options.inspect });
    let previous: InstanceState | undefined;
    this.actor.subscribe((snapshot) => {
      const state = instanceState(snapshot);
      if (state !== previous) {
        const { owner, epoch, lastReason, sessionId } = snapshot.context;
        options.log({ level: "info", msg: `instance ${state}`, fields: { destination: this.name, from: previous, owner, epoch, reason: lastReason, sessionId } });
        previous = state;
      }
      options.onSnapshot?.(snapshot);
    });
  }

  start(): void {
    this.actor.start();
  }

  /** The node's session changed. */
  session(view: SessionView): void {
    // A destination stopped by the control plane stays out: no events, no registration.
    if (this.actor.getSnapshot().status !== "active") return;
    if (view.state === "live") {
      this.actor.send({ type: "SESSION.LIVE", sessionId: view.sessionId });
      void this.register(view.sessionId);
    } else if (view.state === "suspended") this.actor.send({ type: "SESSION.SUSPENDED" });
    else this.actor.send({ type: "SESSION.GONE" });
  }

  /**
   * The destination for this node's sessions, while it runs here and the ZooKeeper lease is
   * fresh (see ZkSessionActor.leaseFresh); sessions check again before writing a batch.
   */
  served(): Destination | undefined {
    return this.serving !== undefined && this.options.zk.leaseFresh(this.options.timing.fenceAfterMs) ? this.serving : undefined;
  }

  /**
   * While this node has taken the destination over and is starting it: resolves with it once it
   * serves (undefined if the start fails, or takes longer than `STARTING_WAIT_MS`), so clients
   * that followed the running node here are served instead of refused. Otherwise undefined at once.
   */
  whenStarting(): Promise<Destination | undefined> {
    if (this.state !== "starting") return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const timer = setTimeout(() => finish(undefined), STARTING_WAIT_MS);
      const sub = this.actor.subscribe((snapshot) => {
        if (instanceState(snapshot) !== "starting") finish(this.served());
      });
      function finish(destination: Destination | undefined) {
        clearTimeout(timer);
        sub.unsubscribe();
        resolve(destination);
      }
    });
  }

  get state(): InstanceState {
    return instanceState(this.actor.getSnapshot());
  }

  release(reason?: string): void {
    this.actor.send({ type: "RELEASE", reason });
  }

  /** Hands the destination over if it runs here, then ends; resolves once it has. */
  async stop(): Promise<void> {
    const done = new Promise<void>((resolve) => {
      const sub = this.actor.subscribe({ complete: () => (sub.unsubscribe(), resolve()) });
      if (this.actor.getSnapshot().status === "done") resolve();
    });
    this.actor.send({ type: "STOP" });
    await done;
    await this.halting;
  }

  // ---- effects -------------------------------------------------------------------------------

  /** `/destinations/<d>/cluster/<ip:port>`: this node can serve <d> (Canal's processStart), once per session. */
  private async register(sessionId: string): Promise<void> {
    const client = this.options.zk.client(sessionId);
    if (client === undefined) return;
    const path = destinationClusterNodePath(this.name, this.options.address);
    try {
      await client.ensurePath(destinationPath(this.name) + "/cluster");
      await client.create(path, null, "ephemeral");
    } catch (err) {
      if (err instanceof ZooKeeperError && err.code === "NODE_EXISTS") return;
      this.options.log({ level: "warn", msg: "could not register in the destination's cluster list", fields: { destination: this.name, path, error: String(err) } });
    }
  }

  private watchRunning(sessionId: string, sendBack: (event: InstanceEvent) => void): () => void {
    const client = this.options.zk.client(sessionId);
    let stopped = false;
    let sawInactive = false;
    let retry: ReturnType<typeof setTimeout> | undefined;
    const look = async (woke?: string): Promise<void> => {
      if (stopped || client === undefined) return;
      try {
        const node = await client.read(runningPath(this.name), (event) => void look(event.type));
        if (stopped) return;
        if (node === undefined || node.data === null) {
          sendBack({ type: "RUNNING.ABSENT", handover: sawInactive || woke === "changed" });
          sawInactive = false;
          return;
        }
        const running = parseServerRunning(node.data);
        sawInactive = !running.active;
        sendBack({ type: "RUNNING.HELD", address: running.address, active: running.active, ours: node.stat.ephemeralOwner === sessionId });
      } catch (err) {
        if (stopped) return;
        // A session that is gone is reported by the session actor; anything else: look again.
        if (err instanceof ZooKeeperError && err.code === "SESSION_EXPIRED") return;
        this.options.log({ level: "warn", msg: "reading the running node failed", fields: { destination: this.name, error: String(err) } });
        retry = setTimeout(() => void look(woke), REREAD_DELAY_MS);
      }
    };
    void look();
    return () => {
      stopped = true;
      clearTimeout(retry);
    };
  }

  private async claimRunning(sessionId: string): Promise<ClaimResult> {
    const client = this.sessionClient(sessionId);
    const path = runningPath(this.name);
    const data = new TextEncoder().encode(formatServerRunning({ active: true, address: this.options.address }));
    await client.ensurePath(destinationPath(this.name));
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await client.create(path, data, "ephemeral");
      } catch (err) {
        if (!(err instanceof ZooKeeperError) || !(err.code === "NODE_EXISTS" || err.retriable)) throw err;
      }
      // Created, exists, or the reply was lost: whose is it? (No CREATE2, so the stat comes from a read.)
      const node = await client.read(path);
      if (node === undefined) continue; // vanished meanwhile: try again (Canal's initRunning does the same)
      if (node.stat.ephemeralOwner === sessionId) {
        this.runningVersion = node.stat.version;
        return { created: true, epoch: `0x${node.stat.czxid.toString(16)}` };
      }
      return { created: false, address: node.data === null ? "" : parseServerRunning(node.data).address };
    }
    throw new CanalError(`destination ${this.name}: the running node ${path} kept appearing and vanishing; will look again`, { retriable: true });
  }

  private serve(sessionId: string, sendBack: (event: InstanceEvent) => void): () => void {
    let halted = false;
    let cursors: ZkCursorStore | undefined;
    let destination: Destination | undefined;
    const fail = (fenced: boolean, err: unknown) => {
      if (!halted) sendBack({ type: "SERVE.FAILED", fenced, reason: err instanceof Error ? err.message : String(err) });
    };
    const starting = (async () => {
      const client = this.sessionClient(sessionId);
      const { host, port } = this.options.config.source;
      cursors = await ZkCursorStore.takeOver(client, this.name, { address: host, port }, { onFenced: (err) => fail(true, err) });
      if (halted) return;
      destination = await Destination.start({
        config: this.options.config,
        cursors,
        onError: (err) => fail(false, err),
        onStatus: (status) => {
          this.options.log({ level: "info", msg: `source ${status.type}`, fields: { destination: this.name, ...status } });
          this.options.onSourceStatus?.(status);
        },
      });
      if (halted) return;
      this.serving = destination;
      const { start, from } = destination.startPosition();
      this.options.log({ level: "info", msg: "destination serving", fields: { destination: this.name, from, start } });
      sendBack({ type: "SERVE.READY" });
      // Publishes only while this node may serve (the same lease check as sessions).
      this.sink = startSink(this.options.config, destination, this.options.log, { stillServing: () => this.served() === destination });
    })();
    starting.catch((err) => fail(err instanceof CanalError && err.name === "CursorFencedError", err));
    return () => {
      // Leaving `active`: stop serving NOW (self-fencing), finish stopping in the background.
      halted = true;
      this.serving = undefined;
      void this.sink?.halt();
      this.sink = undefined;
      destination?.store.close();
      cursors?.revoke();
      this.options.onServingEnded?.(this.name);
      this.halting = starting
        .catch(() => undefined)
        .then(() => destination?.stop())
        .catch(() => undefined);
    };
  }

  private async releaseRunning({ sessionId, stopping }: ReleaseInput): Promise<void> {
    const destination = this.serving;
    if (destination !== undefined) {
      destination.store.drain();
      // The sink's batch in flight is published and acked before the cursors are written.
      await this.sink?.stop();
      this.sink = undefined;
      // A node that stops has already held its GETs and taken acks for this long (CanalServer.close).
      if (!stopping) await new Promise((resolve) => setTimeout(resolve, this.options.timing.ackDrainMs));
      this.serving = undefined;
      // Cursors written: hand over now; the source stops in the background (the serve actor's
      // cleanup waits for it before this node may contend again).
      await destination.closeStore();
      this.halting = destination.stop().catch(() => undefined);
    }
    // Say "active":false first, so standbys know the owner is not coming back and contend at once.
    const client = this.sessionClient(sessionId);
    const path = runningPath(this.name);
    try {
      const stat = await client.setData(path, new TextEncoder().encode(formatServerRunning({ active: false, address: this.options.address })), this.runningVersion);
      await client.delete(path, stat.version);
    } catch (err) {
      // Gone already, or changed by someone else (an operator's switch): delete only if still ours.
      if (!(err instanceof ZooKeeperError) || (err.code !== "NO_NODE" && err.code !== "BAD_VERSION")) throw err;
      const node = await client.read(path);
      if (node !== undefined && node.stat.ephemeralOwner === sessionId) await client.delete(path, node.stat.version);
    }
  }

  private sessionClient(sessionId: string): ZkSessionClient {
    const client = this.options.zk.client(sessionId);
    if (client === undefined) throw new CanalError(`destination ${this.name}: ZooKeeper session ${sessionId} is no longer current`, { retriable: true });
    return client;
  }
}
