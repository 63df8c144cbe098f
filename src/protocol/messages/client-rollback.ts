/**
 * CLIENTROLLBACK (canal-facts.md §1.5, §6.3). Same fields as ClientAck:
 *
 *   message ClientRollback {
 *     string destination = 1;
 *     string client_id = 2;
 *     int64 batch_id = 3;         // 0 is not serialized and means "roll back every batch"
 *   }
 *
 * Fire and forget: the server sends nothing on success, only an error ACK on failure.
 */
import { decodeWith, int64ToNumber } from "../codec.js";
import { com } from "../gen/canal_protocol.js";
import { PacketType, requestFrame } from "../packet.js";
import type { ClientAck } from "./client-ack.js";

const pb = com.alibaba.otter.canal.protocol;

export type ClientRollback = ClientAck;

export function encodeClientRollback(rollback: ClientRollback): Uint8Array {
  return pb.ClientRollback.encode(rollback).finish();
}

export function decodeClientRollback(bytes: Uint8Array): ClientRollback {
  const m = decodeWith("ClientRollback", bytes, (b) => pb.ClientRollback.decode(b));
  return { destination: m.destination, clientId: m.clientId, batchId: int64ToNumber(m.batchId, "ClientRollback.batch_id") };
}

export function encodeClientRollbackFrame(rollback: ClientRollback): Uint8Array {
  return requestFrame(PacketType.CLIENTROLLBACK, encodeClientRollback(rollback));
}
