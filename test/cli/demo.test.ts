// The README's first command ends in `canal-ts demo`: run it as a user would, as a child
// process, and check that every part of the tour really happened and that it cleans up.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn, spawnSync } from "node:child_process";

const run = (args: string[]) =>
  spawnSync(process.execPath, ["--import", "tsx", "src/cli/main.ts", ...args], { encoding: "utf8", timeout: 120_000 });

test("demo: two cluster nodes on ZooKeeper and MariaDB, a following tail shows rows before and after kill -9 of the running node, then everything stops", () => {
  const r = run(["demo"]);
  assert.is(r.status, 0, r.stderr + r.stdout);
  const out = r.stdout;
  assert.match(out, /started ZooKeeper 127\.0\.0\.1:\d+ and MariaDB 127\.0\.0\.1:\d+ \(ROW binlog\)/);
  assert.match(out, /canal-ts node a up on 127\.0\.0\.1:\d+ \(metrics http:\/\/127\.0\.0\.1:\d+\/metrics\)/);
  assert.match(out, /canal-ts node b up on/);
  const owner = /destination "example" runs on node ([ab]); node ([ab]) stands by/.exec(out);
  assert.ok(owner !== null && owner[1] !== owner[2], out);
  const [, first, second] = owner!;
  // Before the kill, from the first owner: the insert, the update with before → after, the delete, in commit order.
  const kill = out.indexOf(`kill -9 node ${first}`);
  assert.ok(kill > 0, out);
  const before = out.slice(0, kill);
  assert.match(before, new RegExp(`tail connected to node ${first}`));
  assert.match(before, /INSERT shop\.orders\n.*\n\s+1\s+│ tea\s+│ 3\.50\s+│/);
  assert.match(before, /UPDATE shop\.orders\n.*\n\s+1\s+│ tea\s+│ 3\.50 → 3\.75/);
  assert.match(before, /DELETE shop\.orders\n.*\n\s+2\s+│ cake\s+│ 4\.25/);
  assert.ok(before.indexOf("INSERT shop.orders") < before.indexOf("UPDATE shop.orders") && before.indexOf("UPDATE shop.orders") < before.indexOf("DELETE shop.orders"), "in commit order");
  // After the kill: the tail follows to the other node, and the rows written after it arrive there.
  assert.match(before, /the tail's ack is in ZooKeeper: \/otter\/canal\/destinations\/example\/1001\/cursor at mysql-bin\.\d+:\d+/);
  const after = out.slice(kill);
  assert.match(after, new RegExp(`tail reconnected to node ${second}`));
  assert.match(after, /INSERT shop\.orders\n.*\n\s+4\s+│ muffin\s+│ 2\.80\s+│.*\n\s+5\s+│ coffee/);
  assert.match(after, /UPDATE shop\.orders\n.*\n\s+4\s+│ muffin\s+│ 2\.80 → 2\.95/);
  assert.match(after, new RegExp(`the tail carried on at node ${second}: rows written after the kill arrived \\d+ ms after it`));
  assert.match(after, new RegExp(`node ${second} metrics: canal_ts_takeovers_total\\{cause="failover"\\} 1, took over \\d+\\.\\d+ s`));
  assert.match(out, /stopped the tail, both canal-ts nodes, ZooKeeper and MariaDB\n$/);
  for (const pid of pidsIn(out)) assert.not.ok(isAlive(pid), `node process ${pid} is gone`);
});

test("demo --keep stays up after the tour and stops everything it started on Ctrl-C (SIGINT)", async () => {
  const child = spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", "demo", "--keep"], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (out += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  try {
    const deadline = Date.now() + 120_000;
    while (!out.includes("Ctrl-C stops everything") && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 100));
    assert.match(out, /everything stays up\. Write rows and watch them arrive: mariadb -h127\.0\.0\.1 -P\d+/);
    const pids = pidsIn(out);
    assert.is(pids.length, 2);
    child.kill("SIGINT");
    assert.is(await exited, 0, out);
    assert.match(out, /stopped the tail, both canal-ts nodes, ZooKeeper and MariaDB\n$/);
    for (const pid of pids) assert.not.ok(isAlive(pid), `node process ${pid} is gone`);
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL");
  }
});

function pidsIn(out: string): number[] {
  return [...out.matchAll(/canal-ts node [ab] up on .*, pid (\d+)/g)].map((m) => Number(m[1]));
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test("an unknown command names itself and what was expected", () => {
  const r = run(["serve-everything"]);
  assert.is(r.status, 1);
  assert.match(r.stderr, /unknown command "serve-everything"; expected one of: server, tail, .*demo, help/);
});

test.run();
