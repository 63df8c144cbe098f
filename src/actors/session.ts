/**
 * The session actor: one per client TCP connection, running the session machine
 * (src/machines/session.ts) with the socket-side implementations of its named effects.
 *
 * Reading: a FrameDecoder with a small limit (client requests are tiny; a bigger or negative
 * length closes this session only). Decoded frames wait in a per-connection queue and go to
 * the machine ONE AT A TIME, only while its snapshot has the `ready` tag, so a blocking GET
 * holds this connection's later packets and nobody else's. The queue is bounded: past its
 * bound the socket stops reading, which pushes back on the client over TCP.
 *
 * Writing: emitted `reply.ok` / `reply.error` become ACK frames; the MESSAGES reply is written
 * by the `serveGet` actor, straight from the store's entry buffers. No request is taken off the
 * queue while the socket's write buffer is over its mark, so a client that does not read
 * cannot make the server buffer replies without bound.
 */
import { randomBytes } from "node:crypto";
import type { Socket } from "node:net";
import { createActor, fromCallback, fromPromise, type Actor } from "xstate";
import { CanalError } from "../errors.js";
import {
  MAX_WAIT_MS,
  sessionMachine,
  type BatchInput,
  type CloseReason,
  type GetInput,
  type Identity,
  type IdleLimits,
  type ServedBatch,
  type SessionEvent,
  type SessionMachine,
  type SubscribeInput,
} from "../machines/session.js";
import { FrameDecoder } from "../protocol/frame.js";
import { encodeAckFrame } from "../protocol/messages/ack.js";
import { encodeHandshakeFrame } from "../protocol/messages/handshake.js";
import { checkAuth, type ServerCredentials } from "../protocol/scramble.js";
import { stateString, type InspectObserver } from "./nats/inspector.js";
import { frameToEvent } from "./session-events.js";
import { SessionRequests, type DestinationHost } from "./session-requests.js";
import type { ServerCounters } from "./session-stats.js";

/** One structured log record; `fields` name the session and the values involved. */
export interface LogRecord {
  level: "debug" | "info" | "warn" | "error";
  msg: string;
  fields: Record<string, unknown>;
}
export type ServerLog = (record: LogRecord) => void;

export interface SessionOptions {
  id: number;
  credentials: ServerCredentials;
  destinations: DestinationHost;
  counters: ServerCounters;
  log: ServerLog;
  /** Largest request frame body accepted; larger closes the session. */
  maxRequestBytes: number;
  /** How long a closing session waits for the peer to close before destroying the socket. */
  closeGraceMs: number;
  /** Aborted when the server starts a graceful stop: GETs are held, acks still taken. */
  stopping: AbortSignal;
  /** XState inspection of this session's machine (the node's NATS inspection), by session id and remote. */
  inspect?(id: number, remote: string): InspectObserver | undefined;
}

/** Frames (or bytes) queued on one connection before it stops reading from its socket. */
const QUEUE_HIGH_FRAMES = 64;
const QUEUE_HIGH_BYTES = 1024 * 1024;

const HANDSHAKE_SEED_BYTES = 8;
const ACK_OK_FRAME = encodeAckFrame();

export class Session {
  readonly id: number;
  readonly remote: string;
  /** Resolves once the socket is gone and the machine reached `closed`. */
  readonly closed: Promise<void>;

  private readonly socket: Socket;
  private readonly options: SessionOptions;
  private readonly decoder: FrameDecoder;
  private readonly requests: SessionRequests;
  private readonly actor: Actor<SessionMachine>;
  private readonly queue: Uint8Array[] = [];
  private queuedBytes = 0;
  private seed: Uint8Array | undefined;
  private lastReadAt = Date.now();
  private lastWriteAt = Date.now();
  private peerEnded = false;
  /** Set once input is of no further use (a bad frame length, or closing): later bytes are dropped. */
  private discardInput = false;
  private socketError: Error | undefined;

  constructor(socket: Socket, options: SessionOptions) {
    this.socket = socket;
    this.options = options;
    this.id = options.id;
    this.remote = `${socket.remoteAddress}:${socket.remotePort}`;
    this.decoder = new FrameDecoder({ maxFrameBytes: options.maxRequestBytes });
    this.requests = new SessionRequests(options.destinations, (frame) => this.sendFrame(frame), options.stopping);
    this.actor = createActor(this.provideMachine(), { id: `session-${options.id}`, inspect: options.inspect?.(options.id, this.remote) });
    let resolveClosed!: () => void;
    this.closed = new Promise((resolve) => (resolveClosed = resolve));
    this.actor.subscribe({
      // Observers run while the actor is still processing, when a send would only be queued
      // behind the current event and pump would see a stale `ready`: pump once it has settled.
      next: () => queueMicrotask(() => this.pump()),
      error: (err) => {
        // A throwing effect is a bug in canal-ts, never the client's doing: log it, drop the socket.
        this.log("error", "session machine failed", { error: err instanceof Error ? err.stack : String(err) });
        socket.destroy();
        resolveClosed();
      },
      complete: () => resolveClosed(),
    });
    this.actor.on("reply.ok", () => this.write(ACK_OK_FRAME));
    this.actor.on("reply.error", ({ code, message }) => {
      options.counters.error(code);
      this.write(encodeAckFrame({ errorCode: code, errorMessage: message }));
    });
    this.actor.on("session.closed", ({ cause, reason }) => this.logClosed(cause, reason));
    this.listen();
    this.actor.start();
  }

  /** Whether this connection subscribed to `destination` (its batches belong to that destination's store). */
  subscribedTo(destination: string): boolean {
    return this.actor.getSnapshot().context.subscriptions.some((key) => key.startsWith(`${destination}/`));
  }

  /** For status: the session's state and the identities it subscribed (`destination/clientId`). */
  info(): { id: number; remote: string; state: string; subscriptions: string[] } {
    const snapshot = this.actor.getSnapshot();
    return { id: this.id, remote: this.remote, state: stateString(snapshot.value), subscriptions: [...snapshot.context.subscriptions] };
  }

  /** Server stop: cancel what is pending and close (resolves `closed` once the socket is gone). */
  stop(): void {
    this.actor.send({ type: "STOP" });
  }

  // ---- the machine's effects --------------------------------------------------------------------

  private provideMachine() {
    const { credentials, counters } = this.options;
    const requests = this.requests;
    return sessionMachine.provide({
      guards: {
        authOk: ({ event }) =>
          event.type === "AUTH" && checkAuth(credentials, { username: event.username, password: event.password }, this.seed).ok,
      },
      actors: {
        sendHandshake: fromPromise<void>(() => this.sendHandshake()),
        watchIdle: fromCallback<SessionEvent, IdleLimits>(({ input, sendBack }) => this.watchIdle(input, sendBack)),
        subscribe: fromPromise<void, SubscribeInput>(({ input }) => this.logged("subscribe", requests.subscribe(input))),
        unsubscribe: fromPromise<void, Identity>(({ input }) => this.logged("unsubscribe", requests.unsubscribe(input))),
        serveGet: fromPromise<ServedBatch, GetInput>(async ({ input, signal }) => {
          const started = performance.now();
          const served = await this.logged("get", requests.serveGet(input, signal));
          if (!signal.aborted) counters.served(served.entries, performance.now() - started);
          return served;
        }),
        ack: fromPromise<void, BatchInput>(({ input }) => this.logged("ack", requests.ack(input))),
        rollback: fromPromise<void, BatchInput>(({ input }) => this.logged("rollback", requests.rollback(input))),
        closeSocket: fromCallback<SessionEvent, CloseReason>(() => this.closeSocket()),
      },
    });
  }

  /** Writes the handshake with a fresh seed; the seed counts only once it is on the wire (as in Canal). */
  private sendHandshake(): Promise<void> {
    const seed = randomBytes(HANDSHAKE_SEED_BYTES);
    return new Promise((resolve, reject) => {
      this.write(encodeHandshakeFrame(seed), (err) => {
        if (err) return reject(err);
        this.seed = seed;
        resolve();
      });
    });
  }

  /**
   * Netty's IdleStateHandler as Canal installs it (§1.6): IDLE_TIMEOUT once nothing was read
   * for readIdleMs, or nothing written for writeIdleMs, counted from when the watch starts.
   */
  private watchIdle(limits: IdleLimits, sendBack: (event: SessionEvent) => void): () => void {
    const since = Date.now();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const check = () => {
      const now = Date.now();
      const readIdle = now - Math.max(since, this.lastReadAt);
      const writeIdle = now - Math.max(since, this.lastWriteAt);
      if (readIdle >= limits.readIdleMs) return sendBack({ type: "IDLE_TIMEOUT", reason: `nothing read for ${readIdle} ms (limit ${limits.readIdleMs} ms)` });
      if (writeIdle >= limits.writeIdleMs) return sendBack({ type: "IDLE_TIMEOUT", reason: `nothing written for ${writeIdle} ms (limit ${limits.writeIdleMs} ms)` });
      const next = Math.min(limits.readIdleMs - readIdle, limits.writeIdleMs - writeIdle);
      timer = setTimeout(check, Math.min(Math.max(next, 1), MAX_WAIT_MS));
    };
    timer = setTimeout(check, Math.min(limits.readIdleMs, limits.writeIdleMs, MAX_WAIT_MS));
    return () => clearTimeout(timer);
  }

  /**
   * Ends our side (flushing what is written), and destroys the socket if the peer lingers.
   * Reading resumes, discarding, so the peer's FIN is seen even if the queue had paused it.
   */
  private closeSocket(): () => void {
    this.discardInput = true;
    this.queue.length = 0;
    this.queuedBytes = 0;
    this.socket.resume();
    this.socket.end();
    const timer = setTimeout(() => this.socket.destroy(), this.options.closeGraceMs);
    return () => clearTimeout(timer);
  }

  /** Logs failures that are not Canal's answers (bugs, IO errors) before the machine turns them into a 400. */
  private async logged<T>(request: string, work: Promise<T>): Promise<T> {
    try {
      return await work;
    } catch (err) {
      if (!(err instanceof CanalError)) this.log("error", `${request} failed unexpectedly`, { error: err instanceof Error ? err.stack : String(err) });
      throw err;
    }
  }

  // ---- socket --------------------------------------------------------------------------------------

  private listen(): void {
    const { socket } = this;
    socket.on("data", (chunk: Buffer) => this.received(chunk));
    socket.on("end", () => this.ended());
    socket.on("drain", () => this.pump());
    socket.on("error", (err) => (this.socketError = err));
    socket.on("close", () =>
      this.actor.send({ type: "SOCKET_CLOSED", reason: this.socketError ? `socket error: ${this.socketError.message}` : "socket closed" }),
    );
  }

  private received(chunk: Buffer): void {
    this.options.counters.bytesIn += chunk.length;
    this.lastReadAt = Date.now();
    if (this.discardInput) return;
    let frames: Uint8Array[];
    try {
      frames = this.decoder.push(chunk);
    } catch (err) {
      // The length header is garbage, so nothing after it can be framed: close now.
      this.discardInput = true;
      this.options.counters.packet("MALFORMED");
      this.actor.send({ type: "MALFORMED", reason: err instanceof Error ? err.message : String(err) });
      return;
    }
    for (const frame of frames) {
      this.queue.push(frame);
      this.queuedBytes += frame.length;
    }
    if (this.queue.length >= QUEUE_HIGH_FRAMES || this.queuedBytes >= QUEUE_HIGH_BYTES) this.socket.pause();
    this.pump();
  }

  /**
   * The peer ended its side. Requests it sent before are still served in order, then the
   * session closes; but a GET that may wait for ever is cancelled at once, since nobody will
   * read its reply.
   */
  private ended(): void {
    this.peerEnded = true;
    const fetching = this.actor.getSnapshot().matches({ open: { authenticated: { request: "fetching" } } });
    if (fetching || this.queue.length === 0) this.actor.send({ type: "PEER_ENDED" });
    else this.pump();
  }

  /**
   * Hands queued frames to the machine, one per `ready` snapshot, in arrival order. Called only
   * while the actor is idle (socket events, microtasks), so each send is processed at once and
   * the next snapshot is current.
   */
  private pump(): void {
    for (;;) {
      const snapshot = this.actor.getSnapshot();
      if (snapshot.status !== "active" || !snapshot.hasTag("ready")) return;
      if (this.socket.writableNeedDrain) return; // 'drain' pumps again
      const frame = this.queue.shift();
      if (frame === undefined) {
        if (this.peerEnded) this.actor.send({ type: "PEER_ENDED" });
        return;
      }
      this.queuedBytes -= frame.length;
      if (this.queue.length === 0 && this.socket.isPaused()) this.socket.resume();
      const { event, packetType } = frameToEvent(frame, snapshot.hasTag("awaitingAuth"));
      this.options.counters.packet(packetType);
      this.actor.send(event);
    }
  }

  private write(frame: Uint8Array, callback?: (err?: Error | null) => void): boolean {
    if (!this.socket.writable) {
      callback?.(new Error("socket is not writable"));
      return false;
    }
    this.options.counters.bytesOut += frame.length;
    this.lastWriteAt = Date.now();
    return this.socket.write(frame, callback);
  }

  /**
   * For serveGet: writes a frame, or the parts of one back to back, corked so that they leave
   * in one gather write; resolves once the last part is written (its callback: all of them are
   * with the kernel) or the socket closed (libuv drops what it had not written).
   */
  private sendFrame(frame: Uint8Array | readonly Uint8Array[]): Promise<void> {
    const parts = frame instanceof Uint8Array ? [frame] : frame;
    return new Promise((resolve) => {
      const done = () => {
        this.socket.off("close", done);
        resolve();
      };
      this.socket.on("close", done);
      this.socket.cork();
      parts.forEach((part, i) => this.write(part, i === parts.length - 1 ? done : undefined));
      this.socket.uncork();
    });
  }

  private logClosed(cause: string, reason: string): void {
    this.options.counters.closed(cause);
    // A client leaving or a server stop is routine; anything else deserves attention.
    const level = cause === "peer" || cause === "socket" || cause === "stop" ? "info" : "warn";
    this.log(level, `session closed: ${reason}`, { cause });
  }

  private log(level: LogRecord["level"], msg: string, fields: Record<string, unknown> = {}): void {
    this.options.log({ level, msg, fields: { session: this.id, remote: this.remote, ...fields } });
  }
}
