/**
 * Canal's ZooKeeper paths and running-node JSON against the exact strings of canal-facts.md
 * §3.1 and §3.3, both directions, plus the reading rules (missing active = true, ip:port split).
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { CanalConfigError } from "../../src/errors.js";
import { throwsProtocolError } from "./helpers.js";
import {
  ZK_ROOT,
  clientCursorPath,
  clientFilterPath,
  clientIdsOf,
  clientPath,
  clientRunningPath,
  clusterNodePath,
  clusterPath,
  destinationClusterNodePath,
  destinationClusterPath,
  destinationPath,
  destinationsPath,
  formatClientRunning,
  formatServerRunning,
  isClientIdNode,
  parseClientRunning,
  parseServerAddress,
  parseServerRunning,
  runningPath,
  serverAddress,
} from "../../src/protocol/zk-layout.js";

const isConfigError = (err: unknown): boolean => err instanceof CanalConfigError;

test("paths are Canal's tree of §3.1", () => {
  assert.is(ZK_ROOT, "/otter/canal");
  assert.is(clusterPath(), "/otter/canal/cluster");
  assert.is(clusterNodePath("192.168.1.10:11111"), "/otter/canal/cluster/192.168.1.10:11111");
  assert.is(destinationsPath(), "/otter/canal/destinations");
  assert.is(destinationPath("example"), "/otter/canal/destinations/example");
  assert.is(runningPath("example"), "/otter/canal/destinations/example/running");
  assert.is(destinationClusterPath("example"), "/otter/canal/destinations/example/cluster");
  assert.is(destinationClusterNodePath("example", "192.168.1.10:11111"), "/otter/canal/destinations/example/cluster/192.168.1.10:11111");
  assert.is(clientPath("example", 1001), "/otter/canal/destinations/example/1001");
  assert.is(clientCursorPath("example", 1001), "/otter/canal/destinations/example/1001/cursor");
  assert.is(clientRunningPath("example", 1001), "/otter/canal/destinations/example/1001/running");
  assert.is(clientFilterPath("example", 1001), "/otter/canal/destinations/example/1001/filter");
});

test("a name that would address another node is refused, naming it", () => {
  for (const bad of ["", ".", "..", "a/b", "x\u0000"]) {
    assert.throws(() => destinationPath(bad), (err: Error) => err instanceof CanalConfigError && err.message.includes(JSON.stringify(bad)));
  }
  assert.throws(() => clusterNodePath("1.2.3.4:1/x"), isConfigError);
  assert.throws(() => clientPath("example", -1), /clientId -1 .*expected an integer from 0 to 32767/);
  assert.throws(() => clientPath("example", 1.5), isConfigError);
  assert.throws(() => clientPath("example", 40000), isConfigError);
});

test("numeric children are clientIds, listed ascending, as listAllSubscribeInfo does", () => {
  assert.ok(isClientIdNode("1001"));
  assert.ok(isClientIdNode("0"));
  for (const name of ["running", "cluster", "parse", "-1", "1e3", "", " 1", "10.5"]) assert.not.ok(isClientIdNode(name), name);
  assert.equal(clientIdsOf(["running", "1002", "cluster", "1001", "parse", "7"]), [7, 1001, 1002]);
});

test("ServerRunningData is written byte for byte as fastjson2 writes it (§3.3), and read back", () => {
  const exact = '{"active":true,"address":"192.168.1.10:11111"}';
  assert.is(formatServerRunning({ active: true, address: "192.168.1.10:11111" }), exact);
  assert.equal(parseServerRunning(exact), { active: true, address: "192.168.1.10:11111", host: "192.168.1.10", port: 11111 });
  assert.equal(parseServerRunning(new TextEncoder().encode(exact)), parseServerRunning(exact), "bytes and text read the same");
  // The manual switch-over request of §4.4.
  assert.is(formatServerRunning({ active: false, address: "1.2.3.4:11111" }), '{"active":false,"address":"1.2.3.4:11111"}');
  assert.is(parseServerRunning('{"active":false,"address":"1.2.3.4:11111"}').active, false);
});

test("ServerRunningData reading: missing active is true; cid and extra keys are ignored; key order is free", () => {
  assert.equal(parseServerRunning('{"address":"1.2.3.4:11111"}'), { active: true, address: "1.2.3.4:11111", host: "1.2.3.4", port: 11111 });
  assert.equal(parseServerRunning('{"address":"1.2.3.4:11111","cid":null,"active":true,"x":1}').port, 11111);
});

test("bad ServerRunningData is a CanalProtocolError naming the bytes and what was expected", () => {
  throwsProtocolError(() => parseServerRunning("not json"), /ServerRunningData "not json": expected a JSON object/);
  throwsProtocolError(() => parseServerRunning("[1]"), /"\[1\]": expected a JSON object/);
  throwsProtocolError(() => parseServerRunning('{"active":true}'), /expected "address" must be a string/);
  throwsProtocolError(() => parseServerRunning('{"address":"1.2.3.4"}'), /1\.2\.3\.4.*expected "address" must be "<ip>:<port>"/);
  throwsProtocolError(() => parseServerRunning('{"address":"::1:11111"}'), /exactly one ':'/);
  throwsProtocolError(() => parseServerRunning('{"address":"1.2.3.4:port"}'), /<ip>:<port>/);
  throwsProtocolError(() => parseServerRunning('{"address":"1.2.3.4:99999"}'), /<ip>:<port>/);
  throwsProtocolError(() => parseServerRunning('{"active":"yes","address":"1.2.3.4:1"}'), /"active" must be true or false/);
  throwsProtocolError(() => parseServerRunning(new Uint8Array([0xff, 0xfe])), /not UTF-8: got bytes fffe/);
  assert.throws(() => formatServerRunning({ active: true, address: "1.2.3.4" }), /exactly one ':'/);
});

test("server addresses are ip:port, split on ':' into exactly two parts", () => {
  assert.is(serverAddress("10.0.0.1", 11111), "10.0.0.1:11111");
  assert.equal(parseServerAddress("10.0.0.1:11111"), { host: "10.0.0.1", port: 11111 });
  assert.throws(() => serverAddress("::1", 11111), isConfigError);
  assert.throws(() => serverAddress("10.0.0.1", 0), /expected an integer from 1 to 65535/);
  throwsProtocolError(() => parseServerAddress("10.0.0.1:"), /"10\.0\.0\.1:"/);
  throwsProtocolError(() => parseServerAddress(":1"), /":1"/);
});

test("ClientRunningData is written byte for byte as §3.3 shows, both writes, and read back", () => {
  const connected = '{"active":true,"address":"10.0.0.5:51234","clientId":1001}';
  const first = '{"active":true,"address":"10.0.0.5","clientId":1001}';
  assert.is(formatClientRunning({ active: true, address: "10.0.0.5:51234", clientId: 1001 }), connected);
  assert.is(formatClientRunning({ active: true, address: "10.0.0.5", clientId: 1001 }), first);
  assert.equal(parseClientRunning(connected), { active: true, address: "10.0.0.5:51234", clientId: 1001 });
  assert.equal(parseClientRunning(new TextEncoder().encode(first)), { active: true, address: "10.0.0.5", clientId: 1001 });
  assert.equal(parseClientRunning('{"address":"10.0.0.5","clientId":1001}').active, true);
  // canal-ts's identity key: last in alphabetical order, read back; absent from a Java client's node.
  const withIdentity = formatClientRunning({ active: true, address: "10.0.0.5:51234", clientId: 1001, identity: "host-1/app" });
  assert.is(withIdentity, '{"active":true,"address":"10.0.0.5:51234","clientId":1001,"identity":"host-1/app"}');
  assert.is(parseClientRunning(withIdentity).identity, "host-1/app");
  assert.is(parseClientRunning(connected).identity, undefined);
});

test("bad ClientRunningData is a CanalProtocolError naming the bytes and what was expected", () => {
  throwsProtocolError(() => parseClientRunning('{"active":true,"clientId":1001}'), /"address" must be a non-empty string/);
  throwsProtocolError(() => parseClientRunning('{"address":"a","clientId":"1001"}'), /\{\\"address\\":\\"a\\",\\"clientId\\":\\"1001\\"\}.*"clientId" must be an integer/);
  throwsProtocolError(() => parseClientRunning('{"address":"a","clientId":70000}'), /a Java short/);
  throwsProtocolError(() => parseClientRunning("null"), /ClientRunningData "null": expected a JSON object/);
});

test.run();
