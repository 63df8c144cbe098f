// The README's first command ends in `canal-ts demo`: run it as a user would, as a child
// process, and check that every part of the tour really happened and that it cleans up.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";

const run = (args: string[]) =>
  spawnSync(process.execPath, ["--import", "tsx", "src/cli/main.ts", ...args], { encoding: "utf8", timeout: 120_000 });

test("demo starts the servers, runs a node on the MariaDB binlog and tails the sample rows, then stops everything", () => {
  const r = run(["demo"]);
  assert.is(r.status, 0, r.stderr);
  const out = r.stdout;
  assert.match(out, /zookeeper: session 0x[0-9a-f]+, ephemeral \/otter\/canal\/cluster children: 127\.0\.0\.1:11111/);
  assert.match(out, /nats: JetStream stored canal\.demo\.example #1: \{"from":"standby","to":"running"\}/);
  assert.match(out, /canal-ts node serving destination "example"/);
  // The tail shows each change as Canal renders it: the insert, the update with before -> after, the delete.
  assert.match(out, /INSERT shop\.orders\n.*\n\s+1\s+│ tea\s+│ 3\.50\s+│/);
  assert.match(out, /UPDATE shop\.orders\n.*\n\s+1\s+│ tea\s+│ 3\.50 → 3\.75/);
  assert.match(out, /DELETE shop\.orders\n.*\n\s+2\s+│ cake\s+│ 4\.25/);
  assert.ok(out.indexOf("INSERT shop.orders") < out.indexOf("UPDATE shop.orders") && out.indexOf("UPDATE shop.orders") < out.indexOf("DELETE shop.orders"), "in commit order");
  assert.match(out, /stopped every server the demo started/);
});

test("an unknown command names itself and what was expected", () => {
  const r = run(["serve-everything"]);
  assert.is(r.status, 1);
  assert.match(r.stderr, /unknown command "serve-everything"; expected one of: server, tail, release, chart, demo, help/);
});

test.run();
