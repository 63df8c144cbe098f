// Every invalid value is a CanalConfigError that names the key (with file and line), the value
// and what was expected. One case per validated key of the config file.
import { suite } from "uvu";
import { parseConfigText } from "../../src/config/index.js";
import { assertNames, configError, OPTIONS } from "./helpers.js";

const Validation = suite("config/validation");
const FILE = "/etc/canal-ts/node.yaml";

/** A file with `node` lines at the top level and `destination` lines under destinations.d. */
function file(node: string, destination = "", source = "source: mysql://u:pw@db1"): string {
  const indent = (text: string, by: string) => text.split("\n").filter((l) => l !== "").map((l) => by + l).join("\n");
  return `${node}\ndestinations:\n  d:\n${indent(source, "    ")}\n${indent(destination, "    ")}\n`;
}

interface Case {
  name: string;
  text: string;
  /** key in FILE:line */
  at: string;
  value: string;
  expected: string;
}

const cases: Case[] = [
  { name: "port", text: file("port: 70000"), at: "port in FILE:1", value: "70000", expected: "expected an integer 1–65535" },
  { name: "metricsPort", text: file("metricsPort: -1"), at: "metricsPort in FILE:1", value: "-1", expected: "expected an integer 0–65535" },
  { name: "metricsPort = port", text: file("port: 9000\nmetricsPort: 9000"), at: "metricsPort in FILE:2", value: "9000", expected: "expected a different port, or 0" },
  { name: "nodeId", text: file("nodeId: node.a"), at: "nodeId in FILE:1", value: '"node.a"', expected: "expected 1–128 letters, digits" },
  { name: "bind", text: file("bind: 'every where'"), at: "bind in FILE:1", value: '"every where"', expected: "expected a host name or an IP address" },
  { name: "registerIp", text: file("registerIp: 'a b'"), at: "registerIp in FILE:1", value: '"a b"', expected: "expected a host name or an IP address" },
  { name: "user without hash", text: file("user: canal"), at: "user in FILE:1", value: '"canal"', expected: "expected passwordHash too" },
  { name: "zookeeper.connect", text: file("zookeeper: { connect: 'zk1:0' }"), at: "zookeeper.connect in FILE:1", value: '"zk1:0"', expected: "expected host:port" },
  { name: "zookeeper.sessionTimeoutMs", text: file("zookeeper:\n  connect: zk1\n  sessionTimeoutMs: 90s"), at: "zookeeper.sessionTimeoutMs in FILE:3", value: '"90s"', expected: "expected an integer 1000–600000" },
  { name: "zookeeper.fenceAfterMs", text: file("zookeeper:\n  connect: zk1\n  sessionTimeoutMs: 2000\n  fenceAfterMs: 2000"), at: "zookeeper.fenceAfterMs in FILE:4", value: "2000", expected: "expected an integer 1–1999" },
  { name: "zookeeper.antiFlapDelayMs", text: file("zookeeper:\n  connect: zk1\n  antiFlapDelayMs: -5"), at: "zookeeper.antiFlapDelayMs in FILE:3", value: "-5", expected: "expected an integer 0–60000" },
  { name: "nats.servers", text: file("nats: 'http://n1:4222'"), at: "nats in FILE:1", value: '"http://n1:4222"', expected: "expected nats://host:port" },
  { name: "source.port", text: file("", "", "source: { host: db1, user: u, port: 0 }"), at: "destinations.d.source.port in FILE:4", value: "0", expected: "expected an integer 1–65535" },
  { name: "source.serverId", text: file("", "", "source: { host: db1, user: u, serverId: 0 }"), at: "destinations.d.source.serverId in FILE:4", value: "0", expected: "expected an integer 1–4294967295" },
  { name: "source.connectionCharset", text: file("", "", "source: { host: db1, user: u, connectionCharset: GBK }"), at: "destinations.d.source.connectionCharset in FILE:4", value: '"GBK"', expected: "expected UTF-8 (or UTF8MB4) or ISO-8859-1" },
  { name: "source.timeZone", text: file("", "", "source: { host: db1, user: u, timeZone: Mars/Olympus }"), at: "destinations.d.source.timeZone in FILE:4", value: '"Mars/Olympus"', expected: "expected an IANA zone name" },
  { name: "source.gtidMode", text: file("", "", "source: { host: db1, user: u, gtidMode: yes please }"), at: "destinations.d.source.gtidMode in FILE:4", value: '"yes please"', expected: "expected true or false" },
  { name: "filter.regex", text: file("", "filter: { regex: 'shop\\.(orders' }"), at: "destinations.d.filter.regex in FILE:5", value: '"shop\\\\.(orders"', expected: "expected comma-separated Perl5 regexes" },
  { name: "filter.blackRegex", text: file("", "filter: { blackRegex: '(?<n>x)' }"), at: "destinations.d.filter.blackRegex in FILE:5", value: '"(?<n>x)"', expected: "expected comma-separated Perl5 regexes" },
  { name: "filter.field", text: file("", "filter: { field: 'shop.orders' }"), at: "destinations.d.filter.field in FILE:5", value: '"shop.orders"', expected: "expected schema.table:col1/col2" },
  { name: "filter.blackField", text: file("", "filter: { blackField: 'a:b:c' }"), at: "destinations.d.filter.blackField in FILE:5", value: '"a:b:c"', expected: "expected schema.table:col1/col2" },
  { name: "start.journalName", text: file("", "start: { journalName: 'my bin' }"), at: "destinations.d.start.journalName in FILE:5", value: '"my bin"', expected: "expected a name such as mysql-bin.000003" },
  { name: "start.position without a file", text: file("", "start: { position: 4 }"), at: "destinations.d.start.position in FILE:5", value: "4", expected: "without destinations.d.start.journalName (expected the binlog file the offset is in" },
  { name: "start.timestamp", text: file("", "start: { timestamp: yesterday }"), at: "destinations.d.start.timestamp in FILE:5", value: '"yesterday"', expected: "expected an integer 0–" },
  { name: "start.gtid with gtidMode false", text: file("", "start: { gtid: 0-1-2 }", "source: { host: db1, user: u, gtidMode: false }"), at: "destinations.d.start.gtid in FILE:5", value: '"0-1-2"', expected: "expected GTID mode on" },
  { name: "store.maxEntries", text: file("", "store: { maxEntries: 0 }"), at: "destinations.d.store.maxEntries in FILE:5", value: "0", expected: "expected an integer 1–16777216" },
  { name: "store.maxBytes", text: file("", "store: { maxBytes: 12 parsecs }"), at: "destinations.d.store.maxBytes in FILE:5", value: '"12 parsecs"', expected: "expected an integer ≥ 1024, optionally with a unit" },
  { name: "store.batchMode", text: file("", "store: { batchMode: BYTES }"), at: "destinations.d.store.batchMode in FILE:5", value: '"BYTES"', expected: "expected MEMSIZE or ITEMSIZE" },
  { name: "store.memUnit", text: file("", "store: { memUnit: 1KiB }"), at: "destinations.d.store.memUnit in FILE:5", value: '"1KiB"', expected: "expected an integer 1–1048576" },
  { name: "ddlIsolation", text: file("", "ddlIsolation: 1"), at: "destinations.d.ddlIsolation in FILE:5", value: "1", expected: "expected true or false" },
  { name: "transactionSize", text: file("", "transactionSize: 0"), at: "destinations.d.transactionSize in FILE:5", value: "0", expected: "expected an integer 1–1048576" },
  { name: "preferredNode", text: file("", "preferredNode: node-a"), at: "destinations.d.preferredNode in FILE:5", value: '"node-a"', expected: "expected <ip>:<port> as the node registers it" },
];

for (const c of cases) {
  Validation(`${c.name}: names key, file and line, value and expectation`, () => {
    const message = configError(() => parseConfigText(c.text, FILE, OPTIONS));
    assertNames(message, [`${c.at.replace("FILE", FILE)}: `, c.value, c.expected], ["pw@"]);
  });
}

Validation("a secret value is never shown, even when it is the invalid one", () => {
  const message = configError(() => parseConfigText(file("user: canal\npasswordHash: not-a-hash-hunter2"), FILE, OPTIONS));
  assertNames(message, [`passwordHash in ${FILE}:2: the value (hidden, 18 characters) is not a password hash (expected 40 hex digits`], ["hunter2"]);
});

Validation.run();
