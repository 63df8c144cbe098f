/**
 * Decode run, the reference: @vlasky/zongji 0.9 with the event filter the baseline used (table
 * maps, rows, rotate, xid), every row decoded into a JS object, from offset 4 of the spec's
 * file to its closing Rotate.
 */
import ZongJi from "@vlasky/zongji";
import { type ReadOutcome, type RunSpec, runChild } from "./child.js";

async function read(spec: RunSpec): Promise<ReadOutcome> {
  const zongji = new ZongJi({ host: spec.host, port: spec.port, user: spec.user, password: spec.password });
  let rows = 0;
  let events = 0;
  let done = false;
  await new Promise<void>((resolve, reject) => {
    zongji.on("error", reject);
    zongji.on("binlog", (event) => {
      if (done) return; // events of the next file already in flight
      events++;
      if ("rows" in event) rows += event.rows.length; // an UPDATE's {before, after} is one
      if ("binlogName" in event && event.binlogName !== spec.file) {
        done = true;
        resolve();
      }
    });
    zongji.start({
      filename: spec.file,
      position: 4,
      serverId: spec.serverId,
      includeEvents: ["tablemap", "writerows", "updaterows", "deleterows", "rotate", "xid"],
    });
  });
  return { rows, events, outputBytes: 0, close: () => zongji.stop() };
}

runChild("zongji", read);
