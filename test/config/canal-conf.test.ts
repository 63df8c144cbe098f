import { suite } from "uvu";
import * as assert from "uvu/assert";
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { formatWarning, loadCanalConfDir, type LoadOptions } from "../../src/config/index.js";
import { assertNames, configError, OPTIONS } from "./helpers.js";

const Canal = suite("config/canal-conf");
const FIXTURE = resolve("test/fixtures/config/canal-conf");
const CANAL_FILE = join(FIXTURE, "canal.properties");
const load = (options: LoadOptions = {}) => loadCanalConfDir(FIXTURE, { ...OPTIONS, ...options });

/** A copy of the fixture to edit; `edit` gets the copy's path. */
function withCopy(edit: (dir: string) => void): string {
  const dir = mkdtempSync(join(tmpdir(), "canal-conf-"));
  cpSync(FIXTURE, dir, { recursive: true });
  edit(dir);
  return dir;
}
function loadEdited(edit: (dir: string) => void, options: LoadOptions = {}) {
  const dir = withCopy(edit);
  try {
    return loadCanalConfDir(dir, { ...OPTIONS, ...options });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
const setCanal = (text: string) => (dir: string) => writeFileSync(join(dir, "canal.properties"), text);

Canal("the node keys of canal.properties", () => {
  const { config } = load();
  assert.equal(
    [config.bind, config.registerIp, config.port, config.metricsPort, config.user, config.passwordHash],
    ["0.0.0.0", "10.0.0.7", 11111, 11112, "canal", "e3619321c1a937c46a0d8bd1dac39f93b27d4458"],
    "blank canal.ip is every interface; the hash is lower-cased",
  );
  assert.equal(config.zookeeper, { servers: ["zk1:2181", "zk2:2181", "zk3:2181"], chroot: "/canal", sessionTimeoutMs: 4000, fenceAfterMs: 2000, antiFlapDelayMs: 200 });
  assert.is(config.dataDir, resolve(FIXTURE, "../data"), "${canal.conf.dir} is the conf dir canal-ts was pointed at");
  assert.equal(config.destinations.map((d) => d.name), ["example", "orders"]);
});

Canal("example/instance.properties: source, position, filters with doubled backslashes, store defaults from canal.properties", () => {
  const example = load().config.destinations[0]!;
  assert.equal(example.source, { host: "127.0.0.1", port: 3306, user: "canal", password: "cänal pass", serverId: 1234, connectionCharset: "UTF-8", timeZone: "UTC", gtidMode: false });
  assert.equal(example.start, { journalName: "mysql-bin.000003", position: 4567, timestamp: undefined, gtid: undefined });
  assert.equal(example.filter, { regex: ".*\\..*", blackRegex: "mysql\\.slave_.*,test\\.tmp_.*", field: "shop.orders:id/total", blackField: "", queryDml: false, queryDcl: true, queryDdl: false });
  assert.equal(example.store, { maxEntries: 4096, maxBytes: 4096 * 1024, batchMode: "MEMSIZE", memUnit: 1024 });
  assert.equal([example.ddlIsolation, example.transactionSize], [true, 1024]);
});

Canal("orders/instance.properties overrides canal.properties; GTID start; IPv6 master address", () => {
  const orders = load().config.destinations[1]!;
  assert.equal([orders.source.host, orders.source.port, orders.source.user, orders.source.gtidMode], ["::1", 3307, "repl", true]);
  assert.is(orders.start.gtid, "0-1-100");
  assert.is(orders.store.batchMode, "ITEMSIZE");
  assert.is(orders.ddlIsolation, false, "the instance's false wins over canal.properties' true");
  assert.ok(orders.source.serverId >= 1_000_000, "no slaveId: derived");
});

Canal("keys canal-ts does not use are warnings with file, line and reason; matching and blank ones are not", () => {
  const warnings = load().warnings.map(formatWarning);
  assert.equal(warnings, [
    `canal.admin.port in ${CANAL_FILE}:12: ignored: canal-ts has no canal-admin console; use the CLI and the NATS control subjects`,
    `canal.zookeeper.flush.period in ${CANAL_FILE}:17: ignored: canal-ts writes each acked cursor to ZooKeeper at once; a client's next request waits for it`,
    `canal.file.flush.period in ${CANAL_FILE}:21: ignored: canal-ts decides itself when to write the standalone cursor file (after acks)`,
    `canal.instance.tsdb.enable in ${CANAL_FILE}:30: ignored: canal-ts takes table schemas from FULL binlog metadata or the database, without a table-meta history store`,
    `canal.auto.scan in ${CANAL_FILE}:36: ignored: canal-ts does not watch the conf dir; restart it to pick up changes`,
    `canal.mq.topic in ${join(FIXTURE, "orders/instance.properties")}:10: ignored: canal-ts has no MQ producers; it serves Canal TCP clients and an optional NATS JetStream sink`,
  ]);
});

Canal("environment variables named like the keys come first, as in Canal (and its Docker image)", () => {
  const { config, warnings } = load({ env: { "canal.port": "12000", "canal.instance.master.address": "db9:3306", "canal.instance.rds.accesskey": "x", PATH: "/bin" } });
  assert.is(config.port, 12000);
  assert.equal(config.destinations.map((d) => d.source.host), ["db9", "db9"]);
  assert.ok(warnings.some((w) => formatWarning(w) === "canal.instance.rds.accesskey in the environment: not supported by canal-ts; ignored"));
  assert.is(configError(() => load({ env: { "canal.port": "11x11" } })), 'canal.port in the environment: "11x11" is not a port (expected an integer 1–65535)');
});

Canal("a bad value names the key, the file and line, the value and the expectation", () => {
  const message = configError(() => loadEdited(setCanal("canal.destinations = example\ncanal.port = 11x11\n")));
  assert.match(message, /^canal\.port in \/.*\/canal\.properties:2: "11x11" is not a port \(expected an integer 1–65535\)$/);
  const filter = configError(() => loadEdited((dir) => writeFileSync(join(dir, "example/instance.properties"), "canal.instance.filter.regex = shop\\\\.(orders\n")));
  assert.match(filter, /^canal\.instance\.filter\.regex in \/.*\/example\/instance\.properties:1: "shop\\\\.\(orders" is not a valid table filter: .*\(expected comma-separated Perl5 regexes matched against schema\.table\)$/);
  const mode = configError(() => loadEdited(setCanal("canal.destinations = example\ncanal.instance.memory.batch.mode = BYTES\n")));
  assert.match(mode, /canal\.instance\.memory\.batch\.mode in \/.*\/canal\.properties:2: "BYTES" is not a batch mode \(expected MEMSIZE or ITEMSIZE\)/);
});

Canal("canal.user with an empty canal.passwd is refused, as CanalController refuses it", () => {
  const message = configError(() => loadEdited(setCanal("canal.destinations = example\ncanal.user = canal\ncanal.passwd =\n")));
  assert.match(message, /^canal\.user in \/.*\/canal\.properties:2: "canal" is set but canal\.passwd is empty \(expected canal\.passwd too, .*Canal refuses a user without a password as well\)$/);
  const badHash = configError(() => loadEdited(setCanal("canal.destinations = example\ncanal.passwd = canal\n")));
  assertNames(badHash, ["canal.passwd in", "canal.properties:2: the value (hidden, 5 characters) is not a password hash"], ['"canal"']);
});

Canal("canal.destinations.expr, a missing instance.properties, placeholders and their errors", () => {
  const expr = loadEdited(setCanal("canal.destinations.expr = inst{1-3}\ncanal.instance.master.address = ${DB_HOST:dbx}:3306\n"), { env: {} });
  assert.equal(expr.config.destinations.map((d) => [d.name, d.source.host, d.source.user, d.source.password]), [["inst1", "dbx", "canal", "canal"], ["inst2", "dbx", "canal", "canal"], ["inst3", "dbx", "canal", "canal"]]);
  assert.ok(expr.warnings.some((w) => w.message.startsWith("no instance.properties")));
  const unset = configError(() => loadEdited(setCanal("canal.destinations = example\ncanal.file.data.dir = ${DATA}\n")));
  assertNames(unset, ["canal.file.data.dir in", "canal.properties:2", "refers to ${DATA}, which is not set"]);
  const none = configError(() => loadEdited(setCanal("canal.destinations =\n")));
  assertNames(none, ["canal.destinations in", "missing (expected at least one destination)"]);
  assertNames(configError(() => loadCanalConfDir("/nonexistent/conf", OPTIONS)), ["/nonexistent/conf/canal.properties: not found"]);
});

Canal("gtidon rules: master.gtid without gtidon is ignored with a warning; slaveId 0 means generate one", () => {
  const { config, warnings } = loadEdited((dir) =>
    writeFileSync(join(dir, "example/instance.properties"), "canal.instance.master.gtid = 0-1-5\ncanal.instance.mysql.slaveId = 0\ncanal.instance.dbPassword =\n"),
  );
  const example = config.destinations[0]!;
  assert.equal([example.start.gtid, example.source.gtidMode, example.source.password], [undefined, false, ""]);
  assert.ok(example.source.serverId >= 1_000_000);
  assert.ok(warnings.some((w) => w.where.key === "canal.instance.master.gtid" && w.message.includes("gtidon")));
});

Canal.run();
