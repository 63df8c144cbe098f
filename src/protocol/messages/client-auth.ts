/**
 * CLIENTAUTHENTICATION, the client's answer to the handshake (canal-facts.md §1.3, §1.4):
 *
 *   message ClientAuth {
 *     string username = 1;
 *     bytes password = 2;                 // UTF-8 of scramble411's 40-char lowercase hex, or empty
 *     oneof net_read_timeout_present { int32 net_read_timeout = 3; }    // idle timeouts, used
 *     oneof net_write_timeout_present { int32 net_write_timeout = 4; }  // as MILLISECONDS
 *     string destination = 5;             // with client_id: the server also subscribes
 *     string client_id = 6;
 *     string filter = 7;
 *     int64 start_timestamp = 8;
 *   }
 *
 * The Java client sends username, password and both timeouts (3600000), in a packet without
 * version. The server answers with an ACK (ack.ts).
 */
import { decodeWith, has, int64ToNumber } from "../codec.js";
import { com } from "../gen/canal_protocol.js";
import { PacketType, requestFrame } from "../packet.js";

const pb = com.alibaba.otter.canal.protocol;

export interface ClientAuth {
  username: string;
  password: Uint8Array;
  netReadTimeout?: number;
  netWriteTimeout?: number;
  destination: string;
  clientId: string;
  filter: string;
  startTimestamp: number;
}

/** Fields left out (or holding "", empty bytes or 0) are not written, as in proto3. */
export function encodeClientAuth(auth: Partial<ClientAuth>): Uint8Array {
  return pb.ClientAuth.encode(auth).finish();
}

export function decodeClientAuth(bytes: Uint8Array): ClientAuth {
  const m = decodeWith("ClientAuth", bytes, (b) => pb.ClientAuth.decode(b));
  const auth: ClientAuth = {
    username: m.username,
    password: m.password,
    destination: m.destination,
    clientId: m.clientId,
    filter: m.filter,
    startTimestamp: int64ToNumber(m.startTimestamp, "ClientAuth.start_timestamp"),
  };
  if (has(m, "netReadTimeout")) auth.netReadTimeout = m.netReadTimeout!;
  if (has(m, "netWriteTimeout")) auth.netWriteTimeout = m.netWriteTimeout!;
  return auth;
}

export function encodeClientAuthFrame(auth: Partial<ClientAuth>): Uint8Array {
  return requestFrame(PacketType.CLIENTAUTHENTICATION, encodeClientAuth(auth));
}
