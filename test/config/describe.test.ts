import { suite } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync } from "node:fs";
import { CANAL_INSTANCE_KEYS, CANAL_NODE_KEYS, CONFIG_FILE_KEYS, configFromFlags, describeConfig, parseConfigText, QUICK_START_FLAGS, resolveRegisterIp } from "../../src/config/index.js";
import { OPTIONS } from "./helpers.js";

const Describe = suite("config/describe");
const HASH = "e3619321c1a937c46a0d8bd1dac39f93b27d4458";

Describe("describeConfig hides the database password and the password hash", () => {
  const { config } = configFromFlags({ source: "mysql://canal:hunter2@db1:3306", user: "canal", passwd: HASH, zk: "zk1/canal", nats: "nats://n1:4222", start: "mysql-bin.000001:4" }, OPTIONS);
  const text = describeConfig(config);
  assert.not.ok(text.includes("hunter2"));
  assert.not.ok(text.includes(HASH));
  assert.match(text, /password: \(hidden\)/);
  assert.match(text, /passwordHash: \(hidden\)/);
  assert.match(text, /connect: zk1:2181\/canal/);
  assert.match(text, /journalName: mysql-bin\.000001/);
});

Describe("describeConfig prints a config file that loads back to the same config (secrets aside)", () => {
  const { config } = configFromFlags({ source: "mysql://canal@[::1]:3307", zk: "zk1,zk2", filter: "shop\\..*", "black-filter": "shop\\.tmp" }, OPTIONS);
  const reloaded = parseConfigText(describeConfig(config), "printed.yaml", OPTIONS).config;
  assert.equal(reloaded, config);
});

Describe("README.md documents every config-file key, every flag and every Canal key read", () => {
  const readme = readFileSync(new URL("../../src/config/README.md", import.meta.url), "utf8");
  const keys = [...new Set(Object.values(CONFIG_FILE_KEYS).flat())];
  for (const key of keys) assert.ok(readme.includes(`\`${key}\``), `README lacks config key ${key}`);
  for (const flag of Object.keys(QUICK_START_FLAGS)) assert.ok(readme.includes(`\`--${flag}\``), `README lacks flag --${flag}`);
  for (const key of [...CANAL_NODE_KEYS, ...CANAL_INSTANCE_KEYS]) assert.ok(readme.includes(`\`${key}\``), `README lacks Canal key ${key}`);
});

Describe("resolveRegisterIp: registerIp, else a non-wildcard bind, else the first external IPv4, else loopback", () => {
  const ifaces = {
    lo: [{ address: "127.0.0.1", family: "IPv4", internal: true }],
    eth0: [{ address: "fe80::1", family: "IPv6", internal: false }, { address: "10.1.2.3", family: "IPv4", internal: false }],
  } as unknown as NodeJS.Dict<import("node:os").NetworkInterfaceInfo[]>;
  assert.is(resolveRegisterIp({ registerIp: "10.9.9.9", bind: "0.0.0.0" }, ifaces), "10.9.9.9");
  assert.is(resolveRegisterIp({ registerIp: undefined, bind: "10.0.0.5" }, ifaces), "10.0.0.5");
  assert.is(resolveRegisterIp({ registerIp: undefined, bind: "0.0.0.0" }, ifaces), "10.1.2.3");
  assert.is(resolveRegisterIp({ registerIp: undefined, bind: "::" }, { lo: ifaces.lo }), "127.0.0.1");
});

Describe.run();
