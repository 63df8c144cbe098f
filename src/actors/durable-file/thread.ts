/**
 * The file-writing thread (durable-file.ts): writes files atomically and durably with
 * synchronous system calls, one request at a time, and answers each with its outcome.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { parentPort } from "node:worker_threads";
import type { WriteReply, WriteRequest } from "./durable-file.js";

const port = parentPort!;

port.on("message", ({ id, path, text, dirExists }: WriteRequest) => {
  try {
    writeAtomically(path, text, dirExists);
    port.postMessage({ id } satisfies WriteReply);
  } catch (err) {
    const { message, code } = err as NodeJS.ErrnoException;
    port.postMessage({ id, error: { message, code } } satisfies WriteReply);
  }
});

/** See writeFileDurably. */
function writeAtomically(path: string, text: string, dirExists: boolean): void {
  const dir = dirname(path);
  const created = dirExists ? undefined : mkdirSync(dir, { recursive: true });
  const temp = `${path}.tmp`;
  let fd: number;
  try {
    fd = openSync(temp, "w");
  } catch (err) {
    if (!dirExists || (err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    return writeAtomically(path, text, false);
  }
  try {
    writeFileSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, path);
  syncDirectory(dir);
  // A directory made just now is itself an entry of its parent.
  if (created !== undefined) syncDirectory(dirname(dir));
}

function syncDirectory(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
