import { suite } from "uvu";
import * as assert from "uvu/assert";
import { CanalConfigError } from "../../src/errors.js";
import { DEFAULT_MAX_FRAME_BYTES, encodeFrame, FrameDecoder, FrameReader } from "../../src/protocol/frame.js";
import { packets } from "../fixtures/canal-vectors.js";
import { concat, fromHex, hex, throwsProtocolError, withSeed } from "./helpers.js";

const Frame = suite("protocol/frame");

const bodies = [fromHex(packets.ackOk), fromHex(packets.handshake), new Uint8Array(0), fromHex(packets.get)];
const stream = concat(...bodies.map(encodeFrame));


Frame("encodes the header and body as one buffer (fact sheet §1.3 ACK frame)", () => {
  assert.is(hex(encodeFrame(fromHex(packets.ackOk))), packets.ackOkFrame);
});

Frame("reassembles frames fed one byte at a time, each as its last byte arrives", () => {
  const ends = new Set<number>();
  bodies.reduce((end, body) => (ends.add(end + 4 + body.length), end + 4 + body.length), 0);
  const decoder = new FrameDecoder();
  const out: Uint8Array[] = [];
  for (let i = 0; i < stream.length; i++) {
    const frames = decoder.push(stream.subarray(i, i + 1));
    assert.is(frames.length, ends.has(i + 1) ? 1 : 0, `frames emitted after byte ${i + 1}`);
    out.push(...frames);
  }
  assert.equal(out.map(hex), bodies.map(hex));
});

Frame("splits several frames coalesced in one chunk, without copying them", () => {
  const out = new FrameDecoder().push(stream);
  assert.equal(out.map(hex), bodies.map(hex));
  assert.is(out[0]!.buffer, stream.buffer, "a frame inside one chunk is a view of that chunk");
});

Frame("joins a frame split across three chunks, header split too", () => {
  const frame = encodeFrame(fromHex(packets.clientAuth));
  const decoder = new FrameDecoder();
  assert.equal(decoder.push(frame.subarray(0, 2)), []);
  assert.equal(decoder.push(frame.subarray(2, 30)), []);
  assert.equal(decoder.push(frame.subarray(30)).map(hex), [packets.clientAuth]);
});

Frame("keeps the start of the next frame after a complete one", () => {
  const decoder = new FrameDecoder();
  const cut = encodeFrame(bodies[0]!).length + 3;
  assert.equal(decoder.push(stream.subarray(0, cut)).map(hex), [hex(bodies[0]!)]);
  assert.equal(decoder.push(stream.subarray(cut)).map(hex), bodies.slice(1).map(hex));
});

Frame("emits a zero-length frame as an empty body", () => {
  const out = new FrameDecoder().push(fromHex("00000000"));
  assert.is(out.length, 1);
  assert.is(out[0]!.length, 0);
});

Frame("ignores empty chunks", () => {
  const decoder = new FrameDecoder();
  assert.equal(decoder.push(new Uint8Array(0)), []);
  assert.equal(decoder.push(encodeFrame(bodies[0]!)).map(hex), [hex(bodies[0]!)]);
});

Frame("rejects a length above the limit, naming the size and the limit, as soon as the header is in", () => {
  const decoder = new FrameDecoder({ maxFrameBytes: 16 });
  throwsProtocolError(() => decoder.push(fromHex("00000011")), /\b17\b.*\b16\b/);
  assert.is(new FrameDecoder({ maxFrameBytes: 17 }).push(concat(fromHex("00000011"), new Uint8Array(17))).length, 1);
});

Frame("rejects a negative length (2^31 or more, as Java reads it)", () => {
  throwsProtocolError(() => new FrameDecoder().push(fromHex("80000000")), /-2147483648.*negative/);
  throwsProtocolError(() => new FrameDecoder().push(fromHex("ffffffff")), /-1.*negative/);
});

Frame("applies the 256 MiB default limit", () => {
  assert.is(DEFAULT_MAX_FRAME_BYTES, 256 * 1024 * 1024);
  throwsProtocolError(() => new FrameDecoder().push(fromHex("10000001")), /268435457.*268435456/);
});

Frame("refuses an invalid limit with CanalConfigError", () => {
  assert.throws(() => new FrameDecoder({ maxFrameBytes: -1 }), (err: unknown) => err instanceof CanalConfigError);
  assert.throws(() => new FrameDecoder({ maxFrameBytes: 1.5 }), (err: unknown) => err instanceof CanalConfigError);
});

/** 1 to 20 frame bodies of random bytes, mostly short, up to `maxLength`. */
function randomBodies(random: () => number, maxLength: number): Uint8Array[] {
  return Array.from({ length: 1 + Math.floor(random() * 20) }, () =>
    Uint8Array.from({ length: Math.floor(random() ** 3 * maxLength) }, () => Math.floor(random() * 256)),
  );
}

Frame(
  "returns the same frames however a random stream is chunked",
  withSeed("frame chunking", (random) => {
    for (let round = 0; round < 200; round++) {
      const sent = randomBodies(random, 3000);
      const all = concat(...sent.map(encodeFrame));
      const decoder = new FrameDecoder();
      const received: Uint8Array[] = [];
      for (let pos = 0; pos < all.length; ) {
        const size = 1 + Math.floor(random() * random() * 5000);
        received.push(...decoder.push(all.subarray(pos, pos + size)));
        pos += size;
      }
      assert.equal(received.map(hex), sent.map(hex));
    }
  }),
);

/**
 * A socket reading `stream` through a FrameReader as Node's onread does: each read fills at
 * most `readSize()` bytes of the buffer the reader hands out. Returns the frames, and the size
 * of every buffer handed out.
 */
function readThrough(reader: FrameReader, stream: Uint8Array, readSize: () => number): { frames: Uint8Array[]; offered: number[] } {
  const frames: Uint8Array[] = [];
  const offered: number[] = [];
  for (let pos = 0; pos < stream.length; ) {
    const buffer = reader.readBuffer();
    offered.push(buffer.length);
    const n = Math.min(buffer.length, readSize(), stream.length - pos);
    buffer.set(stream.subarray(pos, pos + n));
    pos += n;
    frames.push(...reader.received(n));
  }
  return { frames, offered };
}

Frame("reader: small frames come out of one read as copies, the next read reusing the scratch buffer", () => {
  const reader = new FrameReader();
  const { frames } = readThrough(reader, stream, () => Infinity);
  assert.equal(frames.map(hex), bodies.map(hex));
  reader.readBuffer().fill(0xee);
  assert.equal(frames.map(hex), bodies.map(hex), "the frames are the caller's, not views of the scratch buffer");
});

Frame("reader: a frame larger than the scratch buffer is read straight into its own memory, never past its end", () => {
  const big = Uint8Array.from({ length: 200_000 }, (_, i) => i % 251);
  const all = concat(encodeFrame(bodies[1]!), encodeFrame(big), encodeFrame(bodies[0]!));
  const reader = new FrameReader();
  const { frames, offered } = readThrough(reader, all, () => 70_000);
  assert.equal(frames.map(hex), [hex(bodies[1]!), hex(big), hex(bodies[0]!)]);
  const header = 4 + bodies[1]!.length + 4;
  const rest = big.length - (65536 - header);
  assert.equal(offered, [65536, rest, rest - 70_000, 65536], "the rest of the big frame, each read where the last ended; then the scratch buffer again");
});

Frame("reader: lengths are checked as the FrameDecoder checks them", () => {
  const reader = new FrameReader({ maxFrameBytes: 16 });
  reader.readBuffer().set(fromHex("00000011"));
  throwsProtocolError(() => reader.received(4), /\b17\b.*\b16\b/);
  const negative = new FrameReader();
  negative.readBuffer().set(fromHex("ffffffff"));
  throwsProtocolError(() => negative.received(4), /-1.*negative/);
});

Frame(
  "reader: returns the same frames as the decoder however a random stream is read",
  withSeed("frame reading", (random) => {
    for (let round = 0; round < 100; round++) {
      const sent = randomBodies(random, 200_000);
      const { frames, offered } = readThrough(new FrameReader(), concat(...sent.map(encodeFrame)), () => 1 + Math.floor(random() * random() * 100_000));
      assert.equal(frames.map(hex), sent.map(hex));
      assert.ok(offered.every((size) => size > 0), "never an empty read buffer");
    }
  }),
);

Frame.run();
