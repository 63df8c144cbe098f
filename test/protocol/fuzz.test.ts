/**
 * Random and mutated frames, packets and message bodies fed to every decoder: the only error
 * allowed out is CanalProtocolError, and every input is handled quickly. Seeded: a failure
 * prints FUZZ_SEED, and `FUZZ_SEED=<n> node --import tsx test/protocol/fuzz.test.ts` replays it.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { CanalProtocolError } from "../../src/errors.js";
import {
  decodeColumn,
  decodeEntry,
  decodeRowChange,
  decodeTransactionBegin,
  decodeTransactionEnd,
} from "../../src/protocol/entry.js";
import { encodeFrame, FrameDecoder } from "../../src/protocol/frame.js";
import { decodeAck, readAck } from "../../src/protocol/messages/ack.js";
import { decodeClientAck } from "../../src/protocol/messages/client-ack.js";
import { decodeClientAuth } from "../../src/protocol/messages/client-auth.js";
import { decodeClientRollback } from "../../src/protocol/messages/client-rollback.js";
import { decodeGet } from "../../src/protocol/messages/get.js";
import { decodeHandshake, readHandshake } from "../../src/protocol/messages/handshake.js";
import { decodeHeartBeat } from "../../src/protocol/messages/heartbeat.js";
import { decodeMessages, readMessagesReply } from "../../src/protocol/messages/messages.js";
import { decodeSub } from "../../src/protocol/messages/sub.js";
import { decodeUnsub } from "../../src/protocol/messages/unsub.js";
import { decodePacket } from "../../src/protocol/packet.js";
import { entries, packets } from "../fixtures/canal-vectors.js";
import { fromHex, hex, withSeed } from "./helpers.js";

const Fuzz = suite("protocol/fuzz");

const ITERATIONS = Number(process.env.FUZZ_ITERATIONS ?? 12_000);
/**
 * Slowest any single input may take. Decoding one of these inputs takes microseconds; the bound
 * is generous because test machines are shared and busy, and catches a decoder that loops or
 * backtracks. A decoder that never returns is stopped by the runner's per-file timeout.
 */
const MAX_MS_PER_INPUT = 2000;

// Most inputs are rejected, and capturing a stack for each of those errors would dominate the
// run time. Failures here are reported by input hex and seed, not by stack.
Error.stackTraceLimit = 0;

const decoders: [string, (bytes: Uint8Array) => unknown][] = [
  ["decodePacket", decodePacket],
  ["readHandshake", (b) => readHandshake(decodePacket(b))],
  ["readAck", (b) => readAck(decodePacket(b))],
  ["readMessagesReply", (b) => readMessagesReply(decodePacket(b))],
  ["decodeHandshake", decodeHandshake],
  ["decodeClientAuth", decodeClientAuth],
  ["decodeAck", decodeAck],
  ["decodeSub", decodeSub],
  ["decodeUnsub", decodeUnsub],
  ["decodeGet", decodeGet],
  ["decodeMessages", decodeMessages],
  ["decodeClientAck", decodeClientAck],
  ["decodeClientRollback", decodeClientRollback],
  ["decodeHeartBeat", decodeHeartBeat],
  ["decodeEntry", decodeEntry],
  ["decodeRowChange", decodeRowChange],
  ["decodeTransactionBegin", decodeTransactionBegin],
  ["decodeTransactionEnd", decodeTransactionEnd],
  ["decodeColumn", decodeColumn],
];

// Valid packets, their bodies and entries: mutations of valid input reach deeper than noise.
const corpus: Uint8Array[] = [
  ...Object.values(packets).map(fromHex),
  ...Object.values(packets).flatMap((p) => {
    try {
      return [decodePacket(fromHex(p)).body];
    } catch {
      return [];
    }
  }),
  ...Object.values(entries).map(fromHex),
  fromHex(packets.messagesRawPrefix + entries.transactionBegin),
];

function mutate(random: () => number): Uint8Array {
  const int = (n: number) => Math.floor(random() * n);
  const randomBytes = (n: number) => Uint8Array.from({ length: n }, () => int(256));
  const base = corpus[int(corpus.length)]!;
  const bytes = Array.from(base);
  switch (int(9)) {
    case 0: // pure noise
      return randomBytes(int(80));
    case 1: // truncation
      return base.subarray(0, int(base.length + 1));
    case 2: // bit flips
      for (let i = 1 + int(4); i > 0 && bytes.length > 0; i--) bytes[int(bytes.length)]! ^= 1 << int(8);
      break;
    case 3: // varint edge bytes
      for (let i = 1 + int(3); i > 0 && bytes.length > 0; i--) bytes[int(bytes.length)] = [0x00, 0x7f, 0x80, 0xff][int(4)]!;
      break;
    case 4: // insertion
      bytes.splice(int(bytes.length + 1), 0, ...randomBytes(1 + int(12)));
      break;
    case 5: // deletion
      bytes.splice(int(bytes.length + 1), 1 + int(8));
      break;
    case 6: // splice of two corpus items
      return Uint8Array.from([...base.subarray(0, int(base.length + 1)), ...corpus[int(corpus.length)]!.subarray(int(8))]);
    case 7: // a length prefix that lies
      bytes.splice(int(bytes.length + 1), 0, [0x0a, 0x12, 0x2a, 0x1a][int(4)]!, [0x7f, 0xff, 0x05, 0x00][int(4)]!);
      break;
    default: // duplicated range
      bytes.splice(int(bytes.length + 1), 0, ...bytes.slice(int(bytes.length), int(bytes.length + 1)));
  }
  return Uint8Array.from(bytes);
}

/** Runs `fn`; returns whether it succeeded; fails the test on any other error or a slow input. */
function survive(name: string, input: Uint8Array, fn: () => unknown, context: string): boolean {
  const started = performance.now();
  let ok = true;
  try {
    fn();
  } catch (err) {
    if (!(err instanceof CanalProtocolError)) {
      throw new Error(`${name} threw ${(err as Error)?.name ?? typeof err} on ${hex(input)} (${context}): ${String(err)}`, { cause: err });
    }
    ok = false;
  }
  const ms = performance.now() - started;
  if (ms > MAX_MS_PER_INPUT) throw new Error(`${name} took ${ms.toFixed(0)} ms on ${hex(input)} (${context})`);
  return ok;
}

Fuzz(
  `every decoder survives ${ITERATIONS} random and mutated inputs`,
  withSeed("decoder fuzz", (random) => {
    let decoded = 0;
    let rejected = 0;
    for (let i = 0; i < ITERATIONS; i++) {
      const input = mutate(random);
      for (const [name, decode] of decoders) {
        if (survive(name, input, () => decode(input), `iteration ${i}`)) decoded++;
        else rejected++;
      }
    }
    // Both outcomes must occur, or the mutations are not exercising the decoders.
    assert.ok(decoded > ITERATIONS, `decoded ${decoded}`);
    assert.ok(rejected > ITERATIONS, `rejected ${rejected}`);
  }),
);

Fuzz(
  `FrameDecoder and decodePacket survive ${ITERATIONS} frames in random chunks, with lying headers`,
  withSeed("frame fuzz", (random) => {
    const int = (n: number) => Math.floor(random() * n);
    let frames = 0;
    let streamErrors = 0;
    // Streams of well-framed mutated packets, now and then broken by a garbage header, until
    // ITERATIONS frames have come out (bounded, in case garbage cut every stream short).
    for (let streams = 0; frames < ITERATIONS && streams < ITERATIONS; streams++) {
      const parts = Array.from({ length: 1 + int(30) }, () =>
        random() < 0.02 ? Uint8Array.from({ length: 4 + int(8) }, () => int(256)) : encodeFrame(mutate(random)),
      );
      const stream = Uint8Array.from(parts.flatMap((p) => Array.from(p)));
      const decoder = new FrameDecoder({ maxFrameBytes: 4096 });
      for (let pos = 0; pos < stream.length; ) {
        const chunk = stream.subarray(pos, pos + 1 + int(int(2) === 0 ? 8 : 600));
        pos += chunk.length;
        let out: Uint8Array[] = [];
        if (!survive("FrameDecoder.push", chunk, () => (out = decoder.push(chunk)), `stream offset ${pos}`)) {
          streamErrors++;
          break; // a stream error ends the connection
        }
        for (const frame of out) {
          frames++;
          survive("decodePacket", frame, () => readMessagesReply(decodePacket(frame)), "framed");
        }
      }
    }
    assert.ok(frames >= ITERATIONS, `frames decoded ${frames}`);
    assert.ok(streamErrors > 0, "some garbage headers must have been rejected");
  }),
);

Fuzz.run();
