/**
 * Keeps `npm run bench -- failover` working: the whole benchmark (its own ZooKeeper and
 * MariaDB, two canal-ts nodes, the sequence load and the following consumer) with one kill -9
 * and one SIGTERM trial. Checked: the shape of the output, that no row was lost, and the
 * clean-up; timings on a shared CI box mean nothing.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { isPidAlive } from "../../src/testkit/index.js";

const run = promisify(execFile);
const root = new URL("../..", import.meta.url).pathname;

function bench(...args: string[]) {
  return run(process.execPath, ["--import", "tsx", "bench/run.ts", "failover", ...args], { cwd: root, timeout: 240_000 });
}

test("one trial of each kind prints a line per trial and ends with the failover line, lost 0, then stops everything", async () => {
  const { stdout } = await bench("--trials", "1");
  const lines = stdout.trimEnd().split("\n");
  for (const kind of ["kill9", "sigterm"]) {
    const line = lines.find((l) => l.startsWith(`  trial  1 ${kind}`));
    assert.ok(line, `a trial line for ${kind}:\n${stdout}`);
    assert.match(line, /n[12] -> n[12] +\d+ ms +\(/);
  }
  // After a kill -9 the last ack may not have reached the dead node: its rows may come again.
  assert.match(stdout, /^checker: ok(: | but for acks in flight: )/m);

  const last = /^failover: kill9 median (\d+) ms max (\d+) ms, sigterm median (\d+) ms max (\d+) ms, lost (\d+)$/.exec(lines.at(-1)!);
  assert.ok(last, `last line: ${lines.at(-1)}`);
  const [killMedian, killMax, termMedian, termMax, lost] = last.slice(1).map(Number) as [number, number, number, number, number];
  assert.is(lost, 0);
  assert.ok(killMedian > 0 && killMedian === killMax, "one kill -9 trial: its median is its max");
  assert.ok(termMedian > 0 && termMedian === termMax, "one SIGTERM trial: its median is its max");

  const pids = [
    ...(/^zookeeper: pid ([\d,]+)/m.exec(stdout)?.[1]?.split(",") ?? []),
    /^mariadb: pid (\d+)/m.exec(stdout)?.[1],
    ...[...stdout.matchAll(/^node n\d: pid (\d+)|restarted as pid (\d+)/gm)].map((m) => m[1] ?? m[2]),
  ].map(Number);
  assert.is(pids.length, 6, `pids of zookeeper, mariadb, both nodes and their two restarts in:\n${stdout}`);
  for (const pid of pids) assert.not.ok(isPidAlive(pid), `pid ${pid} is stopped`);
});

test("a bad option fails before any server starts", async () => {
  const err = await bench("--trials", "0").then(() => undefined, (e: { code: number; stdout: string; stderr: string }) => e);
  assert.ok(err, "exits non-zero");
  assert.is(err.code, 1);
  assert.match(err.stderr, "--trials 0: expected an integer in 1..100");
  assert.not.match(err.stdout, "zookeeper: pid");
});

test.run();
