/**
 * ACK, the server's reply to auth, SUBSCRIPTION and UNSUBSCRIPTION, and the carrier of every
 * error reply (canal-facts.md §1.3, §1.5):
 *
 *   message Ack {
 *     oneof error_code_present { int32 error_code = 1; }
 *     string error_message = 2;
 *   }
 *
 * Success is an empty Ack. Errors are written without closing the connection; a failed
 * CLIENTACK or CLIENTROLLBACK is answered only by such an error, read as the reply to the
 * client's next request.
 */
import { CanalProtocolError } from "../../errors.js";
import { decodeWith, has } from "../codec.js";
import { com } from "../gen/canal_protocol.js";
import { expectPacket, PacketType, replyFrame, type Packet } from "../packet.js";

const pb = com.alibaba.otter.canal.protocol;

/** The error codes a Canal server uses. */
export const AckErrorCode = {
  /** Auth failure, unsupported packet type, or any exception while serving a request. */
  FAILED: 400,
  /** Empty destination or client_id. */
  MISSING_IDENTITY: 401,
  /** CLIENTACK with batch_id 0 (absent). */
  MISSING_BATCH_ID: 402,
} as const;

export interface Ack {
  errorCode?: number;
  errorMessage: string;
}

/** `{}` is the success Ack (no fields at all). */
export function encodeAck(ack: Partial<Ack> = {}): Uint8Array {
  return pb.Ack.encode(ack).finish();
}

export function decodeAck(bytes: Uint8Array): Ack {
  const m = decodeWith("Ack", bytes, (b) => pb.Ack.decode(b));
  const ack: Ack = { errorMessage: m.errorMessage };
  if (has(m, "errorCode")) ack.errorCode = m.errorCode!;
  return ack;
}

/** The framed ACK a server sends: success by default, or an error `{ errorCode, errorMessage }`. */
export function encodeAckFrame(ack: Partial<Ack> = {}): Uint8Array {
  return replyFrame(PacketType.ACK, encodeAck(ack));
}

/** The error a peer's error Ack stands for, carrying Canal's code. */
export function ackError(code: number, message: string): CanalProtocolError {
  return new CanalProtocolError(`Canal replied with error ${code}: ${message}`, { code });
}

/**
 * Throws ackError when the Ack carries a non-zero error code. (The Java client tests `> 0`; no
 * Canal server sends a negative code, and treating one as success would hide a broken peer.)
 */
export function parseAck(ack: Ack): void {
  if (ack.errorCode !== undefined && ack.errorCode !== 0) throw ackError(ack.errorCode, ack.errorMessage);
}

/** Client side: the reply to auth, subscribe or unsubscribe must be an ACK without error. */
export function readAck(packet: Packet): void {
  expectPacket(packet, PacketType.ACK);
  parseAck(decodeAck(packet.body));
}
