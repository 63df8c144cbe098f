/**
 * SUBSCRIPTION (canal-facts.md §1.5, §7):
 *
 *   message Sub {
 *     string destination = 1;
 *     string client_id = 2;       // decimal short, "1001" from the Java client
 *     string filter = 7;          // note: field 7; "" = keep the instance filter
 *   }
 *
 * Answered with an ACK.
 */
import { decodeWith } from "../codec.js";
import { com } from "../gen/canal_protocol.js";
import { PacketType, requestFrame } from "../packet.js";

const pb = com.alibaba.otter.canal.protocol;

export interface Sub {
  destination: string;
  clientId: string;
  filter: string;
}

export function encodeSub(sub: Sub): Uint8Array {
  return pb.Sub.encode(sub).finish();
}

export function decodeSub(bytes: Uint8Array): Sub {
  const m = decodeWith("Sub", bytes, (b) => pb.Sub.decode(b));
  return { destination: m.destination, clientId: m.clientId, filter: m.filter };
}

export function encodeSubFrame(sub: Sub): Uint8Array {
  return requestFrame(PacketType.SUBSCRIPTION, encodeSub(sub));
}
