/**
 * The Packet envelope that wraps every Canal message (canal-facts.md §1.2, §1.3, §1.7, §1.8):
 *
 *   message Packet {
 *     oneof magic_number_present { int32 magic_number = 1; }   // never sent by Canal
 *     oneof version_present { int32 version = 2; }             // see PACKET_VERSION
 *     PacketType type = 3;
 *     oneof compression_present { Compression compression = 4; }
 *     bytes body = 5;                                          // the serialized message
 *   }
 *
 * The envelope is encoded by hand (it is five scalar fields) so that a whole frame, header
 * included, is built in one allocation; it is tested byte for byte against the generated code.
 * Decoding goes through the generated code.
 */
import { CanalProtocolError } from "../errors.js";
import { decodeWith, has } from "./codec.js";
import { FRAME_HEADER_BYTES, writeFrameHeader } from "./frame.js";
import { com } from "./gen/canal_protocol.js";
import { tag, varintSize, writeVarint } from "./varint.js";

const pb = com.alibaba.otter.canal.protocol;

export const PacketType = {
  PACKAGETYPECOMPATIBLEPROTO2: 0,
  HANDSHAKE: 1,
  CLIENTAUTHENTICATION: 2,
  ACK: 3,
  SUBSCRIPTION: 4,
  UNSUBSCRIPTION: 5,
  GET: 6,
  MESSAGES: 7,
  CLIENTACK: 8,
  SHUTDOWN: 9,
  DUMP: 10,
  HEARTBEAT: 11,
  CLIENTROLLBACK: 12,
} as const;
export type PacketType = (typeof PacketType)[keyof typeof PacketType];

export const Compression = {
  COMPRESSIONCOMPATIBLEPROTO2: 0,
  NONE: 1,
  ZLIB: 2,
  GZIP: 3,
  LZF: 4,
} as const;
export type Compression = (typeof Compression)[keyof typeof Compression];

/**
 * The version a Canal server puts on its packets. Two exceptions, both reproduced by the
 * encoders in messages/: the raw MESSAGES reply has no version, and the Java client sends none.
 * The Java client rejects a HANDSHAKE whose version is not exactly this.
 */
export const PACKET_VERSION = 1;

export interface Packet {
  /** A number outside PacketType is kept as is (a Canal server answers it "NOT supported"). */
  type: number;
  body: Uint8Array;
  /** Absent unless the sender set it; a Java reader sees 0 then. */
  version?: number;
  magicNumber?: number;
  /** Absent, COMPRESSIONCOMPATIBLEPROTO2 or NONE after decodePacket: nothing else is accepted. */
  compression?: number;
}

const packetTypeNames = new Map<number, string>(Object.entries(PacketType).map(([name, value]) => [value, name]));
const compressionNames = new Map<number, string>(Object.entries(Compression).map(([name, value]) => [value, name]));

/** The name Java prints for a packet type ("UNRECOGNIZED" for a number the enum lacks). */
export function packetTypeName(type: number): string {
  return packetTypeNames.get(type) ?? "UNRECOGNIZED";
}

/** Serialized Packet, without the frame header. */
export function encodePacket(packet: Packet): Uint8Array {
  return writePacket(packet, 0);
}

/** Frame header + serialized Packet in one buffer, ready for a single socket write. */
export function encodePacketFrame(packet: Packet): Uint8Array {
  return writePacket(packet, FRAME_HEADER_BYTES);
}

function writePacket(packet: Packet, headerBytes: number): Uint8Array {
  const { body } = packet;
  const envelope = envelopeSize(packet, body.length);
  const out = new Uint8Array(headerBytes + envelope + body.length);
  if (headerBytes > 0) writeFrameHeader(out, envelope + body.length);
  out.set(body, writeEnvelope(out, headerBytes, packet, body.length));
  return out;
}

/** A request as the Java client sends it: no version, no compression, no magic number. */
export function requestFrame(type: PacketType, body: Uint8Array): Uint8Array {
  return encodePacketFrame({ type, body });
}

/** A reply as the Canal server sends it (all but the raw MESSAGES reply): version 1. */
export function replyFrame(type: PacketType, body: Uint8Array): Uint8Array {
  return encodePacketFrame({ version: PACKET_VERSION, type, body });
}

/** The envelope fields a packet carries besides its body bytes. */
export type PacketHead = Omit<Packet, "body">;

/** Bytes of the envelope fields and of the body's tag and length prefix (not the body itself). */
export function envelopeSize(head: PacketHead, bodyLength: number): number {
  let size = 0;
  if (head.magicNumber !== undefined) size += 1 + varintSize(head.magicNumber);
  if (head.version !== undefined) size += 1 + varintSize(head.version);
  if (head.type !== 0) size += 1 + varintSize(head.type);
  if (head.compression !== undefined) size += 1 + varintSize(head.compression);
  if (bodyLength > 0) size += 1 + varintSize(bodyLength);
  return size;
}

/**
 * Writes the envelope fields and the body's tag and length at `pos`, in field order, with
 * proto3 presence: oneof fields when set, `type` and `body` only when not the default. Returns
 * the position where the body bytes go.
 */
export function writeEnvelope(buf: Uint8Array, pos: number, head: PacketHead, bodyLength: number): number {
  // Every tag here is a single byte (field numbers below 16).
  if (head.magicNumber !== undefined) {
    buf[pos++] = tag(1, 0);
    pos = writeVarint(buf, pos, head.magicNumber);
  }
  if (head.version !== undefined) {
    buf[pos++] = tag(2, 0);
    pos = writeVarint(buf, pos, head.version);
  }
  if (head.type !== 0) {
    buf[pos++] = tag(3, 0);
    pos = writeVarint(buf, pos, head.type);
  }
  if (head.compression !== undefined) {
    buf[pos++] = tag(4, 0);
    pos = writeVarint(buf, pos, head.compression);
  }
  if (bodyLength > 0) {
    buf[pos++] = tag(5, 2);
    pos = writeVarint(buf, pos, bodyLength);
  }
  return pos;
}

/**
 * Parses a frame body as a Packet. Like the Java client, accepts compression NONE or absent/0
 * (the raw MESSAGES reply carries none) and rejects every other value: no Canal peer compresses.
 */
export function decodePacket(bytes: Uint8Array): Packet {
  const m = decodeWith("Packet", bytes, (b) => pb.Packet.decode(b));
  const packet: Packet = { type: m.type, body: m.body };
  if (has(m, "version")) packet.version = m.version!;
  if (has(m, "magicNumber")) packet.magicNumber = m.magicNumber!;
  if (has(m, "compression")) {
    const compression = m.compression!;
    if (compression !== Compression.NONE && compression !== Compression.COMPRESSIONCOMPATIBLEPROTO2) {
      const name = compressionNames.get(compression) ?? "UNRECOGNIZED";
      throw new CanalProtocolError(
        `${packetTypeName(m.type)} packet uses compression ${name} (${compression}); only NONE (1) or none at all is supported`,
      );
    }
    packet.compression = compression;
  }
  return packet;
}

/**
 * Checks that a packet has the expected type (and version, when given), as the Java client does
 * for the handshake; throws CanalProtocolError naming what arrived and what was expected.
 */
export function expectPacket(packet: Packet, type: PacketType, version?: number): void {
  if (packet.type !== type) {
    throw new CanalProtocolError(`expected a ${packetTypeName(type)} packet but received ${packetTypeName(packet.type)} (${packet.type})`);
  }
  if (version !== undefined && packet.version !== version) {
    throw new CanalProtocolError(
      `${packetTypeName(type)} packet has version ${packet.version ?? "(absent)"}, expected ${version}`,
    );
  }
}
