/**
 * `canal-ts tail` (src/cli/tail.ts): argument parsing, the two renderings, and runTail printing
 * JSON lines from a LIVE canal-ts server, acking only what it printed.
 */
import { Writable } from "node:stream";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { changesOf } from "../../src/client/changes.js";
import { changeJson, renderTransaction, transactionsOf } from "../../src/client/render.js";
import { parseTailArgs, runTail } from "../../src/cli/tail.js";
import { CanalConfigError } from "../../src/errors.js";
import { decodeEntry, encodeEntry, type Entry } from "../../src/protocol/index.js";
import { ddlEntry, deleteEntry, endEntry, insertEntry, transaction, updateEntry } from "./entries.js";
import { DESTINATION, startLiveServer } from "./live-server.js";

const decoded = (entries: Entry[]) => entries.map((e) => decodeEntry(encodeEntry(e)));

function configError(argv: string[], pattern: RegExp): void {
  assert.throws(() => parseTailArgs(argv), (err: unknown) => err instanceof CanalConfigError && pattern.test(err.message));
}

test("parses the tail arguments", () => {
  assert.equal(parseTailArgs(["example", "--server", "127.0.0.1:11111"]), { destination: "example", host: "127.0.0.1", port: 11111 });
  assert.equal(parseTailArgs(["example", "--zk", "127.0.0.1:2181/canal"]), { destination: "example", zk: "127.0.0.1:2181/canal" });
  assert.equal(
    parseTailArgs(["shop", "--server", "db.local:2000", "--user", "canal", "--password", "pw", "--filter", "shop\\..*", "--format", "json", "--batch-size", "50", "--client-id", "1002"]),
    { destination: "shop", host: "db.local", port: 2000, user: "canal", password: "pw", filter: "shop\\..*", format: "json", batchSize: 50, clientId: 1002 },
  );
});

test("invalid arguments are CanalConfigError naming the value and what was expected", () => {
  configError(["--server", "h:1"], /expected exactly one destination, got none/);
  configError(["a", "b", "--server", "h:1"], /expected exactly one destination, got "a", "b"/);
  configError(["example"], /expected exactly one of --server \(HOST:PORT of a Canal server\) or --zk \(ZooKeeper host:port,...\), got neither/);
  configError(["example", "--server", "h:1", "--zk", "z:2181"], /expected exactly one of --server .* or --zk .*, got both/);
  configError(["example", "--server", "localhost"], /--server in the command line: "localhost" has no port \(expected HOST:PORT/);
  configError(["example", "--server", "h:99999"], /"99999" is not a port/);
  configError(["example", "--server", "h:1", "--format", "yaml"], /--format in the command line: "yaml" is not a format \(expected table or json\)/);
  configError(["example", "--server", "h:1", "--batch-size", "0"], /--batch-size in the command line: "0" is out of range \(expected an integer 1–1000000\)/);
  configError(["example", "--server", "h:1", "--filter", "a(b"], /filter regex "a\(b" .* is invalid/);
  configError(["example", "--server", "h:1", "--bogus"], /tail: Unknown option '--bogus'/);
});

test("JSON lines carry values, key names and the columns an UPDATE changed", () => {
  const [update] = changesOf(decoded([updateEntry(500, [[{ id: 1, name: "tea" }, { id: 1, name: "coffee" }]])])[0]!);
  assert.equal(JSON.parse(changeJson(update!, 4)), {
    batch: 4,
    database: "test",
    table: "t1",
    type: "UPDATE",
    executeTime: 1700000000000,
    position: { file: "mysql-bin.000003", offset: 500 },
    key: "mysql-bin.000003:500/0",
    keys: ["id"],
    before: { id: "1", name: "tea" },
    after: { id: "1", name: "coffee" },
    updated: ["name"],
  });
  const [ddl] = changesOf(decoded([ddlEntry(800, "DROP TABLE t1")])[0]!);
  assert.is(JSON.parse(changeJson(ddl!, 5)).sql, "DROP TABLE t1");
});

test("transactions end at TRANSACTIONEND or after a DDL; one cut by the batch end is marked", () => {
  const groups = transactionsOf(
    decoded([insertEntry(100, [{ id: 1, name: "a" }]), endEntry(200, 7), ddlEntry(300, "ALTER TABLE t1 ADD c INT"), deleteEntry(400, [{ id: 1, name: "a" }])]),
  );
  assert.equal(groups.map((g) => [g.changes.map((c) => c.type), g.xid, g.complete]), [
    [["INSERT"], "7", true],
    [["ALTER"], undefined, true],
    [["DELETE"], undefined, false],
  ]);
});

test("the table rendering: a header per transaction, a table per run, old → new, NULL", () => {
  const [group] = transactionsOf(
    decoded([insertEntry(100, [{ id: 1, name: "tea" }, { id: 22, name: null }]), updateEntry(150, [[{ id: 1, name: "tea" }, { id: 1, name: "line\nbreak" }]]), endEntry(200, 7)]),
  );
  const text = renderTransaction(group!, 3, { color: false });
  assert.is(
    text,
    [
      "── mysql-bin.000003:100 · 2023-11-14 22:13:20.000 UTC · batch 3 · xid 7 · 3 changes ──",
      "INSERT test.t1",
      "  id │ name",
      "  1  │ tea",
      "  22 │ NULL",
      "UPDATE test.t1",
      "  id │ name",
      "  1  │ tea → line\\nbreak",
      "",
    ].join("\n"),
  );
  assert.match(renderTransaction(group!, 3, { color: true }), /\x1b\[32m/);
});

test("runTail prints JSON lines from a live server, acks after printing, and stops on abort", async () => {
  const server = await startLiveServer({ user: "canal", password: "canal" });
  try {
    server.put([...transaction(4, [{ id: 1, name: "a" }, { id: 2, name: "b" }], 1), ddlEntry(400, "ALTER TABLE t1 ADD c INT")]);
    const stop = new AbortController();
    const lines: string[] = [];
    let buffered = "";
    const out = new Writable({
      write(chunk, _encoding, callback) {
        buffered += String(chunk);
        const parts = buffered.split("\n");
        buffered = parts.pop()!;
        lines.push(...parts);
        if (lines.length >= 3) stop.abort();
        callback();
      },
    });
    const log: string[] = [];
    const done = runTail(
      { destination: DESTINATION, host: "127.0.0.1", port: server.port, user: "canal", password: "canal", format: "json", pollMs: 50, signal: stop.signal, log: (l) => log.push(l) },
      out,
    );
    const timer = setTimeout(() => stop.abort(), 5000);
    await done;
    clearTimeout(timer);
    const printed = lines.map((l) => JSON.parse(l) as { type: string; after?: { id: string }; sql?: string });
    assert.equal(printed.map((p) => p.type), ["INSERT", "INSERT", "ALTER"]);
    assert.equal(printed.map((p) => p.after?.id ?? p.sql), ["1", "2", "ALTER TABLE t1 ADD c INT"]);
    assert.match(log[0]!, /^connected to 127\.0\.0\.1:\d+, destination example$/);
    assert.is(log.length, 1, "no reconnect noise on a clean stop");
    // Stopped while printing: the batch was finished and acked before disconnecting.
    for (let i = 0; i < 100 && server.store.outstandingBatches(1001).length > 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(server.store.outstandingBatches(1001), []);
    assert.equal(server.problems, []);
  } finally {
    await server.close();
  }
});

test("runTail with wrong credentials rejects with the auth error", async () => {
  const server = await startLiveServer({ user: "canal", password: "canal" });
  try {
    const sink = new Writable({ write: (_c, _e, cb) => cb() });
    await runTail({ destination: DESTINATION, host: "127.0.0.1", port: server.port, user: "canal", password: "nope", log: () => {} }, sink).then(
      () => assert.unreachable("expected an auth error"),
      (err: unknown) => assert.match((err as Error).message, /auth failed for user:canal/),
    );
  } finally {
    await server.close();
  }
});

test.run();
