/**
 * Matching replies to requests on one connection, Canal style (canal-facts.md §1.5, §1.9, §11.1).
 *
 * SUBSCRIPTION, UNSUBSCRIPTION and GET each get exactly one reply. CLIENTACK and CLIENTROLLBACK
 * get none on success and an error ACK on failure, written when the server processes them:
 * the server handles one connection's packets strictly in order, so such an error comes after
 * the replies to earlier requests and before the reply to the next one. The Java client sends
 * them without reading and then takes a late error for the reply to its next request, staying
 * one reply behind until it reconnects. Here the next request sorts them out:
 *
 *   - No ack/rollback was sent since the last reply: the first packet is the reply.
 *   - Some were: the first packet is the reply if it is one that no ack/rollback can cause
 *     (MESSAGES, or an ACK without error). That is the common case and costs nothing.
 *   - It is an error ACK: it may be a late error or the request's own error. The channel then
 *     writes a fence, CLIENTACK with batch_id 0, which every Canal server answers with error
 *     402 ("batchId should assign value") and which nothing else we send can cause (we never
 *     ack batch 0). The packets before the 402 are the late errors and then the reply: the
 *     reply is the last of them. A Java Canal server logs the 402, which is why it is sent
 *     only in this rare case.
 *
 * Late errors are returned with the reply, for the connector to throw as CanalLateReplyError;
 * the reply stays in step either way. Callers never run two calls at once (the connector
 * serialises them), so nothing is written between a request and the end of its reply.
 *
 * The channel also remembers which batch ids were received on this connection and are not yet
 * acked or rolled back, so that an ack meant for another connection is never sent here.
 */
import { CanalProtocolError } from "../errors.js";
import {
  AckErrorCode,
  decodeAck,
  EMPTY_BATCH_ID,
  encodeClientAckFrame,
  encodeClientRollbackFrame,
  PacketType,
  packetTypeName,
  type Packet,
} from "../protocol/index.js";
import type { LateReply, SentWithoutReply } from "./errors.js";

/** What the channel needs of a connection: whole packets in, whole frames out. */
export interface PacketTransport {
  write(frame: Uint8Array): Promise<void>;
  /** The next packet within `timeoutMs`, or a rejection (after which the transport is unusable). */
  read(timeoutMs: number, signal?: AbortSignal): Promise<Packet>;
}

export interface Reply {
  packet: Packet;
  /** Errors the server sent for acks/rollbacks written before this request, in order. */
  late: LateReply[];
  /** The acks/rollbacks written before this request (what `late` answers). */
  unanswered: SentWithoutReply[];
}

export interface ChannelIdentity {
  destination: string;
  clientId: string;
}

export class RequestChannel {
  /** Acks/rollbacks written since the last reply was read. */
  private sentWithoutReply: SentWithoutReply[] = [];
  /** Batch ids received here and not yet acked or rolled back. */
  private readonly outstanding = new Set<number>();

  constructor(
    /** Which connection of the connector this is: 1, 2, … */
    readonly connection: number,
    private readonly transport: PacketTransport,
    private readonly identity: ChannelIdentity,
  ) {}

  /**
   * Writes `frame` and reads its reply, separating late errors from it (module comment).
   * `timeoutMs` bounds each read.
   */
  async request(frame: Uint8Array, timeoutMs: number, signal?: AbortSignal): Promise<Reply> {
    const unanswered = this.sentWithoutReply;
    this.sentWithoutReply = [];
    await this.transport.write(frame);
    const first = await this.transport.read(timeoutMs, signal);
    if (unanswered.length === 0 || errorAck(first) === undefined) return { packet: first, late: [], unanswered };

    await this.transport.write(encodeClientAckFrame({ ...this.identity, batchId: 0 }));
    const before: Packet[] = [first];
    // At most one error per ack/rollback, then the reply, then the fence's 402.
    for (let reads = 0; ; reads++) {
      const packet = await this.transport.read(timeoutMs, signal);
      if (errorAck(packet)?.errorCode === AckErrorCode.MISSING_BATCH_ID) break;
      if (reads >= unanswered.length) {
        throw new CanalProtocolError(
          `the server sent ${before.length + 1} replies for ${unanswered.length} acks/rollbacks and one request without answering the CLIENTACK fence (batch 0) with error 402`,
        );
      }
      before.push(packet);
    }
    const packet = before.pop()!;
    const late = before.map((p) => {
      const ack = errorAck(p);
      if (ack === undefined) throw new CanalProtocolError(`expected an error ACK for an earlier ack/rollback but received ${packetTypeName(p.type)} (${p.type})`);
      return { code: ack.errorCode, message: ack.errorMessage };
    });
    return { packet, late, unanswered };
  }

  /** Writes an ack (fire and forget, as Canal's protocol wants); the caller checked `isOutstanding`. */
  async ack(batchId: number): Promise<void> {
    this.outstanding.delete(batchId);
    this.sentWithoutReply.push({ type: "ack", batchId });
    await this.transport.write(encodeClientAckFrame({ ...this.identity, batchId }));
  }

  /** Writes a rollback of one batch, or of all (batchId 0). */
  async rollback(batchId: number): Promise<void> {
    if (batchId === 0) this.outstanding.clear();
    else this.outstanding.delete(batchId);
    this.sentWithoutReply.push({ type: "rollback", batchId });
    await this.transport.write(encodeClientRollbackFrame({ ...this.identity, batchId }));
  }

  received(batchId: number): void {
    if (batchId !== EMPTY_BATCH_ID) this.outstanding.add(batchId);
  }

  isOutstanding(batchId: number): boolean {
    return this.outstanding.has(batchId);
  }
}

/** The Ack of an error reply (code ≠ 0), or undefined for anything else. */
function errorAck(packet: Packet): { errorCode: number; errorMessage: string } | undefined {
  if (packet.type !== PacketType.ACK) return undefined;
  const ack = decodeAck(packet.body);
  return ack.errorCode === undefined || ack.errorCode === 0 ? undefined : { errorCode: ack.errorCode, errorMessage: ack.errorMessage };
}
