import { suite } from "uvu";
import * as assert from "uvu/assert";
import { CanalProtocolError } from "../../src/errors.js";
import { com } from "../../src/protocol/gen/canal_protocol.js";
import { decodeAck, encodeAckFrame, parseAck, readAck } from "../../src/protocol/messages/ack.js";
import { decodeClientAck, encodeClientAckFrame } from "../../src/protocol/messages/client-ack.js";
import { decodeClientAuth, encodeClientAuthFrame } from "../../src/protocol/messages/client-auth.js";
import { decodeClientRollback, encodeClientRollbackFrame } from "../../src/protocol/messages/client-rollback.js";
import { decodeGet, encodeGetFrame, NO_TIMEOUT, TimeUnit } from "../../src/protocol/messages/get.js";
import { decodeHandshake, encodeHandshakeFrame, readHandshake } from "../../src/protocol/messages/handshake.js";
import { decodeHeartBeat, encodeHeartBeat } from "../../src/protocol/messages/heartbeat.js";
import {
  decodeMessages,
  EMPTY_BATCH_ID,
  encodeGetReplyFrame,
  encodeMessagesFrame,
  encodeRawMessagesFrame,
  encodeRawMessagesFrameParts,
  readMessagesReply,
} from "../../src/protocol/messages/messages.js";
import { decodeSub, encodeSubFrame } from "../../src/protocol/messages/sub.js";
import { decodeUnsub, encodeUnsubFrame } from "../../src/protocol/messages/unsub.js";
import { decodePacket, encodePacket, PacketType, type Packet } from "../../src/protocol/packet.js";
import { scramble411 } from "../../src/protocol/scramble.js";
import { entries, packets, SEED_HEX } from "../fixtures/canal-vectors.js";
import { byContent, concat, fromHex, hex, prng, seedFromEnv } from "./helpers.js";

const pb = com.alibaba.otter.canal.protocol;
const Messages = suite("protocol/messages");

const seed = fromHex(SEED_HEX);
const utf8 = (text: string) => new TextEncoder().encode(text);
const noBytes = new Uint8Array(0);
const example = { destination: "example", clientId: "1001" };

/** The frame carries exactly the vector's packet bytes after a correct length header. */
function assertFrame(frame: Uint8Array, packetHex: string): void {
  assert.is(hex(frame.subarray(4)), packetHex);
  assert.is(new DataView(frame.buffer, frame.byteOffset).getInt32(0), packetHex.length / 2, "frame header");
}

/** Decodes the vector as a Packet, checks the envelope, and returns the body. */
function packetBody(packetHex: string, type: number, version: number | undefined): Uint8Array {
  const packet = decodePacket(fromHex(packetHex));
  assert.is(packet.type, type, "packet type");
  assert.is(packet.version, version, "packet version");
  assert.is(packet.compression, undefined, "compression");
  return packet.body;
}

function assertDecoded(actual: unknown, expected: unknown): void {
  assert.equal(byContent(actual), byContent(expected));
}

function protocolError(fn: () => unknown): CanalProtocolError {
  try {
    fn();
  } catch (err) {
    assert.instance(err, CanalProtocolError);
    return err as CanalProtocolError;
  }
  assert.unreachable("expected a CanalProtocolError");
  throw new Error("unreachable");
}

Messages("HANDSHAKE §1.3: version 1, seeds only", () => {
  assertFrame(encodeHandshakeFrame(seed), packets.handshake);
  const body = packetBody(packets.handshake, PacketType.HANDSHAKE, 1);
  assertDecoded(decodeHandshake(body), { seeds: seed, supportedCompressions: 0 });
  assertDecoded(readHandshake(decodePacket(fromHex(packets.handshake))), { seeds: seed, supportedCompressions: 0 });
});

Messages("HANDSHAKE: the client refuses a wrong version or type", () => {
  const packet = decodePacket(fromHex(packets.handshake));
  assert.match(protocolError(() => readHandshake({ ...packet, version: 2 })).message, /version 2, expected 1/);
  assert.match(protocolError(() => readHandshake({ ...packet, type: PacketType.ACK })).message, /expected a HANDSHAKE packet but received ACK/);
});

Messages("CLIENTAUTHENTICATION §1.3: user canal with the §1.4 token, timeouts in ms, no version", () => {
  const token = utf8(scramble411("canal", seed));
  assertFrame(
    encodeClientAuthFrame({ username: "canal", password: token, netReadTimeout: 3600000, netWriteTimeout: 3600000 }),
    packets.clientAuth,
  );
  const body = packetBody(packets.clientAuth, PacketType.CLIENTAUTHENTICATION, undefined);
  assertDecoded(decodeClientAuth(body), {
    username: "canal",
    password: token,
    netReadTimeout: 3600000,
    netWriteTimeout: 3600000,
    destination: "",
    clientId: "",
    filter: "",
    startTimestamp: 0,
  });
});

Messages("CLIENTAUTHENTICATION §1.3: no user and no password leave both fields out", () => {
  assertFrame(
    encodeClientAuthFrame({ username: "", password: noBytes, netReadTimeout: 3600000, netWriteTimeout: 3600000 }),
    packets.clientAuthAnonymous,
  );
  const body = packetBody(packets.clientAuthAnonymous, PacketType.CLIENTAUTHENTICATION, undefined);
  const auth = decodeClientAuth(body);
  assert.is(auth.username, "");
  assert.is(auth.password.length, 0);
  assert.is(auth.netReadTimeout, 3600000);
});

Messages("ACK §1.3: success is an empty Ack in a version-1 packet", () => {
  assertFrame(encodeAckFrame(), packets.ackOk);
  assert.is(hex(encodeAckFrame()), packets.ackOkFrame);
  const ack = decodeAck(packetBody(packets.ackOk, PacketType.ACK, 1));
  assertDecoded(ack, { errorMessage: "" });
  parseAck(ack);
  readAck(decodePacket(fromHex(packets.ackOk)));
});

Messages("ACK §1.3: error 400 auth failed", () => {
  assertFrame(encodeAckFrame({ errorCode: 400, errorMessage: "auth failed for user:canal" }), packets.ackAuthFailed);
  const ack = decodeAck(packetBody(packets.ackAuthFailed, PacketType.ACK, 1));
  assertDecoded(ack, { errorCode: 400, errorMessage: "auth failed for user:canal" });
  const err = protocolError(() => parseAck(ack));
  assert.is(err.code, 400);
  assert.match(err.message, /400: auth failed for user:canal/);
  assert.is(protocolError(() => readAck(decodePacket(fromHex(packets.ackAuthFailed)))).code, 400);
});

Messages("ACK: an explicit error_code 0 is written (oneof presence) and is not an error", () => {
  assert.is(hex(encodeAckFrame({ errorCode: 0 }).subarray(4)), "100118032a020800");
  parseAck({ errorCode: 0, errorMessage: "" });
  assert.is(protocolError(() => parseAck({ errorCode: 402, errorMessage: "batchId should assign value" })).code, 402);
});

Messages("SUBSCRIPTION §1.5: filter '' is not written", () => {
  assertFrame(encodeSubFrame({ ...example, filter: "" }), packets.sub);
  assertDecoded(decodeSub(packetBody(packets.sub, PacketType.SUBSCRIPTION, undefined)), { ...example, filter: "" });
});

Messages("SUBSCRIPTION: a filter goes in field 7", () => {
  const frame = encodeSubFrame({ ...example, filter: "test\\..*" });
  assert.ok(hex(frame).endsWith("3a08" + hex(utf8("test\\..*"))));
  assertDecoded(decodeSub(decodePacket(frame.subarray(4)).body), { ...example, filter: "test\\..*" });
});

Messages("UNSUBSCRIPTION §1.5", () => {
  assertFrame(encodeUnsubFrame({ ...example, filter: "" }), packets.unsub);
  assertDecoded(decodeUnsub(packetBody(packets.unsub, PacketType.UNSUBSCRIPTION, undefined)), { ...example, filter: "" });
});

Messages("GET §1.5: fetch 100, timeout -1 as ten bytes, unit ms, auto_ack false written", () => {
  const get = { ...example, fetchSize: 100, timeout: NO_TIMEOUT, unit: TimeUnit.MILLISECONDS, autoAck: false };
  assertFrame(encodeGetFrame(get), packets.get);
  assertDecoded(decodeGet(packetBody(packets.get, PacketType.GET, undefined)), get);
});

Messages("GET: absent timeout, unit and auto_ack stay absent (a Java server reads timeout 0)", () => {
  const frame = encodeGetFrame({ ...example, fetchSize: 1000 });
  assertDecoded(decodeGet(decodePacket(frame.subarray(4)).body), { ...example, fetchSize: 1000 });
  assertDecoded(decodeGet(pb.Get.encode({ ...example, timeout: 0, unit: 0 }).finish()), { ...example, fetchSize: 0, timeout: 0, unit: 0 });
});

Messages("CLIENTACK §1.5: batch 5", () => {
  assertFrame(encodeClientAckFrame({ ...example, batchId: 5 }), packets.clientAck);
  assertDecoded(decodeClientAck(packetBody(packets.clientAck, PacketType.CLIENTACK, undefined)), { ...example, batchId: 5 });
});

Messages("CLIENTACK: batch -1 (ack of an empty get) and a batch id above 2^32", () => {
  for (const batchId of [-1, 2 ** 40 + 3]) {
    const frame = encodeClientAckFrame({ ...example, batchId });
    assert.is(hex(frame.subarray(4)), hex(encodePacket({ type: PacketType.CLIENTACK, body: pb.ClientAck.encode({ ...example, batchId }).finish() })));
    assert.is(decodeClientAck(decodePacket(frame.subarray(4)).body).batchId, batchId);
  }
});

Messages("CLIENTROLLBACK §1.5: batch 0 (roll back all) is not serialized", () => {
  assertFrame(encodeClientRollbackFrame({ ...example, batchId: 0 }), packets.clientRollbackAll);
  assertDecoded(decodeClientRollback(packetBody(packets.clientRollbackAll, PacketType.CLIENTROLLBACK, undefined)), {
    ...example,
    batchId: 0,
  });
});

Messages("MESSAGES §1.7: the empty batch -1 goes the generic path, version 1", () => {
  assertFrame(encodeGetReplyFrame(EMPTY_BATCH_ID, []), packets.messagesEmpty);
  assertFrame(encodeMessagesFrame({ batchId: -1, messages: [] }), packets.messagesEmpty);
  assertDecoded(decodeMessages(packetBody(packets.messagesEmpty, PacketType.MESSAGES, 1)), { batchId: -1, messages: [] });
});

Messages("MESSAGES §1.7: a batch goes the raw path, no version, entries as they are", () => {
  const entry = fromHex(entries.transactionBegin);
  assert.is(entry.length, 54);
  const expected = packets.messagesRawPrefix + entries.transactionBegin;
  assertFrame(encodeGetReplyFrame(1, [entry]), expected);
  assertFrame(encodeRawMessagesFrame(1, [entry]), expected);
  assertDecoded(decodeMessages(packetBody(expected, PacketType.MESSAGES, undefined)), { batchId: 1, messages: [entry] });
});

Messages("MESSAGES raw path: batch_id is always written, even 0", () => {
  assert.is(hex(encodeRawMessagesFrame(0, [])), "00000006" + "18072a020800");
});

Messages("MESSAGES raw path equals the generated encoding byte for byte", () => {
  const fuzzSeed = seedFromEnv();
  const random = prng(fuzzSeed);
  try {
    for (let i = 0; i < 500; i++) {
      const batchId = 1 + Math.floor(random() * 2 ** Math.floor(random() * 53));
      const batch = Array.from({ length: Math.floor(random() * 12) }, () =>
        Uint8Array.from({ length: Math.floor(random() ** 4 * 8000) }, () => Math.floor(random() * 256)),
      );
      const body = pb.Messages.encode({ batchId, messages: batch }).finish();
      const generated = pb.Packet.encode({ type: PacketType.MESSAGES, body }).finish();
      assert.is(hex(encodeRawMessagesFrame(batchId, batch)), hex(concat(fromHex(generated.length.toString(16).padStart(8, "0")), generated)));
    }
  } catch (err) {
    console.error(`raw MESSAGES comparison failed with FUZZ_SEED=${fuzzSeed}`);
    throw err;
  }
});

Messages("MESSAGES: a client reads entries, or the error ACK as a CanalProtocolError with its code", () => {
  const raw = decodePacket(encodeGetReplyFrame(7, [fromHex("0801")]).subarray(4));
  assertDecoded(readMessagesReply(raw), { batchId: 7, messages: [fromHex("0801")] });
  const errorReply = decodePacket(encodeAckFrame({ errorCode: 400, errorMessage: "should subscribe first" }).subarray(4));
  const err = protocolError(() => readMessagesReply(errorReply));
  assert.is(err.code, 400);
  assert.match(err.message, /should subscribe first/);
  const handshake: Packet = decodePacket(fromHex(packets.handshake));
  assert.match(protocolError(() => readMessagesReply(handshake)).message, /MESSAGES or ACK.*HANDSHAKE/);
});

Messages("HEARTBEAT: round trip through the generated code", () => {
  const beat = { sendTimestamp: 1700000000123, startTimestamp: 0 };
  assert.is(hex(encodeHeartBeat(beat)), hex(pb.HeartBeat.encode({ sendTimestamp: 1700000000123 }).finish()));
  assertDecoded(decodeHeartBeat(encodeHeartBeat(beat)), beat);
});

Messages("decode failures are CanalProtocolErrors naming the message", () => {
  assert.match(protocolError(() => decodeSub(fromHex("0a05"))).message, /cannot decode Sub \(2 bytes\)/);
  assert.match(protocolError(() => decodeGet(fromHex("20ff"))).message, /Get/);
  // An int64 beyond 2^53 would lose precision as a number: refused, not rounded.
  const huge = pb.ClientAck.encode({ ...example, batchId: "9223372036854775807" as unknown as number }).finish();
  assert.match(protocolError(() => decodeClientAck(huge)).message, /ClientAck\.batch_id.*9223372036854775807/);
});

Messages("raw MESSAGES as gather-write parts: joined, the same bytes as the one-buffer frame; the entries are passed on, not copied", () => {
  const random = prng(0x9a7e);
  const sizes = [0, 1, 127, 128, 300, 16383, 16384, 70_000];
  for (const batchId of [1, 127, 128, 2 ** 31, 2 ** 40]) {
    for (const count of [0, 1, 2, 5, 40]) {
      const batch = Array.from({ length: count }, () => {
        const entry = new Uint8Array(sizes[Math.floor(random() * sizes.length)]!);
        for (let i = 0; i < entry.length; i++) entry[i] = Math.floor(random() * 256);
        return entry;
      });
      const parts = encodeRawMessagesFrameParts(batchId, batch);
      assert.is(Buffer.concat(parts).toString("hex"), Buffer.from(encodeRawMessagesFrame(batchId, batch)).toString("hex"), `batch ${batchId}, ${count} entries`);
      batch.forEach((entry, i) => assert.ok(parts[2 * i + 1] === entry, `entry ${i} is the stored buffer itself`));
    }
  }
});

Messages.run();
