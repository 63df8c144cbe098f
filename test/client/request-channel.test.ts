/**
 * Reply matching with fire-and-forget acks and rollbacks (src/client/request-channel.ts),
 * against a scripted server that, like Canal, answers a connection's packets in order and
 * sends nothing for a successful ack or rollback.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { RequestChannel, type PacketTransport } from "../../src/client/request-channel.js";
import { CanalProtocolError } from "../../src/errors.js";
import {
  decodeClientAck,
  decodeMessages,
  decodePacket,
  encodeAckFrame,
  encodeGetFrame,
  encodeGetReplyFrame,
  FRAME_HEADER_BYTES,
  PacketType,
  type Packet,
} from "../../src/protocol/index.js";

const identity = { destination: "example", clientId: "1001" };
const packetOf = (frame: Uint8Array): Packet => decodePacket(frame.subarray(FRAME_HEADER_BYTES));
const error = (code: number, message: string) => packetOf(encodeAckFrame({ errorCode: code, errorMessage: message }));
const FENCE_REPLY = error(402, "batchId should assign value");
const GET = encodeGetFrame({ ...identity, fetchSize: 10, timeout: -1, unit: 2, autoAck: false });

/** A server answering each request by `answer`; records every packet it received. */
function scriptedServer(answer: (packet: Packet) => Packet[]): PacketTransport & { received: Packet[] } {
  const queue: Packet[] = [];
  const received: Packet[] = [];
  return {
    received,
    async write(frame) {
      const packet = packetOf(frame);
      received.push(packet);
      queue.push(...answer(packet));
    },
    async read() {
      const next = queue.shift();
      if (next === undefined) throw new Error("the test server has nothing more to send");
      return next;
    },
  };
}

const batchReply = (id: number) => packetOf(encodeGetReplyFrame(id, [new Uint8Array([1, 2, 3])]));
const isFence = (p: Packet) => p.type === PacketType.CLIENTACK && decodeClientAck(p.body).batchId === 0;
const types = (packets: Packet[]) => packets.map((p) => (isFence(p) ? "fence" : p.type));

test("without acks in between, the first packet is the reply, error or not", async () => {
  const server = scriptedServer(() => [error(400, "should subscribe first")]);
  const channel = new RequestChannel(1, server, identity);
  const reply = await channel.request(GET, 1000);
  assert.is(reply.packet.type, PacketType.ACK);
  assert.equal(reply.late, []);
  assert.equal(types(server.received), [PacketType.GET]);
});

test("successful acks cost nothing: a MESSAGES reply ends the matching, no fence is sent", async () => {
  const server = scriptedServer((p) => (p.type === PacketType.GET ? [batchReply(3)] : []));
  const channel = new RequestChannel(1, server, identity);
  await channel.ack(1);
  await channel.rollback(0);
  const reply = await channel.request(GET, 1000);
  assert.is(decodeMessages(reply.packet.body).batchId, 3);
  assert.equal(reply.late, []);
  assert.equal(reply.unanswered, [{ type: "ack", batchId: 1 }, { type: "rollback", batchId: 0 }]);
  assert.equal(types(server.received), [PacketType.CLIENTACK, PacketType.CLIENTROLLBACK, PacketType.GET]);
});

test("a failed ack before a successful get: the error is late, the batch is the reply", async () => {
  const server = scriptedServer((p) => {
    if (isFence(p)) return [FENCE_REPLY];
    if (p.type === PacketType.CLIENTACK) return [error(400, "batchId:2 is not the firstly:1")];
    return [batchReply(3)];
  });
  const channel = new RequestChannel(1, server, identity);
  await channel.ack(2);
  const reply = await channel.request(GET, 1000);
  assert.is(decodeMessages(reply.packet.body).batchId, 3);
  assert.equal(reply.late, [{ code: 400, message: "batchId:2 is not the firstly:1" }]);
  assert.equal(types(server.received), [PacketType.CLIENTACK, PacketType.GET, "fence"]);
});

test("a successful ack before a failed get: the error is the get's own reply", async () => {
  const server = scriptedServer((p) => {
    if (isFence(p)) return [FENCE_REPLY];
    if (p.type === PacketType.CLIENTACK) return [];
    return [error(400, "should subscribe first")];
  });
  const channel = new RequestChannel(1, server, identity);
  await channel.ack(1);
  const reply = await channel.request(GET, 1000);
  assert.is(reply.packet.type, PacketType.ACK);
  assert.equal(reply.late, []);
});

test("two failed acks and a failed get are told apart, one error each", async () => {
  const server = scriptedServer((p) => {
    if (isFence(p)) return [FENCE_REPLY];
    if (p.type === PacketType.CLIENTACK) return [error(400, `ack ${decodeClientAck(p.body).batchId} failed`)];
    return [error(400, "get failed")];
  });
  const channel = new RequestChannel(1, server, identity);
  await channel.ack(4);
  await channel.ack(5);
  const reply = await channel.request(GET, 1000);
  assert.equal(reply.late.map((l) => l.message), ["ack 4 failed", "ack 5 failed"]);
  assert.is(reply.packet.type, PacketType.ACK);
});

test("the next request after a matched one starts clean", async () => {
  let acks = 0;
  const server = scriptedServer((p) => {
    if (isFence(p)) return [FENCE_REPLY];
    if (p.type === PacketType.CLIENTACK) return acks++ === 0 ? [error(400, "late")] : [];
    return [batchReply(9)];
  });
  const channel = new RequestChannel(1, server, identity);
  await channel.ack(1);
  assert.is((await channel.request(GET, 1000)).late.length, 1);
  const second = await channel.request(GET, 1000);
  assert.equal(second.late, []);
  assert.equal(second.unanswered, []);
});

test("a server that does not answer the fence with 402 is a protocol error, not a guess", async () => {
  const server = scriptedServer((p) => {
    if (p.type === PacketType.CLIENTACK) return [error(400, "ack rejected")];
    return [error(400, "get rejected")];
  });
  const channel = new RequestChannel(1, server, identity);
  await channel.ack(1);
  try {
    await channel.request(GET, 1000);
    assert.unreachable("expected a protocol error");
  } catch (err) {
    assert.instance(err, CanalProtocolError);
    assert.match((err as Error).message, /fence/);
  }
});

test("batch ids are outstanding from receipt until acked or rolled back", async () => {
  const channel = new RequestChannel(2, scriptedServer(() => []), identity);
  channel.received(-1);
  assert.is(channel.isOutstanding(-1), false);
  for (const id of [1, 2, 3]) channel.received(id);
  await channel.ack(1);
  assert.is(channel.isOutstanding(1), false);
  await channel.rollback(2);
  assert.is(channel.isOutstanding(2), false);
  assert.is(channel.isOutstanding(3), true);
  await channel.rollback(0);
  assert.is(channel.isOutstanding(3), false);
});

test.run();
