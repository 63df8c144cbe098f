/**
 * The two failures only a client has, in the CanalError family (src/errors.ts).
 *
 * Both come from the same fact of Canal's protocol (canal-facts.md §1.5, §1.9, §11.1): CLIENTACK
 * and CLIENTROLLBACK get no reply on success, and an error reply on failure that arrives
 * whenever the server gets to it, i.e. ahead of the reply to the client's next request.
 */
import { CanalError, CanalProtocolError } from "../errors.js";

/** A fire-and-forget request (ack or rollback) as the connector remembers it. */
export interface SentWithoutReply {
  type: "ack" | "rollback";
  /** The batch id sent; 0 for a rollback of every batch. */
  batchId: number;
}

/** One error Ack the server sent for an earlier ack or rollback. */
export interface LateReply {
  code: number;
  message: string;
}

const describe = (r: SentWithoutReply) => (r.type === "rollback" && r.batchId === 0 ? "rollback of all batches" : `${r.type} of batch ${r.batchId}`);

/**
 * The server rejected an ack or rollback sent earlier; the error arrived ahead of the reply to
 * the call that throws this. The Java client would take that error as the reply to this call
 * and stay one reply behind until it reconnects; the connector instead tells the two apart
 * (see RequestChannel) and throws this, after the call itself has done its work:
 *   - a getWithoutAck that received a batch keeps it, and the next getWithoutAck returns it;
 *   - a subscribe or unsubscribe took effect, unless `requestError` says it failed too.
 * The batches named in `requests` are still unacked on the server; `rollback()` makes the
 * server deliver every unacked batch again.
 */
export class CanalLateReplyError extends CanalProtocolError {
  override name = "CanalLateReplyError";
  /** Every error the server sent for the earlier requests, in order (at least one). */
  readonly replies: readonly LateReply[];
  /** The fire-and-forget requests these errors answer: exactly, one each, when `exact`; else the candidates. */
  readonly requests: readonly SentWithoutReply[];
  readonly exact: boolean;
  /** The error of the call that threw, when it failed as well. */
  readonly requestError: CanalProtocolError | undefined;

  constructor(replies: readonly LateReply[], requests: readonly SentWithoutReply[], requestError?: CanalProtocolError) {
    const exact = replies.length === requests.length;
    const first = replies[0]!;
    const about = exact && replies.length === 1 ? `the ${describe(requests[0]!)}` : `one of: ${requests.map(describe).join(", ")}`;
    const more = replies.length > 1 ? ` (and ${replies.length - 1} more error${replies.length > 2 ? "s" : ""})` : "";
    super(`Canal rejected ${about}, sent earlier without waiting for a reply, with error ${first.code}: ${first.message}${more}`, {
      code: first.code,
    });
    this.replies = replies;
    this.requests = requests;
    this.exact = exact;
    this.requestError = requestError;
  }
}

/**
 * An ack or rollback of a batch that is not outstanding on the current connection: received on
 * a connection that has since closed (batch ids are per server session, so the same number can
 * name a different batch now), or already acked or rolled back. It is dropped, never sent.
 * Safe to ignore under at-least-once delivery: a batch from a closed connection is delivered
 * again after the reconnect's rollback.
 */
export class CanalStaleBatchError extends CanalError {
  override name = "CanalStaleBatchError";
  readonly batchId: number;
  /** The connection the batch came from (undefined when only its id was given) and the current one. */
  readonly batchConnection: number | undefined;
  readonly currentConnection: number;

  constructor(op: "ack" | "rollback", batchId: number, batchConnection: number | undefined, currentConnection: number) {
    const why =
      batchConnection !== undefined && batchConnection !== currentConnection
        ? `it was received on connection #${batchConnection} and the connector is now on connection #${currentConnection || "(none)"}`
        : `it is not outstanding on connection #${currentConnection || "(none)"} (never received there, or already acked or rolled back)`;
    super(`${op} of batch ${batchId} dropped, not sent: ${why}`);
    this.batchId = batchId;
    this.batchConnection = batchConnection;
    this.currentConnection = currentConnection;
  }
}
