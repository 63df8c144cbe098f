/**
 * Fuzzing a LIVE server: thousands of random, malformed and mutated frames on many connections
 * (bounded in count and time) while a well-behaved client on another connection keeps getting
 * and acking its batches. The server must stay up, serve the good client throughout, and close
 * each session whose stream is malformed with a logged reason, never any other.
 *
 * The generator is seeded; a failure prints the seed (FUZZ_SEED=<n> reproduces it, and
 * FUZZ_VERBOSE=1 prints the server's counters after the run).
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { encodeClientAck } from "../../src/protocol/messages/client-ack.js";
import { encodeClientAuth } from "../../src/protocol/messages/client-auth.js";
import { encodeClientRollback } from "../../src/protocol/messages/client-rollback.js";
import { encodeGet, TimeUnit } from "../../src/protocol/messages/get.js";
import { decodeHandshake } from "../../src/protocol/messages/handshake.js";
import { decodeMessages } from "../../src/protocol/messages/messages.js";
import { encodeSub } from "../../src/protocol/messages/sub.js";
import { encodeUnsub } from "../../src/protocol/messages/unsub.js";
import { encodePacket, PacketType } from "../../src/protocol/packet.js";
import { scramble411 } from "../../src/protocol/scramble.js";
import { prng } from "../../src/testkit/prng.js";
import { eventually, fill, RawClient, startServer, transaction, type LiveServer } from "./session-kit.js";

const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
const CONNECTIONS = 240;
const CONCURRENT = 24;
const FRAMES_PER_CONNECTION = 24;
const DEADLINE_MS = 60_000;

/** Seeded picks of mutations. */
function picker(seed: number) {
  const next = prng(seed);
  const int = (n: number) => Math.floor(next() * n);
  const bytes = (n: number) => Uint8Array.from({ length: n }, () => int(256));
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
  return { int, bytes, pick };
}
const rand = picker(SEED);

// ---- frames -----------------------------------------------------------------------------------------

const frame = (body: Uint8Array) => {
  const out = new Uint8Array(4 + body.length);
  new DataView(out.buffer).setInt32(0, body.length);
  out.set(body, 4);
  return out;
};
const request = (type: number, body: Uint8Array) => encodePacket({ type, body });

/** Well-formed requests against the fuzz destination: the material mutations start from. */
const templates: Array<{ type: number; body: Uint8Array }> = [
  { type: PacketType.SUBSCRIPTION, body: encodeSub({ destination: "fuzz", clientId: "7", filter: ".*\\..*" }) },
  { type: PacketType.UNSUBSCRIPTION, body: encodeUnsub({ destination: "fuzz", clientId: "7", filter: "" }) },
  { type: PacketType.GET, body: encodeGet({ destination: "fuzz", clientId: "7", fetchSize: 10, timeout: 5, unit: TimeUnit.MILLISECONDS, autoAck: false }) },
  { type: PacketType.GET, body: encodeGet({ destination: "fuzz", clientId: "7", fetchSize: 10, timeout: -1 }) },
  { type: PacketType.CLIENTACK, body: encodeClientAck({ destination: "fuzz", clientId: "7", batchId: 1 }) },
  { type: PacketType.CLIENTROLLBACK, body: encodeClientRollback({ destination: "fuzz", clientId: "7", batchId: 0 }) },
  { type: PacketType.HEARTBEAT, body: new Uint8Array([8, 1, 16, 2]) },
];
const templatePackets = templates.map((t) => request(t.type, t.body));

function mutate(bytes: Uint8Array): Uint8Array {
  const out = Uint8Array.from(bytes);
  switch (rand.int(5)) {
    case 0: // flip a few bits
      for (let i = rand.int(4) + 1; i > 0 && out.length > 0; i--) out[rand.int(out.length)]! ^= 1 << rand.int(8);
      return out;
    case 1: // truncate
      return out.subarray(0, rand.int(out.length + 1));
    case 2: // overwrite a byte with an extreme value (varint continuation, odd wire types)
      if (out.length > 0) out[rand.int(out.length)] = rand.pick([0x00, 0x7f, 0x80, 0xff]);
      return out;
    case 3: // append garbage
      return Uint8Array.from([...out, ...rand.bytes(rand.int(16) + 1)]);
    default: // splice two
      return Uint8Array.from([...out.subarray(0, rand.int(out.length + 1)), ...rand.pick(templatePackets)]);
  }
}

/**
 * A frame a session survives (its Packet decodes; what is inside may be anything): a request
 * with a mutated body, any packet type with random bytes, or a well-formed request.
 */
function survivableFrame(): Uint8Array {
  switch (rand.int(4)) {
    case 0: {
      const t = rand.pick(templates);
      return frame(request(t.type, mutate(t.body)));
    }
    case 1:
      return frame(request(rand.int(20), rand.bytes(rand.int(48))));
    case 2:
      return frame(encodePacket({ type: rand.pick(templates).type, body: rand.pick(templates).body, version: rand.int(3) }));
    default:
      return frame(rand.pick(templatePackets));
  }
}

/** A frame that may end the session: an outer mutation, random bytes, or a broken length (`closes`). */
function riskyFrame(): { bytes: Uint8Array; closes: boolean } {
  switch (rand.int(5)) {
    case 0:
      return { bytes: frame(mutate(rand.pick(templatePackets))), closes: false };
    case 1:
      return { bytes: frame(rand.bytes(rand.int(64))), closes: false };
    case 2: // a length beyond the server's request limit
      return { bytes: Uint8Array.from([0x7f, rand.int(256), rand.int(256), rand.int(256), 1, 2, 3]), closes: true };
    case 3: // a negative length
      return { bytes: Uint8Array.from([0x80 | rand.int(128), rand.int(256), rand.int(256), rand.int(256)]), closes: true };
    default: // unframed bytes: their first four are the length
      return { bytes: mutate(rand.pick(templatePackets)), closes: false };
  }
}

// ---- the run ----------------------------------------------------------------------------------------

let live: LiveServer;

test.before(async () => {
  live = await startServer({ closeGraceMs: 200 });
});
test.after(async () => {
  await live.server.close();
});

/** The well-behaved client: get (wait up to 20 ms) and ack, until told to stop. */
async function goodClient(stop: { now: boolean }): Promise<{ entries: number; batches: number; lastBatchId: number }> {
  const client = await RawClient.connect(live.server.port);
  const seed = decodeHandshake((await client.next()).body).seeds;
  client.sendPacket(request(PacketType.CLIENTAUTHENTICATION, encodeClientAuth({ username: "canal", password: new TextEncoder().encode(scramble411("canal", seed)) })));
  assert.is((await client.next()).type, PacketType.ACK);
  client.sendPacket(request(PacketType.SUBSCRIPTION, encodeSub({ destination: "example", clientId: "1001", filter: "" })));
  assert.is((await client.nextBody()).length, 4, "subscribe ACK ok");
  const seen = { entries: 0, batches: 0, lastBatchId: 0 };
  while (!stop.now) {
    client.sendPacket(request(PacketType.GET, encodeGet({ destination: "example", clientId: "1001", fetchSize: 50, timeout: 20, unit: TimeUnit.MILLISECONDS })));
    const reply = await client.next(5000);
    assert.is(reply.type, PacketType.MESSAGES, "the good client only ever gets MESSAGES");
    const { batchId, messages } = decodeMessages(reply.body);
    if (batchId === -1) continue;
    assert.is(batchId, seen.lastBatchId + 1, "batch ids follow each other");
    seen.lastBatchId = batchId;
    seen.batches++;
    seen.entries += messages.length;
    client.sendPacket(request(PacketType.CLIENTACK, encodeClientAck({ destination: "example", clientId: "1001", batchId })));
  }
  client.close();
  return seen;
}

/**
 * One fuzz connection: failed and mutated auths, usually a good auth, a run of frames a session
 * survives (reaching every post-auth path), then often one frame that may or must end it.
 */
async function fuzzConnection(): Promise<{ port: number; mustClose: boolean; closed: boolean }> {
  const client = await RawClient.connect(live.server.port);
  const port = client.socket.localPort!;
  let mustClose = false;
  const seed = decodeHandshake((await client.next()).body).seeds;
  const auth = (password: string) => request(PacketType.CLIENTAUTHENTICATION, encodeClientAuth({ username: "canal", password: new TextEncoder().encode(scramble411(password, seed)) }));
  for (let i = rand.int(3); i > 0; i--) client.sendPacket(auth("wrong"));
  if (rand.int(10) > 0) client.sendPacket(auth("canal"));
  for (let i = 0; i < FRAMES_PER_CONNECTION; i++) client.sendRaw(survivableFrame());
  if (rand.int(2) === 0) {
    const risky = riskyFrame();
    client.sendRaw(risky.bytes);
    mustClose = risky.closes;
  }
  const closed = await client.closedWithin(mustClose ? 3000 : 50);
  client.close();
  return { port, mustClose, closed };
}

test(`fuzz (seed ${SEED}): the server stays up, the good client keeps receiving, each malformed session closes with a logged reason`, async () => {
  const example = live.host.add("example", { bufferSize: 4096 });
  const fuzzDestination = live.host.add("fuzz");
  fill(fuzzDestination.store, transaction(3));
  // Feed the good client's destination throughout the run.
  const feeder = setInterval(() => example.store.putAll(transaction(5)), 5);
  const stop = { now: false };
  const good = goodClient(stop);

  const started = Date.now();
  const results: Array<{ port: number; mustClose: boolean; closed: boolean }> = [];
  let launched = 0;
  const worker = async () => {
    while (launched < CONNECTIONS && Date.now() - started < DEADLINE_MS) {
      launched++;
      results.push(await fuzzConnection());
    }
  };
  await Promise.all(Array.from({ length: CONCURRENT }, worker));
  const entriesDuringFuzz = example.store.stats().ackSequence;
  stop.now = true;
  const seen = await good;
  clearInterval(feeder);
  // Let the last sessions finish closing (and log why).
  assert.ok(await eventually(() => live.server.stats().connectionsOpen === 0, 5000), "every fuzz session closed");

  const where = `seed ${SEED}`;
  assert.is(results.length, CONNECTIONS, `all fuzz connections ran within the deadline (${where})`);
  assert.ok(seen.batches > 10 && entriesDuringFuzz > 50, `the good client kept receiving: ${seen.batches} batches (${where})`);
  const stats = live.server.stats();
  assert.ok(Object.values(stats.packets).reduce((a, b) => a + b, 0) > 2000, `thousands of frames: ${JSON.stringify(stats.packets)}`);

  // Every connection that sent a broken length was closed by the server, and its log says why.
  const malformedLogs = live.logs.filter((r) => r.fields.cause === "malformed");
  for (const r of results.filter((x) => x.mustClose)) {
    assert.ok(r.closed, `connection from port ${r.port} was closed (${where})`);
    const log = malformedLogs.find((l) => String(l.fields.remote).endsWith(`:${r.port}`));
    assert.ok(log, `a logged reason for port ${r.port} (${where})`);
    assert.match(log!.msg, /malformed frame: .+/);
  }
  assert.ok(results.filter((x) => x.mustClose).length > 30, "many sessions were malformed");
  // No session was closed for an application error, and nothing failed unexpectedly.
  assert.equal(live.logs.filter((r) => r.level === "error"), [], `no unexpected errors (${where})`);
  for (const cause of Object.keys(stats.closes)) assert.ok(["malformed", "peer", "socket", "auth"].includes(cause), `close cause ${cause}`);

  if (process.env.FUZZ_VERBOSE) console.log(JSON.stringify(stats), JSON.stringify(seen));
  // The server still accepts and serves a new client.
  const after = await RawClient.connect(live.server.port);
  assert.is((await after.next()).type, PacketType.HANDSHAKE);
  after.close();
});

test.run();
