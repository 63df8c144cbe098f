// The README's first command ends in `canal-ts demo`: run it as a user would, as a child
// process, and check that every part of the tour really happened and that it cleans up.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";

const run = (args: string[]) =>
  spawnSync(process.execPath, ["--import", "tsx", "src/cli/main.ts", ...args], { encoding: "utf8", timeout: 120_000 });

test("demo starts the servers, shows each working and a Canal auth round trip, then stops them", () => {
  const r = run(["demo"]);
  assert.is(r.status, 0, r.stderr);
  const out = r.stdout;
  assert.match(out, /zookeeper: session 0x[0-9a-f]+, ephemeral \/otter\/canal\/cluster children: 127\.0\.0\.1:11111/);
  assert.match(out, /binlog_format=ROW, binlog_row_image=FULL, binlog_row_metadata=FULL/);
  const moved = out.match(/binlog moved from (\S+):(\d+) to (\S+):(\d+)/);
  assert.ok(moved, out);
  assert.ok(Number(moved[4]) > Number(moved[2]), `binlog position grew: ${moved[0]}`);
  assert.match(out, /nats: JetStream stored canal\.demo\.example #1: \{"from":"standby","to":"running"\}/);
  assert.match(out, /password "wrong" -> Canal replied with error 400: auth failed for user:canal/);
  assert.match(out, /ClientAuth 0000003f18022a3b0a0563616e616c1228[0-9a-f]{80}1880dddb012080dddb01 \(password "canal"\) -> Ack ok/);
  assert.match(out, /stopped every server the demo started/);
});

test("an unknown command names itself and what was expected", () => {
  const r = run(["serve-everything"]);
  assert.is(r.status, 1);
  assert.match(r.stderr, /unknown command "serve-everything"; expected one of: server, tail, demo, help/);
});

test.run();
