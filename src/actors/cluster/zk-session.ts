/**
 * The node's ZooKeeper session: the zk-session machine (src/machines/zk-session.ts) with its
 * `session` actor provided. Each session is one ZkSessionClient; when a session is lost the
 * machine stops that actor (the client is closed) and starts a new one after a pause.
 *
 *   const zk = ZkSessionActor.start({ connectString, sessionTimeoutMs, onView });
 *   zk.client("0x1234…");   // the client of that session while it is the current one
 *   await zk.close();
 *
 * `client(sessionId)` hands out a session's client only while that session is current: an
 * instance that asks with the id of a session that is gone gets nothing, so work begun under
 * one session is never finished under another (ownership of a running node is per session).
 */
import { createActor, fromCallback, type Actor } from "xstate";
import { sessionView, zkSessionMachine, type SessionView, type ZkSessionEvent } from "../../machines/zk-session.js";
import type { InspectObserver } from "../nats/inspector.js";
import { ZkSessionClient } from "../zk/session-client.js";

export interface ZkSessionActorOptions {
  /** `host:port,…[/chroot]` */
  connectString: string;
  sessionTimeoutMs: number;
  /** Every change of the session as instances see it (live with an id, suspended, gone). */
  onView(view: SessionView): void;
  /** A session was lost or could not be made; for the log. */
  onLoss?(reason: string): void;
  /** XState inspection of the session machine (the node's NATS inspection). */
  inspect?: InspectObserver;
}

export class ZkSessionActor {
  readonly actor: Actor<typeof zkSessionMachine>;
  private current: ZkSessionClient | undefined;
  private lastView: SessionView = { state: "gone" };

  private constructor(private readonly options: ZkSessionActorOptions) {
    const { connectString, sessionTimeoutMs } = options;
    const machine = zkSessionMachine.provide({
      actors: {
        session: fromCallback<ZkSessionEvent, number>(({ sendBack }) => {
          let client: ZkSessionClient | undefined;
          let stopped = false;
          ZkSessionClient.connect({
            connectString,
            sessionTimeoutMs,
            connectTimeoutMs: sessionTimeoutMs,
            onEvent: (event) => {
              // The first "connected" comes before connect() resolves; it is sent below, once the client is known.
              if (stopped || (event.type === "connected" && client === undefined)) return;
              if (event.type === "connected") sendBack({ type: "CONNECTED", sessionId: event.sessionId });
              else if (event.type === "disconnected") sendBack({ type: "DISCONNECTED" });
              else if (event.type === "expired") sendBack({ type: "EXPIRED" });
            },
          }).then(
            (connected) => {
              if (stopped) return void connected.close();
              client = connected;
              this.current = connected;
              // connect() resolves once connected; the event may have come before `client` was set.
              sendBack({ type: "CONNECTED", sessionId: connected.sessionId });
            },
            (err: unknown) => {
              if (!stopped) sendBack({ type: "FAILED", reason: err instanceof Error ? err.message : String(err) });
            },
          );
          return () => {
            stopped = true;
            if (client !== undefined && this.current === client) this.current = undefined;
            void client?.close();
          };
        }),
      },
      delays: { SESSION_TIMEOUT: sessionTimeoutMs, CONNECT_TIMEOUT: Math.max(sessionTimeoutMs, 2000) },
    });
    this.actor = createActor(machine, { inspect: options.inspect });
    this.actor.subscribe((snapshot) => {
      const view = sessionView(snapshot);
      if (sameView(view, this.lastView)) return;
      if (view.state === "gone" && this.lastView.state !== "gone" && snapshot.context.lastLoss) this.options.onLoss?.(snapshot.context.lastLoss);
      this.lastView = view;
      this.options.onView(view);
    });
  }

  static start(options: ZkSessionActorOptions): ZkSessionActor {
    const zk = new ZkSessionActor(options);
    zk.actor.start();
    return zk;
  }

  get view(): SessionView {
    return this.lastView;
  }

  /** The client of `sessionId` while that session is the current one (live or suspended). */
  client(sessionId: string): ZkSessionClient | undefined {
    return this.current !== undefined && this.current.sessionId === sessionId ? this.current : undefined;
  }

  /**
   * Whether a server answered a request of the current session sent within the last `ms`: if
   * so, the session cannot have expired more than `ms` ago. Serving checks this before handing out a batch, so a
   * process that was frozen past its session (SIGSTOP, a long pause) delivers nothing when it
   * wakes, even before it has processed the news of its expiry.
   */
  leaseFresh(ms: number): boolean {
    return this.current !== undefined && Date.now() - this.lastHeardAt() < ms;
  }

  /** When the current session's latest answered request was sent (epoch ms; 0 without a session; see ZkSessionClient.lastHeardAt). */
  lastHeardAt(): number {
    const client = this.current;
    return client === undefined ? 0 : client.lastHeardAt;
  }

  /** Ends the session: its ephemeral nodes go at once. */
  async close(): Promise<void> {
    const client = this.current;
    this.actor.send({ type: "CLOSE" });
    await client?.close();
  }
}

function sameView(a: SessionView, b: SessionView): boolean {
  return a.state === b.state && (a.state === "gone" || a.sessionId === (b as { sessionId: string }).sessionId);
}
