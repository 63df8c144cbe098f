/**
 * The JetStream sink against a real MariaDB and a real nats-server with JetStream, in a
 * standalone node: Canal's flat-message JSON for DDL, INSERT, UPDATE and DELETE (the shape of
 * alibaba/canal MQMessageUtils.messageConverter written by fastjson2 with WriteNulls), subjects
 * per table, Nats-Msg-Id from the idempotency key, and a full replay from the start of the
 * binlog that JetStream drops as duplicates.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import mysql from "mysql2/promise";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { standaloneAdmin } from "../../src/actors/nats/admin.js";
import { NodeMetrics } from "../../src/actors/ops/metrics.js";
import { standaloneView } from "../../src/actors/ops/node-view.js";
import { StandaloneNode } from "../../src/actors/standalone-node.js";
import type { LogRecord } from "../../src/actors/session.js";
import { parseConfigText } from "../../src/config/index.js";
import { freePort, startMariaDB, startNats } from "../../src/testkit/index.js";
import { parseMetrics } from "../../src/testkit/metrics.js";
import { makeTempDir, removeDir } from "../../src/testkit/process.js";
import { readStream, streamCount, until } from "./sink-kit.js";

/** fastjson2 writes FlatMessage's properties in alphabetical order, nulls included. */
const CANAL_KEYS = ["data", "database", "es", "gtid", "id", "isDdl", "mysqlType", "old", "pkNames", "sql", "sqlType", "table", "ts", "type"];

/** The sink's counters as the node's status and metrics show them. */
async function sinkFigures(node: StandaloneNode) {
  const status = await standaloneAdmin(node, "test").status();
  const metrics = new NodeMetrics({ nodeId: "sinktest" });
  metrics.attach(standaloneView(node, new Set()));
  const m = parseMetrics(await metrics.render());
  return {
    status: status.destinations[0]!.sink,
    stored: m.value("canal_ts_sink_messages_total", { destination: "shop", outcome: "stored" }),
    duplicates: m.value("canal_ts_sink_messages_total", { destination: "shop", outcome: "duplicate" }),
    publishing: m.value("canal_ts_sink_state", { destination: "shop", state: "publishing" }),
  };
}

async function startNode(yaml: string, logs: LogRecord[]): Promise<StandaloneNode> {
  const { config } = parseConfigText(yaml, "sink-test.yaml", { cwd: process.cwd() });
  return StandaloneNode.start({ config, log: (r) => logs.push(r) });
}

test("flat messages for DDL, INSERT, UPDATE and DELETE, one per row, subjects per table; a full replay is dropped as duplicates", async () => {
  await using db = await startMariaDB();
  await using nats = await startNats();
  const dir = makeTempDir("sink-shape");
  const sql = await mysql.createConnection({ host: db.host, port: db.port, user: db.user, password: db.password, multipleStatements: true });
  const logs: LogRecord[] = [];
  let node: StandaloneNode | undefined;
  try {
    await sql.query("CREATE DATABASE shop");
    const [[status]] = (await sql.query("SHOW MASTER STATUS")) as unknown as [[{ File: string; Position: number }]];
    const yaml = (port: number) => `
nodeId: sinktest
bind: 127.0.0.1
port: ${port}
metricsPort: 0
dataDir: ${JSON.stringify(join(dir, "data"))}
nats: ${nats.url}
destinations:
  shop:
    source: ${db.uri()}
    filter: shop\\..*
    start: { journalName: ${status.File}, position: ${status.Position} }
    sink: { stream: SHOP }
`;
    node = await startNode(yaml(await freePort()), logs);
    await until(() => logs.some((l) => l.msg === "sink ready"), 10_000, "the sink is ready");

    await sql.query("CREATE TABLE shop.item (id INT PRIMARY KEY, name VARCHAR(20), price DECIMAL(10,2), note TEXT NULL)");
    await sql.query("INSERT INTO shop.item VALUES (1, 'apple', 1.50, NULL), (2, 'pear', 2.25, 'ripe')");
    await sql.query("UPDATE shop.item SET name = 'green apple', price = 1.75 WHERE id = 1");
    await sql.query("DELETE FROM shop.item WHERE id = 2");
    await sql.query("CREATE TABLE shop.`odd.name` (k VARCHAR(5) NOT NULL, v INT, PRIMARY KEY (k, v))");
    await sql.query("INSERT INTO shop.`odd.name` VALUES ('a', 1)");

    // 7 changes, plus a QUERY message per DML statement: MariaDB's annotate-rows events, which
    // Canal turns into QUERY entries (no schema, no table) and its MQ mode into messages too.
    await until(async () => (await streamCount(nats.url, "SHOP")) >= 11, 10_000, "11 messages in the stream");
    const all = await readStream(nats.url, "SHOP");
    assert.is(all.length, 11, all.map((m) => m.text).join("\n"));
    for (const m of all) assert.equal(Object.keys(JSON.parse(m.text)), CANAL_KEYS, `Canal's keys, in fastjson2's order: ${m.text}`);
    await until(async () => (await sinkFigures(node!)).stored === 11, 5_000, "the metrics count 11 messages stored");
    const first = await sinkFigures(node);
    assert.equal({ ...first.status!, batches: 0 }, { state: "publishing", published: 11, duplicates: 0, batches: 0, failures: 0, lastError: undefined }, "status");
    assert.ok(first.status!.batches >= 1);
    assert.equal([first.duplicates, first.publishing], [0, 1], "metrics");
    const queries = all.filter((m) => m.json.type === "QUERY");
    assert.equal(queries.map((m) => m.json.sql), [
      "INSERT INTO shop.item VALUES (1, 'apple', 1.50, NULL), (2, 'pear', 2.25, 'ripe')",
      "UPDATE shop.item SET name = 'green apple', price = 1.75 WHERE id = 1",
      "DELETE FROM shop.item WHERE id = 2",
      "INSERT INTO shop.`odd.name` VALUES ('a', 1)",
    ]);
    for (const q of queries) {
      assert.is(q.subject, "canal.shop._._", "no schema or table: the _ token");
      assert.equal({ ...q.json, es: 0, ts: 0, id: 0, sql: "" }, { data: null, database: "", es: 0, gtid: "", id: 0, isDdl: false, mysqlType: null, old: null, pkNames: null, sql: "", sqlType: null, table: "", ts: 0, type: "QUERY" });
    }
    const stored = all.filter((m) => m.json.type !== "QUERY");
    const [create, insert1, insert2, update, del, create2, insert3] = stored.map((m) => m.json);

    // DDL: Canal keeps sqlType, mysqlType, data, old and pkNames null for it.
    assert.is(stored[0]!.subject, "canal.shop.shop.item");
    assert.equal({ ...create!, es: 0, ts: 0, id: 0, gtid: "" }, {
      data: null, database: "shop", es: 0, gtid: "", id: 0, isDdl: true, mysqlType: null, old: null, pkNames: null,
      sql: "CREATE TABLE shop.item (id INT PRIMARY KEY, name VARCHAR(20), price DECIMAL(10,2), note TEXT NULL)", sqlType: null, table: "item", ts: 0, type: "CREATE",
    });
    const mysqlType = { id: "int(11)", name: "varchar(20)", price: "decimal(10,2)", note: "text" };
    // java.sql.Types: INTEGER 4, VARCHAR 12, DECIMAL 3, CLOB 2005 for TEXT (canal-facts.md §2.5).
    const sqlType = { id: 4, name: 12, price: 3, note: 2005 };
    const dml = (m: typeof insert1) => ({ ...m!, es: 0, ts: 0, id: 0, gtid: "" });
    const row = { database: "shop", es: 0, gtid: "", id: 0, isDdl: false, mysqlType, pkNames: ["id"], sql: "", sqlType, table: "item", ts: 0 };
    assert.equal(dml(insert1), { ...row, data: [{ id: "1", name: "apple", price: "1.50", note: null }], old: null, type: "INSERT" });
    assert.equal(dml(insert2), { ...row, data: [{ id: "2", name: "pear", price: "2.25", note: "ripe" }], old: null, type: "INSERT" });
    // UPDATE: old holds the before values of the updated columns only.
    assert.equal(dml(update), { ...row, data: [{ id: "1", name: "green apple", price: "1.75", note: null }], old: [{ name: "apple", price: "1.50" }], type: "UPDATE" });
    // DELETE: data is the before image.
    assert.equal(dml(del), { ...row, data: [{ id: "2", name: "pear", price: "2.25", note: "ripe" }], old: null, type: "DELETE" });
    // Column maps keep the table's column order in the text, as Canal's LinkedHashMap.
    assert.ok(stored[1]!.text.startsWith('{"data":[{"id":"1","name":"apple","price":"1.50","note":null}],"database":"shop",'), stored[1]!.text);
    assert.ok(stored[1]!.text.includes('"sqlType":{"id":4,"name":12,"price":3,"note":2005}'), stored[1]!.text);

    // The binlog time and the build time, the batch id; both rows of one statement share es.
    assert.ok(insert1!.es > 0 && insert1!.es <= Date.now() && insert1!.es === insert2!.es);
    assert.ok(insert1!.ts >= insert1!.es - 1000 && insert1!.id >= 1);

    // A table name with a dot becomes one subject token; composite keys list every key column.
    assert.is(create2!.table, "odd.name");
    assert.is(stored[6]!.subject, "canal.shop.shop.odd_name");
    assert.equal(insert3!.pkNames, ["k", "v"]);

    // Nats-Msg-Id: destination, then the entry's key, then the row within the entry.
    const ids = stored.map((m) => m.msgId!);
    assert.match(ids[0]!, /^shop:mysql-bin\.\d+:\d+$|^shop:\d+-\d+-\d+#\d+$/);
    assert.match(ids[1]!, /\/0$/);
    assert.match(ids[2]!, /\/1$/);
    assert.is(ids[1]!.slice(0, -2), ids[2]!.slice(0, -2), "two rows of one entry share its key");
    assert.is(new Set(ids).size, ids.length);

    // Replay: forget the cursor and read the whole binlog again; JetStream drops every message.
    await node.stop();
    node = undefined;
    rmSync(join(dir, "data"), { recursive: true, force: true });
    const since = logs.length;
    node = await startNode(yaml(await freePort()), logs);
    await until(() => logs.slice(since).some((l) => l.msg === "sink ready"), 10_000, "the sink is ready again");
    await sql.query("INSERT INTO shop.item VALUES (3, 'plum', 0.99, NULL)");
    await until(async () => (await streamCount(nats.url, "SHOP")) >= 13, 10_000, "the new row arrives");
    const after = await readStream(nats.url, "SHOP");
    assert.is(after.length, 13, "the replayed messages were dropped, the new row (and its QUERY) stored once");
    await until(async () => (await sinkFigures(node!)).stored === 2, 5_000, "the metrics count the 2 new messages stored");
    const replayed = await sinkFigures(node);
    assert.equal([replayed.status!.published, replayed.status!.duplicates, replayed.duplicates], [2, 11, 11], "the replay is counted as duplicates, in status and metrics");
    assert.equal(after.slice(0, 11).map((m) => m.text), all.map((m) => m.text), "the stream is unchanged up to the new row");
    assert.equal(after[12]!.json.data, [{ id: "3", name: "plum", price: "0.99", note: null }]);
  } finally {
    await node?.stop();
    await sql.end();
    removeDir(dir);
  }
});

test.run();
