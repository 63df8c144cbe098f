/**
 * Start by time against a real MariaDB: transactions stamped with chosen times (MariaDB writes
 * the session's `timestamp` into their events) in two binlog files, and the position found for
 * moments before, between, inside and after them must be where the right transaction begins.
 * A destination configured with `start.timestamp` (Canal's canal.instance.master.timestamp)
 * then delivers from there.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mysql from "mysql2/promise";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { findStartByTimestamp } from "../../src/actors/binlog-search.js";
import { CursorFile } from "../../src/actors/cursor-file.js";
import { Destination } from "../../src/actors/destination.js";
import { configFromFlags } from "../../src/config/index.js";
import { decodeEntry, decodeRowChange, EntryType } from "../../src/protocol/entry.js";
import { startMariaDB } from "../../src/testkit/index.js";

test("the position found for a moment is the start of the first transaction at or after it, across binlog files", async () => {
  const db = await startMariaDB();
  const sql = await mysql.createConnection({ host: db.host, port: db.port, user: db.user, password: db.password, multipleStatements: true });
  const dataDir = mkdtempSync(join(tmpdir(), "canal-search-"));
  try {
    await sql.query("CREATE DATABASE shop; CREATE TABLE shop.orders (id INT PRIMARY KEY)");
    const now = Math.floor(Date.now() / 1000);
    /** Commits id at `seconds` and returns where its transaction begins. */
    const commitAt = async (id: number, seconds: number) => {
      const [[status]] = (await sql.query("SHOW MASTER STATUS")) as unknown as [[{ File: string; Position: number }]];
      await sql.query(`SET timestamp = ${seconds}; INSERT INTO shop.orders VALUES (${id}); SET timestamp = DEFAULT`);
      return { file: status.File, position: Number(status.Position) };
    };
    // Times only go forward in a binlog: everything here is stamped after the set-up (about
    // now), and the second file is opened (its format description stamped) between the two pairs.
    const a = await commitAt(1, now + 1000);
    const b = await commitAt(2, now + 1500);
    await sql.query(`SET timestamp = ${now + 1800}; FLUSH BINARY LOGS; SET timestamp = DEFAULT`);
    const c = await commitAt(3, now + 2500);
    const d = await commitAt(4, now + 3000);
    assert.is.not(c.file, a.file, "two binlog files");
    const server = { host: db.host, port: db.port, user: db.user, password: db.password, serverId: 9001 };
    const at = (seconds: number) => findStartByTimestamp(server, seconds * 1000);

    assert.equal(await at(now + 500), a, "before the first: the first");
    assert.equal(await at(now + 1000), a, "its very second: included");
    assert.equal(await at(now + 1200), b, "between two transactions: the later one");
    assert.equal(await at(now + 1700), c, "after the last of a file: the first of the next");
    assert.equal(await at(now + 2700), d, "the file opened before the moment is searched, the one before it skipped");
    const [[end]] = (await sql.query("SHOW MASTER STATUS")) as unknown as [[{ File: string; Position: number }]];
    assert.equal(await at(now + 5000), { file: end.File, position: Number(end.Position) }, "after everything: the end of the binlog");

    // A destination without a cursor, configured to start at a time, delivers from there.
    const config = configFromFlags({ destination: "example", source: db.uri(), "data-dir": dataDir, filter: "shop\\..*", "start-timestamp": String((now + 1200) * 1000) }).config.destinations[0]!;
    const destination = await Destination.start({ config, cursors: await CursorFile.open(dataDir, "example") });
    try {
      assert.equal(destination.startPosition(), { start: { timestamp: (now + 1200) * 1000 }, from: "config" });
      await destination.subscribe(1001, "");
      const ids: number[] = [];
      const deadline = Date.now() + 15_000;
      while (ids.length < 3 && Date.now() < deadline) {
        const batch = await destination.store.get(1001, { batchSize: 100, timeoutMs: 200 });
        for (const bytes of batch?.entries ?? []) {
          const entry = decodeEntry(bytes);
          if (entry.entryType !== EntryType.ROWDATA) continue;
          for (const row of decodeRowChange(entry.storeValue!).rowDatas ?? []) ids.push(Number(row.afterColumns!.find((c) => c.name === "id")!.value));
        }
      }
      assert.equal(ids, [2, 3, 4], "from the first transaction at or after the moment, nothing before it");
    } finally {
      await destination.stop();
    }
  } finally {
    await sql.end();
    await db.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test.run();
