import { suite } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULTS, loadConfigFile, parseConfigText } from "../../src/config/index.js";
import { assertNames, configError, OPTIONS } from "./helpers.js";

const File = suite("config/file");
const FILE = "/etc/canal-ts/node.yaml";
const parse = (text: string, env: Record<string, string> = {}) => parseConfigText(text, FILE, { ...OPTIONS, cwd: "/etc/canal-ts", env }).config;

const MINIMAL = `
destinations:
  example:
    source: mysql://canal:canal@127.0.0.1
`;

File("a minimal file gets every default", () => {
  const config = parse(MINIMAL);
  assert.equal(
    { nodeId: config.nodeId, bind: config.bind, registerIp: config.registerIp, port: config.port, metricsPort: config.metricsPort, user: config.user, passwordHash: config.passwordHash, dataDir: config.dataDir },
    { nodeId: "db7-11111", bind: "0.0.0.0", registerIp: undefined, port: 11111, metricsPort: 11112, user: "", passwordHash: "", dataDir: "/etc/canal-ts/data" },
  );
  const d = config.destinations[0]!;
  assert.equal(d.filter, DEFAULTS.filter);
  assert.equal(d.store, { maxEntries: 16384, maxBytes: 16777216, batchMode: "MEMSIZE", memUnit: 1024 });
  assert.equal([d.ddlIsolation, d.transactionSize, d.source.port, d.source.connectionCharset, d.source.timeZone], [false, 1024, 3306, "UTF-8", "UTC"]);
});

File("a full YAML file", () => {
  const config = parse(`
nodeId: node-a
bind: 10.0.0.5
registerIp: 10.0.0.5
port: 11211
metricsPort: 0
user: canal
passwordHash: e3619321c1a937c46a0d8bd1dac39f93b27d4458
dataDir: /var/lib/canal-ts
zookeeper:
  connect: zk1:2181,zk2:2181,zk3:2181/canal
  sessionTimeoutMs: 2000
  fenceAfterMs: 1200
  antiFlapDelayMs: 250
nats:
  servers: nats://127.0.0.1:4222, 127.0.0.1:4223
destinations:
  example:
    source:
      host: db1
      port: 3307
      user: repl
      password: "\${DB_PASSWORD}"
      serverId: 1234
      connectionCharset: latin1
      timeZone: Asia/Shanghai
      gtidMode: true
    filter:
      regex: shop\\..*,crm\\.customers
      blackRegex: shop\\.tmp_.*
      field: shop.orders:id/total
      blackField: crm.customers:ssn
    start: { gtid: 0-1-100 }
    store: { maxEntries: 4096, maxBytes: 64MiB, batchMode: itemsize, memUnit: 512 }
    ddlIsolation: true
    transactionSize: 256
  audit:
    source: { address: "[::1]:3306", user: audit }
`, { DB_PASSWORD: "s3cret" });
  assert.equal([config.nodeId, config.bind, config.registerIp, config.port, config.metricsPort, config.dataDir], ["node-a", "10.0.0.5", "10.0.0.5", 11211, 0, "/var/lib/canal-ts"]);
  assert.equal(config.zookeeper, { servers: ["zk1:2181", "zk2:2181", "zk3:2181"], chroot: "/canal", sessionTimeoutMs: 2000, fenceAfterMs: 1200, antiFlapDelayMs: 250 });
  assert.equal(config.nats, { servers: ["nats://127.0.0.1:4222", "nats://127.0.0.1:4223"] });
  const [example, audit] = config.destinations;
  assert.equal(example!.source, { host: "db1", port: 3307, user: "repl", password: "s3cret", serverId: 1234, connectionCharset: "latin1", timeZone: "Asia/Shanghai", gtidMode: true });
  assert.equal(example!.filter, { regex: "shop\\..*,crm\\.customers", blackRegex: "shop\\.tmp_.*", field: "shop.orders:id/total", blackField: "crm.customers:ssn", queryDml: false, queryDcl: false, queryDdl: false });
  assert.equal(example!.start.gtid, "0-1-100");
  assert.equal(example!.store, { maxEntries: 4096, maxBytes: 64 * 1024 * 1024, batchMode: "ITEMSIZE", memUnit: 512 });
  assert.equal([example!.ddlIsolation, example!.transactionSize], [true, 256]);
  assert.equal([audit!.name, audit!.source.host, audit!.source.port, audit!.source.password], ["audit", "::1", 3306, ""]);
});

File("JSON is read by the same parser, with line numbers", () => {
  const json = `{
  "port": 11111,
  "zookeeper": "zk1:2181",
  "destinations": {
    "example": { "source": "mysql://u:p@db1:3306", "filter": "shop\\\\..*" }
  }
}`;
  const config = parse(json);
  assert.equal(config.zookeeper!.servers, ["zk1:2181"]);
  assert.is(config.destinations[0]!.filter.regex, "shop\\..*");
  assert.is(configError(() => parse(json.replace('"port": 11111', '"port": "11x11"'))), `port in ${FILE}:2: "11x11" is not a port (expected an integer 1–65535)`);
});

File("unknown keys are errors, with their line and the keys allowed", () => {
  assert.is(configError(() => parse(`prot: 1\n${MINIMAL}`)), `prot in ${FILE}:1: unknown key (expected one of: nodeId, bind, registerIp, port, metricsPort, logLevel, user, passwordHash, dataDir, zookeeper, nats, destinations)`);
  assertNames(configError(() => parse(`destinations:\n  example:\n    source: mysql://u@h\n    store:\n      maxEntrys: 5\n`)), [`destinations.example.store.maxEntrys in ${FILE}:5: unknown key (expected one of: maxEntries, maxBytes, batchMode, memUnit)`]);
  assert.is(
    configError(() => parse(`zookeeper:\n  connect: zk1\n  cursorFlushMs: 50\n${MINIMAL}`)),
    `zookeeper.cursorFlushMs in ${FILE}:3: unknown key (expected one of: connect, sessionTimeoutMs, fenceAfterMs, antiFlapDelayMs)`,
    "the removed cursor flush window (cursors are written at once) is an unknown key like any other",
  );
});

File("invalid YAML and duplicate keys are errors with a line", () => {
  assertNames(configError(() => parse("port: 1\nport: 2\n")), [`${FILE}:2: not valid YAML or JSON`, "unique"]);
  assertNames(configError(() => parse("port: [1\n")), [`${FILE}:`, "not valid YAML or JSON"]);
});

File("${ENV} placeholders: defaults, unset variables named, and $${ for a literal", () => {
  const text = (password: string) => `destinations:\n  example:\n    source: { host: h, user: u, password: "${password}" }\n`;
  assert.is(parse(text("${PW:fallback}")).destinations[0]!.source.password, "fallback");
  assert.is(parse(text("a$${b}")).destinations[0]!.source.password, "a${b}");
  const message = configError(() => parse(text("${PW}")));
  assertNames(message, [`destinations.example.source.password in ${FILE}:3`, "refers to ${PW}, which is not set"]);
});

File("source: url, address or host, not two of them; a field given twice is refused", () => {
  assertNames(configError(() => parse(`destinations:\n  d:\n    source: { url: "mysql://u:pw@h", host: h }\n`)), ["destinations.d.source.host", "set together with destinations.d.source.url"]);
  assertNames(configError(() => parse(`destinations:\n  d:\n    source: { url: "mysql://u:pw@h", user: x }\n`)), ["destinations.d.source.user", "also given in destinations.d.source.url"], ["pw"]);
  assertNames(configError(() => parse(`destinations:\n  d:\n    filter: x\n`)), [`destinations.d.source in ${FILE}:2: missing`]);
  assertNames(configError(() => parse(`destinations:\n  d:\n    source: { host: h }\n`)), ["destinations.d.source.user", "missing (expected the database user"]);
});

File("no destinations, sections of the wrong shape, and destination names", () => {
  assertNames(configError(() => parse("port: 11111\n")), [`destinations in ${FILE}: missing (expected at least one destination)`]);
  assertNames(configError(() => parse("destinations: [a, b]\n")), [`destinations in ${FILE}:1`, "is not a mapping (expected a mapping of destination names"]);
  assertNames(configError(() => parse(`destinations:\n  shop.orders:\n    source: mysql://u@h\n`)), [`destinations.shop.orders in ${FILE}:2: "shop.orders" is not a valid destination name (expected 1–128 letters, digits, '_' or '-')`]);
  assertNames(configError(() => parse(`destinations:\n  d:\n    source: mysql://u@h\n    store: 5\n`)), ["destinations.d.store", "is not a mapping"]);
  assertNames(configError(() => parse(`port: { a: 1 }\n${MINIMAL}`)), [`port in ${FILE}:1`, "is not a single value"]);
});

File("loadConfigFile reads from disk and resolves relative paths against the file's directory", () => {
  const dir = mkdtempSync(join(tmpdir(), "canal-config-"));
  try {
    writeFileSync(join(dir, "node.yml"), `dataDir: state\n${MINIMAL}`);
    const { config, warnings } = loadConfigFile(join(dir, "node.yml"), OPTIONS);
    assert.is(config.dataDir, join(dir, "state"));
    assert.equal(warnings, []);
    assertNames(configError(() => loadConfigFile(join(dir, "absent.yml"), OPTIONS)), [`config file ${join(dir, "absent.yml")}: cannot be read`]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

File.run();
