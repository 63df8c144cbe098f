import { suite } from "uvu";
import * as assert from "uvu/assert";
import { CanalProtocolError } from "../../src/errors.js";
import {
  decodeColumn,
  decodeEntry,
  decodeRowChange,
  decodeTransactionBegin,
  decodeTransactionEnd,
  encodeColumn,
  encodeEntry,
  encodeRowChange,
  encodeTransactionBegin,
  encodeTransactionEnd,
  EntryType,
  EventType,
  SourceType,
  type Column,
  type Entry,
  type Header,
  type RowChange,
} from "../../src/protocol/entry.js";
import { entries } from "../fixtures/canal-vectors.js";
import { byContent, fromHex, hex } from "./helpers.js";

const Entries = suite("protocol/entry");

function assertDecoded(actual: unknown, expected: unknown): void {
  assert.equal(byContent(actual), byContent(expected));
}

// §2.4 example columns.
const idColumn: Column = { index: 0, sqlType: 4, name: "id", isKey: true, updated: true, isNull: false, value: "1", mysqlType: "int(11)" };
const nullNameColumn: Column = { index: 1, sqlType: 12, name: "name", isKey: false, updated: true, isNull: true, mysqlType: "varchar(20)" };

// §2.2 header as LogEventConvert.createHeader fills it.
function header(fields: Partial<Header>): Header {
  return {
    version: 1,
    logfileName: "mysql-bin.000003",
    logfileOffset: 4,
    serverId: 1,
    serverenCode: "UTF-8",
    executeTime: 1700000000000,
    sourceType: SourceType.MYSQL,
    ...fields,
  };
}

// §2.6: begin header with schema/table "" and NO eventType.
const beginEntry: Entry = {
  header: header({ schemaName: "", tableName: "", eventLength: 80 }),
  entryType: EntryType.TRANSACTIONBEGIN,
  storeValue: encodeTransactionBegin({ threadId: 10 }),
};

const insertRowChange: RowChange = {
  tableId: 100,
  eventType: EventType.INSERT,
  isDdl: false,
  rowDatas: [{ afterColumns: [idColumn, nullNameColumn] }],
};

const insertEntry: Entry = {
  header: header({
    logfileOffset: 200,
    schemaName: "test",
    tableName: "t1",
    eventLength: 40,
    eventType: EventType.INSERT,
    props: [{ key: "rowsCount", value: "1" }],
  }),
  entryType: EntryType.ROWDATA,
  storeValue: encodeRowChange(insertRowChange),
};

Entries("Column §2.4: key column with value, every set field written", () => {
  assert.is(hex(encodeColumn(idColumn)), entries.columnId);
  assertDecoded(decodeColumn(fromHex(entries.columnId)), idColumn);
});

Entries("Column §2.4: NULL column has isNull true and no value field", () => {
  assert.is(hex(encodeColumn(nullNameColumn)), entries.columnNullName);
  const decoded = decodeColumn(fromHex(entries.columnNullName));
  assertDecoded(decoded, nullNameColumn);
  assert.not.ok("value" in decoded);
});

Entries("TRANSACTIONBEGIN entry §2.6: schema/table '' written, eventType absent", () => {
  assert.is(hex(encodeEntry(beginEntry)), entries.transactionBegin);
  const decoded = decodeEntry(fromHex(entries.transactionBegin));
  assertDecoded(decoded, beginEntry);
  assert.is(decoded.header!.eventType, undefined, "eventType stays unset, so Java reads UPDATE");
  assertDecoded(decodeTransactionBegin(decoded.storeValue!), { threadId: 10 });
});

Entries("TransactionEnd storeValue §2.6: xid 12345 as a string", () => {
  assert.is(hex(encodeTransactionEnd({ transactionId: "12345" })), entries.transactionEndStoreValue);
  assertDecoded(decodeTransactionEnd(fromHex(entries.transactionEndStoreValue)), { transactionId: "12345" });
});

Entries("INSERT row entry §2.6: header props, RowChange with isDdl false, after columns only", () => {
  assert.is(hex(encodeEntry(insertEntry)), entries.insertRow);
  const decoded = decodeEntry(fromHex(entries.insertRow));
  assertDecoded(decoded, insertEntry);
  assertDecoded(decodeRowChange(decoded.storeValue!), insertRowChange);
  assert.is(hex(decoded.storeValue!).slice(0, 12), "086410015000", "tableId 100, INSERT, isDdl false");
});

Entries("proto2 presence: set-but-default fields are written, unset ones are not", () => {
  assert.is(hex(encodeColumn({ index: 0, isKey: false, value: "" })), "0800" + "2000" + "4200");
  assert.is(hex(encodeColumn({})), "");
  assertDecoded(decodeColumn(fromHex("0800")), { index: 0 });
  assertDecoded(decodeColumn(new Uint8Array(0)), {});
});

Entries("int64 fields survive values beyond 32 bits", () => {
  const entry: Entry = { header: header({ logfileOffset: 2 ** 40 + 17, serverId: 4294967295, executeTime: 4102444800000 }) };
  assertDecoded(decodeEntry(encodeEntry(entry)), entry);
});

Entries("decode failures are CanalProtocolErrors naming the message", () => {
  for (const [decode, name] of [[decodeEntry, "Entry"], [decodeRowChange, "RowChange"], [decodeColumn, "Column"]] as const) {
    try {
      decode(fromHex("0a05"));
      assert.unreachable("truncated bytes must not decode");
    } catch (err) {
      assert.instance(err, CanalProtocolError);
      assert.match((err as Error).message, new RegExp(`cannot decode ${name}`));
    }
  }
});

Entries.run();
