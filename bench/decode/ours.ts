/**
 * Decode run, our source: BinlogStream (mysql2 login, our replication command and event
 * decoder) feeding EntryWriter, from offset 4 of the spec's file to its closing Rotate, with the
 * node's V8 heap setting (src/cli/heap.ts), which its source threads run with.
 */
import { BinlogStream } from "../../src/actors/binlog-stream.js";
import { tuneHeap } from "../../src/cli/heap.js";
import { type ReadOutcome, type RunSpec, runChild } from "./child.js";
import { EntrySink } from "./ours-sink.js";

tuneHeap();

async function read(spec: RunSpec): Promise<ReadOutcome> {
  const sink = new EntrySink();
  let events = 0;
  let stream: BinlogStream | undefined;
  await new Promise<void>((resolve, reject) => {
    BinlogStream.open({
      host: spec.host,
      port: spec.port,
      user: spec.user,
      password: spec.password,
      serverId: spec.serverId,
      start: { file: spec.file, position: 4 },
      reconnect: false,
      onEvent(event) {
        events++;
        sink.accept(event);
        // The dump's first, artificial Rotate names this file; the closing one names the next.
        if (event.kind === "rotate" && event.rotate.nextFile !== spec.file) resolve();
      },
      onError: reject,
    }).then((s) => (stream = s), reject);
  });
  return { rows: sink.rows, events, outputBytes: sink.outputBytes, close: () => stream?.close() };
}

runChild("ours", read);
