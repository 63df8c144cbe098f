/**
 * The Canal TCP server of one node (canal-facts.md §1.1, §4.7): listens (keepAlive, noDelay,
 * default port 11111) and runs one session actor per connection (./session.ts). Start it LAST
 * when bringing a node up, once its destinations are ready, so the port opens last as in Canal.
 *
 *   const server = await CanalServer.start({ host, port, user, passwordHash, destinations, log });
 *   server.port;         // the bound port (useful with port 0)
 *   server.stats();      // counters for metrics
 *   await server.close(); // stop accepting, take in-flight acks briefly, close every session
 */
import { createServer, type Server, type Socket } from "node:net";
import { CanalConfigError } from "../errors.js";
import { Session, type LogRecord, type ServerLog, type SessionOptions } from "./session.js";
import type { DestinationHost } from "./session-requests.js";
import { ServerCounters, type CanalServerStats } from "./session-stats.js";

export type { DestinationHost, ServedDestination, SessionStore } from "./session-requests.js";
export type { CanalServerStats } from "./session-stats.js";
export type { LogRecord, ServerLog } from "./session.js";

export const DEFAULT_PORT = 11111;
/** Client requests are a few hundred bytes at most; anything near this is garbage or an attack. */
export const DEFAULT_MAX_REQUEST_BYTES = 1024 * 1024;
const DEFAULT_CLOSE_GRACE_MS = 1000;
/**
 * On a graceful stop, how long sessions keep taking acks (with GETs held) before they close.
 * A client acks without waiting for a reply, so its last ack may still be on the wire; a few
 * round trips on a LAN suffice, and the node's stop is delayed by this much.
 */
const DEFAULT_ACK_DRAIN_MS = 200;

export interface CanalServerOptions {
  /** Address to listen on; default "0.0.0.0" (Canal's empty canal.ip). */
  host?: string;
  /** Port; default 11111. 0 picks a free one (see `port`). */
  port?: number;
  /** canal.user; "" (default) accepts any username. */
  user?: string;
  /** canal.passwd: hex(SHA1(SHA1(password))); "" (default) accepts any password. */
  passwordHash?: string;
  destinations: DestinationHost;
  /** Structured log sink; default: warnings and errors to stderr as JSON lines. */
  log?: ServerLog;
  /** Largest request frame accepted; a bigger one closes that session. Default 1 MiB. */
  maxRequestBytes?: number;
  /** How long a closing session waits for its peer to close before destroying the socket. Default 1 s. */
  closeGraceMs?: number;
  /** On close(), how long acks already sent are still taken (GETs held) before sessions close. Default 200 ms. */
  ackDrainMs?: number;
  /** XState inspection of each session's machine (src/actors/nats), by session id and remote. */
  inspect?: SessionOptions["inspect"];
}

function stderrLog(record: LogRecord): void {
  if (record.level === "warn" || record.level === "error") {
    process.stderr.write(`${JSON.stringify({ level: record.level, msg: record.msg, ...record.fields })}\n`);
  }
}

interface ServerSettings {
  host: string;
  ackDrainMs: number;
  stopping: AbortController;
  sessionOptions: Omit<SessionOptions, "id">;
}

export class CanalServer {
  readonly host: string;
  private readonly server: Server;
  private readonly settings: ServerSettings;
  private readonly sessions = new Set<Session>();
  private readonly counters: ServerCounters;
  private nextSessionId = 1;
  private closing: Promise<void> | undefined;

  private constructor(settings: ServerSettings) {
    this.settings = settings;
    this.host = settings.host;
    this.counters = settings.sessionOptions.counters;
    // allowHalfOpen: a client that ends its side still gets the replies to what it sent before.
    this.server = createServer({ allowHalfOpen: true, keepAlive: true, noDelay: true }, (socket) => this.accept(socket));
  }

  /** Validates the options, listens, and resolves once the port is open. */
  static async start(options: CanalServerOptions): Promise<CanalServer> {
    const host = options.host ?? "0.0.0.0";
    const port = options.port ?? DEFAULT_PORT;
    const user = options.user ?? "";
    const passwordHash = options.passwordHash ?? "";
    const maxRequestBytes = options.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES;
    const closeGraceMs = options.closeGraceMs ?? DEFAULT_CLOSE_GRACE_MS;
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new CanalConfigError(`server port ${port}: expected an integer from 0 to 65535`);
    // Canal refuses this too (its issue 4941): a user without a password would let anyone in as that user.
    if (user !== "" && passwordHash === "") throw new CanalConfigError(`server user "${user}" has an empty password hash: set one, or clear the user`);
    if (passwordHash !== "" && !/^[0-9a-fA-F]{40}$/.test(passwordHash))
      throw new CanalConfigError(`server password hash "${passwordHash}": expected 40 hex digits, hex(SHA1(SHA1(password)))`);
    if (!Number.isInteger(maxRequestBytes) || maxRequestBytes < 64)
      throw new CanalConfigError(`maxRequestBytes ${maxRequestBytes}: expected an integer of at least 64`);
    if (!(closeGraceMs >= 0)) throw new CanalConfigError(`closeGraceMs ${closeGraceMs}: expected a number of ms ≥ 0`);

    const ackDrainMs = options.ackDrainMs ?? DEFAULT_ACK_DRAIN_MS;
    if (!(ackDrainMs >= 0)) throw new CanalConfigError(`ackDrainMs ${ackDrainMs}: expected a number of ms ≥ 0`);
    const log = options.log ?? stderrLog;
    const stopping = new AbortController();
    const canal = new CanalServer({
      host,
      ackDrainMs,
      stopping,
      sessionOptions: {
        stopping: stopping.signal,
        credentials: { serverUser: user, serverPasswdHash: passwordHash },
        destinations: options.destinations,
        counters: new ServerCounters(),
        log,
        maxRequestBytes,
        closeGraceMs,
        inspect: options.inspect,
      },
    });
    await canal.listen(port);
    canal.server.on("error", (err) => log({ level: "error", msg: "canal server socket error", fields: { error: err.message } }));
    log({ level: "info", msg: "canal server listening", fields: { host, port: canal.port } });
    return canal;
  }

  /** The port actually bound. */
  get port(): number {
    const address = this.server.address();
    return typeof address === "object" && address !== null ? address.port : 0;
  }

  stats(): CanalServerStats {
    return this.counters.snapshot();
  }

  /**
   * Stops accepting; for `ackDrainMs` holds every GET but still takes acks and rollbacks (so an
   * ack a client sent just before the stop is not lost); then closes every session and resolves
   * when all sockets are gone.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const listening = new Promise<void>((resolve) => this.server.close(() => resolve()));
      this.settings.stopping.abort();
      if (this.sessions.size > 0) await new Promise((resolve) => setTimeout(resolve, this.settings.ackDrainMs));
      for (const session of this.sessions) session.stop();
      await Promise.all([listening, ...[...this.sessions].map((s) => s.closed)]);
    })();
    return this.closing;
  }

  /** The open sessions, for status. */
  sessionList(): ReturnType<Session["info"]>[] {
    return [...this.sessions].map((s) => s.info());
  }

  /**
   * Closes every session subscribed to `destination`, because the destination stopped running
   * here (moved to another node, or fenced): their outstanding batches and batch ids belong to
   * a store that is gone, so the clients must reconnect (to wherever it runs now) and roll back,
   * rather than carry on against a new store on the same connection. Returns how many closed.
   */
  closeSessionsOf(destination: string): number {
    let closed = 0;
    for (const session of this.sessions) {
      if (!session.subscribedTo(destination)) continue;
      session.stop();
      closed++;
    }
    return closed;
  }

  private listen(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(port, this.host, () => {
        this.server.off("error", reject);
        resolve();
      });
    });
  }

  private accept(socket: Socket): void {
    if (this.closing !== undefined) {
      socket.destroy();
      return;
    }
    this.counters.connectionsAccepted++;
    this.counters.connectionsOpen++;
    const session = new Session(socket, { id: this.nextSessionId++, ...this.settings.sessionOptions });
    this.sessions.add(session);
    void session.closed.then(() => {
      this.sessions.delete(session);
      this.counters.connectionsOpen--;
    });
  }
}
