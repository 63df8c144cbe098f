/**
 * GET, a request for the next batch (canal-facts.md §1.5, §6.2):
 *
 *   message Get {
 *     string destination = 1;
 *     string client_id = 2;
 *     int32 fetch_size = 3;
 *     oneof timeout_present { int64 timeout = 4; }   // -1: don't wait; absent reads 0: block
 *                                                    // until a FULL batch; >0: wait up to it
 *     oneof unit_present { int32 unit = 5; }         // TimeUnit ordinal
 *     oneof auto_ack_present { bool auto_ack = 6; }  // ignored by the server
 *   }
 *
 * The Java client always sets timeout (-1 or the caller's value), unit (2, ms) and
 * auto_ack=false. The reply is MESSAGES (messages.ts) or an error ACK.
 */
import { decodeWith, has, int64ToNumber } from "../codec.js";
import { com } from "../gen/canal_protocol.js";
import { PacketType, requestFrame } from "../packet.js";

const pb = com.alibaba.otter.canal.protocol;

/** java.util.concurrent.TimeUnit ordinals, as carried in Get.unit. */
export const TimeUnit = {
  NANOSECONDS: 0,
  MICROSECONDS: 1,
  MILLISECONDS: 2,
  SECONDS: 3,
  MINUTES: 4,
  HOURS: 5,
  DAYS: 6,
} as const;

/** Get.timeout value meaning "return at once with whatever is there". */
export const NO_TIMEOUT = -1;

export interface Get {
  destination: string;
  clientId: string;
  fetchSize: number;
  timeout?: number;
  unit?: number;
  autoAck?: boolean;
}

export function encodeGet(get: Get): Uint8Array {
  return pb.Get.encode(get).finish();
}

export function decodeGet(bytes: Uint8Array): Get {
  const m = decodeWith("Get", bytes, (b) => pb.Get.decode(b));
  const get: Get = { destination: m.destination, clientId: m.clientId, fetchSize: m.fetchSize };
  if (has(m, "timeout")) get.timeout = int64ToNumber(m.timeout!, "Get.timeout");
  if (has(m, "unit")) get.unit = m.unit!;
  if (has(m, "autoAck")) get.autoAck = m.autoAck!;
  return get;
}

export function encodeGetFrame(get: Get): Uint8Array {
  return requestFrame(PacketType.GET, encodeGet(get));
}
