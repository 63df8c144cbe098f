/**
 * What the session's requests do to a destination: the `subscribe`, `unsubscribe`, `serveGet`,
 * `ack` and `rollback` actors of the session machine, minus the socket. The destination itself
 * (its instance, cursor persistence, subscription meta) sits behind the narrow DestinationHost
 * interface that the instance wiring implements.
 *
 * Canal's rules here (canal-facts.md §1.5, §6.3, §11.20, §11.24):
 *   - a destination not served by this node is "destination:<d> should start first" for every
 *     request, and subscribing to it has no side effect at all (Canal creates znodes);
 *   - GET and CLIENTACK of a client that is not subscribed fail "should subscribe first";
 *     a CLIENTROLLBACK of such a client is silently ignored (the Java client's
 *     rollback-on-connect comes before any subscribe).
 */
import type { BinlogPosition, EventStore } from "./event-store.js";
import { CanalServerError } from "../errors.js";
import type { BatchInput, GetInput, Identity, ServedBatch, SubscribeInput } from "../machines/session.js";
import { encodeGetReplyFrame, encodeRawMessagesFrameParts } from "../protocol/messages/messages.js";

/** The store calls a session makes; an EventStore satisfies it. */
export type SessionStore = Pick<EventStore, "get" | "ack" | "rollback" | "doneReading">;

/** The destinations a node serves, as its sessions see them. */
export interface DestinationHost {
  /** The destination when its instance is running on this node, else undefined. Must not throw. */
  destination(name: string): ServedDestination | undefined;
  /**
   * In a cluster, a destination this node has just taken over is starting (cursors read, source
   * connecting) while clients that followed the running node already arrive: resolves with it
   * once it serves, or undefined when it is not starting here or does not start in time.
   */
  whenStarting?(name: string): Promise<ServedDestination | undefined>;
}

/** One running destination, as its sessions see it. */
export interface ServedDestination {
  readonly store: SessionStore;
  /** Whether the client subscribed (on any connection, or before a restart when subscriptions persist). */
  isSubscribed(clientId: number): boolean;
  /**
   * Subscribes or re-subscribes the client (Canal §1.5 SUBSCRIPTION): records the subscription,
   * sets its cursor to the store's first position when it has none, and applies a non-blank
   * filter to the instance. Rejects with a CanalServerError carrying Canal's text on failure.
   */
  subscribe(clientId: number, filter: string): Promise<void>;
  /** Forgets the client: its subscription, its cursor and its outstanding batches (store.forgetClient). */
  unsubscribe(clientId: number): Promise<void>;
  /**
   * An ack moved the client's cursor: persist it. The session serves this connection's next
   * request only once the promise settles, so a batch handed out after an ack never outruns
   * that ack's cursor (after a crash, at most the last ack's transaction comes again).
   */
  acked(clientId: number, cursor: BinlogPosition): Promise<void>;
}

/** Canal's CanalServerException for a destination whose instance does not run here. */
export class DestinationNotStartedError extends CanalServerError {
  override name = "DestinationNotStartedError";
  constructor(readonly destination: string) {
    super(`destination:${destination} should start first`);
  }
}

/** Canal's CanalServerException for a GET or CLIENTACK of a client that never subscribed. */
export class NotSubscribedError extends CanalServerError {
  override name = "NotSubscribedError";
  constructor(readonly identity: Identity) {
    super(`ClientIdentity:${identity.destination}/${identity.clientId} should subscribe first`);
  }
}

/** The reply to an empty GET never changes: encode it once. */
const EMPTY_REPLY_FRAME = encodeGetReplyFrame(-1, []);

/**
 * Writes a frame for the session, given whole or as parts written back to back (a gather
 * write: the batch's stored entry buffers as they are); resolves once the socket has handed
 * every byte to the kernel, or closed. Not before: the entry buffers are the source's memory,
 * written again once acked and read by nobody (event-store.ts), and a client may ack before
 * its reply has left. Waiting also keeps the next GET from being served into a full socket.
 */
export type SendFrame = (frame: Uint8Array | readonly Uint8Array[]) => Promise<void>;

export class SessionRequests {
  constructor(
    private readonly destinations: DestinationHost,
    private readonly send: SendFrame,
    /** Aborted when the node starts its graceful stop. */
    private readonly stopping: AbortSignal,
  ) {}

  private async served(name: string): Promise<ServedDestination> {
    const served = this.destinations.destination(name) ?? (await this.destinations.whenStarting?.(name));
    if (served === undefined) throw new DestinationNotStartedError(name);
    return served;
  }

  private async subscribed(identity: Identity): Promise<ServedDestination> {
    const served = await this.served(identity.destination);
    if (!served.isSubscribed(identity.clientId)) throw new NotSubscribedError(identity);
    return served;
  }

  async subscribe(input: SubscribeInput): Promise<void> {
    await (await this.served(input.destination)).subscribe(input.clientId, input.filter);
  }

  async unsubscribe(input: Identity): Promise<void> {
    await (await this.served(input.destination)).unsubscribe(input.clientId);
  }

  /**
   * Takes the next batch (waiting as the GET asked, until `signal` aborts) and writes the
   * MESSAGES reply from the store's entry buffers: the raw path without version for a batch,
   * the generic path with version 1 for the empty reply (§1.7).
   */
  async serveGet(input: GetInput, signal: AbortSignal): Promise<ServedBatch> {
    const served = await this.subscribed(input);
    // A node that is stopping hands out no new batch (it could not be acked any more): the GET
    // is held until the session closes, while acks already on the wire are still taken.
    const serving = AbortSignal.any([signal, this.stopping]);
    const batch = await served.store.get(input.clientId, { batchSize: input.batchSize, timeoutMs: input.waitMs, signal: serving });
    try {
      // A node that lost the destination while this GET waited (fenced, released, or its
      // ZooKeeper lease ran out during a freeze) must not hand the batch out: the client is told
      // what Canal says of a destination not running here, and its next connection's rollback
      // brings the data back from the node that runs it now.
      if (batch !== undefined && this.destinations.destination(input.destination) !== served) throw new DestinationNotStartedError(input.destination);
      if (this.stopping.aborted && !signal.aborted) await new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true }));
      // Closing while waiting: nothing to write. A batch taken just before stays outstanding
      // until the client's next rollback, as in Canal when a connection drops mid-reply.
      if (signal.aborted) return { batchId: batch?.id ?? -1, entries: 0, bytes: 0 };
      // A batch goes out as the stored entry buffers themselves, after their framing bytes (no
      // frame built by copying them; the bytes on the wire are the same).
      const frame = batch === undefined ? [EMPTY_REPLY_FRAME] : encodeRawMessagesFrameParts(batch.id, batch.entries);
      await this.send(frame);
      let bytes = 0;
      for (const part of frame) bytes += part.length;
      return { batchId: batch?.id ?? -1, entries: batch?.entries.length ?? 0, bytes };
    } finally {
      // Written, not handed out, or the socket closed: once acked, the source may reuse these bytes.
      if (batch !== undefined) served.store.doneReading(batch);
    }
  }

  async ack(input: BatchInput): Promise<void> {
    const served = await this.subscribed(input);
    const cursor = served.store.ack(input.clientId, input.batchId);
    if (cursor !== undefined) await served.acked(input.clientId, cursor);
  }

  async rollback(input: BatchInput): Promise<void> {
    const served = await this.served(input.destination);
    if (!served.isSubscribed(input.clientId)) return;
    served.store.rollback(input.clientId, input.batchId);
  }
}
