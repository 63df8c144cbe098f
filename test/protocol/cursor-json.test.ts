/**
 * Canal's cursor JSON against the exact strings of canal-facts.md §3.3 (written there by
 * Canal's own fastjson2 setup), both directions, plus the parsing rules of its table.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { throwsProtocolError } from "./helpers.js";
import {
  formatCursorJson,
  formatLogPositionJson,
  formatMetaDat,
  parseCursorJson,
  parseLogPositionJson,
  parseMetaDat,
  type LogPosition,
  type MetaDat,
} from "../../src/protocol/cursor-json.js";

/** §3.3, the ZooKeeper `<clientId>/cursor` of Canal 1.1.8/HEAD. */
const ZK_CURSOR =
  '{"@type":"com.alibaba.otter.canal.protocol.position.LogPosition","identity":{"slaveId":-1,"sourceAddress":{"address":"10.35.165.15","port":3306}},"postion":{"gtid":"","included":false,"journalName":"mysql-bin.000003","position":4567,"serverId":1,"timestamp":1700000000000}}';

/** §3.3, `conf/<dest>/meta.dat` of FileMixedMetaManager. */
const META_DAT =
  '{"clientDatas":[{"clientIdentity":{"clientId":1001,"destination":"example","filter":""},"cursor":{"identity":{"slaveId":-1,"sourceAddress":{"address":"localhost","port":3306}},"postion":{"gtid":"","included":false,"journalName":"mysql-bin.000003","position":4567,"serverId":1,"timestamp":1700000000000}}}],"destination":"example"}';

const zkPosition: LogPosition = {
  sourceAddress: { address: "10.35.165.15", port: 3306 },
  journalName: "mysql-bin.000003",
  position: 4567,
  serverId: 1,
  timestamp: 1700000000000,
  gtid: "",
  included: false,
};

const meta: MetaDat = {
  destination: "example",
  clients: [{ clientId: 1001, filter: "", cursor: { ...zkPosition, sourceAddress: { address: "localhost", port: 3306 } } }],
};


test("the ZooKeeper cursor is written byte for byte as Canal writes it, @type first, and read back", () => {
  assert.is(formatCursorJson(zkPosition), ZK_CURSOR);
  assert.equal(parseCursorJson(ZK_CURSOR), zkPosition);
});

test("the parse-node form is the same without @type", () => {
  const untyped = ZK_CURSOR.replace('"@type":"com.alibaba.otter.canal.protocol.position.LogPosition",', "");
  assert.is(formatLogPositionJson(zkPosition), untyped);
  assert.equal(parseLogPositionJson(untyped), zkPosition);
  assert.equal(parseLogPositionJson(ZK_CURSOR), zkPosition, "a @type is ignored there");
});

test("meta.dat is written byte for byte as FileMixedMetaManager writes it, and read back", () => {
  assert.is(formatMetaDat(meta), META_DAT);
  assert.equal(parseMetaDat(META_DAT), meta);
});

test("nulls are left out: no gtid, serverId, timestamp, filter or cursor; a null address is written", () => {
  const bare: LogPosition = { sourceAddress: { address: null, port: 3306 }, journalName: "mysql-bin.000001", position: 4, included: false };
  const json = formatLogPositionJson(bare);
  assert.is(json, '{"identity":{"slaveId":-1,"sourceAddress":{"address":null,"port":3306}},"postion":{"included":false,"journalName":"mysql-bin.000001","position":4}}');
  assert.equal(parseLogPositionJson(json), bare);
  const noCursor: MetaDat = { destination: "d", clients: [{ clientId: 1 }] };
  assert.is(formatMetaDat(noCursor), '{"clientDatas":[{"clientIdentity":{"clientId":1,"destination":"d"}}],"destination":"d"}');
  assert.equal(parseMetaDat(formatMetaDat(noCursor)), noCursor);
  assert.is(formatMetaDat({ destination: "d", clients: [] }), '{"clientDatas":[],"destination":"d"}');
});

test("strings are JSON-escaped", () => {
  const odd: LogPosition = { ...zkPosition, journalName: 'bin"\\log', gtid: "0-1-2" };
  assert.equal(parseCursorJson(formatCursorJson(odd)), odd);
});

test("like Canal: nested key order does not matter and extra keys are ignored", () => {
  const shuffled =
    '{"@type":"com.alibaba.otter.canal.protocol.position.LogPosition","postion":{"timestamp":1700000000000,"serverId":1,"position":4567,"journalName":"mysql-bin.000003","included":false,"gtid":"","extra":1},"identity":{"sourceAddress":{"port":3306,"address":"10.35.165.15"},"slaveId":-1}}';
  assert.equal(parseCursorJson(shuffled), zkPosition);
});

test("like Canal: the typed cursor needs @type as its first key", () => {
  throwsProtocolError(() => parseCursorJson(formatLogPositionJson(zkPosition)), /must start with "@type"/);
  const typeLast = ZK_CURSOR.replace('"@type":"com.alibaba.otter.canal.protocol.position.LogPosition",', "").replace(/}$/, ',"@type":"com.alibaba.otter.canal.protocol.position.LogPosition"}');
  throwsProtocolError(() => parseCursorJson(typeLast), /must start with "@type"/);
  throwsProtocolError(() => parseCursorJson(ZK_CURSOR.replace("LogPosition", "EntryPosition")), /must start with "@type"/);
});

test("bad input names what was expected", () => {
  throwsProtocolError(() => parseCursorJson("{"), /cursor is not valid JSON/);
  throwsProtocolError(() => parseLogPositionJson("[]"), /expected a JSON object/);
  throwsProtocolError(() => parseLogPositionJson(ZK_CURSOR.replace('"position":4567', '"position":"4567"')), /"position" must be a non-negative integer, got "4567"/);
  throwsProtocolError(() => parseLogPositionJson(ZK_CURSOR.replace('"journalName":"mysql-bin.000003",', "")), /"journalName" must be a string, got nothing/);
  throwsProtocolError(() => parseLogPositionJson(ZK_CURSOR.replace('"port":3306', '"port":70000')), /"sourceAddress.port" must be a port/);
  throwsProtocolError(() => parseMetaDat('{"clientDatas":{},"destination":"example"}'), /"clientDatas" must be an array/);
  throwsProtocolError(() => parseMetaDat('{"clientDatas":[]}'), /"destination" must be a string/);
});

test.run();
