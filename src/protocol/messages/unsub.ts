/**
 * UNSUBSCRIPTION (canal-facts.md §1.5). Same fields as Sub:
 *
 *   message Unsub {
 *     string destination = 1;
 *     string client_id = 2;
 *     string filter = 7;          // sent by nobody in practice
 *   }
 *
 * Answered with an ACK. The Java client never unsubscribes on disconnect.
 */
import { decodeWith } from "../codec.js";
import { com } from "../gen/canal_protocol.js";
import { PacketType, requestFrame } from "../packet.js";
import type { Sub } from "./sub.js";

const pb = com.alibaba.otter.canal.protocol;

export type Unsub = Sub;

export function encodeUnsub(unsub: Unsub): Uint8Array {
  return pb.Unsub.encode(unsub).finish();
}

export function decodeUnsub(bytes: Uint8Array): Unsub {
  const m = decodeWith("Unsub", bytes, (b) => pb.Unsub.decode(b));
  return { destination: m.destination, clientId: m.clientId, filter: m.filter };
}

export function encodeUnsubFrame(unsub: Unsub): Uint8Array {
  return requestFrame(PacketType.UNSUBSCRIPTION, encodeUnsub(unsub));
}
