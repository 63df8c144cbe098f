import { test } from "uvu";
import * as assert from "uvu/assert";
import { asciiEnd, copyAscii, copyRange, equalRanges, viewOf } from "../../../src/protocol/binlog/byte-copy.js";
import { ValueBytes } from "../../../src/protocol/binlog/value-bytes.js";

/** Bytes 0..255 repeated, in a buffer that starts at an odd offset of its ArrayBuffer (as socket chunks may). */
function sample(n: number): Buffer {
  const backing = Buffer.alloc(n + 3);
  for (let i = 0; i < backing.length; i++) backing[i] = (i * 37 + 11) & 0xff;
  return backing.subarray(3);
}

test("copyRange copies every length across the word loop and the native threshold, at any alignment", () => {
  const src = sample(1200);
  const dst = Buffer.alloc(1300);
  const dstView = new DataView(dst.buffer, dst.byteOffset, dst.byteLength);
  for (const length of [0, 1, 3, 4, 5, 8, 15, 16, 31, 127, 255, 256, 257, 1000]) {
    for (const [start, at] of [[0, 0], [1, 7], [3, 2], [5, 5]] as const) {
      dst.fill(0xee);
      const end = copyRange(src, viewOf(src), start, start + length, dst, dstView, at);
      assert.is(end, at + length);
      assert.ok(dst.subarray(at, at + length).equals(src.subarray(start, start + length)), `length ${length} from ${start} to ${at}`);
      assert.is(dst[at + length], 0xee, "nothing written past the range");
      if (at > 0) assert.is(dst[at - 1], 0xee, "nothing written before the range");
    }
  }
});

test("copyAscii copies like copyRange and tells whether the bytes are all below 0x80, in the word loop and natively", () => {
  const dst = Buffer.alloc(2100);
  const dstView = new DataView(dst.buffer, dst.byteOffset, dst.byteLength);
  for (const length of [0, 1, 3, 4, 5, 100, 511, 512, 600, 2000]) {
    const text = Buffer.alloc(length + 2, 0x61).subarray(1, length + 1);
    const copy = (at: number) => {
      dst.fill(0xee);
      const ascii = copyAscii(text, viewOf(text), 0, length, dst, dstView, at);
      assert.ok(dst.subarray(at, at + length).equals(text), `copied ${length} bytes to ${at}`);
      assert.is(dst[at + length], 0xee, "nothing written past the range");
      return ascii;
    };
    assert.ok(copy(0), `all ASCII, ${length} bytes`);
    for (const at of [0, 1, 3, 4, 5, length >> 1, length - 1]) {
      if (at < 0 || at >= length) continue;
      text[at] = 0x80;
      assert.not.ok(copy(3), `high byte at ${at} of ${length}`);
      text[at] = 0x61;
    }
  }
});

test("asciiEnd finds the first byte ≥ 0x80 in short and long ranges (the native path from 512 bytes)", () => {
  for (const length of [0, 1, 4, 7, 100, 511, 512, 600, 2000]) {
    const text = Buffer.alloc(length + 2, 0x61).subarray(1, length + 1);
    assert.is(asciiEnd(text, 0, length), length, `all ASCII, ${length} bytes`);
    for (const at of [0, 1, 3, 4, 5, length >> 1, length - 1]) {
      if (at < 0 || at >= length) continue;
      text[at] = 0xc3;
      assert.is(asciiEnd(text, 0, length), at, `high byte at ${at} of ${length}`);
      assert.is(asciiEnd(text, Math.min(at + 1, length), length), length, "scanning from past it");
      text[at] = 0x61;
    }
  }
});

test("equalRanges compares ranges of one buffer", () => {
  const buf = Buffer.from("abcdefghij-abcdefghij-abcdefghiX");
  const view = viewOf(buf);
  assert.ok(equalRanges(buf, view, 0, 11, 10));
  assert.ok(equalRanges(buf, view, 0, 22, 9));
  assert.not.ok(equalRanges(buf, view, 0, 22, 10));
  assert.not.ok(equalRanges(buf, view, 0, 1, 3));
  assert.ok(equalRanges(buf, view, 5, 16, 0));
});

test("ValueBytes writes integers, padded digits and digit pairs as String and padStart do", () => {
  const out = new ValueBytes(8); // grows as it goes
  const written = (write: () => void) => {
    out.reset();
    write();
    return out.scratch.toString("latin1", 0, out.pos);
  };
  const values = [0, 1, 9, 10, 99, 100, 12345, 2 ** 31 - 1, 2 ** 31, 1e8 - 1, 1e8, 1e9, 987654321012, 2 ** 53 - 1];
  let seed = 7;
  for (let i = 0; i < 2000; i++) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    values.push(Math.floor((seed / 2 ** 31) * 10 ** (i % 16)));
  }
  for (const n of values) {
    assert.is(written(() => out.digits(n)), String(n));
    assert.is(written(() => out.integer(-n)), n === 0 ? "0" : `-${n}`);
    const width = String(n).length + (n % 3);
    assert.is(written(() => out.padded(n, width)), String(n).padStart(width, "0"));
  }
  for (let n = 0; n < 100; n++) assert.is(written(() => out.twoDigits(n)), String(n).padStart(2, "0"));
  assert.is(written(() => out.threePairs(7, 58, 0, 59)), "07:00:59");
  assert.is(written(() => out.date(905, 1, 31)), "0905-01-31");
  assert.is(written(() => out.dateTime(2024, 12, 3, 0, 59, 7)), "2024-12-03 00:59:07");
  assert.is(written(() => out.fraction(5, 6)), ".000005");
});

test.run();
