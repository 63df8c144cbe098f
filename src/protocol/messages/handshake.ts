/**
 * HANDSHAKE, the server's first packet on every new connection (canal-facts.md §1.3):
 *
 *   message Handshake {
 *     oneof communication_encoding_present { string communication_encoding = 1; }
 *     bytes seeds = 2;                          // the scramble seed, 8 random bytes
 *     Compression supported_compressions = 3;
 *   }
 *
 * Canal sends only `seeds`, in a packet with version 1; the Java client refuses any other
 * version or type.
 */
import { decodeWith, has } from "../codec.js";
import { com } from "../gen/canal_protocol.js";
import { expectPacket, PACKET_VERSION, PacketType, replyFrame, type Packet } from "../packet.js";

const pb = com.alibaba.otter.canal.protocol;

export interface Handshake {
  seeds: Uint8Array;
  communicationEncoding?: string;
  supportedCompressions: number;
}

export function encodeHandshake(handshake: Pick<Handshake, "seeds"> & Partial<Handshake>): Uint8Array {
  return pb.Handshake.encode(handshake).finish();
}

export function decodeHandshake(bytes: Uint8Array): Handshake {
  const m = decodeWith("Handshake", bytes, (b) => pb.Handshake.decode(b));
  const handshake: Handshake = { seeds: m.seeds, supportedCompressions: m.supportedCompressions };
  if (has(m, "communicationEncoding")) handshake.communicationEncoding = m.communicationEncoding!;
  return handshake;
}

/** The framed HANDSHAKE a server sends on accept. */
export function encodeHandshakeFrame(seeds: Uint8Array): Uint8Array {
  return replyFrame(PacketType.HANDSHAKE, encodeHandshake({ seeds }));
}

/** Client side: checks type and version as the Java client does, then decodes the body. */
export function readHandshake(packet: Packet): Handshake {
  expectPacket(packet, PacketType.HANDSHAKE, PACKET_VERSION);
  return decodeHandshake(packet.body);
}
