/** Entry → change view mapping (src/client/changes.ts): pure, from encoded entries. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { changesOf, changeTypeName, imageOf } from "../../src/client/changes.js";
import { Batch } from "../../src/client/batch.js";
import { decodeEntry, encodeEntry, EntryType, EventType, type Entry } from "../../src/protocol/index.js";
import { entries as vectors } from "../fixtures/canal-vectors.js";
import { fromHex } from "../protocol/helpers.js";
import { beginEntry, ddlEntry, deleteEntry, endEntry, EXECUTE_TIME, FILE, insertEntry, updateEntry } from "./entries.js";

const roundTrip = (entry: Entry) => decodeEntry(encodeEntry(entry));

test("the fact sheet's INSERT entry becomes one change with an after image only", () => {
  const [change, ...rest] = changesOf(decodeEntry(fromHex(vectors.insertRow)));
  assert.is(rest.length, 0);
  assert.equal(change, {
    database: "test",
    table: "t1",
    type: "INSERT",
    isDdl: false,
    executeTime: 1700000000000,
    position: { file: "mysql-bin.000003", offset: 200 },
    serverId: 1,
    key: "mysql-bin.000003:200/0",
    after: {
      id: { value: "1", sqlType: 4, mysqlType: "int(11)", isKey: true, updated: true, index: 0 },
      name: { value: null, sqlType: 12, mysqlType: "varchar(20)", isKey: false, updated: true, index: 1 },
    },
  });
});

test("an entry with several rows gives one change per row, keyed by row index", () => {
  const changes = changesOf(roundTrip(insertEntry(500, [{ id: 1, name: "a" }, { id: 2, name: "b" }, { id: 3, name: null }])));
  assert.equal(changes.map((c) => c.key), [`${FILE}:500/0`, `${FILE}:500/1`, `${FILE}:500/2`]);
  assert.equal(changes.map((c) => c.after?.["name"]?.value), ["a", "b", null]);
});

test("UPDATE carries before and after images with Canal's updated flags", () => {
  const [change] = changesOf(roundTrip(updateEntry(600, [[{ id: 7, name: "old" }, { id: 7, name: "new" }]])));
  assert.is(change!.type, "UPDATE");
  assert.equal(change!.before?.["name"], { value: "old", sqlType: 12, mysqlType: "varchar(20)", isKey: false, updated: false, index: 1 });
  assert.equal(change!.after?.["name"]?.value, "new");
  assert.is(change!.after?.["name"]?.updated, true);
  assert.is(change!.after?.["id"]?.updated, false);
});

test("DELETE carries only a before image", () => {
  const [change] = changesOf(roundTrip(deleteEntry(700, [{ id: 9, name: "gone" }])));
  assert.is(change!.type, "DELETE");
  assert.is(change!.after, undefined);
  assert.equal(change!.before?.["id"]?.value, "9");
});

test("DDL becomes one change with its statement and no row images", () => {
  const changes = changesOf(roundTrip(ddlEntry(800, "ALTER TABLE t1 ADD c INT")));
  assert.equal(changes, [
    {
      database: "test",
      table: "t1",
      type: "ALTER",
      isDdl: true,
      executeTime: EXECUTE_TIME,
      position: { file: FILE, offset: 800 },
      serverId: 1,
      key: `${FILE}:800`,
      sql: "ALTER TABLE t1 ADD c INT",
    },
  ]);
});

test("a statement without a header schema takes RowChange.ddlSchemaName", () => {
  const entry = ddlEntry(900, "CREATE DATABASE d2", EventType.QUERY);
  entry.header!.schemaName = "";
  const [change] = changesOf(roundTrip(entry));
  assert.is(change!.database, "test");
  assert.is(change!.type, "QUERY");
});

test("transaction begin/end and heartbeats hold no changes", () => {
  assert.equal(changesOf(roundTrip(beginEntry(4))), []);
  assert.equal(changesOf(roundTrip(endEntry(300, 12345))), []);
  assert.equal(changesOf({ header: {}, entryType: EntryType.HEARTBEAT }), []);
  assert.equal(changesOf(decodeEntry(fromHex(vectors.transactionBegin))), []);
});

test("an absent or unknown event type reads as UPDATE, as the Java client's proto2 default", () => {
  assert.is(changeTypeName(undefined), "UPDATE");
  assert.is(changeTypeName(99), "UPDATE");
  assert.is(changeTypeName(EventType.TRUNCATE), "TRUNCATE");
});

test("the gtid of the header is kept when present", () => {
  const entry = insertEntry(1000, [{ id: 1, name: "x" }]);
  entry.header!.gtid = "0-1-42";
  assert.is(changesOf(roundTrip(entry))[0]!.gtid, "0-1-42");
});

test("a column without a name is keyed by its index; missing fields take proto2 defaults", () => {
  assert.equal(imageOf([{ index: 3, value: "x" }]), { "#3": { value: "x", sqlType: 0, isKey: false, updated: false, index: 3 } });
});

test("a Batch decodes its entries lazily, once, and flattens their changes", () => {
  const raw = [beginEntry(4), insertEntry(104, [{ id: 1, name: "a" }]), endEntry(204, 1)].map(encodeEntry);
  const owner = { ack: async () => {}, rollback: async () => {} };
  const batch = new Batch(5, raw, 1, owner);
  assert.is(batch.isEmpty, false);
  const first = batch.entries;
  assert.is(batch.entries, first);
  assert.is(first.length, 3);
  assert.equal(batch.changes.map((c) => c.type), ["INSERT"]);
  assert.is(new Batch(-1, [], 1, owner).isEmpty, true);
});

test.run();
