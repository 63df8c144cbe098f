/**
 * The lifecycle of one Canal client connection (canal-facts.md §1.3, §1.5, §1.6, §11), as a pure
 * machine: which packet is acceptable when, what each one is answered with, and when the
 * connection closes. The runtime (src/actors/session.ts) decodes packets into these events,
 * feeds them ONE AT A TIME (only while the snapshot has the `ready` tag, like Canal's single
 * Netty worker per channel), provides the named actors and the `authOk` guard, and writes the
 * emitted replies.
 *
 *   open.handshake ── seed written ──▶ open.authenticating ── AUTH ok ──▶ open.authenticated ──▶ closing ──▶ closed
 *                                        │  AUTH failed: error Ack, stays (never closes)
 *
 *   open.authenticated is parallel:
 *     subscription: unsubscribed ⇄ subscribed   (derived: this connection holds ≥ 1 subscription)
 *     request:      idle ─▶ subscribing | unsubscribing | fetching | acking | rollingBack ─▶ idle
 *
 * Request rules that need no IO are decided here, as named guards: an empty destination or
 * clientId is 401, a clientId Java's Short.parseShort rejects is 400, an ack of batch 0 is 402,
 * an ack of batch -1 (the empty batch) is ignored. Everything that touches a destination runs in
 * an invoked actor, so a blocking GET is a `fetching` state that holds this connection's later
 * packets, and leaving it (close, stop) cancels the fetch.
 *
 * Replies go out as emitted events (`reply.ok`, `reply.error`), except the MESSAGES reply to a
 * GET: the `serveGet` actor writes it straight from the store's buffers, because rows never
 * pass through a machine (design: "Control path and data path"). CLIENTACK and CLIENTROLLBACK
 * get no reply on success; their errors are emitted and the client reads them as the reply to
 * its next request (§11.1).
 *
 * Closing: an undecodable frame or packet (MALFORMED), an idle timeout, server stop, the peer
 * ending the stream, or a failed handshake write. Application errors never close (§11.3).
 */
import { and, assign, emit, fromCallback, fromPromise, setup, type ActorRefFrom, type SnapshotFrom } from "xstate";
import { notProvided as notProvidedBy } from "./not-provided.js";

// ---- request rules ---------------------------------------------------------------------------

/** Canal's idle limit when ClientAuth sets none (or ≤ 0): 1 hour, in ms (§1.6, §11.4). */
export const DEFAULT_IDLE_MS = 3_600_000;

/** Canal's error codes (the same numbers as AckErrorCode in src/protocol). */
export const ErrorCode = { FAILED: 400, MISSING_IDENTITY: 401, MISSING_BATCH_ID: 402 } as const;

/** The wire's batch id of an empty GET reply; acking it is a no-op (§1.5 CLIENTACK). */
export const EMPTY_BATCH_ID = -1;

/** Longest wait a timer can express; a GET timeout beyond it waits this long (~24.8 days). */
export const MAX_WAIT_MS = 2 ** 31 - 1;

/** Milliseconds per unit of java.util.concurrent.TimeUnit, by ordinal (Get.unit, §1.2). */
const MS_PER_UNIT = [1e-6, 1e-3, 1, 1_000, 60_000, 3_600_000, 86_400_000] as const;

/**
 * Java's `Short.parseShort(s)` (radix 10): an optional sign, decimal digits, a value from
 * -32768 to 32767. Returns undefined where Java throws NumberFormatException. (Java also
 * accepts non-ASCII Unicode digits; no client sends them, so they are refused here.)
 */
export function parseJavaShort(text: string): number | undefined {
  if (!/^[+-]?[0-9]+$/.test(text)) return undefined;
  const value = Number(text);
  return value >= -32768 && value <= 32767 ? value : undefined;
}

/**
 * A GET's wait as the event store takes it (§1.5, §11.5): undefined = do not wait (the wire's
 * -1, checked BEFORE any unit conversion); 0 = wait for a full batch (an absent timeout reads 0,
 * and any other value ≤ 0 waits the same way); > 0 = wait up to that many ms. An absent unit
 * reads 0, NANOSECONDS; an unknown ordinal means ms, as in Canal.
 */
export function getWaitMs(timeout: number | undefined, unit: number | undefined): number | undefined {
  if (timeout === -1) return undefined;
  if (timeout === undefined || timeout <= 0) return 0;
  const ms = timeout * (MS_PER_UNIT[unit ?? 0] ?? 1);
  return Math.min(ms, MAX_WAIT_MS);
}

/** Canal's idle rule: a limit ≤ 0 or absent means the 1-hour default (§1.3 step 4). */
export function idleLimitMs(requested: number | undefined): number {
  return requested !== undefined && requested > 0 ? requested : DEFAULT_IDLE_MS;
}

/** Canal's reply texts, so tests and the runtime share one wording. */
export const messages = {
  authFailed: (username: string) => `auth failed for user:${username}`,
  missingIdentity: "destination or clientId is null",
  missingBatchId: "batchId should assign value",
  badClientId: (clientId: string) =>
    `clientId ${JSON.stringify(clientId)} is not a Java short (NumberFormatException: For input string: ${JSON.stringify(clientId)})`,
  unsupported: (packetType: string) => `packet type: ${packetType} is NOT supported!`,
} as const;

// ---- events, context, actor contracts ----------------------------------------------------------

/** Destination and clientId exactly as the packet carried them (validated by the guards). */
export interface WireIdentity {
  destination: string;
  clientId: string;
}

/** ClientAuth as the Java client sends it (§1.3); timeouts are milliseconds. */
export interface AuthEvent extends WireIdentity {
  type: "AUTH";
  username: string;
  /** ClientAuth.password as text: the 40-char scramble token, or "". */
  password: string;
  netReadTimeoutMs?: number;
  netWriteTimeoutMs?: number;
  filter: string;
}
export interface SubEvent extends WireIdentity {
  type: "SUB";
  filter: string;
}
export interface UnsubEvent extends WireIdentity {
  type: "UNSUB";
}
export interface GetEvent extends WireIdentity {
  type: "GET";
  fetchSize: number;
  /** Get.timeout; undefined when the field was absent (reads 0 in Java). */
  timeout?: number;
  /** Get.unit ordinal; undefined when absent (reads 0, NANOSECONDS). */
  unit?: number;
}
export interface ClientAckEvent extends WireIdentity {
  type: "CLIENTACK";
  batchId: number;
}
export interface RollbackEvent extends WireIdentity {
  type: "ROLLBACK";
  /** 0 (absent on the wire): roll back every batch. */
  batchId: number;
}

export type RequestEvent = SubEvent | UnsubEvent | GetEvent | ClientAckEvent | RollbackEvent;

export type SessionEvent =
  | AuthEvent
  | RequestEvent
  /** A packet type the session does not serve (HEARTBEAT, DUMP, SHUTDOWN, 0, unknown numbers). */
  | { type: "UNSUPPORTED"; packetType: string }
  /** A known request whose body does not decode: Canal answers 400 and keeps the connection. */
  | { type: "BAD_REQUEST"; packetType: string; reason: string }
  /** An undecodable or oversize frame or Packet (or ClientAuth): the connection closes. */
  | { type: "MALFORMED"; reason: string }
  | { type: "IDLE_TIMEOUT"; reason: string }
  /** The server is stopping. */
  | { type: "STOP" }
  /** The peer ended its side of the stream. */
  | { type: "PEER_ENDED" }
  /** The socket is gone (closed by either side, or destroyed by an error). */
  | { type: "SOCKET_CLOSED"; reason?: string };

/** What the runtime must write or record; the session's outputs. */
export type SessionEmitted =
  | { type: "reply.ok" }
  | { type: "reply.error"; code: number; message: string }
  /** The socket is gone; why the session ended (the first reason recorded wins). */
  | ({ type: "session.closed" } & CloseReason);

/** A validated identity, as the store and destinations take it. */
export interface Identity {
  destination: string;
  clientId: number;
}

export interface SubscribeInput extends Identity {
  filter: string;
}
export interface GetInput extends Identity {
  /** Canal's fetch_size. */
  batchSize: number;
  /** As getWaitMs returns it. */
  waitMs: number | undefined;
}
export interface BatchInput extends Identity {
  batchId: number;
}
/** What `serveGet` resolves with once the MESSAGES reply is written: a summary, never the rows. */
export interface ServedBatch {
  batchId: number;
  entries: number;
  bytes: number;
}
export interface IdleLimits {
  readIdleMs: number;
  writeIdleMs: number;
}

export interface SessionContext extends IdleLimits {
  /** Identities this connection subscribed, as `destination/clientId`; decides `subscribed`. */
  subscriptions: string[];
  /** The SUBSCRIPTION or UNSUBSCRIPTION being served, recorded when it succeeds. */
  pending: Identity | undefined;
  /** Why the session is closing; undefined while open. */
  close: CloseReason | undefined;
}

export type CloseCause = "malformed" | "idle" | "stop" | "peer" | "socket" | "handshake" | "auth";

export interface CloseReason {
  cause: CloseCause;
  /** For the log: what happened, naming the values. */
  reason: string;
}

/** Every way into `closing` and `closed` records a reason; this stands in only to keep the types total. */
const UNKNOWN_CLOSE: CloseReason = { cause: "socket", reason: "closing" };

const subscriptionKey = (id: Identity) => `${id.destination}/${id.clientId}`;

/** The validated identity of a request (call only after the identity guards passed). */
export function identityOf(event: WireIdentity): Identity {
  return { destination: event.destination, clientId: parseJavaShort(event.clientId)! };
}

const notProvided = (name: string): never => notProvidedBy("session", name);

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Why the session closes, from the event that closes it: one of ours, or the error event of
 * the handshake write or of the subscription a ClientAuth asked for.
 */
function closeOf(event: SessionEvent): CloseReason {
  const actorError = (event as { error?: unknown }).error;
  switch (event.type as string) {
    case "xstate.error.actor.sendHandshake":
      return { cause: "handshake", reason: `handshake not written: ${errorText(actorError)}` };
    case "xstate.error.actor.subscribe":
      return { cause: "auth", reason: `subscription asked by ClientAuth failed: ${errorText(actorError)}` };
  }
  switch (event.type) {
    case "MALFORMED":
      return { cause: "malformed", reason: `malformed frame: ${event.reason}` };
    case "IDLE_TIMEOUT":
      return { cause: "idle", reason: `idle: ${event.reason}` };
    case "STOP":
      return { cause: "stop", reason: "server stopping" };
    case "PEER_ENDED":
      return { cause: "peer", reason: "peer ended the connection" };
    case "SOCKET_CLOSED":
      return { cause: "socket", reason: event.reason ?? "socket closed" };
    case "AUTH":
      return { cause: "auth", reason: `ClientAuth subscribes with ${messages.badClientId(event.clientId)}` };
    default:
      return { cause: "socket", reason: event.type };
  }
}

// ---- the machine -------------------------------------------------------------------------------

/** Guards shared by every request: 401 for an empty identity, then 400 for a bad clientId. */
const identityChecks = [
  { guard: "identityMissing", actions: "replyMissingIdentity" },
  { guard: "clientIdInvalid", actions: "replyBadClientId" },
] as const;

export const sessionMachine = setup({
  types: {
    context: {} as SessionContext,
    events: {} as SessionEvent,
    emitted: {} as SessionEmitted,
    tags: {} as "ready" | "awaitingAuth",
  },
  actors: {
    /** Writes the HANDSHAKE with a fresh 8-byte seed; resolves once written. */
    sendHandshake: fromPromise<void>(async () => notProvided("actor sendHandshake")),
    /** Sends IDLE_TIMEOUT when nothing was read, or nothing written, for the given limits. */
    watchIdle: fromCallback<SessionEvent, IdleLimits>(() => notProvided("actor watchIdle")),
    subscribe: fromPromise<void, SubscribeInput>(async () => notProvided("actor subscribe")),
    unsubscribe: fromPromise<void, Identity>(async () => notProvided("actor unsubscribe")),
    /** Takes a batch (waiting as input.waitMs says), writes the MESSAGES reply, waits for drain. */
    serveGet: fromPromise<ServedBatch, GetInput>(async () => notProvided("actor serveGet")),
    ack: fromPromise<void, BatchInput>(async () => notProvided("actor ack")),
    rollback: fromPromise<void, BatchInput>(async () => notProvided("actor rollback")),
    /** Ends the socket and destroys it if the peer does not close in time. */
    closeSocket: fromCallback<SessionEvent, CloseReason>(() => notProvided("actor closeSocket")),
  },
  guards: {
    /** Canal's auth decision against the configured user and password hash and this connection's seed. */
    authOk: () => notProvided("guard authOk"),
    /** ClientAuth with a destination and a clientId also subscribes (§1.3 step 5). */
    authCarriesIdentity: ({ event }) => event.type === "AUTH" && event.destination !== "" && event.clientId !== "",
    identityMissing: ({ event }) => "destination" in event && (event.destination === "" || event.clientId === ""),
    clientIdInvalid: ({ event }) => "clientId" in event && parseJavaShort(event.clientId) === undefined,
    authOkWithIdentity: and(["authOk", "authCarriesIdentity"]),
    authOkWithBadClientId: and(["authOk", "authCarriesIdentity", "clientIdInvalid"]),
    batchIdMissing: ({ event }) => event.type === "CLIENTACK" && event.batchId === 0,
    emptyBatchAck: ({ event }) => event.type === "CLIENTACK" && event.batchId === EMPTY_BATCH_ID,
    hasSubscriptions: ({ context }) => context.subscriptions.length > 0,
    noSubscriptions: ({ context }) => context.subscriptions.length === 0,
  },
  actions: {
    replyOk: emit({ type: "reply.ok" } as const),
    replyAuthFailed: emit(({ event }) => ({
      type: "reply.error" as const,
      code: ErrorCode.FAILED,
      message: messages.authFailed(event.type === "AUTH" ? event.username : ""),
    })),
    replyMissingIdentity: emit({ type: "reply.error", code: ErrorCode.MISSING_IDENTITY, message: messages.missingIdentity } as const),
    replyBadClientId: emit(({ event }) => ({
      type: "reply.error" as const,
      code: ErrorCode.FAILED,
      message: messages.badClientId("clientId" in event ? event.clientId : ""),
    })),
    replyMissingBatchId: emit({ type: "reply.error", code: ErrorCode.MISSING_BATCH_ID, message: messages.missingBatchId } as const),
    replyUnsupported: emit(({ event }) => ({
      type: "reply.error" as const,
      code: ErrorCode.FAILED,
      message: messages.unsupported(event.type === "UNSUPPORTED" ? event.packetType : event.type),
    })),
    replyBadRequest: emit(({ event }) => ({
      type: "reply.error" as const,
      code: ErrorCode.FAILED,
      message: event.type === "BAD_REQUEST" ? event.reason : event.type,
    })),
    /** A request's actor failed (its error carries Canal's text, e.g. "should subscribe first"). */
    replyFailure: emit(({ event }) => ({
      type: "reply.error" as const,
      code: ErrorCode.FAILED,
      message: errorText((event as { error?: unknown }).error),
    })),
    recordIdleLimits: assign(({ event }) =>
      event.type === "AUTH" ? { readIdleMs: idleLimitMs(event.netReadTimeoutMs), writeIdleMs: idleLimitMs(event.netWriteTimeoutMs) } : {},
    ),
    recordPending: assign({ pending: ({ event }) => ("clientId" in event ? identityOf(event) : undefined) }),
    addSubscription: assign(({ context }) => {
      const key = subscriptionKey(context.pending!);
      return { subscriptions: context.subscriptions.includes(key) ? context.subscriptions : [...context.subscriptions, key], pending: undefined };
    }),
    removeSubscription: assign(({ context }) => {
      const key = subscriptionKey(context.pending!);
      return { subscriptions: context.subscriptions.filter((s) => s !== key), pending: undefined };
    }),
    clearPending: assign({ pending: undefined }),
    recordCloseReason: assign({ close: ({ event }) => closeOf(event) }),
    announceClosed: emit(({ context }) => ({ type: "session.closed" as const, ...(context.close ?? UNKNOWN_CLOSE) })),
  },
}).createMachine({
  id: "session",
  context: {
    readIdleMs: DEFAULT_IDLE_MS,
    writeIdleMs: DEFAULT_IDLE_MS,
    subscriptions: [],
    pending: undefined,
    close: undefined,
  },
  initial: "open",
  states: {
    open: {
      initial: "handshake",
      on: {
        MALFORMED: { target: "closing", actions: "recordCloseReason" },
        IDLE_TIMEOUT: { target: "closing", actions: "recordCloseReason" },
        STOP: { target: "closing", actions: "recordCloseReason" },
        PEER_ENDED: { target: "closing", actions: "recordCloseReason" },
        SOCKET_CLOSED: { target: "closed", actions: "recordCloseReason" },
      },
      states: {
        handshake: {
          invoke: {
            id: "sendHandshake",
            src: "sendHandshake",
            onDone: { target: "authenticating" },
            onError: { target: "#session.closing", actions: "recordCloseReason" },
          },
        },
        authenticating: {
          tags: ["awaitingAuth"],
          // Canal watches idleness only after auth; an unauthenticated connection is held to
          // the default limit too, so it cannot linger for ever.
          invoke: { id: "watchIdle", src: "watchIdle", input: ({ context }) => ({ readIdleMs: context.readIdleMs, writeIdleMs: context.writeIdleMs }) },
          initial: "waiting",
          states: {
            waiting: {
              tags: ["ready"],
              on: {
                AUTH: [
                  // Canal's Short.valueOf throws inside the auth handler, which closes the channel.
                  { guard: "authOkWithBadClientId", target: "#session.closing", actions: "recordCloseReason" },
                  { guard: "authOkWithIdentity", target: "subscribing", actions: ["recordIdleLimits", "recordPending"] },
                  { guard: "authOk", target: "#session.open.authenticated", actions: ["recordIdleLimits", "replyOk"] },
                  // A failed auth answers 400 and keeps waiting for another ClientAuth (§11.3).
                  { actions: "replyAuthFailed" },
                ],
              },
            },
            // Canal subscribes before it acknowledges the auth, and closes if that throws.
            subscribing: {
              invoke: {
                id: "subscribe",
                src: "subscribe",
                input: ({ event }) => subscribeInput(event),
                onDone: { target: "#session.open.authenticated", actions: ["addSubscription", "replyOk"] },
                onError: { target: "#session.closing", actions: "recordCloseReason" },
              },
            },
          },
        },
        authenticated: {
          type: "parallel",
          invoke: { id: "watchIdle", src: "watchIdle", input: ({ context }) => ({ readIdleMs: context.readIdleMs, writeIdleMs: context.writeIdleMs }) },
          states: {
            subscription: {
              initial: "unsubscribed",
              states: {
                unsubscribed: { always: { guard: "hasSubscriptions", target: "subscribed" } },
                subscribed: { always: { guard: "noSubscriptions", target: "unsubscribed" } },
              },
            },
            request: {
              initial: "idle",
              states: {
                idle: {
                  tags: ["ready"],
                  on: {
                    SUB: [...identityChecks, { target: "subscribing", actions: "recordPending" }],
                    UNSUB: [...identityChecks, { target: "unsubscribing", actions: "recordPending" }],
                    GET: [...identityChecks, { target: "fetching" }],
                    CLIENTACK: [
                      ...identityChecks,
                      { guard: "batchIdMissing", actions: "replyMissingBatchId" },
                      // The ack a client sends for an empty batch: nothing to do, nothing to say.
                      { guard: "emptyBatchAck" },
                      { target: "acking" },
                    ],
                    ROLLBACK: [...identityChecks, { target: "rollingBack" }],
                    UNSUPPORTED: { actions: "replyUnsupported" },
                    BAD_REQUEST: { actions: "replyBadRequest" },
                  },
                },
                subscribing: {
                  invoke: {
                    id: "subscribe",
                    src: "subscribe",
                    input: ({ event }) => subscribeInput(event),
                    onDone: { target: "idle", actions: ["addSubscription", "replyOk"] },
                    onError: { target: "idle", actions: ["clearPending", "replyFailure"] },
                  },
                },
                unsubscribing: {
                  invoke: {
                    id: "unsubscribe",
                    src: "unsubscribe",
                    input: ({ context }) => context.pending!,
                    onDone: { target: "idle", actions: ["removeSubscription", "replyOk"] },
                    onError: { target: "idle", actions: ["clearPending", "replyFailure"] },
                  },
                },
                fetching: {
                  invoke: {
                    id: "serveGet",
                    src: "serveGet",
                    input: ({ event }) => getInput(event),
                    onDone: { target: "idle" },
                    onError: { target: "idle", actions: "replyFailure" },
                  },
                },
                // No reply on success (§11.1): the error, if any, is what the client reads next.
                acking: {
                  invoke: {
                    id: "ack",
                    src: "ack",
                    input: ({ event }) => batchInput(event),
                    onDone: { target: "idle" },
                    onError: { target: "idle", actions: "replyFailure" },
                  },
                },
                rollingBack: {
                  invoke: {
                    id: "rollback",
                    src: "rollback",
                    input: ({ event }) => batchInput(event),
                    onDone: { target: "idle" },
                    onError: { target: "idle", actions: "replyFailure" },
                  },
                },
              },
            },
          },
        },
      },
    },
    closing: {
      invoke: { id: "closeSocket", src: "closeSocket", input: ({ context }) => context.close ?? UNKNOWN_CLOSE },
      on: { SOCKET_CLOSED: { target: "closed" } },
    },
    closed: { type: "final", entry: "announceClosed" },
  },
});

function subscribeInput(event: SessionEvent): SubscribeInput {
  const e = event as SubEvent | AuthEvent;
  return { ...identityOf(e), filter: e.filter };
}

function getInput(event: SessionEvent): GetInput {
  const e = event as GetEvent;
  return { ...identityOf(e), batchSize: e.fetchSize, waitMs: getWaitMs(e.timeout, e.unit) };
}

function batchInput(event: SessionEvent): BatchInput {
  const e = event as ClientAckEvent | RollbackEvent;
  return { ...identityOf(e), batchId: e.batchId };
}

export type SessionMachine = typeof sessionMachine;
export type SessionActorRef = ActorRefFrom<SessionMachine>;
export type SessionSnapshot = SnapshotFrom<SessionMachine>;
