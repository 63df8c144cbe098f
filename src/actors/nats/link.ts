/**
 * A node's NATS connection: it publishes the Inspector's transitions and answers the control
 * plane (`canal.admin.<node>.*`, `canal.admin.status`; SUBJECTS.md).
 *
 *   const link = NatsLink.start({ servers, node: config.nodeId, log });
 *   createActor(machine, { inspect: link.inspector.observe({ actor: "instance", destination: "d", fields }) });
 *   link.serve(admin);      // once the node can answer
 *   await link.close();     // last: the node's own stop transitions go out first (bounded wait)
 *
 * Nothing here may hold up the node: start() returns at once and connects in the background
 * (retrying while NATS is not there); the NATS client reconnects by itself after an outage.
 * Documents go out only while connected: the client would otherwise buffer every publish of an
 * outage in memory, so while NATS is away the Inspector's bounded ring fills and drops instead.
 * While connected, at most one ring's worth is written before a flush confirms the server took
 * it, so a slow server also ends in counted drops, not in a growing socket buffer.
 */
import { connect, type NatsConnection, type Subscription } from "@nats-io/transport-node";
import { CanalError } from "../../errors.js";
import type { ServerLog } from "../session.js";
import { Inspector } from "./inspector.js";
import {
  adminSubject,
  CLUSTER_STATUS_SUBJECT,
  inspectSubject,
  type AdminReply,
  type InspectionStats,
  type NodeStatus,
} from "./subjects.js";
import { natsConnectOptions, shownNatsServer } from "./credentials.js";

/** What a node exposes to the control plane (src/actors/nats/admin.ts adapts each kind of node). */
export interface NodeAdmin {
  status(): Omit<NodeStatus, "node" | "boot" | "startedAt" | "inspection">;
  /** Hands the destination to another node; a CanalError says why not. Resolves with what was done. */
  release(destination: string): Promise<string>;
  /** Stops the destination on this node (see SUBJECTS.md for what that means per mode). */
  stop(destination: string): Promise<string>;
}

export interface NatsLinkOptions {
  servers: string[];
  node: string;
  log: ServerLog;
  /** Inspection documents waiting for NATS; default 256. */
  queueLimit?: number;
}

/** Pause between first-connect attempts while no NATS server answers. */
const CONNECT_RETRY_MS = 500;
/** How long close() waits for queued documents to go out. */
const CLOSE_FLUSH_MS = 1000;
/** Client-side liveness: a server that stops answering pings is left (and reconnected) within ~3 s. */
const PING_INTERVAL_MS = 1000;

export class NatsLink {
  readonly inspector: Inspector;
  private nc: NatsConnection | undefined;
  private connected = false;
  private closed = false;
  private retry: ReturnType<typeof setTimeout> | undefined;
  /** A flush is outstanding: nothing more is written until the server confirmed the last lot. */
  private flushing = false;
  private drainScheduled = false;
  private admin: NodeAdmin | undefined;
  private readonly subscriptions: Subscription[] = [];
  private readonly startedAt = new Date().toISOString();

  private constructor(private readonly options: NatsLinkOptions) {
    this.inspector = new Inspector({ node: options.node, queueLimit: options.queueLimit, onQueued: () => this.scheduleDrain() });
  }

  static start(options: NatsLinkOptions): NatsLink {
    const link = new NatsLink(options);
    void link.connect(1);
    return link;
  }

  stats(): InspectionStats {
    const i = this.inspector;
    return { connected: this.connected, recorded: i.recorded, published: i.published, dropped: i.dropped, queued: i.queued, queueLimit: i.queueLimit };
  }

  /** Answers the control plane for this node from now on. */
  serve(admin: NodeAdmin): void {
    this.admin = admin;
    if (this.nc !== undefined) this.subscribeAdmin(this.nc);
  }

  /** This node's full status, as `canal.admin.<node>.status` answers it. */
  status(): NodeStatus {
    if (this.admin === undefined) throw new CanalError(`node ${this.options.node} is still starting: no status yet`, { retriable: true });
    return { node: this.options.node, boot: this.inspector.boot, startedAt: this.startedAt, ...this.admin.status(), inspection: this.stats() };
  }

  /** Stops answering, publishes what is queued (for at most CLOSE_FLUSH_MS), and disconnects. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.retry);
    for (const sub of this.subscriptions) sub.unsubscribe();
    const nc = this.nc;
    if (nc === undefined) return;
    const deadline = Date.now() + CLOSE_FLUSH_MS;
    while (this.connected && this.inspector.queued > 0 && Date.now() < deadline) {
      this.drain(true);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await Promise.race([nc.flush().catch(() => undefined), new Promise((resolve) => setTimeout(resolve, Math.max(0, deadline - Date.now())))]);
    await nc.close().catch(() => undefined);
  }

  // ---- connection ------------------------------------------------------------------------------

  private async connect(attempt: number): Promise<void> {
    if (this.closed) return;
    try {
      const nc = await connect({
        ...natsConnectOptions(this.options.servers),
        name: `canal-ts ${this.options.node}`,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
        pingInterval: PING_INTERVAL_MS,
        maxPingOut: 2,
        timeout: 2000,
      });
      if (this.closed) return void (await nc.close());
      this.nc = nc;
      this.connected = true;
      this.options.log({ level: "info", msg: "nats connected", fields: { server: nc.getServer(), attempt } });
      void this.watchStatus(nc);
      if (this.admin !== undefined) this.subscribeAdmin(nc);
      this.scheduleDrain();
    } catch (err) {
      // Only the first failure is worth a line; the node runs on without NATS meanwhile.
      if (attempt === 1) this.options.log({ level: "warn", msg: "nats unreachable; inspection queues and drops until it is", fields: { servers: this.options.servers.map(shownNatsServer), error: String(err) } });
      this.retry = setTimeout(() => void this.connect(attempt + 1), CONNECT_RETRY_MS);
    }
  }

  private async watchStatus(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (s.type === "disconnect") {
        this.connected = false;
        // A flush begun before the outage may never be answered; the next connection starts afresh.
        this.flushing = false;
        this.options.log({ level: "warn", msg: "nats disconnected", fields: { server: s.server } });
      } else if (s.type === "reconnect") {
        this.connected = true;
        this.options.log({ level: "info", msg: "nats reconnected", fields: { server: s.server } });
        this.scheduleDrain();
      }
    }
    this.connected = false;
  }

  // ---- inspection ------------------------------------------------------------------------------

  /** Drains on a later turn of the event loop: never inside an actor's transition. */
  private scheduleDrain(): void {
    if (this.drainScheduled || !this.connected || this.flushing) return;
    this.drainScheduled = true;
    setImmediate(() => {
      this.drainScheduled = false;
      this.drain(false);
    });
  }

  private drain(closing: boolean): void {
    const nc = this.nc;
    if (nc === undefined || !this.connected || (this.flushing && !closing)) return;
    const docs = this.inspector.take(this.inspector.queueLimit);
    if (docs.length === 0) return;
    for (const doc of docs) {
      try {
        nc.publish(inspectSubject(doc.node, doc.destination, doc.actor), JSON.stringify(doc));
        this.inspector.published++;
      } catch {
        // Closed or draining under us: these are lost like any drop.
        this.inspector.dropped++;
      }
    }
    this.flushing = true;
    nc.flush().then(
      () => {
        this.flushing = false;
        this.scheduleDrain();
      },
      () => {
        this.flushing = false;
      },
    );
  }

  // ---- control plane ---------------------------------------------------------------------------

  private subscribeAdmin(nc: NatsConnection): void {
    if (this.subscriptions.length > 0 || this.closed) return;
    const node = this.options.node;
    const answer = (subject: string, handle: (body: string) => Promise<unknown> | unknown) => {
      this.subscriptions.push(
        nc.subscribe(subject, {
          callback: (err, msg) => {
            if (err !== null || msg.reply === undefined) return;
            void (async () => {
              let reply: AdminReply<Record<string, unknown>>;
              try {
                reply = { ok: true, ...((await handle(msg.string())) as Record<string, unknown>) };
              } catch (e) {
                reply = { ok: false, error: e instanceof Error ? e.message : String(e) };
              }
              try {
                msg.respond(JSON.stringify(reply));
              } catch {
                // The connection went away; the requester times out.
              }
            })();
          },
        }),
      );
    };
    answer(adminSubject(node, "status"), () => this.status());
    answer(CLUSTER_STATUS_SUBJECT, () => this.status());
    answer(adminSubject(node, "release"), async (body) => ({ result: await this.admin!.release(destinationOf(body, "release")) }));
    answer(adminSubject(node, "stop"), async (body) => ({ result: await this.admin!.stop(destinationOf(body, "stop")) }));
  }
}

/** The `destination` of a release or stop request: `{"destination":"d"}` or just `d`. */
function destinationOf(body: string, verb: string): string {
  const text = body.trim();
  let destination: unknown = text;
  if (text.startsWith("{")) {
    try {
      destination = (JSON.parse(text) as { destination?: unknown }).destination;
    } catch {
      throw new CanalError(`${verb} request ${JSON.stringify(text)}: expected JSON {"destination":"<name>"} or a bare destination name`);
    }
  }
  if (typeof destination !== "string" || !/^[A-Za-z0-9_-]{1,128}$/.test(destination)) {
    throw new CanalError(`${verb} request destination ${JSON.stringify(destination)}: expected a destination name (letters, digits, '_' or '-')`);
  }
  return destination;
}
