/**
 * CLIENTACK, confirming a batch (canal-facts.md §1.5, §6.3):
 *
 *   message ClientAck {
 *     string destination = 1;
 *     string client_id = 2;
 *     int64 batch_id = 3;         // 0 (absent) → error 402; -1 (empty batch) → ignored
 *   }
 *
 * Fire and forget: the server sends nothing on success, only an error ACK on failure.
 */
import { decodeWith, int64ToNumber } from "../codec.js";
import { com } from "../gen/canal_protocol.js";
import { PacketType, requestFrame } from "../packet.js";

const pb = com.alibaba.otter.canal.protocol;

export interface ClientAck {
  destination: string;
  clientId: string;
  batchId: number;
}

export function encodeClientAck(ack: ClientAck): Uint8Array {
  return pb.ClientAck.encode(ack).finish();
}

export function decodeClientAck(bytes: Uint8Array): ClientAck {
  const m = decodeWith("ClientAck", bytes, (b) => pb.ClientAck.decode(b));
  return { destination: m.destination, clientId: m.clientId, batchId: int64ToNumber(m.batchId, "ClientAck.batch_id") };
}

export function encodeClientAckFrame(ack: ClientAck): Uint8Array {
  return requestFrame(PacketType.CLIENTACK, encodeClientAck(ack));
}
