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
}

export interface InspectorOptions {
  node: string;
  /** Most documents waiting for NATS; default 256. */
  queueLimit?: number;
  /** Something was queued: the owner schedules a drain. */
  onQueued?(): void;
}

const DEFAULT_QUEUE_LIMIT = 256;

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
  private readonly ring: (TransitionDoc | undefined)[];
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
    this.ring = new Array(this.queueLimit);
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
      const destination = typeof description.destination === "string" ? description.destination : description.destination(snapshot.context);
      this.record({ destination, actor: description.actor, from, to, event: event.event.type, fields });
    };
  }

  /** A transition of something that is not a machine (the binlog source's status). */
  record(t: { destination: string; actor: string; from: string | null; to: string; event: string; fields: Record<string, unknown> }): void {
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
    if (this.size === this.queueLimit) {
      // Full: the oldest goes, so what is published after an outage is the latest picture.
      this.head = (this.head + 1) % this.queueLimit;
      this.size--;
      this.dropped++;
    }
    this.ring[(this.head + this.size) % this.queueLimit] = doc;
    this.size++;
    this.options.onQueued?.();
  }

  /** Takes up to `max` documents, oldest first. */
  take(max: number): TransitionDoc[] {
    const out: TransitionDoc[] = [];
    while (this.size > 0 && out.length < max) {
      out.push(this.ring[this.head]!);
      this.ring[this.head] = undefined;
      this.head = (this.head + 1) % this.queueLimit;
      this.size--;
    }
    return out;
  }
}
