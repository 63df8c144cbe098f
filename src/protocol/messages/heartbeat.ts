/**
 * HEARTBEAT (canal-facts.md §1.2, §1.5):
 *
 *   message HeartBeat {
 *     int64 send_timestamp = 1;
 *     int64 start_timestamp = 2;
 *   }
 *
 * Defined but unused: no Canal client sends it, and a Canal server answers it with error 400
 * "packet type: HEARTBEAT is NOT supported!". Decoded here so a server can recognise it.
 */
import { decodeWith, int64ToNumber } from "../codec.js";
import { com } from "../gen/canal_protocol.js";

const pb = com.alibaba.otter.canal.protocol;

export interface HeartBeat {
  sendTimestamp: number;
  startTimestamp: number;
}

export function encodeHeartBeat(heartBeat: HeartBeat): Uint8Array {
  return pb.HeartBeat.encode(heartBeat).finish();
}

export function decodeHeartBeat(bytes: Uint8Array): HeartBeat {
  const m = decodeWith("HeartBeat", bytes, (b) => pb.HeartBeat.decode(b));
  return {
    sendTimestamp: int64ToNumber(m.sendTimestamp, "HeartBeat.send_timestamp"),
    startTimestamp: int64ToNumber(m.startTimestamp, "HeartBeat.start_timestamp"),
  };
}
