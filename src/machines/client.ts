/**
 * The lifecycle of one cluster client (canal-facts.md §1.9, §5: Canal's ClusterCanalConnector
 * with its ClientRunningMonitor), as a pure machine. Clients of one destination and clientId
 * elect one active consumer through the EPHEMERAL `/otter/canal/destinations/<d>/<clientId>/running`
 * node; the active one finds the running server, connects, subscribes, rolls back, and fetches.
 *
 *   offline ── ZK.LIVE ──▶ electing ── won ──────────────────────────────────────▶ active
 *      ▲                     │  ▲ ▲── held by our own identity, old session ── takingOver
 *      │                     │  │ └── CLIENT.ABSENT ── standby ◀── held by another ┘
 *      │                     ▼  └───────── retrying (RETRY_DELAY)
 *      └──────── ZK.GONE / suspended past FENCE_AFTER / our node lost ◀── active
 *
 *   active.link: discovering → connecting → announcing → subscribing → ready ⇄ fetching → delivered → acking | rollingBack → ready
 *                any failure of these (retriable) ──▶ reconnecting (backoff) ──▶ discovering
 *   active.lease: held ⇄ suspended (ZK.SUSPENDED / ZK.LIVE); FENCE_AFTER suspended ──▶ offline
 *   any ── CLOSE ──▶ closing (release the node, close the connection) ──▶ closed
 *   a non-retriable failure (bad credentials, bad filter, standby timeout) ──▶ failing (release) ──▶ failed
 *
 * Canal's rules kept: the node is created with the host IP, then rewritten with the local
 * socket `ip:port` once connected (§5.2); every (re)connect subscribes with the remembered filter
 * and rolls back every unacked batch (rollbackOnConnect), so they come again under new batch ids
 * (§5.4); the server address is looked up again on every reconnect (§1.9).
 *
 * Better than Canal, on purpose (canal-users.md A5, A6):
 *   - Every wait is bounded or cancellable: a standby waits on a watch and ends on CLOSE, or after
 *     STANDBY_TIMEOUT when one is set; discovery, connect and every reply have deadlines (in the
 *     actors); reconnecting backs off and never spins.
 *   - A failed activation never keeps the node: a failure that retrying cannot fix releases it on
 *     the way to `failed`, and leaving `active` for any reason closes the connection.
 *   - A client finds its own stale node (same identity, another session: the process before a
 *     crash or a power loss, or an earlier session of this one) and takes it over instead of
 *     waiting for the old session to expire. Only on its first election, or for a session it
 *     owned itself: a client that lost its node to a same-identity restart stands by instead of
 *     taking it back, so two processes given one identity by mistake cannot ping-pong.
 *   - Self-fencing, as the server instance does: an active client whose ZooKeeper session is
 *     suspended for FENCE_AFTER (shorter than the session timeout) stops consuming, before its
 *     node can expire and a standby can start; losing the node (deleted, or held by another
 *     session) stops it at once. The server does not fence clients (§5.4), so this is the only
 *     thing keeping two clients from consuming one clientId at once.
 *   - A batch is settled only on the connection it came from: BATCH.ACK / BATCH.ROLLBACK name
 *     the batch id and connection, and anything but the outstanding batch of the current
 *     connection is refused (the client object says so with CanalStaleBatchError).
 *
 * The invoked actors (provided by src/client/cluster-actors.ts):
 *   claimClient({sessionId})     creates the client node (host IP), or reports who holds it;
 *   takeOver({version})          deletes our stale node, at the version read (fails if it moved);
 *   watchClient({sessionId})     watches the node: CLIENT.ABSENT / CLIENT.HELD on every change;
 *   watchServer                  watches the running node: SERVER.MOVED with the server it names;
 *   discover                     the running server's address (or, failing that, one of the cluster);
 *   connect({server})            TCP, handshake, auth; resolves the connection number and local ip:port;
 *   announce({sessionId,local})  rewrites our node with the local ip:port (only while it is ours);
 *   subscribe({connection})      SUBSCRIPTION with the filter, then CLIENTROLLBACK of every batch;
 *   fetch({connection})          one getWithoutAck; the batch itself goes to the consumer, only its id here;
 *   ack / rollback({batchId, connection});
 *   release({sessionId})         deletes the node if our session holds it, closes the connection.
 * Named actions: `closeConnection` (leaving `active`), `deliverBatch` (a batch is out).
 */
import { assign, fromCallback, fromPromise, setup, type SnapshotFrom } from "xstate";
import { CanalError, isRetriable } from "../errors.js";
import { notProvided } from "./not-provided.js";

/** Defaults; the cluster client provides its configured values. */
export const DEFAULT_CLIENT_FENCE_AFTER_MS = 3000;
export const DEFAULT_CLIENT_RETRY_DELAY_MS = 500;

export type ClientEvent =
  /** The client's ZooKeeper session, as src/machines/zk-session.ts decides it. */
  | { type: "ZK.LIVE"; sessionId: string }
  | { type: "ZK.SUSPENDED" }
  | { type: "ZK.GONE" }
  /** No client node. */
  | { type: "CLIENT.ABSENT" }
  /** The client node exists; `ours`: created by this client's current session; `active` false asks its holder to release. */
  | { type: "CLIENT.HELD"; address: string; ours: boolean; active: boolean }
  /** The running node names another server than the one we are connected to. */
  | { type: "SERVER.MOVED"; address: string }
  /** The connection `connection` ended without us closing it. */
  | { type: "CONNECTION.LOST"; connection: number; error: CanalError }
  /** The consumer wants the next batch. */
  | { type: "PULL" }
  | { type: "BATCH.ACK"; batchId: number; connection: number }
  | { type: "BATCH.ROLLBACK"; batchId: number; connection: number }
  | { type: "CLOSE" };

/** What claimClient resolves with. */
export type ClaimClientResult =
  | { won: true }
  /** Held by another session: its JSON's address and identity (when it has one), its session and data version. */
  | { won: false; address: string; identity: string | undefined; owner: string; version: number };

export interface ConnectResult {
  connection: number;
  /** The local socket `ip:port`, written into the client node (§5.2). */
  local: string;
}

export interface FetchResult {
  batchId: number;
  /** An empty get (batch -1, or no entries): fetch again. */
  empty: boolean;
}

export interface ServerFound {
  /** `ip:port` */
  address: string;
}

export type SessionState = "live" | "suspended" | "gone";

export interface ClientContext {
  destination: string;
  clientId: number;
  /** What makes a node "ours" across restarts (see src/client/cluster-client.ts). */
  identity: string;
  session: SessionState;
  sessionId: string | undefined;
  /** Sessions this client held before the current one: a node one of them holds is a stale node of ours. */
  pastSessions: string[];
  /** The data version of our stale node while taking it over (the delete expects it). */
  staleVersion: number | undefined;
  /** No election decided yet: a node held by our identity can only be a previous run's. */
  firstElection: boolean;
  /** Who holds the client node when we do not (its address), for status. */
  holder: string | undefined;
  /** The server we are connected to or about to connect to, `ip:port`. */
  server: string | undefined;
  /** The current connection's number; 0 when none. */
  connection: number;
  /** Our local `ip:port` on that connection. */
  local: string | undefined;
  /** Failed attempts in a row since the last good subscribe: the backoff step. */
  attempt: number;
  /** The batch handed to the consumer and not yet settled. */
  batch: { batchId: number; connection: number } | undefined;
  /** The consumer asked for a batch. */
  wanted: boolean;
  /** The last error got past (retried), and the one the client ended with. */
  lastError: CanalError | undefined;
  error: CanalError | undefined;
  /** Counters for status and tests. */
  activations: number;
  takeovers: number;
}

export interface ClientInput {
  destination: string;
  clientId: number;
  identity: string;
}

const asCanalError = (error: unknown): CanalError =>
  error instanceof CanalError ? error : new CanalError(String((error as Error)?.message ?? error), { cause: error });

const errorOf = (event: unknown): CanalError => asCanalError((event as { error?: unknown }).error);

export const clientMachine = setup({
  types: {
    context: {} as ClientContext,
    events: {} as ClientEvent,
    input: {} as ClientInput,
    tags: {} as "active" | "standby" | "consuming",
  },
  actors: {
    claimClient: fromPromise<ClaimClientResult, { sessionId: string }>(async () => notProvided("client", "actor claimClient")),
    takeOver: fromPromise<void, { sessionId: string; version: number }>(async () => notProvided("client", "actor takeOver")),
    watchClient: fromCallback<ClientEvent, { sessionId: string }>(() => notProvided("client", "actor watchClient")),
    watchServer: fromCallback<ClientEvent>(() => notProvided("client", "actor watchServer")),
    discover: fromPromise<ServerFound, { attempt: number }>(async () => notProvided("client", "actor discover")),
    connect: fromPromise<ConnectResult, { server: string }>(async () => notProvided("client", "actor connect")),
    announce: fromPromise<void, { sessionId: string; local: string }>(async () => notProvided("client", "actor announce")),
    subscribe: fromPromise<void, { connection: number }>(async () => notProvided("client", "actor subscribe")),
    fetch: fromPromise<FetchResult, { connection: number }>(async () => notProvided("client", "actor fetch")),
    ack: fromPromise<void, { batchId: number; connection: number }>(async () => notProvided("client", "actor ack")),
    rollback: fromPromise<void, { batchId: number; connection: number }>(async () => notProvided("client", "actor rollback")),
    release: fromPromise<void, { sessionId: string | undefined }>(async () => notProvided("client", "actor release")),
  },
  guards: {
    sessionLive: ({ context }) => context.session === "live",
    won: ({ event }) => (event as unknown as { output: ClaimClientResult }).output.won,
    /** Our identity on a node another session holds: a previous run's, or an earlier session's of this run. */
    staleOwn: ({ context, event }) => {
      const out = (event as unknown as { output: ClaimClientResult }).output;
      return !out.won && out.identity === context.identity && (context.firstElection || context.pastSessions.includes(out.owner));
    },
    retriable: ({ event }) => isRetriable((event as { error?: unknown }).error),
    wanted: ({ context }) => context.wanted,
    emptyBatch: ({ event }) => (event as unknown as { output: FetchResult }).output.empty,
    currentConnection: ({ context, event }) => "connection" in event && event.connection === context.connection,
    outstandingBatch: ({ context, event }) =>
      (event.type === "BATCH.ACK" || event.type === "BATCH.ROLLBACK") &&
      context.batch !== undefined &&
      event.batchId === context.batch.batchId &&
      event.connection === context.batch.connection,
    nodeLost: ({ event }) => event.type === "CLIENT.ABSENT" || (event.type === "CLIENT.HELD" && !event.ours),
    releaseAsked: ({ event }) => event.type === "CLIENT.HELD" && event.ours && !event.active,
    otherServer: ({ context, event }) => event.type === "SERVER.MOVED" && context.server !== undefined && event.address !== context.server,
    sameSession: ({ context, event }) => event.type === "ZK.LIVE" && event.sessionId === context.sessionId,
  },
  delays: {
    /** Backoff before attempt `attempt` of discover/connect/subscribe; the client provides a jittered one. */
    RECONNECT_DELAY: ({ context }) => Math.min(5000, 100 * 2 ** Math.max(0, context.attempt - 1)),
    /** Pause before electing again after a failed claim or a lost node. */
    RETRY_DELAY: DEFAULT_CLIENT_RETRY_DELAY_MS,
    /** How long an active client keeps consuming without ZooKeeper; shorter than the session timeout. */
    FENCE_AFTER: DEFAULT_CLIENT_FENCE_AFTER_MS,
    /** Longest standby wait before the client fails; the client provides 2^31-1 ms (never) unless told. */
    STANDBY_TIMEOUT: 0x7fffffff,
  },
  actions: {
    closeConnection: () => notProvided("client", "action closeConnection"),
    deliverBatch: () => notProvided("client", "action deliverBatch"),
    trackSession: assign(({ context, event }) => {
      switch (event.type) {
        case "ZK.LIVE":
          // A new session: remember the last one, its node (if it lingers) is a stale node of ours.
          return context.sessionId !== undefined && context.sessionId !== event.sessionId
            ? { session: "live" as const, sessionId: event.sessionId, pastSessions: [...context.pastSessions, context.sessionId].slice(-8) }
            : { session: "live" as const, sessionId: event.sessionId };
        case "ZK.SUSPENDED":
          return { session: "suspended" as const };
        case "ZK.GONE":
          return context.sessionId !== undefined
            ? { session: "gone" as const, sessionId: undefined, pastSessions: [...context.pastSessions, context.sessionId].slice(-8) }
            : { session: "gone" as const };
        default:
          return {};
      }
    }),
    noteError: assign({ lastError: ({ event }) => errorOf(event) }),
    noteFailure: assign({ error: ({ event }) => errorOf(event) }),
    forgetConnection: assign({ connection: 0, local: undefined, batch: undefined }),
  },
}).createMachine({
  id: "client",
  context: ({ input }) => ({
    destination: input.destination,
    clientId: input.clientId,
    identity: input.identity,
    session: "gone",
    sessionId: undefined,
    pastSessions: [],
    staleVersion: undefined,
    firstElection: true,
    holder: undefined,
    server: undefined,
    connection: 0,
    local: undefined,
    attempt: 0,
    batch: undefined,
    wanted: false,
    lastError: undefined,
    error: undefined,
    activations: 0,
    takeovers: 0,
  }),
  initial: "offline",
  on: {
    "ZK.LIVE": { actions: "trackSession" },
    "ZK.SUSPENDED": { actions: "trackSession" },
    "ZK.GONE": { target: ".offline", actions: "trackSession" },
    PULL: { actions: assign({ wanted: true }) },
    CLOSE: ".closing",
  },
  states: {
    offline: {
      // Entered only without a live session (at start, or a retry that found none): the next live one elects.
      on: { "ZK.LIVE": { target: "electing", actions: "trackSession" } },
    },
    electing: {
      invoke: {
        src: "claimClient",
        input: ({ context }) => ({ sessionId: context.sessionId! }),
        onDone: [
          { guard: "won", target: "active", actions: assign({ firstElection: false, holder: undefined }) },
          {
            guard: "staleOwn",
            target: "takingOver",
            actions: assign({ staleVersion: ({ event }) => (event.output.won ? undefined : event.output.version) }),
          },
          {
            target: "standby",
            actions: assign(({ event }) => ({ firstElection: false, holder: event.output.won ? undefined : event.output.address })),
          },
        ],
        onError: { target: "retrying", actions: "noteError" },
      },
    },
    takingOver: {
      invoke: {
        src: "takeOver",
        input: ({ context }) => ({ sessionId: context.sessionId!, version: context.staleVersion! }),
        onDone: { target: "electing", actions: assign({ takeovers: ({ context }) => context.takeovers + 1 }) },
        onError: { target: "retrying", actions: "noteError" },
      },
    },
    retrying: {
      after: { RETRY_DELAY: [{ guard: "sessionLive", target: "electing" }, { target: "offline" }] },
    },
    standby: {
      tags: ["standby"],
      invoke: { src: "watchClient", input: ({ context }) => ({ sessionId: context.sessionId! }) },
      on: {
        // The holder went away (it closed, or its session expired): contend now. Its session is
        // gone, so waiting (Canal's 5 s) cannot help it come back.
        "CLIENT.ABSENT": { target: "electing" },
        "CLIENT.HELD": [
          // Our own session holds it (a create whose reply was lost, then retried): it is ours.
          { guard: ({ event }) => event.ours, target: "electing" },
          { actions: assign({ holder: ({ event }) => event.address }) },
        ],
      },
      after: {
        STANDBY_TIMEOUT: {
          target: "failing",
          actions: assign({
            error: ({ context }) =>
              new CanalError(
                `client ${context.clientId} of destination "${context.destination}" stood by longer than its standbyTimeoutMs while ${context.holder ?? "another client"} held the client node`,
              ),
          }),
        },
      },
    },
    active: {
      type: "parallel",
      tags: ["active"],
      entry: assign({ activations: ({ context }) => context.activations + 1, attempt: 0 }),
      exit: ["closeConnection", "forgetConnection"],
      invoke: [{ src: "watchClient", input: ({ context }) => ({ sessionId: context.sessionId! }) }, { src: "watchServer" }],
      on: {
        "CLIENT.ABSENT": { target: "retrying", actions: assign({ lastError: () => new CanalError("the client node was deleted while this client was active") }) },
        "CLIENT.HELD": [
          {
            guard: "nodeLost",
            target: "retrying",
            actions: assign({ lastError: ({ event }) => new CanalError(`the client node is held by ${(event as { address: string }).address}, another session`) }),
          },
          { guard: "releaseAsked", target: "resigning" },
        ],
      },
      states: {
        lease: {
          initial: "held",
          states: {
            held: { on: { "ZK.SUSPENDED": { target: "suspended", actions: "trackSession" } } },
            suspended: {
              on: {
                "ZK.LIVE": [
                  { guard: "sameSession", target: "held", actions: "trackSession" },
                  // A new session: the old one, and our node with it, is gone.
                  { target: "#client.electing", actions: "trackSession" },
                ],
              },
              after: {
                FENCE_AFTER: {
                  target: "#client.offline",
                  actions: assign({ lastError: () => new CanalError("ZooKeeper unreachable for the fencing delay: stopped consuming before the client node can expire") }),
                },
              },
            },
          },
        },
        link: {
          initial: "discovering",
          states: {
            discovering: {
              // No server is known until discovery names one: a running node that appears now is
              // what discovery waits for, not a move (a SERVER.MOVED against the last connection's
              // server would send the client back to reconnecting for nothing, racing discovery).
              entry: assign({ server: undefined }),
              invoke: {
                src: "discover",
                input: ({ context }) => ({ attempt: context.attempt }),
                onDone: { target: "connecting", actions: assign({ server: ({ event }) => event.output.address }) },
                onError: [
                  { guard: "retriable", target: "reconnecting", actions: "noteError" },
                  { target: "#client.failing", actions: "noteFailure" },
                ],
              },
            },
            connecting: {
              invoke: {
                src: "connect",
                input: ({ context }) => ({ server: context.server! }),
                onDone: { target: "announcing", actions: assign({ connection: ({ event }) => event.output.connection, local: ({ event }) => event.output.local }) },
                onError: [
                  { guard: "retriable", target: "reconnecting", actions: "noteError" },
                  { target: "#client.failing", actions: "noteFailure" },
                ],
              },
            },
            announcing: {
              invoke: {
                src: "announce",
                input: ({ context }) => ({ sessionId: context.sessionId!, local: context.local! }),
                onDone: "subscribing",
                // Our node is gone or not ours any more: elect again (leaving `active` closes the connection).
                onError: { target: "#client.retrying", actions: "noteError" },
              },
            },
            subscribing: {
              invoke: {
                src: "subscribe",
                input: ({ context }) => ({ connection: context.connection }),
                onDone: { target: "ready", actions: assign({ attempt: 0 }) },
                onError: [
                  { guard: "retriable", target: "reconnecting", actions: "noteError" },
                  { target: "#client.failing", actions: "noteFailure" },
                ],
              },
            },
            ready: {
              tags: ["consuming"],
              always: { guard: "wanted", target: "fetching" },
            },
            fetching: {
              tags: ["consuming"],
              invoke: {
                src: "fetch",
                input: ({ context }) => ({ connection: context.connection }),
                onDone: [
                  { guard: "emptyBatch", target: "fetching", reenter: true },
                  {
                    target: "delivered",
                    actions: [assign(({ context, event }) => ({ batch: { batchId: event.output.batchId, connection: context.connection }, wanted: false })), "deliverBatch"],
                  },
                ],
                onError: [
                  { guard: "retriable", target: "reconnecting", actions: "noteError" },
                  { target: "#client.failing", actions: "noteFailure" },
                ],
              },
            },
            delivered: {
              tags: ["consuming"],
              on: {
                "BATCH.ACK": { guard: "outstandingBatch", target: "acking" },
                "BATCH.ROLLBACK": { guard: "outstandingBatch", target: "rollingBack" },
              },
            },
            acking: {
              tags: ["consuming"],
              invoke: {
                src: "ack",
                input: ({ context }) => context.batch!,
                onDone: { target: "ready", actions: assign({ batch: undefined }) },
                // The connection went under the ack: the batch comes again after the reconnect's rollback.
                onError: { target: "reconnecting", actions: "noteError" },
              },
            },
            rollingBack: {
              tags: ["consuming"],
              invoke: {
                src: "rollback",
                input: ({ context }) => context.batch!,
                onDone: { target: "ready", actions: assign({ batch: undefined }) },
                onError: { target: "reconnecting", actions: "noteError" },
              },
            },
            reconnecting: {
              entry: ["closeConnection", "forgetConnection", assign({ attempt: ({ context }) => context.attempt + 1 })],
              after: { RECONNECT_DELAY: "discovering" },
            },
          },
          on: {
            "CONNECTION.LOST": { guard: "currentConnection", target: ".reconnecting", actions: "noteError" },
            // The destination moved: go to the new server now, not after the old one's sessions time out.
            "SERVER.MOVED": { guard: "otherServer", target: ".reconnecting", actions: assign({ attempt: 0 }) },
          },
        },
      },
    },
    resigning: {
      // Someone wrote "active":false into our node (Canal's client switch): give it up, elect again later.
      invoke: {
        src: "release",
        input: ({ context }) => ({ sessionId: context.sessionId }),
        onDone: "retrying",
        onError: "retrying",
      },
    },
    failing: {
      invoke: {
        src: "release",
        input: ({ context }) => ({ sessionId: context.sessionId }),
        onDone: "failed",
        onError: "failed",
      },
      on: { CLOSE: {}, "ZK.GONE": { actions: "trackSession" } },
    },
    closing: {
      invoke: {
        src: "release",
        input: ({ context }) => ({ sessionId: context.sessionId }),
        onDone: "closed",
        onError: "closed",
      },
      on: { CLOSE: {}, "ZK.GONE": { actions: "trackSession" } },
    },
    failed: { type: "final" },
    closed: { type: "final" },
  },
});

export type ClientSnapshot = SnapshotFrom<typeof clientMachine>;

/** The client's state as one word, for events, status and logs. */
export type ClientState =
  | "offline"
  | "electing"
  | "takingOver"
  | "retrying"
  | "standby"
  | "discovering"
  | "connecting"
  | "announcing"
  | "subscribing"
  | "ready"
  | "fetching"
  | "delivered"
  | "acking"
  | "rollingBack"
  | "reconnecting"
  | "resigning"
  | "failing"
  | "closing"
  | "failed"
  | "closed";

export function clientState(snapshot: ClientSnapshot): ClientState {
  const value = snapshot.value as string | { active?: { link?: string } };
  if (typeof value === "string") return value as ClientState;
  if (value.active?.link !== undefined) return value.active.link as ClientState;
  return Object.keys(value)[0] as ClientState;
}

