/**
 * Atomic, durable file writes (the standalone cursor file, meta.dat) in a thread of their own.
 *
 * Why a thread: a write is a temp file written and fsynced, renamed over the target, and the
 * directory fsynced. Through fs/promises that is nine trips to libuv's pool and back, 1.1-1.4 ms
 * and 0.6-0.9 ms of CPU per write on the 2-core VM; the same calls made synchronously take
 * 0.56 ms and 0.2 ms of CPU. An ack waits for its cursor's write before the client's next
 * request is served, so in the e2e benchmark (596 acks) the writes were ~0.8 s of a ~3.9 s run.
 * Synchronous calls on the main thread would stall every session and the ZooKeeper pings
 * behind a slow disk, so they run here, in one thread shared by the process, one write at a
 * time (each file's writes are already one at a time: CoalescedWrites).
 *
 * The thread is started on the first write and does not keep the process alive while idle.
 */
import type { Worker } from "node:worker_threads";
import { startOwnThread } from "../own-thread.js";

export interface WriteRequest {
  id: number;
  path: string;
  text: string;
  dirExists: boolean;
}

export interface WriteReply {
  id: number;
  /** The failed system call's message and errno code, as fs reports them. */
  error?: { message: string; code: string | undefined };
}

interface Pending {
  resolve(): void;
  reject(err: Error): void;
}

let thread: Worker | undefined;
const pending = new Map<number, Pending>();
let nextId = 1;

function writer(): Worker {
  if (thread !== undefined) return thread;
  const started = startOwnThread({ from: import.meta.url, source: "./thread", bundle: "durable-file-thread" });
  started.on("message", ({ id, error }: WriteReply) => {
    const request = pending.get(id);
    pending.delete(id);
    if (pending.size === 0) started.unref();
    if (error === undefined) request?.resolve();
    else request?.reject(Object.assign(new Error(error.message), { code: error.code }));
  });
  const fail = (err: Error) => {
    if (thread === started) thread = undefined;
    for (const request of pending.values()) request.reject(err);
    pending.clear();
  };
  started.on("error", fail);
  started.on("exit", (code) => fail(new Error(`the file-writing thread exited (code ${code})`)));
  return (thread = started);
}

/**
 * Writes `text` to `path` so that a crash (of the process or the machine) leaves the old file
 * or the new one, never part of one, and resolves once the new one is on disk: written to
 * `<path>.tmp`, fsynced, renamed over `path`, the directory fsynced. `dirExists` says that an
 * earlier write found the directory: then it is not made again (a recursive mkdir per ack cost
 * ~1% of the node's CPU in the e2e benchmark), unless the temp file cannot be created for want
 * of it (ENOENT: removed since). A directory made is synced in its parent. Rejects with the
 * failing call's error (its errno `code` kept).
 */
export function writeFileDurably(path: string, text: string, dirExists: boolean): Promise<void> {
  const worker = writer();
  const id = nextId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    worker.ref();
    worker.postMessage({ id, path, text, dirExists } satisfies WriteRequest);
  });
}
