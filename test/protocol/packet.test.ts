import protobuf from "protobufjs/minimal.js";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { com } from "../../src/protocol/gen/canal_protocol.js";
import {
  Compression,
  decodePacket,
  encodePacket,
  encodePacketFrame,
  expectPacket,
  PacketType,
  packetTypeName,
  replyFrame,
  requestFrame,
  type Packet,
} from "../../src/protocol/packet.js";
import { varintSize, writeVarint } from "../../src/protocol/varint.js";
import { packets } from "../fixtures/canal-vectors.js";
import { byContent, fromHex, hex, prng, seedFromEnv, throwsProtocolError } from "./helpers.js";

const pb = com.alibaba.otter.canal.protocol;
const Envelope = suite("protocol/packet");


Envelope("encodes and decodes the §1.3 ACK packet (version 1, type ACK, no body)", () => {
  assert.is(hex(encodePacket({ version: 1, type: PacketType.ACK, body: new Uint8Array(0) })), packets.ackOk);
  assert.equal(byContent(decodePacket(fromHex(packets.ackOk))), byContent({ version: 1, type: PacketType.ACK, body: new Uint8Array(0) }));
});

Envelope("a request has no version; a reply has version 1 (§1.3, §11.2)", () => {
  const body = fromHex("0a07");
  assert.equal(byContent(decodePacket(requestFrame(PacketType.SUBSCRIPTION, body).subarray(4))), byContent({ type: PacketType.SUBSCRIPTION, body }));
  assert.equal(byContent(decodePacket(replyFrame(PacketType.ACK, body).subarray(4))), byContent({ version: 1, type: PacketType.ACK, body }));
});

Envelope("decode keeps explicit presence: version, magic number and compression set to 0 stay set", () => {
  const bytes = encodePacket({ magicNumber: 0, version: 0, type: PacketType.GET, compression: 0, body: fromHex("01") });
  assert.is(hex(bytes), "0800100018062000" + "2a0101");
  assert.equal(
    byContent(decodePacket(bytes)),
    byContent({ magicNumber: 0, version: 0, type: PacketType.GET, compression: 0, body: fromHex("01") }),
  );
});

Envelope("the hand-written envelope matches the generated encoder byte for byte", () => {
  const seed = seedFromEnv();
  const random = prng(seed);
  const pick = <T>(values: T[]): T => values[Math.floor(random() * values.length)]!;
  const ints = [0, 1, 17, 127, 128, 300, 2 ** 31 - 1, -1, -(2 ** 31), 16384];
  try {
    for (let i = 0; i < 2000; i++) {
      const packet: Packet = {
        type: pick([0, 1, 3, 7, 12, 99, 128]),
        body: new Uint8Array(pick([0, 1, 127, 128, 200, 20000])).fill(i & 0xff),
      };
      if (random() < 0.5) packet.version = pick(ints);
      if (random() < 0.3) packet.magicNumber = pick(ints);
      if (random() < 0.3) packet.compression = pick([0, 1, 2]);
      const expected = pb.Packet.encode(packet).finish();
      assert.is(hex(encodePacket(packet)), hex(expected));
      const frame = encodePacketFrame(packet);
      assert.is(hex(frame.subarray(4)), hex(expected));
      assert.is(new DataView(frame.buffer, frame.byteOffset).getInt32(0), expected.length);
    }
  } catch (err) {
    console.error(`envelope comparison failed with FUZZ_SEED=${seed}`);
    throw err;
  }
});

Envelope("varints match protobufjs int64 encoding, -1 as ten bytes", () => {
  const check = (value: number) => {
    const expected = protobuf.Writer.create().int64(value).finish();
    const buf = new Uint8Array(10);
    const end = writeVarint(buf, 0, value);
    assert.is(hex(buf.subarray(0, end)), hex(expected), `varint of ${value}`);
    assert.is(varintSize(value), expected.length, `size of ${value}`);
  };
  assert.is(hex(protobuf.Writer.create().int64(-1).finish()), "ffffffffffffffffff01");
  const edges = [0, 1, 127, 128, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 35, 2 ** 53 - 1, -1, -2, -(2 ** 31), -(2 ** 32) - 5, -(2 ** 53 - 1)];
  edges.forEach(check);
  const random = prng(seedFromEnv());
  for (let i = 0; i < 2000; i++) check(Math.floor((random() - 0.5) * 2 ** Math.floor(random() * 54)));
});

Envelope("accepts compression NONE or COMPRESSIONCOMPATIBLEPROTO2 (the raw MESSAGES reply has none)", () => {
  for (const compression of [Compression.NONE, Compression.COMPRESSIONCOMPATIBLEPROTO2]) {
    assert.is(decodePacket(encodePacket({ type: PacketType.ACK, compression, body: new Uint8Array(0) })).compression, compression);
  }
});

Envelope("rejects any other compression with a CanalProtocolError naming it", () => {
  for (const [compression, name] of [[2, "ZLIB"], [3, "GZIP"], [4, "LZF"], [9, "UNRECOGNIZED"]] as const) {
    const bytes = encodePacket({ type: PacketType.MESSAGES, compression, body: fromHex("0801") });
    throwsProtocolError(() => decodePacket(bytes), new RegExp(`MESSAGES.*${name} \\(${compression}\\)`));
  }
});

Envelope("wraps undecodable bytes in CanalProtocolError naming the Packet", () => {
  throwsProtocolError(() => decodePacket(fromHex("2a05")), /Packet/);
  throwsProtocolError(() => decodePacket(fromHex("ff")), /Packet/);
});

Envelope("names packet types as Java prints them", () => {
  assert.is(packetTypeName(PacketType.CLIENTROLLBACK), "CLIENTROLLBACK");
  assert.is(packetTypeName(0), "PACKAGETYPECOMPATIBLEPROTO2");
  assert.is(packetTypeName(42), "UNRECOGNIZED");
});

Envelope("expectPacket checks the type, then the version when asked", () => {
  const handshake = decodePacket(fromHex(packets.handshake));
  expectPacket(handshake, PacketType.HANDSHAKE, 1);
  throwsProtocolError(() => expectPacket(handshake, PacketType.ACK), /expected a ACK packet but received HANDSHAKE/);
  throwsProtocolError(() => expectPacket({ ...handshake, version: 2 }, PacketType.HANDSHAKE, 1), /version 2, expected 1/);
  const { version: _ignored, ...unversioned } = handshake;
  throwsProtocolError(() => expectPacket(unversioned, PacketType.HANDSHAKE, 1), /version \(absent\), expected 1/);
});

Envelope.run();
