/**
 * Canal's filters in the source, against a real MariaDB: rows of excluded tables never reach
 * the consumer (and are not decoded), DDL is filtered by the table it names, transactions
 * left empty are not handed on, field filters drop columns, a client filter replaces the
 * white filter, and an invalid regex is refused before anything connects.
 */
import type mysql from "mysql2/promise";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { BinlogSource } from "../../src/actors/binlog-source.js";
import { CanalConfigError } from "../../src/errors.js";
import { EntryType, EventType } from "../../src/protocol/entry.js";
import { type MariaDBServer, startMariaDB } from "../../src/testkit/index.js";
import { Collector, connect, masterPosition, startSource } from "./source-helpers.js";

let server: MariaDBServer;
let db: mysql.Connection;

test.before(async () => {
  server = await startMariaDB();
  db = await connect(server);
  await db.query(`
    CREATE DATABASE keep; CREATE DATABASE other;
    CREATE TABLE keep.a (id INT PRIMARY KEY, secret VARCHAR(10), note VARCHAR(10));
    CREATE TABLE keep.secret_x (id INT PRIMARY KEY);
    CREATE TABLE other.b (id INT PRIMARY KEY)`);
});

test.after(async () => {
  await db?.end();
  await server?.stop();
});

const tablesOf = (c: Collector) => c.entries.filter((e) => e.rowChange?.rowDatas).map((e) => `${e.entry.header!.schemaName}.${e.entry.header!.tableName}`);
const ddlOf = (c: Collector) => c.entries.filter((e) => e.rowChange?.isDdl).map((e) => e.rowChange!.sql);

test("rows and DDL of excluded tables never reach the consumer; empty transactions are not handed on", async () => {
  const start = await masterPosition(db);
  const collector = new Collector();
  // filter.query.dml drops MariaDB's row annotations, which Canal never name-filters (their
  // statement text would reach the consumer, and each would be a group of its own).
  const filters = { regex: "keep\\..*", blackRegex: "keep\\.secret_.*", queryDml: true };
  const source = await startSource(server, collector, { start, filters });
  try {
    await db.query("BEGIN; INSERT INTO keep.a VALUES (1, 's', 'n'); INSERT INTO other.b VALUES (1); INSERT INTO keep.secret_x VALUES (1); COMMIT");
    await db.query("INSERT INTO other.b VALUES (2)"); // a transaction with nothing kept
    await db.query("INSERT INTO keep.secret_x VALUES (2)");
    await db.query("ALTER TABLE other.b ADD COLUMN c INT");
    await db.query("ALTER TABLE keep.secret_x ADD COLUMN c INT");
    await db.query("ALTER TABLE keep.a ADD COLUMN c INT");
    await db.query("RENAME TABLE other.b TO keep.b"); // renamed into the filter: kept
    await db.query("CREATE DATABASE made"); // not a table DDL: never name-filtered
    await db.query("INSERT INTO keep.a VALUES (2, 's', 'n', 3)");
    await collector.until(() => tablesOf(collector).length === 2);
  } finally {
    await source.stop();
  }
  assert.equal(tablesOf(collector), ["keep.a", "keep.a"]);
  assert.equal(ddlOf(collector), ["ALTER TABLE keep.a ADD COLUMN c INT", "RENAME TABLE other.b TO keep.b", "CREATE DATABASE made"]);
  const stats = source.stats;
  assert.is(stats.filteredRowsEvents, 4);
  assert.is(stats.filteredDdl, 2);
  assert.is(stats.emptyTransactionsDropped, 2, "the two transactions whose rows were all filtered");
  // The ALTER on keep.a made the source read its schema again: the new column has a name and type.
  const last = collector.entries.filter((e) => e.rowChange?.rowDatas).at(-1)!.rowChange!.rowDatas![0]!.afterColumns!;
  assert.equal(last.map((c) => [c.name, c.mysqlType]), [["id", "int(11)"], ["secret", "varchar(10)"], ["note", "varchar(10)"], ["c", "int(11)"]]);
  assert.ok(collector.entries.every((e) => e.entry.entryType !== EntryType.TRANSACTIONBEGIN), "MariaDB: no BEGIN entries");
  assert.ok(collector.batches.every((b) => b.entries.every((e) => e.kind !== "query")), "no annotations");
  // One batch per kept transaction: its rows, then its end.
  assert.equal(
    collector.batches.filter((b) => b.entries.some((e) => e.kind === "rows")).map((b) => b.entries.map((e) => e.kind)),
    [["rows", "end"], ["rows", "end"]],
  );
});

test("field filters drop columns by name; a client filter replaces the white filter, the black one stays", async () => {
  const start = await masterPosition(db);
  const collector = new Collector();
  const source = await startSource(server, collector, {
    start,
    filters: { regex: "other\\..*", blackRegex: "keep\\.secret_.*", blackField: "keep.a:secret" },
  });
  try {
    source.setFilter("keep\\..*");
    await db.query("INSERT INTO keep.a VALUES (10, 's', 'n', 0)");
    await db.query("INSERT INTO keep.secret_x VALUES (10, 0)");
    await collector.until(() => tablesOf(collector).length === 1);
    await db.query("INSERT INTO keep.a VALUES (11, 's', 'n', 0)");
    await collector.until(() => tablesOf(collector).length === 2);
  } finally {
    await source.stop();
  }
  assert.equal(tablesOf(collector), ["keep.a", "keep.a"]);
  const annotations = collector.entries.filter((e) => e.rowChange?.eventType === EventType.QUERY).map((e) => e.rowChange!.sql);
  assert.equal(annotations, ["INSERT INTO keep.a VALUES (10, 's', 'n', 0)", "INSERT INTO keep.secret_x VALUES (10, 0)", "INSERT INTO keep.a VALUES (11, 's', 'n', 0)"],
    "without filter.query.dml, annotations pass unfiltered, as in Canal");
  const columns = collector.entries.find((e) => e.rowChange?.rowDatas)!.rowChange!.rowDatas![0]!.afterColumns!;
  assert.equal(columns.map((c) => [c.index, c.name]), [[0, "id"], [2, "note"], [3, "c"]]);
});

test("filter.query.dml / dcl / ddl drop statements by kind as Canal does; rows and the schema refresh after a DDL stay", async () => {
  await db.query("CREATE TABLE keep.q (id INT PRIMARY KEY)");
  const start = await masterPosition(db);
  await db.query("CREATE USER 'replay_u'@'localhost'"); // neither DDL nor DML: Canal's DCL
  await db.query("ALTER TABLE keep.q ADD COLUMN v INT");
  await db.query("INSERT INTO keep.q VALUES (2, 2)");
  const statements = (c: Collector) => c.entries.filter((e) => e.rowChange?.sql !== undefined && !e.rowChange.rowDatas?.length).map((e) => e.rowChange!.sql!.replace(/\s+/g, " ").slice(0, 30));
  /** Reads the statements above with `filters`; returns the statement texts and the last row's column names. */
  const read = async (filters: Record<string, boolean>) => {
    const collector = new Collector();
    const source = await startSource(server, collector, { start, filters: { regex: "keep\\.q", ...filters } });
    try {
      await collector.until(() => collector.entries.some((e) => e.rowChange?.rowDatas?.[0]?.afterColumns?.some((c) => c.name === "id" && c.value === "2")));
    } finally {
      await source.stop();
    }
    const last = collector.entries.filter((e) => e.rowChange?.rowDatas?.length).at(-1)!.rowChange!.rowDatas![0]!.afterColumns!;
    return { statements: statements(collector), columns: last.map((c) => c.name) };
  };
  const all = await read({});
  assert.ok(all.statements.some((s) => s.startsWith("CREATE USER")), JSON.stringify(all.statements));
  assert.ok(all.statements.some((s) => s.startsWith("ALTER TABLE keep.q")));
  assert.ok(all.statements.some((s) => s.startsWith("INSERT INTO keep.q VALUES (2")), "the row annotation");

  const dcl = await read({ queryDcl: true });
  assert.equal(dcl.statements, all.statements.filter((s) => !s.startsWith("CREATE USER")), "DCL dropped, the rest kept");
  const dml = await read({ queryDml: true });
  assert.equal(dml.statements, all.statements.filter((s) => !s.startsWith("INSERT")), "the row annotation dropped");
  const ddl = await read({ queryDdl: true });
  assert.equal(ddl.statements, all.statements.filter((s) => s.startsWith("INSERT INTO keep.q VALUES (2")), "every statement dropped; only the row annotation stays");
  assert.equal(ddl.columns, ["id", "v"], "the ALTER was not handed on, but the schema was read again after it");
});

test("an invalid filter regex is a CanalConfigError naming it, before anything connects", async () => {
  for (const [filters, message] of [
    [{ regex: "keep\\..*,bad\\.(" }, /filter regex "bad\\\\\.\(".*invalid/],
    [{ blackRegex: "x\\.(?<n>y)" }, /named groups/],
    [{ field: "keep.a" }, /field filter entry "keep\.a"/],
  ] as const) {
    try {
      await BinlogSource.start({ host: server.host, port: 1, user: "u", password: "p", serverId: 9, start: "current", filters, onBatch: () => "ok" });
      assert.unreachable("should have thrown");
    } catch (err) {
      assert.instance(err, CanalConfigError);
      assert.match((err as Error).message, message);
    }
  }
});

test.run();
