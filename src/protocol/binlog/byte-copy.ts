/**
 * Copying and scanning short byte ranges, the entry writer's most frequent operations.
 *
 * Measured on the project's 2-core machines (Node 20): a native copy (`Buffer#copy`,
 * `set(subarray())`) costs ~180-220 ns whatever its length, because Node's copy makes a view
 * per call; a plain byte loop costs ~3-4 ns a byte; a loop moving 4 bytes at a time through
 * DataViews (which TurboFan compiles to plain unaligned loads and stores) ~0.85 ns a byte. So
 * ranges up to a few hundred bytes go word by word, and only longer ones through native code.
 */
import { isAscii } from "node:buffer";

/** From this length on, a native call is faster than the word loop (measured: ~220-250 bytes). */
const NATIVE_COPY_MIN = 256;
/** From this length on, simdutf's `isAscii` is faster than the word scan (measured: ~300 bytes). */
const NATIVE_SCAN_MIN = 512;

/** A buffer with the DataView the word loops read and write it through. */
export interface ViewedBytes {
  readonly bytes: Uint8Array;
  readonly view: DataView;
}

export function viewed(bytes: Uint8Array): ViewedBytes {
  return { bytes, view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength) };
}

// The view of the last source buffer asked for: the row image being walked, the same for
// every value of a rows event.
let lastSource: Uint8Array | undefined;
let lastSourceView: DataView | undefined;

/** A DataView over `buf`, made once for a run of calls on the same buffer. */
export function viewOf(buf: Uint8Array): DataView {
  if (buf !== lastSource) {
    lastSourceView = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    lastSource = buf;
  }
  return lastSourceView!;
}

/** Copies `src[start, end)` to `dst` at `p` (`dstView` over `dst`); returns the end. */
export function copyRange(src: Uint8Array, srcView: DataView, start: number, end: number, dst: Uint8Array, dstView: DataView, p: number): number {
  if (end - start >= NATIVE_COPY_MIN) {
    dst.set(src.subarray(start, end), p);
    return p + end - start;
  }
  let k = start;
  // Two words a turn (the loop's own checks cost as much as a word's load and store), read and
  // written little-endian: the bytes land in the same order, without byte swaps on x86.
  for (; k + 8 <= end; k += 8, p += 8) {
    dstView.setUint32(p, srcView.getUint32(k, true), true);
    dstView.setUint32(p + 4, srcView.getUint32(k + 4, true), true);
  }
  if (k + 4 <= end) {
    dstView.setUint32(p, srcView.getUint32(k, true), true);
    k += 4;
    p += 4;
  }
  for (; k < end; k++) dst[p++] = src[k]!;
  return p;
}

/**
 * copyRange that also tells whether every byte copied is below 0x80: text is checked while it
 * is copied instead of scanned first and copied after (the scan and the copy were ~4% and ~7%
 * of the decode benchmark's profile; one pass saves the scan's loads and loop).
 */
export function copyAscii(src: Uint8Array, srcView: DataView, start: number, end: number, dst: Uint8Array, dstView: DataView, p: number): boolean {
  if (end - start >= NATIVE_SCAN_MIN) {
    dst.set(src.subarray(start, end), p);
    return isAscii(src.subarray(start, end));
  }
  let high = 0;
  let k = start;
  // As in copyRange: two words a turn, little-endian.
  for (; k + 8 <= end; k += 8, p += 8) {
    const first = srcView.getUint32(k, true);
    const second = srcView.getUint32(k + 4, true);
    high |= first | second;
    dstView.setUint32(p, first, true);
    dstView.setUint32(p + 4, second, true);
  }
  if (k + 4 <= end) {
    const word = srcView.getUint32(k, true);
    high |= word;
    dstView.setUint32(p, word, true);
    k += 4;
    p += 4;
  }
  for (; k < end; k++) high |= dst[p++] = src[k]!;
  return (high & 0x80808080) === 0;
}

/** The offset of the first byte ≥ 0x80 in `src[start, end)`, or `end` when it is all ASCII. */
export function asciiEnd(src: Uint8Array, start: number, end: number): number {
  let i = start;
  if (end - start >= NATIVE_SCAN_MIN && isAscii(src.subarray(start, end))) return end;
  const view = viewOf(src);
  while (i + 4 <= end && (view.getUint32(i) & 0x80808080) === 0) i += 4;
  while (i < end && src[i]! < 0x80) i++;
  return i;
}

/** Whether `buf[a, a + n)` and `buf[b, b + n)` hold the same bytes (`view` over `buf`). */
export function equalRanges(buf: Uint8Array, view: DataView, a: number, b: number, n: number): boolean {
  let k = 0;
  for (; k + 4 <= n; k += 4) if (view.getUint32(a + k) !== view.getUint32(b + k)) return false;
  for (; k < n; k++) if (buf[a + k] !== buf[b + k]) return false;
  return true;
}
