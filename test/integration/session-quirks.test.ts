/**
 * The Canal session quirks (canal-facts.md §1.3–§1.7, §11.1–§11.6, §11.20, §11.24) against a
 * LIVE server on 127.0.0.1, a real EventStore holding real Entry bytes, driven by raw frames:
 * the bytes a Java client sends, the bytes it must get back.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { StoreEntry } from "../../src/actors/event-store.js";
import { encodeAck } from "../../src/protocol/messages/ack.js";
import { encodeClientAck } from "../../src/protocol/messages/client-ack.js";
import { encodeClientAuth, type ClientAuth } from "../../src/protocol/messages/client-auth.js";
import { encodeClientRollback } from "../../src/protocol/messages/client-rollback.js";
import { encodeGet, TimeUnit, type Get } from "../../src/protocol/messages/get.js";
import { decodeHandshake } from "../../src/protocol/messages/handshake.js";
import { decodeMessages, encodeRawMessagesFrame } from "../../src/protocol/messages/messages.js";
import { encodeSub } from "../../src/protocol/messages/sub.js";
import { encodeUnsub } from "../../src/protocol/messages/unsub.js";
import { encodePacket, PacketType, type Packet } from "../../src/protocol/packet.js";
import { scramble411 } from "../../src/protocol/scramble.js";
import { entries as entryVectors, packets, SEED_HEX } from "../fixtures/canal-vectors.js";
import { eventually, fill, hex, RawClient, sleep, startServer, transaction, unhex, type LiveServer } from "./session-kit.js";

// ---- the Java client's requests ---------------------------------------------------------------------

const request = (type: number, body: Uint8Array) => encodePacket({ type, body });

/** ClientAuth exactly as SimpleCanalConnector builds it (§1.3): user, hex token, both timeouts. */
function javaClientAuth(seed: Uint8Array, password = "canal", extra: Partial<ClientAuth> = {}): Uint8Array {
  return request(
    PacketType.CLIENTAUTHENTICATION,
    encodeClientAuth({
      username: "canal",
      password: new TextEncoder().encode(scramble411(password, seed)),
      netReadTimeout: 3_600_000,
      netWriteTimeout: 3_600_000,
      ...extra,
    }),
  );
}
const sub = (destination: string, clientId = "1001", filter = "") => request(PacketType.SUBSCRIPTION, encodeSub({ destination, clientId, filter }));
const unsub = (destination: string, clientId = "1001") => request(PacketType.UNSUBSCRIPTION, encodeUnsub({ destination, clientId, filter: "" }));
/** GET as the Java client sends it (timeout -1 unless given, unit ms, auto_ack false). */
const get = (destination: string, fetchSize: number, more: Partial<Get> = {}) =>
  request(PacketType.GET, encodeGet({ destination, clientId: "1001", fetchSize, timeout: -1, unit: TimeUnit.MILLISECONDS, autoAck: false, ...more }));
const ack = (destination: string, batchId: number, clientId = "1001") => request(PacketType.CLIENTACK, encodeClientAck({ destination, clientId, batchId }));
const rollback = (destination: string, batchId = 0, clientId = "1001") =>
  request(PacketType.CLIENTROLLBACK, encodeClientRollback({ destination, clientId, batchId }));

const ACK_OK = hex(encodePacket({ version: 1, type: PacketType.ACK, body: encodeAck() }));
const errorAck = (code: number, message: string) => hex(encodePacket({ version: 1, type: PacketType.ACK, body: encodeAck({ errorCode: code, errorMessage: message }) }));
const EMPTY_GET_REPLY = packets.messagesEmpty;

// ---- fixtures ---------------------------------------------------------------------------------------

let live: LiveServer;
const clients: RawClient[] = [];

async function open(): Promise<{ client: RawClient; seed: Uint8Array; handshake: Packet }> {
  const client = await RawClient.connect(live.server.port);
  clients.push(client);
  const handshake = await client.next();
  return { client, seed: decodeHandshake(handshake.body).seeds, handshake };
}

/** A connection past auth, subscribed to `destination` as 1001 when given. */
async function session(destination?: string): Promise<RawClient> {
  const { client, seed } = await open();
  client.sendPacket(javaClientAuth(seed));
  assert.is(hex(await client.nextBody()), ACK_OK, "auth accepted");
  if (destination !== undefined) {
    client.sendPacket(sub(destination));
    assert.is(hex(await client.nextBody()), ACK_OK, `subscribed to ${destination}`);
  }
  return client;
}

test.before.each(async () => {
  live = await startServer();
});

test.after.each(async () => {
  for (const c of clients.splice(0)) c.close();
  await live.server.close();
});

// ---- handshake and auth -----------------------------------------------------------------------------

test("handshake: version 1, type HANDSHAKE, 8 random seed bytes, a new seed per connection", async () => {
  const a = await open();
  const b = await open();
  assert.is(a.handshake.version, 1);
  assert.is(a.handshake.type, PacketType.HANDSHAKE);
  assert.is(a.seed.length, 8);
  assert.is.not(hex(a.seed), hex(b.seed));
  // Nothing but the seed: byte-identical to Canal's handshake apart from the seed itself.
  assert.is(hex(encodePacket(a.handshake)), packets.handshake.replace("0102030405060708", hex(a.seed)));
});

test("auth: the Java client's ClientAuth bytes are accepted with the right password hash", async () => {
  // The builder reproduces the fact sheet's vector exactly for its seed...
  assert.is(hex(javaClientAuth(unhex(SEED_HEX))), packets.clientAuth);
  // ...and the live server accepts the same bytes made with its own seed.
  const { client, seed } = await open();
  client.sendPacket(javaClientAuth(seed));
  assert.is(hex(await client.nextBody()), packets.ackOk);
});

test("auth: a wrong password gets Canal's error Ack, the connection stays, and a second correct auth succeeds", async () => {
  const { client, seed } = await open();
  client.sendPacket(javaClientAuth(seed, "wrong"));
  assert.is(hex(await client.nextBody()), packets.ackAuthFailed);
  assert.is(await client.closedWithin(150), false, "still open after a failed auth");
  client.sendPacket(javaClientAuth(seed));
  assert.is(hex(await client.nextBody()), ACK_OK);
});

test("auth: an anonymous ClientAuth (the fact sheet's bytes) passes a server without user and password", async () => {
  await live.server.close();
  live = await startServer({ user: "", passwordHash: "" });
  const { client } = await open();
  client.sendPacket(packets.clientAuthAnonymous);
  assert.is(hex(await client.nextBody()), ACK_OK);
});

test("auth: the first packet is read as ClientAuth whatever its type (a SUB's destination becomes the username)", async () => {
  const { client } = await open();
  client.sendPacket(packets.sub);
  assert.is(hex(await client.nextBody()), errorAck(400, "auth failed for user:example"));
});

test("auth: ClientAuth carrying destination and clientId also subscribes", async () => {
  const d = live.host.add("example");
  const { client, seed } = await open();
  client.sendPacket(javaClientAuth(seed, "canal", { destination: "example", clientId: "1001" }));
  assert.is(hex(await client.nextBody()), ACK_OK);
  assert.ok(d.isSubscribed(1001));
});

// ---- get / ack / rollback ---------------------------------------------------------------------------

test("get: a non-empty batch is the raw MESSAGES path without version, byte for byte", async () => {
  const d = live.host.add("example");
  const begin = unhex(entryVectors.transactionBegin);
  const entry: StoreEntry = { ...transaction(0)[0]!, bytes: begin };
  fill(d.store, [entry]);
  const client = await session("example");
  client.sendPacket(packets.get);
  const body = await client.nextBody();
  // The fact sheet's raw frame for batch 1 and the §2.6 TRANSACTIONBEGIN entry.
  assert.is(hex(body), packets.messagesRawPrefix + entryVectors.transactionBegin);
});

test("get: many entries come back as stored, in order, under batch 1; an empty store answers batch -1 with version 1", async () => {
  const d = live.host.add("example");
  const entries = transaction(3);
  fill(d.store, entries);
  const client = await session("example");
  client.sendPacket(get("example", 100));
  const body = await client.nextBody();
  assert.is(hex(body), hex(encodeRawMessagesFrame(1, entries.map((e) => e.bytes)).subarray(4)));
  client.sendPacket(get("example", 100));
  assert.is(hex(await client.nextBody()), EMPTY_GET_REPLY);
});

test("ack: no reply; the cursor moves to the batch's transaction end; ack of -1 is ignored silently", async () => {
  const d = live.host.add("example");
  const entries = transaction(2);
  fill(d.store, entries);
  const client = await session("example");
  client.sendPacket(get("example", 100));
  await client.nextBody();
  client.sendPacket(ack("example", 1));
  client.sendPacket(ack("example", -1));
  await client.expectSilence();
  assert.is(d.cursors.get(1001)?.offset, entries.at(-1)!.offset);
  assert.equal(d.store.outstandingBatches(1001), []);
});

test("entries acked by another client are not released while a reply holding them is still being written", async () => {
  // A node's source writes over released entries: so does this destination, with 0xee.
  const entries: StoreEntry[] = Array.from({ length: 202 }, (_, i) => ({
    ...transaction(0)[0]!,
    kind: "rows",
    bytes: new Uint8Array(128 * 1024).fill(i % 200),
  }));
  const released: number[] = [];
  const d = live.host.add("example", {
    maxBytes: 64 * 1024 * 1024,
    onReleased: (count) => {
      for (const e of entries.slice(0, count)) e.bytes.fill(0xee);
      released.push(count);
    },
  });
  fill(d.store, entries);
  const sent = entries.map((e) => hex(e.bytes));
  const reader = await session("example");
  // 25 MiB for a client that does not read: most of it waits in the node's socket queue.
  reader.socket.pause();
  reader.sendPacket(get("example", 200));
  await sleep(200);
  const other = await session();
  other.sendPacket(sub("example", "1002"));
  assert.is(hex(await other.nextBody()), ACK_OK);
  other.sendPacket(get("example", 2, { clientId: "1002" }));
  assert.is(decodeMessages((await other.next()).body).batchId, 1);
  other.sendPacket(ack("example", 1, "1002"));
  await other.expectSilence();
  assert.equal(released, [], "the ack freed all 202 entries, but 200 of them are still being written to the first client");
  reader.socket.resume();
  const reply = decodeMessages((await reader.next(20_000)).body);
  assert.equal(reply.messages.map(hex), sent.slice(0, 200), "the first client reads every entry as it was");
  assert.ok(await eventually(() => released.at(-1) === 202), `written: all released (${released})`);
});

test("rollback: no reply, and the next get returns the same entries under a new batch id", async () => {
  const d = live.host.add("example");
  const entries = transaction(2);
  fill(d.store, entries);
  const client = await session("example");
  client.sendPacket(get("example", 100));
  const first = decodeMessages((await client.next()).body);
  client.sendPacket(rollback("example"));
  await client.expectSilence();
  client.sendPacket(get("example", 100));
  const again = decodeMessages((await client.next()).body);
  assert.is(first.batchId, 1);
  assert.is(again.batchId, 2);
  assert.equal(again.messages.map(hex), first.messages.map(hex));
});

test("ack out of order: no reply of its own; its error Ack is what the client reads as the reply to its NEXT request", async () => {
  const d = live.host.add("example");
  fill(d.store, [...transaction(1), ...transaction(1)]);
  const client = await session("example");
  client.sendPacket(get("example", 3));
  client.sendPacket(get("example", 3));
  assert.is(decodeMessages((await client.next()).body).batchId, 1);
  assert.is(decodeMessages((await client.next()).body).batchId, 2);
  // Written at once, like Canal; a Java client reads nothing after an ack, so the error is
  // the first frame it reads after its next request.
  client.sendPacket(ack("example", 2));
  client.sendPacket(get("example", 3));
  assert.is(hex(await client.nextBody()), errorAck(400, "batchId:2 is not the firstly:1"));
  assert.is(hex(await client.nextBody()), EMPTY_GET_REPLY, "then the GET's own reply");
});

test("ack 0 → 402 and ack of an unknown batch → 400, each read as the next reply; the connection stays", async () => {
  live.host.add("example");
  const client = await session("example");
  client.sendPacket(ack("example", 0));
  client.sendPacket(get("example", 10));
  assert.is(hex(await client.nextBody()), errorAck(402, "batchId should assign value"));
  assert.is(hex(await client.nextBody()), EMPTY_GET_REPLY);
  client.sendPacket(ack("example", 7));
  client.sendPacket(get("example", 10));
  assert.is(hex(await client.nextBody()), errorAck(400, "ack error , clientId:1001 batchId:7 is not exist , please check"));
  assert.is(hex(await client.nextBody()), EMPTY_GET_REPLY);
});

test("get with no timeout field waits for a FULL batch; a timeout > 0 returns what is there when it expires", async () => {
  const d = live.host.add("example");
  fill(d.store, transaction(1)); // 3 entries
  const client = await session("example");
  client.sendPacket(request(PacketType.GET, encodeGet({ destination: "example", clientId: "1001", fetchSize: 5 })));
  await client.expectSilence(200);
  fill(d.store, transaction(0)); // 2 more: now a full batch of 5
  assert.is(decodeMessages((await client.next()).body).messages.length, 5);

  fill(d.store, transaction(1));
  const started = Date.now();
  client.sendPacket(get("example", 50, { timeout: 150, unit: TimeUnit.MILLISECONDS }));
  assert.is(decodeMessages((await client.next()).body).messages.length, 3);
  assert.ok(Date.now() - started >= 140, "waited for the timeout");
});

test("get: auto_ack is ignored, the batch stays outstanding until acked", async () => {
  const d = live.host.add("example");
  fill(d.store, transaction(1));
  const client = await session("example");
  client.sendPacket(get("example", 10, { autoAck: true }));
  assert.is(decodeMessages((await client.next()).body).batchId, 1);
  assert.equal(d.store.outstandingBatches(1001), [1]);
});

// ---- request errors ---------------------------------------------------------------------------------

test("subscribe to an unknown destination: 400 should start first, no side effects, the connection stays", async () => {
  live.host.add("example");
  const client = await session();
  client.sendPacket(sub("nope"));
  assert.is(hex(await client.nextBody()), errorAck(400, "destination:nope should start first"));
  assert.equal([...live.host.served.keys()], ["example"]);
  client.sendPacket(sub("example"));
  assert.is(hex(await client.nextBody()), ACK_OK);
});

test("401 for an empty destination or clientId, on every request type", async () => {
  live.host.add("example");
  const client = await session("example");
  const missing = errorAck(401, "destination or clientId is null");
  for (const packet of [sub(""), sub("example", ""), unsub(""), get("", 10), ack("", 1), rollback("example", 0, "")]) {
    client.sendPacket(packet);
    assert.is(hex(await client.nextBody()), missing);
  }
});

test("a clientId Java's Short.parseShort rejects is a 400 naming it; the connection stays", async () => {
  live.host.add("example");
  const client = await session();
  client.sendPacket(sub("example", "abc"));
  const reply = await client.next();
  assert.is(reply.type, PacketType.ACK);
  assert.match(new TextDecoder().decode(reply.body), /clientId "abc"/);
  client.sendPacket(sub("example", "40000"));
  assert.match(new TextDecoder().decode((await client.next()).body), /clientId "40000"/);
  client.sendPacket(sub("example", "+1001"));
  assert.is(hex(await client.nextBody()), ACK_OK, "Java accepts a leading +");
});

test("get or ack before subscribing: should subscribe first; rollback before subscribing is silently ignored", async () => {
  live.host.add("example");
  const client = await session();
  client.sendPacket(rollback("example"));
  await client.expectSilence();
  client.sendPacket(get("example", 10));
  assert.is(hex(await client.nextBody()), errorAck(400, "ClientIdentity:example/1001 should subscribe first"));
});

test("unsubscribe answers ACK ok; afterwards get says should subscribe first", async () => {
  live.host.add("example");
  const client = await session("example");
  client.sendPacket(packets.unsub);
  assert.is(hex(await client.nextBody()), ACK_OK);
  client.sendPacket(packets.get);
  assert.is(hex(await client.nextBody()), errorAck(400, "ClientIdentity:example/1001 should subscribe first"));
});

test("unsupported packet types get 400 NOT supported and the connection stays", async () => {
  const client = await session();
  for (const [type, name] of [[PacketType.HEARTBEAT, "HEARTBEAT"], [PacketType.DUMP, "DUMP"], [PacketType.CLIENTAUTHENTICATION, "CLIENTAUTHENTICATION"], [99, "UNRECOGNIZED"]] as const) {
    client.sendPacket(request(type, new Uint8Array()));
    assert.is(hex(await client.nextBody()), errorAck(400, `packet type: ${name} is NOT supported!`));
  }
  assert.is(await client.closedWithin(100), false);
});

test("a request body that does not decode is a 400; the connection stays", async () => {
  const client = await session();
  client.sendPacket(request(PacketType.SUBSCRIPTION, unhex("0a05616263")));
  const reply = await client.next();
  assert.is(reply.type, PacketType.ACK);
  assert.match(new TextDecoder().decode(reply.body), /cannot decode Sub/);
  assert.is(await client.closedWithin(100), false);
});

// ---- concurrency, idle, close -----------------------------------------------------------------------

test("a blocking GET holds later packets of its own connection, and never another connection", async () => {
  const blocked = live.host.add("example");
  const other = live.host.add("other");
  fill(blocked.store, transaction(0)); // 2 entries; the GET wants 4
  fill(other.store, transaction(1));
  const a = await session("example");
  const b = await session("other");
  a.sendPacket(request(PacketType.GET, encodeGet({ destination: "example", clientId: "1001", fetchSize: 4 })));
  a.sendPacket(request(PacketType.HEARTBEAT, new Uint8Array()));
  b.sendPacket(get("other", 100));
  assert.is(decodeMessages((await b.next()).body).messages.length, 3, "the other connection is served");
  await a.expectSilence(100);
  fill(blocked.store, transaction(0));
  assert.is((await a.next()).type, PacketType.MESSAGES, "the GET's reply comes first");
  assert.is(hex(await a.nextBody()), errorAck(400, "packet type: HEARTBEAT is NOT supported!"), "then the held packet's");
});

test("backpressure: GETs of a client that does not read wait for the socket to drain, then all arrive in order", async () => {
  const d = live.host.add("example", { maxBytes: 64 * 1024 * 1024 });
  const big = transaction(60).map((e) => ({ ...e, bytes: new Uint8Array(256 * 1024).fill(7) }));
  fill(d.store, big);
  const client = await session("example");
  client.socket.pause();
  for (let i = 0; i < big.length; i++) client.sendPacket(get("example", 1));
  await sleep(300);
  const stalled = live.server.stats().batches;
  assert.ok(stalled < big.length, `served ${stalled} of ${big.length} while the client read nothing`);
  client.socket.resume();
  for (let i = 1; i <= big.length; i++) assert.is(decodeMessages((await client.next(5000)).body).batchId, i);
  assert.is(live.server.stats().batches, big.length);
});

test("idle: the ClientAuth timeouts are milliseconds; an idle connection is closed with a logged reason", async () => {
  const { client, seed } = await open();
  client.sendPacket(javaClientAuth(seed, "canal", { netReadTimeout: 150, netWriteTimeout: 150 }));
  assert.is(hex(await client.nextBody()), ACK_OK);
  assert.ok(await client.closedWithin(2000), "closed by the server");
  assert.ok(await eventually(() => live.logs.some((r) => r.fields.cause === "idle" && /nothing (read|written) for \d+ ms/.test(r.msg))));
});

test("a malformed frame closes only its own session, with a logged reason", async () => {
  live.host.add("example");
  const good = await session("example");
  const { client: oversize } = await open();
  oversize.sendRaw(unhex("7fffffff00"));
  const { client: garbage } = await open();
  garbage.sendPacket(unhex("ffffffffff"));
  assert.ok(await oversize.closedWithin(2000));
  assert.ok(await garbage.closedWithin(2000));
  good.sendPacket(get("example", 10));
  assert.is(hex(await good.nextBody()), EMPTY_GET_REPLY);
  assert.ok(await eventually(() => live.logs.filter((r) => r.fields.cause === "malformed").length === 2));
  const reasons = live.logs.filter((r) => r.fields.cause === "malformed").map((r) => r.msg);
  assert.is(reasons.length, 2);
  assert.ok(reasons.some((m) => /exceeds the limit/.test(m)), reasons.join("; "));
  assert.ok(reasons.some((m) => /cannot decode Packet/.test(m)), reasons.join("; "));
});

test("close(): cancels a pending GET, closes every session, and resolves once the sockets are gone", async () => {
  live.host.add("example");
  const client = await session("example");
  client.sendPacket(request(PacketType.GET, encodeGet({ destination: "example", clientId: "1001", fetchSize: 10 })));
  await sleep(50);
  await live.server.close();
  assert.ok(await client.closedWithin(500));
  assert.is(live.server.stats().connectionsOpen, 0);
});

test("stats count packets, batches, errors and closes", async () => {
  const d = live.host.add("example");
  fill(d.store, transaction(1));
  const client = await session("example");
  client.sendPacket(get("example", 10));
  await client.nextBody();
  client.sendPacket(get("example", 10));
  await client.nextBody();
  client.sendPacket(ack("example", 0));
  client.sendPacket(request(PacketType.HEARTBEAT, new Uint8Array()));
  await client.nextBody();
  await client.nextBody();
  const stats = live.server.stats();
  assert.equal(stats.packets, { CLIENTAUTHENTICATION: 1, SUBSCRIPTION: 1, GET: 2, CLIENTACK: 1, HEARTBEAT: 1 });
  assert.is(stats.batches, 1);
  assert.is(stats.entriesOut, 3);
  assert.is(stats.emptyBatches, 1);
  assert.equal(stats.errors, { 400: 1, 402: 1 });
  assert.is(stats.getLatency.count, 2);
  assert.ok(stats.bytesOut > 0 && stats.bytesIn > 0);
  client.close();
  assert.ok(await eventually(() => live.server.stats().connectionsOpen === 0));
  assert.equal(live.server.stats().closes, { peer: 1 });
});

test.run();
