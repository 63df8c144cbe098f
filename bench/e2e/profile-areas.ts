/**
 * The node's profile by stage of the data path, for the owners of each: binlog decode, the
 * event store, the sessions, and the socket writes of MESSAGES replies. Self time per module
 * (bench/decode/profile.ts) leaves Node's internals, a third of the time, unowned; here each
 * sample goes to the stage of its nearest caller in our code or a package we drive (a CRC
 * check under the decoder is decode, a socket write under a session is a write). Samples with
 * no such caller are GC, or the rest: socket reads before mysql2 sees the bytes, timers, the VM.
 */
import type { CpuProfile } from "../decode/profile.js";
import { moduleResolver } from "../decode/profile.js";

const STAGES: Array<[stage: string, modules: RegExp]> = [
  ["decode (binlog stream and source: events → entries)", /^(src\/protocol\/binlog\/|src\/actors\/(binlog-|transaction-buffer|schema-reader)|mysql2$)/],
  ["store (event store, destination, cursors)", /^src\/actors\/(event-store|store\/|destination|cursor-file)/],
  ["sessions (requests, MESSAGES replies, machine)", /^(src\/actors\/(session|canal-server)|src\/protocol\/|src\/machines\/|xstate$|protobufjs$)/],
];
const SOCKET_WRITES = "socket writes of replies (under a session)";
const GC = "garbage collector";
const REST = "rest (socket reads, timers, VM, start-up)";

/** Node's frames of a stream write, between a session's write() and the kernel. */
const WRITE_FRAME = /^(Socket\._writeGeneric|writeGeneric|handleWriteReq)$/;

/** Share of the non-idle samples per stage, in a fixed order. */
export function stagesOf(profile: CpuProfile, bundle: string): Array<{ stage: string; share: number }> {
  const moduleFor = moduleResolver(bundle);
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const child of n.children ?? []) parent.set(child, n.id);

  const stageOf = (id: number): string => {
    let writing = false;
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at)!.callFrame;
      if (frame.functionName === "(garbage collector)") return GC;
      writing ||= WRITE_FRAME.test(frame.functionName);
      const owner = STAGES.find(([, modules]) => modules.test(moduleFor(frame)))?.[0];
      if (owner !== undefined) return writing && owner === STAGES[2]![0] ? SOCKET_WRITES : owner;
    }
    return REST;
  };

  const hits = new Map<string, number>();
  let total = 0;
  for (const n of profile.nodes) {
    if (!n.hitCount || n.callFrame.functionName === "(idle)") continue;
    total += n.hitCount;
    const stage = stageOf(n.id);
    hits.set(stage, (hits.get(stage) ?? 0) + n.hitCount);
  }
  return [...STAGES.map(([stage]) => stage), SOCKET_WRITES, GC, REST].map((stage) => ({ stage, share: (hits.get(stage) ?? 0) / total }));
}
