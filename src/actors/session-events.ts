/**
 * Turns one received frame into the session machine's event (src/machines/session.ts), the way
 * Canal's handlers read it (canal-facts.md §1.3, §1.5):
 *   - the outer Packet must decode, else the connection closes (MALFORMED);
 *   - before auth, ANY packet is read as ClientAuth whatever its type, and a body that does
 *     not decode closes the connection too (Canal's auth handler throws);
 *   - after auth, the request's body is decoded by type; a body that does not decode is a 400
 *     that keeps the connection (BAD_REQUEST), and types the session does not serve are
 *     UNSUPPORTED (answered 400 "NOT supported").
 */
import { CanalProtocolError } from "../errors.js";
import type { SessionEvent } from "../machines/session.js";
import { decodeClientAck } from "../protocol/messages/client-ack.js";
import { decodeClientAuth } from "../protocol/messages/client-auth.js";
import { decodeClientRollback } from "../protocol/messages/client-rollback.js";
import { decodeGet } from "../protocol/messages/get.js";
import { decodeSub } from "../protocol/messages/sub.js";
import { decodeUnsub } from "../protocol/messages/unsub.js";
import { decodePacket, PacketType, packetTypeName, type Packet } from "../protocol/packet.js";

export interface DecodedFrame {
  event: SessionEvent;
  /** The Packet's type name for counters; "MALFORMED" when the Packet itself did not decode. */
  packetType: string;
}

const utf8 = new TextDecoder();

export function frameToEvent(frame: Uint8Array, awaitingAuth: boolean): DecodedFrame {
  let packet: Packet;
  try {
    packet = decodePacket(frame);
  } catch (err) {
    return { event: { type: "MALFORMED", reason: reasonOf(err) }, packetType: "MALFORMED" };
  }
  const packetType = packetTypeName(packet.type);
  if (awaitingAuth) {
    try {
      return { event: authEvent(packet), packetType };
    } catch (err) {
      return { event: { type: "MALFORMED", reason: `first packet (${packetType}) is not a ClientAuth: ${reasonOf(err)}` }, packetType };
    }
  }
  try {
    return { event: requestEvent(packet, packetType), packetType };
  } catch (err) {
    return { event: { type: "BAD_REQUEST", packetType, reason: reasonOf(err) }, packetType };
  }
}

function authEvent(packet: Packet): SessionEvent {
  const auth = decodeClientAuth(packet.body);
  const event: SessionEvent = {
    type: "AUTH",
    username: auth.username,
    // Canal reads the token with `new String(bytes)`; it is ASCII hex from every real client.
    password: utf8.decode(auth.password),
    destination: auth.destination,
    clientId: auth.clientId,
    filter: auth.filter,
  };
  if (auth.netReadTimeout !== undefined) event.netReadTimeoutMs = auth.netReadTimeout;
  if (auth.netWriteTimeout !== undefined) event.netWriteTimeoutMs = auth.netWriteTimeout;
  return event;
}

function requestEvent(packet: Packet, packetType: string): SessionEvent {
  switch (packet.type) {
    case PacketType.SUBSCRIPTION: {
      const { destination, clientId, filter } = decodeSub(packet.body);
      return { type: "SUB", destination, clientId, filter };
    }
    case PacketType.UNSUBSCRIPTION: {
      const { destination, clientId } = decodeUnsub(packet.body);
      return { type: "UNSUB", destination, clientId };
    }
    case PacketType.GET: {
      const get = decodeGet(packet.body);
      const event: SessionEvent = { type: "GET", destination: get.destination, clientId: get.clientId, fetchSize: get.fetchSize };
      // auto_ack is ignored, as Canal ignores it (§11.6).
      if (get.timeout !== undefined) event.timeout = get.timeout;
      if (get.unit !== undefined) event.unit = get.unit;
      return event;
    }
    case PacketType.CLIENTACK: {
      const { destination, clientId, batchId } = decodeClientAck(packet.body);
      return { type: "CLIENTACK", destination, clientId, batchId };
    }
    case PacketType.CLIENTROLLBACK: {
      const { destination, clientId, batchId } = decodeClientRollback(packet.body);
      return { type: "ROLLBACK", destination, clientId, batchId };
    }
    default:
      // After auth Canal's session handler serves only the five requests above; a second
      // CLIENTAUTHENTICATION is "NOT supported" like HEARTBEAT or an unknown number.
      return { type: "UNSUPPORTED", packetType };
  }
}

function reasonOf(err: unknown): string {
  if (err instanceof CanalProtocolError) return err.message;
  // Decoders report failures as CanalProtocolError; anything else is a bug, so keep its name.
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
