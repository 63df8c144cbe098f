/**
 * The node's ZooKeeper session, as a pure machine. Every instance machine of the node listens
 * to it: only a live session may own running nodes, and a session that may be gone must make
 * them stop serving.
 *
 *   live ──────────────────────────────────────────────────────────────┐
 *   │ connecting ── CONNECTED ──▶ connected ◀── CONNECTED ── suspended │ ── EXPIRED / suspended too long ──▶ expired
 *   │                               └──── DISCONNECTED ───────▶─┘      │                                      │
 *   └───────────────────────────────────────────────────────────────────┘ ◀──── after RECONNECT_DELAY ───────┘
 *   any ── CLOSE ──▶ closed
 *
 * `live` invokes the `session` actor, which owns one ZooKeeper client: it connects and reports
 * CONNECTED (with the session id), DISCONNECTED, EXPIRED or FAILED. Leaving `live` stops that
 * actor, which closes the client: a session is never revived, a new one is made (ZooKeeper's
 * rule, and the native client could not even be re-created in-process).
 *
 * Why `suspended` has a limit of its own: a client cut off from every server never hears that
 * its session expired (only a server can say so, and only once the client reaches one), so
 * after `sessionTimeout` without a server the session is treated as lost here, whatever the
 * servers decided. The instances fence themselves earlier than that (their own timer), so by
 * the time anyone else can own their destinations they have stopped.
 */
import { assign, fromCallback, setup, type SnapshotFrom } from "xstate";
import { notProvided } from "./not-provided.js";

export type ZkSessionEvent =
  /** The client reached a server with a live session (first connect or reconnect). */
  | { type: "CONNECTED"; sessionId: string }
  /** The connection to the server dropped; the session may still live. */
  | { type: "DISCONNECTED" }
  /** A server said the session expired: its ephemeral nodes are gone. */
  | { type: "EXPIRED" }
  /** The client could not be created or could not connect in time. */
  | { type: "FAILED"; reason: string }
  /** The node is stopping. */
  | { type: "CLOSE" };

export interface ZkSessionContext {
  /** The live (or suspended) session's id, hex; undefined while there is none. */
  sessionId: string | undefined;
  /** Sessions made so far; the `session` actor's input, so each attempt is told apart in logs. */
  attempt: number;
  /** Sessions lost (expired, or suspended too long) since the node started. */
  lost: number;
  /** Why the last session was lost or could not be made. */
  lastLoss: string | undefined;
}

export const zkSessionMachine = setup({
  types: {
    context: {} as ZkSessionContext,
    events: {} as ZkSessionEvent,
    tags: {} as "live",
  },
  actors: {
    /** Owns one ZooKeeper client for one session; closes it when stopped. Input: the attempt number. */
    session: fromCallback<ZkSessionEvent, number>(() => notProvided("zk-session", "actor session")),
  },
  // Defaults as the configuration's; the node provides the session timeout it negotiated.
  delays: {
    /** Longest a session may go without a server before it counts as lost (the session timeout). */
    SESSION_TIMEOUT: 4000,
    /** Longest wait for the first connection of a new session. */
    CONNECT_TIMEOUT: 10_000,
    /** Pause before making a new session after one was lost. */
    RECONNECT_DELAY: 200,
  },
  actions: {
    recordLoss: assign({
      sessionId: undefined,
      lost: ({ context }) => context.lost + 1,
      lastLoss: (_, params: { reason: string }) => params.reason,
    }),
  },
}).createMachine({
  id: "zkSession",
  context: { sessionId: undefined, attempt: 0, lost: 0, lastLoss: undefined },
  initial: "live",
  on: { CLOSE: ".closed" },
  states: {
    live: {
      entry: assign({ attempt: ({ context }) => context.attempt + 1 }),
      invoke: { src: "session", input: ({ context }) => context.attempt },
      initial: "connecting",
      on: {
        EXPIRED: { target: "expired", actions: { type: "recordLoss", params: { reason: "ZooKeeper expired the session" } } },
        FAILED: { target: "expired", actions: { type: "recordLoss", params: ({ event }) => ({ reason: event.reason }) } },
      },
      states: {
        connecting: {
          on: { CONNECTED: { target: "connected", actions: assign({ sessionId: ({ event }) => event.sessionId }) } },
          after: {
            CONNECT_TIMEOUT: { target: "#zkSession.expired", actions: { type: "recordLoss", params: { reason: "no ZooKeeper server answered in time" } } },
          },
        },
        connected: {
          tags: ["live"],
          on: { DISCONNECTED: "suspended" },
        },
        suspended: {
          on: {
            // The same session, through the same or another server of the ensemble.
            CONNECTED: "connected",
          },
          after: {
            SESSION_TIMEOUT: {
              target: "#zkSession.expired",
              actions: { type: "recordLoss", params: { reason: "no ZooKeeper server reached within the session timeout" } },
            },
          },
        },
      },
    },
    expired: {
      after: { RECONNECT_DELAY: "live" },
    },
    closed: { type: "final" },
  },
});

export type ZkSessionSnapshot = SnapshotFrom<typeof zkSessionMachine>;

/** What an instance needs to know of the session: live (with its id), suspended, or gone. */
export type SessionView = { state: "live"; sessionId: string } | { state: "suspended"; sessionId: string } | { state: "gone" };

export function sessionView(snapshot: ZkSessionSnapshot): SessionView {
  const { sessionId } = snapshot.context;
  if (snapshot.matches({ live: "connected" }) && sessionId !== undefined) return { state: "live", sessionId };
  if (snapshot.matches({ live: "suspended" }) && sessionId !== undefined) return { state: "suspended", sessionId };
  return { state: "gone" };
}
