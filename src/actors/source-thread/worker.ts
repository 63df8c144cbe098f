/**
 * The binlog source's thread: runs a BinlogSource (connection, decode, entries) and posts what
 * it hands on to the main thread, packed (packed-batches.ts). Batches handed on in one turn of
 * the event loop go out as one message, or sooner once a message holds FLUSH_BYTES.
 *
 * The thread starts idle and begins with the `start` message, so that a thread started ahead
 * (a spare: threaded-source.ts) has its modules loaded when a destination needs it.
 *
 * Entry chunks are shared memory from a pool (chunk-pool.ts): a message carries its rows
 * entries as ranges of them, the main thread reads them there until it releases the message
 * (its entries acked and written), and the chunks are used again.
 *
 * Flow control: at most MAX_IN_FLIGHT messages are posted and not yet handed on by the main
 * thread; beyond that, or while the consumer said "full", the source is told "full" and stops
 * reading the binlog socket until both clear. So the messages between the threads stay bounded
 * as the store does.
 */
import { parentPort } from "node:worker_threads";
import { BinlogSource } from "../binlog-source.js";
import { type FromSourceThread, type SourceSnapshot, type ThreadSourceOptions, type ToSourceThread, sendError } from "./messages.js";
import { ChunkPool } from "./chunk-pool.js";
import { BatchPacker } from "./packed-batches.js";

const FLUSH_BYTES = 1 << 20;
const MAX_IN_FLIGHT = 4;
/** How often the position and counters reach the main thread when no batch carries them. */
const SNAPSHOT_MS = 250;

const port = parentPort!;
const packer = new BatchPacker();
const chunks = new ChunkPool();
let source: BinlogSource | undefined;
let inFlight = 0;
let consumerFull = false;
let flushScheduled = false;
let stopping = false;
let lastSnapshot = "";

function post(message: FromSourceThread, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer);
}

function snapshot(): SourceSnapshot {
  return { position: source?.position, stats: source?.stats };
}

function blocked(): boolean {
  return consumerFull || inFlight >= MAX_IN_FLIGHT;
}

function flush(): void {
  flushScheduled = false;
  if (packer.empty || stopping) return;
  const packed = packer.take();
  chunks.sent(packed.segments.filter((segment) => segment.buffer instanceof SharedArrayBuffer));
  inFlight++;
  post({ type: "batches", packed, ...snapshot() }, packed.transfer);
}

/** Posts the position and counters when they changed since the last message that carried them. */
function postSnapshot(): void {
  if (source === undefined || stopping) return;
  const now = snapshot();
  const text = JSON.stringify(now);
  if (text === lastSnapshot) return;
  lastSnapshot = text;
  post({ type: "snapshot", ...now });
}

function onMessage(message: ToSourceThread): void {
  switch (message.type) {
    case "start":
      starting = start(message.options);
      return;
    case "taken":
      inFlight--;
      break;
    case "released":
      // Nothing reads these messages' entries any more: their chunks may be free.
      chunks.releasedMessages(message.messages);
      return;
    case "full":
      consumerFull = true;
      return;
    case "resume":
      consumerFull = false;
      break;
    case "setFilter":
      source?.setFilter(message.regex);
      return;
    case "stop":
      void stop();
      return;
  }
  if (!blocked()) source?.resume();
}

async function stop(): Promise<void> {
  stopping = true;
  clearInterval(snapshots);
  await (await starting?.catch(() => undefined))?.stop();
  post({ type: "stopped" });
  port.close();
}

let starting: Promise<BinlogSource> | undefined;
let snapshots: NodeJS.Timeout | undefined;
port.on("message", onMessage);

function start(options: ThreadSourceOptions): Promise<BinlogSource> {
  snapshots = setInterval(postSnapshot, SNAPSHOT_MS);
  const startup = BinlogSource.start({
    ...options,
    allocateChunk: chunks.allocate,
    onBatch: (batch) => {
      packer.add(batch);
      if (packer.bytes >= FLUSH_BYTES) flush();
      else if (!flushScheduled) {
        flushScheduled = true;
        setImmediate(flush);
      }
      return blocked() ? "full" : "ok";
    },
    onError: (err) => {
      flush();
      post({ type: "error", error: sendError(err) });
    },
    onStatus: (status) => {
      flush();
      post({ type: "status", status });
    },
  });
  startup.then(
    (started) => {
      source = started;
      if (!stopping) post({ type: "started", ...snapshot() });
    },
    (err: unknown) => {
      clearInterval(snapshots);
      post({ type: "startFailed", error: sendError(err) });
      port.close();
    },
  );
  return startup;
}
