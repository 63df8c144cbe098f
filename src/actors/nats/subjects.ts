/**
 * The NATS subjects and documents of inspection and the control plane (SUBJECTS.md beside this
 * file is the catalogue). Shared by the node (publisher, responders) and the CLI (inspect,
 * status), so both sides agree on one definition.
 */
import type { SinkStats } from "../sink/jetstream-sink.js";

/** Subject root of every transition document. */
export const INSPECT_ROOT = "canal.inspect";
/** Subject root of the control plane. */
export const ADMIN_ROOT = "canal.admin";
/** The destination token of node-level actors (the ZooKeeper session, a session not subscribed yet). */
export const NODE_LEVEL = "_";

/** `canal.inspect.<node>.<destination>.<actor>` */
export function inspectSubject(node: string, destination: string, actor: string): string {
  return `${INSPECT_ROOT}.${node}.${destination}.${actor}`;
}

/** What `canal-ts inspect --node N --destination D` subscribes to (`*` for either left out). */
export function inspectFilter(node?: string, destination?: string): string {
  return `${INSPECT_ROOT}.${node ?? "*"}.${destination ?? "*"}.*`;
}

export type AdminVerb = "status" | "release" | "stop";

/** `canal.admin.<node>.<verb>`: one node answers. */
export function adminSubject(node: string, verb: AdminVerb): string {
  return `${ADMIN_ROOT}.${node}.${verb}`;
}

/** `canal.admin.status`: every node answers with its NodeStatus (scatter-gather). */
export const CLUSTER_STATUS_SUBJECT = `${ADMIN_ROOT}.status`;

/** One published transition (version 1). */
export interface TransitionDoc {
  v: 1;
  node: string;
  /** Random per process start: `seq` restarts at 1 with a new boot. */
  boot: string;
  /** Per boot, +1 per transition recorded, published or dropped: a gap means dropped documents. */
  seq: number;
  /** ISO-8601 time of the transition. */
  time: string;
  destination: string;
  actor: string;
  /** State before, dotted (`active.serving`); null for an actor's first snapshot. */
  from: string | null;
  to: string;
  /** The event that caused it (`RUNNING.ABSENT`, `xstate.after.…`, `xstate.init`). */
  event: string;
  /** The context fields that matter for this actor (see SUBJECTS.md). */
  fields: Record<string, unknown>;
}

/** Counters of the inspection publisher, in every node status. */
export interface InspectionStats {
  /** Whether the NATS connection is up now. */
  connected: boolean;
  recorded: number;
  published: number;
  /** Documents dropped because the queue was full (NATS down or slow). */
  dropped: number;
  queued: number;
  queueLimit: number;
}

/** A client's acked cursor, as Canal's LogPosition says it. */
export interface CursorView {
  clientId: number;
  journalName: string;
  position: number;
  /** Event time (epoch ms) of the acked position. */
  timestamp: number;
  gtid: string;
}

export interface DestinationStatus {
  name: string;
  /** Instance state (cluster: standby, contending, starting, running, releasing, fenced, stopped…); standalone: running or stopped. */
  state: string;
  /** Address of the node running it, as this node last saw (cluster). */
  owner?: string | undefined;
  epoch?: string | undefined;
  lastReason?: string | undefined;
  /** Acked cursors, while this node serves the destination. */
  cursors?: CursorView[];
  /** Entries read and not acked yet. */
  heldEntries?: number;
  /**
   * Event-time distance (ms) between the newest entry read from the binlog and the newest
   * acked: how far consumers are behind what the node has read. 0 when nothing is held.
   */
  lagMs?: number;
  /** Sessions subscribed to it on this node. */
  clients?: number;
  /** Its JetStream sink's state and counters, while this node serves it with one. */
  sink?: SinkStats;
}

export interface SessionStatus {
  id: number;
  remote: string;
  state: string;
  subscriptions: string[];
}

export interface NodeStatus {
  node: string;
  /** `ip:port` clients reach it at (the address registered in ZooKeeper in a cluster). */
  address: string;
  mode: "cluster" | "standalone";
  boot: string;
  startedAt: string;
  /** The ZooKeeper session as the node sees it (cluster). */
  zookeeper?: { state: string; sessionId?: string | undefined };
  destinations: DestinationStatus[];
  sessions: SessionStatus[];
  inspection: InspectionStats;
}

/** Every reply of the control plane: a result, or an error saying what was wrong. */
export type AdminReply<T> = ({ ok: true } & T) | { ok: false; error: string };
