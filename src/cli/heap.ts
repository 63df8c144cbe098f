/**
 * V8 settings of a canal-ts node process (`canal-ts server`, not the library; the decode
 * benchmark's runner applies them too, as it stands for the node's source thread).
 */
import { setFlagsFromString } from "node:v8";

/**
 * How much V8 lets the heap grow past what the last full GC left before it starts the next one:
 * 200% (the limit at 3x the live size) instead of V8's own factor, ~1.1-1.2 for this node.
 *
 * Why: V8 counts external memory allocated since the last full GC (the 1 MiB chunks the
 * entries are encoded into, socket read buffers) against the old generation's limit. The
 * node's JS heap is small (~17 MiB live) and its limit just above that, so every ~11 MiB of
 * entries and socket reads started another incremental mark-compact: 73 in one e2e benchmark run
 * (650k rows), each with concurrent marking and write barriers slowing the whole node. At 200%
 * there were 13, and the node's CPU fell by ~20% (see the commit message for the figures), its
 * peak RSS staying under 200 MiB. Pauses do not grow: a mark-compact's pause follows the live
 * heap, which is the same.
 *
 * Set at run time, for `canal-ts server` only (not for the library): the factor is read each
 * time V8 recomputes its limits, so it applies from the first full GC on, and to the source
 * threads, which start later. An operator's own
 * --heap-growing-percent (node flags or NODE_OPTIONS) is left alone.
 */
export const HEAP_GROWING_PERCENT = 200;

/** Applies the node's heap setting, unless the operator gave their own. */
export function tuneHeap(): void {
  const given = [...process.execArgv, process.env.NODE_OPTIONS ?? ""].some((arg) => /heap[-_]growing[-_]percent/.test(arg));
  if (!given) setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
}

