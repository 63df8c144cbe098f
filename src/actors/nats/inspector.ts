/**
 * Inspection: every state transition of every machine actor of a node, as a small JSON document
 * (TransitionDoc) for `canal.inspect.<node>.<destination>.<actor>` (SUBJECTS.md).
 *
 * The data path must never wait for it (design, Decision 7), so the `inspect` observers given
 * to createActor only do the cheapest thing: for a snapshot of the root actor whose state (or
 * watched context fields) changed, build the document and put it in a bounded ring. A full ring
 * drops its OLDEST document and counts it, so after an outage what is left to publish says how
 * things are now; the per-boot `seq` of every document is taken before queueing, so a
 * subscriber sees each drop as a gap. Draining the ring to NATS is the owner's job (NatsLink),
 * outside the actor's own call stack.
 *
 * Every node has one, with or without NATS: live listeners (the HTTP port's /charts/events)
 * get each document as it is recorded, and `current()` is the last document of every actor,
 * the picture a new listener starts from. Without NATS there is no ring (`queue: false`):
 * nobody would drain it, so it would only count drops.
 */
import { randomUUID } from "node:crypto";
import type { AnyActorRef, InspectionEvent, Observer } from "xstate";
import { CanalConfigError } from "../../errors.js";
import { NODE_LEVEL, type TransitionDoc } from "./subjects.js";

/** What XState's createActor takes as `inspect`. */
export type InspectObserver = Observer<InspectionEvent> | ((event: InspectionEvent) => void);

/** How one actor is named and which of its context fields matter. */
export interface ActorDescription<C = never> {
  /** Subject token: `instance`, `zk-session`, `session-7`… */
  actor: string;
  /** Subject token of the destination; NODE_LEVEL (`_`) for node-level actors. May follow the context. */
  destination: string | ((context: C) => string);
  /** The few context fields worth publishing; a change of them alone is published too. */
  fields(context: C): Record<string, unknown>;
  /**
   * Forgotten by `current()` once its machine is done (a TCP session that closed): such actors
   * come and go, and the picture must not grow with every connection the node ever had.
   */
  transient?: boolean;
}

/** Hears every document as it is recorded, inside the actor's transition: it must only queue. */
export type InspectionListener = (doc: TransitionDoc) => void;

export interface InspectorOptions {
  node: string;
  /** Most documents waiting for NATS; default 256. */
  queueLimit?: number;
  /** Something was queued: the owner schedules a drain. */
  onQueued?(): void;
  /** false: keep no ring (no NATS to drain it); listeners and current() only. Default true. */
  queue?: boolean;
}

const DEFAULT_QUEUE_LIMIT = 256;
/**
 * Most actors current() remembers. Sessions are forgotten when they close; this bounds the
 * picture even if some actor never reaches its final state (the least recently changed goes).
 */
const CURRENT_LIMIT = 4096;

/** A machine's state value as one word: `standby.waiting`, `open.(a.x,b.y)` for parallel regions. */
export function stateString(value: unknown): string {
  if (typeof value === "string") return value;
  if (value === null || typeof value !== "object") return String(value);
  const parts = Object.entries(value as Record<string, unknown>).map(([key, child]) => {
    const inner = stateString(child);
    return inner === "" || (typeof child === "object" && child !== null && Object.keys(child).length === 0) ? key : `${key}.${inner}`;
  });
  return parts.length === 1 ? parts[0]! : `(${parts.join(",")})`;
}

export class Inspector {
  readonly node: string;
  readonly boot: string;
  readonly queueLimit: number;
  private readonly ring: (TransitionDoc | undefined)[] | undefined;
  /** Last document per actor, least recently changed first (Map order: changed ones are re-inserted). */
  private readonly latest = new Map<string, TransitionDoc>();
  private readonly listeners = new Set<InspectionListener>();
  private head = 0;
  private size = 0;
  private seq = 0;
  dropped = 0;
  published = 0;

  constructor(private readonly options: InspectorOptions) {
    this.node = options.node;
    this.boot = randomUUID().slice(0, 8);
    this.queueLimit = options.queueLimit ?? DEFAULT_QUEUE_LIMIT;
    if (!Number.isInteger(this.queueLimit) || this.queueLimit < 1) throw new CanalConfigError(`inspection queueLimit ${this.queueLimit}: expected an integer ≥ 1`);
    this.ring = options.queue === false ? undefined : new Array(this.queueLimit);
  }

  /** Hears every document from now on; returns the call that stops it. */
  listen(listener: InspectionListener): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  /** The last document of every actor still alive (and of the source), oldest change first. */
  current(): TransitionDoc[] {
    return [...this.latest.values()];
  }

  /** The `seq` of the last document: a listener applies only later ones over current(). */
  get lastSeq(): number {
    return this.seq;
  }

  get recorded(): number {
    return this.seq;
  }

  get queued(): number {
    return this.size;
  }

  /**
   * The `inspect` observer for createActor. Only the root actor's snapshots count (invoked
   * callback and promise actors have no state of their own), and only when its state or its
   * watched fields changed: XState reports a snapshot for every event, most of them no-ops.
   */
  observe<C>(description: ActorDescription<C>): (event: InspectionEvent) => void {
    let lastState: string | null = null;
    let lastFields = "";
    return (event) => {
      if (event.type !== "@xstate.snapshot") return;
      const ref = event.actorRef as AnyActorRef;
      if (ref.sessionId !== event.rootId) return;
      const snapshot = event.snapshot as { value?: unknown; context?: C; status?: string };
      if (snapshot.value === undefined || snapshot.context === undefined) return;
      const to = stateString(snapshot.value);
      const fields = description.fields(snapshot.context);
      const fieldsJson = JSON.stringify(fields);
      if (to === lastState && fieldsJson === lastFields) return;
      const from = lastState;
      lastState = to;
      lastFields = fieldsJson;
      const fixed = typeof description.destination === "string";
      const destination = typeof description.destination === "string" ? description.destination : description.destination(snapshot.context);
      // An actor whose destination follows its context (a session) is one actor wherever it is filed.
      const key = fixed ? `${destination}/${description.actor}` : description.actor;
      const gone = description.transient === true && snapshot.status !== undefined && snapshot.status !== "active";
      this.record({ destination, actor: description.actor, from, to, event: event.event.type, fields }, { key, gone });
    };
  }

  /**
   * A transition of something that is not a machine (the binlog source's status). `as.key`
   * names the actor in current() (default `<destination>/<actor>`); `as.gone` forgets it there.
   */
  record(
    t: { destination: string; actor: string; from: string | null; to: string; event: string; fields: Record<string, unknown> },
    as: { key?: string; gone?: boolean } = {},
  ): void {
    const doc: TransitionDoc = {
      v: 1,
      node: this.node,
      boot: this.boot,
      seq: ++this.seq,
      time: new Date().toISOString(),
      destination: t.destination || NODE_LEVEL,
      actor: t.actor,
      from: t.from,
      to: t.to,
      event: t.event,
      fields: t.fields,
    };
    const key = as.key ?? `${doc.destination}/${doc.actor}`;
    this.latest.delete(key);
    if (as.gone !== true) {
      this.latest.set(key, doc);
      if (this.latest.size > CURRENT_LIMIT) this.latest.delete(this.latest.keys().next().value!);
    }
    for (const listener of this.listeners) {
      try {
        listener(doc);
      } catch {
        // A listener's failure is its own (it drops its client); the actor's transition goes on.
      }
    }
    const ring = this.ring;
    if (ring === undefined) return;
    if (this.size === this.queueLimit) {
      // Full: the oldest goes, so what is published after an outage is the latest picture.
      this.head = (this.head + 1) % this.queueLimit;
      this.size--;
      this.dropped++;
    }
    ring[(this.head + this.size) % this.queueLimit] = doc;
    this.size++;
    this.options.onQueued?.();
  }

  /** Takes up to `max` documents, oldest first. */
  take(max: number): TransitionDoc[] {
    const out: TransitionDoc[] = [];
    const ring = this.ring;
    if (ring === undefined) return out;
    while (this.size > 0 && out.length < max) {
      out.push(ring[this.head]!);
      ring[this.head] = undefined;
      this.head = (this.head + 1) % this.queueLimit;
      this.size--;
    }
    return out;
  }
}
