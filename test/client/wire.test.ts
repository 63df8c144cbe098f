/**
 * What the connector puts on the wire is what Canal's Java client sends: the golden vectors of
 * the fact sheet (§1.3, §1.5), recorded by a scripted server on 127.0.0.1 that answers like
 * Canal (handshake with seed 01..08, empty ACKs, a raw MESSAGES reply, nothing for ack and
 * rollback).
 */
import { once } from "node:events";
import { createServer, type Server } from "node:net";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { CanalConnector } from "../../src/client/connector.js";
import { TypedEmitter } from "../../src/client/emitter.js";
import { encodeAckFrame, encodeGetReplyFrame, encodeHandshakeFrame, FrameDecoder, PacketType, decodePacket } from "../../src/protocol/index.js";
import { entries, packets, SEED_HEX } from "../fixtures/canal-vectors.js";
import { fromHex, hex } from "../protocol/helpers.js";

/** Records every request body (hex, without the frame header) and answers as Canal would. */
async function recordingServer(): Promise<{ server: Server; port: number; received: string[]; settled: (count: number) => Promise<void> }> {
  const received: string[] = [];
  const server = createServer((socket) => {
    const decoder = new FrameDecoder();
    socket.write(encodeHandshakeFrame(fromHex(SEED_HEX)));
    socket.on("data", (chunk) => {
      for (const frame of decoder.push(chunk)) {
        received.push(hex(frame));
        const { type } = decodePacket(frame);
        if (type === PacketType.CLIENTAUTHENTICATION || type === PacketType.SUBSCRIPTION || type === PacketType.UNSUBSCRIPTION) socket.write(encodeAckFrame());
        if (type === PacketType.GET) socket.write(encodeGetReplyFrame(5, [fromHex(entries.transactionBegin)]));
      }
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  /** Waits (bounded) until `count` requests arrived: acks and rollbacks get no reply to wait for. */
  const settled = async (count: number) => {
    for (let i = 0; i < 100 && received.length < count; i++) await new Promise((r) => setTimeout(r, 10));
  };
  return { server, port, received, settled };
}

test("auth, subscribe, get, ack and rollback are byte for byte the Java client's", async () => {
  const { server, port, received, settled } = await recordingServer();
  try {
    const connector = new CanalConnector({ host: "127.0.0.1", port, destination: "example", username: "canal", password: "canal" });
    await connector.connect();
    await connector.subscribe();
    const batch = await connector.getWithoutAck(100);
    assert.is(batch.id, 5);
    assert.is(hex(batch.raw[0]!), entries.transactionBegin);
    await batch.ack();
    await connector.rollback();
    await settled(6);
    await connector.disconnect();
    assert.equal(received, [
      packets.clientAuth,
      packets.clientRollbackAll, // rollbackOnConnect
      packets.sub,
      packets.get,
      packets.clientAck,
      packets.clientRollbackAll,
    ]);
  } finally {
    server.close();
  }
});

test("a null password sends none; unsubscribe is Canal's UNSUB", async () => {
  const { server, port, received } = await recordingServer();
  try {
    const connector = new CanalConnector({ host: "127.0.0.1", port, destination: "example", rollbackOnConnect: false });
    await connector.connect();
    await connector.unsubscribe();
    await connector.disconnect();
    assert.equal(received, [packets.clientAuthAnonymous, packets.unsub]);
  } finally {
    server.close();
  }
});

test("the typed emitter: listeners in order, removable, and one that throws does not stop the others", async () => {
  class Emitter extends TypedEmitter<{ tick: number }> {
    fire(n: number) {
      this.emit("tick", n);
    }
  }
  const emitter = new Emitter();
  const seen: string[] = [];
  const remove = emitter.on("tick", (n) => seen.push(`a${n}`));
  const removeBuggy = emitter.on("tick", () => {
    throw new Error("listener bug");
  });
  emitter.once("tick", (n) => seen.push(`once${n}`));
  const uncaught = new Promise<unknown>((resolve) => process.once("uncaughtException", resolve));
  emitter.fire(1);
  remove();
  removeBuggy();
  emitter.fire(2);
  assert.equal(seen, ["a1", "once1"]);
  assert.match(String(await uncaught), /listener bug/);
});

test.run();
