import { suite } from "uvu";
import * as assert from "uvu/assert";
import { parseArgs } from "node:util";
import { configFromFlags, defaultServerId, QUICK_START_OPTIONS, type QuickStartFlags } from "../../src/config/index.js";
import { assertNames, configError, OPTIONS } from "./helpers.js";

const Flags = suite("config/flags");
const load = (flags: QuickStartFlags) => configFromFlags(flags, OPTIONS).config;
const sourceOf = (uri: string) => load({ source: uri }).destinations[0]!.source;

Flags("the issue's quick start: one destination with Canal's defaults", () => {
  const config = load({ port: "11111", destination: "example", source: "mysql://canal:canal@127.0.0.1:3306", filter: "shop\\..*", "data-dir": "state" });
  assert.is(config.port, 11111);
  assert.is(config.bind, "0.0.0.0");
  assert.is(config.metricsPort, 11112);
  assert.is(config.nodeId, "db7-11111");
  assert.is(config.dataDir, "/srv/canal-ts/state", "relative to the working directory");
  assert.is(config.zookeeper, undefined, "standalone without --zk");
  assert.is(config.nats, undefined);
  const [d] = config.destinations;
  assert.is(d!.name, "example");
  assert.equal(d!.source, { host: "127.0.0.1", port: 3306, user: "canal", password: "canal", serverId: defaultServerId("db7-11111", "example"), connectionCharset: "UTF-8", timeZone: "UTC", gtidMode: false });
  assert.equal(d!.filter, { regex: "shop\\..*", blackRegex: "", field: "", blackField: "", queryDml: false, queryDcl: false, queryDdl: false });
  assert.equal(d!.store, { maxEntries: 16384, maxBytes: 16 * 1024 * 1024, batchMode: "MEMSIZE", memUnit: 1024 });
  assert.equal(d!.start, { journalName: undefined, position: undefined, timestamp: undefined, gtid: undefined });
});

Flags("QUICK_START_OPTIONS drives node:util parseArgs", () => {
  const { values } = parseArgs({ args: ["--source", "mysql://u@h", "--zk", "zk1:2181", "--server-id", "77"], options: QUICK_START_OPTIONS, strict: true });
  const config = configFromFlags(values, OPTIONS).config;
  assert.is(config.destinations[0]!.source.serverId, 77);
  assert.equal(config.zookeeper!.servers, ["zk1:2181"]);
});

Flags("source URI: percent-encoded user and password are decoded", () => {
  const s = sourceOf("mysql://repl%40x:p%40ss%3Aw%2Fo%25rd@db1:3307");
  assert.equal([s.user, s.password, s.host, s.port], ["repl@x", "p@ss:w/o%rd", "db1", 3307]);
});

Flags("source URI: IPv6 in brackets, missing port → 3306, mariadb:// scheme, no password", () => {
  assert.equal([sourceOf("mysql://u:p@[::1]:3307").host, sourceOf("mysql://u:p@[::1]:3307").port], ["::1", 3307]);
  assert.equal([sourceOf("mysql://u:p@[fe80::1]").host, sourceOf("mysql://u:p@[fe80::1]").port], ["fe80::1", 3306]);
  assert.is(sourceOf("mysql://u:p@db1").port, 3306);
  assert.is(sourceOf("MariaDB://u@db1").password, "");
});

Flags("source URI errors name --source, show the URI with its password masked, and say what was expected", () => {
  for (const [uri, problem] of [
    ["postgres://u:hunter2@h", "is not a source URI"],
    ["mysql://u:hunter2@h/shop", "has a path or query"],
    ["mysql://u:hunter2@h?ssl=1", "has a path or query"],
    ["mysql://u:hunter2%zz@h", "badly percent-encoded password"],
    ["mysql://u:hunter2@", "is not a source URI"],
  ] as const) {
    const message = configError(() => sourceOf(uri));
    assertNames(message, ["--source in the command line", problem, "expected mysql://user:password@host:port"], ["hunter2"]);
  }
  assertNames(configError(() => sourceOf("mysql://u:hunter2@h:99999")), ['--source in the command line: "99999" is not a port (expected an integer 1–65535)'], ["hunter2"]);
  assertNames(configError(() => sourceOf("mysql://h:3306")), ["--source in the command line: missing (expected the database user"]);
  assertNames(configError(() => load({})), ["--source in the command line: missing"]);
});

Flags("--destination a,b: several destinations of one source, each with its own replica server id (like canal.destinations)", () => {
  const config = load({ source: "mysql://canal:canal@127.0.0.1:3306", destination: "orders, users", "node-id": "n1" });
  assert.equal(config.destinations.map((d) => d.name), ["orders", "users"]);
  assert.is.not(config.destinations[0]!.source.serverId, config.destinations[1]!.source.serverId);
  assertNames(configError(() => load({ source: "mysql://u:p@127.0.0.1", destination: "a,b", "server-id": "7" })), ["--server-id 7", "a,b", "expected no --server-id"]);
  assertNames(configError(() => load({ source: "mysql://u:p@127.0.0.1", destination: "a,,b" })), ["--destination", '""', "destination name"]);
});

Flags("--zk: hosts, Canal's ';' alternative clusters, default port 2181, IPv6, chroot", () => {
  const zk = load({ source: "mysql://u@h", zk: "zk1,zk2:2182;[::1]:2183/canal/prod" }).zookeeper!;
  assert.equal(zk.servers, ["zk1:2181", "zk2:2182", "[::1]:2183"]);
  assert.is(zk.chroot, "/canal/prod");
  assert.equal([zk.sessionTimeoutMs, zk.fenceAfterMs, zk.antiFlapDelayMs], [4000, 2000, 200]);
  assert.is(load({ source: "mysql://u@h", zk: "zk1:2181/" }).zookeeper!.chroot, "", "a bare / is no chroot");
  const tuned = load({ source: "mysql://u@h", zk: "zk1", "zk-session-timeout": "2000", "zk-anti-flap-delay": "0" }).zookeeper!;
  assert.equal([tuned.sessionTimeoutMs, tuned.fenceAfterMs, tuned.antiFlapDelayMs], [2000, 1000, 0]);
});

Flags("--zk errors name the flag, the value and the expected form", () => {
  assertNames(configError(() => load({ source: "mysql://u@h", zk: "zk1:21x81" })), ['--zk in the command line: "zk1:21x81" has an invalid server "zk1:21x81"', "expected host:port"]);
  assertNames(configError(() => load({ source: "mysql://u@h", zk: "zk1/a//b" })), ['has an invalid chroot "/a//b"']);
  assertNames(configError(() => load({ source: "mysql://u@h", zk: ",;" })), ["names no server"]);
  assertNames(configError(() => load({ source: "mysql://u@h", zk: "zk1", "zk-session-timeout": "500" })), ['--zk-session-timeout in the command line: "500" is not a duration in milliseconds (expected an integer 1000–600000)']);
});

Flags("--start FILE[:OFFSET], --start-gtid, --start-timestamp", () => {
  const start = (flags: QuickStartFlags) => load({ source: "mysql://u@h", ...flags }).destinations[0]!;
  assert.equal(start({ start: "mysql-bin.000003:4567" }).start, { journalName: "mysql-bin.000003", position: 4567, timestamp: undefined, gtid: undefined });
  assert.equal(start({ start: "mysql-bin.000003" }).start.position, undefined);
  const byGtid = start({ "start-gtid": "0-1-100,1-2-5" });
  assert.equal([byGtid.start.gtid, byGtid.source.gtidMode], ["0-1-100,1-2-5", true], "a start GTID turns GTID mode on");
  assert.is(start({ "start-timestamp": "1700000000000" }).start.timestamp, 1700000000000);
  assertNames(configError(() => start({ "start-gtid": "0-1", start: "f" })), ['--start-gtid in the command line: "0-1" is not a GTID position (expected MariaDB domain-server-seq']);
  assertNames(configError(() => start({ "start-gtid": "0-1-2", start: "mysql-bin.000001" })), ["--start-gtid in the command line", "together with --start in the command line", "not both"]);
  assertNames(configError(() => start({ start: "mysql-bin.000001:2" })), ['--start in the command line: "2" is not a binlog offset (expected an integer 4–']);
});

Flags("--passwd is Canal's hash, either case; --user without it is refused as Canal refuses it", () => {
  const config = load({ source: "mysql://u@h", user: "canal", passwd: "E3619321C1A937C46A0D8BD1DAC39F93B27D4458" });
  assert.is(config.passwordHash, "e3619321c1a937c46a0d8bd1dac39f93b27d4458");
  assertNames(configError(() => load({ source: "mysql://u@h", user: "canal" })), ['--user in the command line: "canal" is set but --passwd is empty', "Canal refuses"]);
  assertNames(configError(() => load({ source: "mysql://u@h", passwd: "canal" })), ["--passwd in the command line: the value (hidden, 5 characters) is not a password hash (expected 40 hex digits"], ['"canal"']);
});

Flags.run();
