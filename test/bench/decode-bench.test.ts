/**
 * Keeps `npm run bench -- decode` working: the whole benchmark (its own MariaDB, the workload,
 * both Node readers and the C reference) at a tiny scale with one run each. Only the shape of
 * the output and the clean-up are checked; timings on a shared CI box mean nothing.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { isPidAlive } from "../../src/testkit/index.js";

const run = promisify(execFile);
const root = new URL("../..", import.meta.url).pathname;

function bench(...args: string[]) {
  return run(process.execPath, ["--import", "tsx", "bench/run.ts", "decode", ...args], { cwd: root, timeout: 240_000 });
}

test("a small-scale run prints per-tool lines and ends with the decode line, then stops its server", async () => {
  const { stdout } = await bench("--scale", "0.02", "--runs", "1");
  const lines = stdout.trimEnd().split("\n");
  assert.match(stdout, /workload: 13000 row changes in mysql-bin\.\d+/);
  for (const tool of ["ours", "zongji"]) assert.ok(lines.some((l) => l.startsWith(`  run 1 ${tool} `)), `a run line for ${tool}`);

  const last = /^decode: (\d+) rows\/s, zongji: (\d+) rows\/s, ratio (\d+\.\d\d)$/.exec(lines.at(-1)!);
  assert.ok(last, `last line: ${lines.at(-1)}`);
  const [ours, theirs, ratio] = last.slice(1).map(Number) as [number, number, number];
  assert.ok(ours > 0 && theirs > 0 && Number.isFinite(ours) && Number.isFinite(theirs));
  assert.ok(Math.abs(ratio - ours / theirs) < 0.01, `ratio ${ratio} = ${ours} / ${theirs}`);

  const pid = Number(/^mariadb: pid (\d+)/m.exec(stdout)?.[1]);
  assert.ok(pid > 0);
  assert.not.ok(isPidAlive(pid), "the benchmark's MariaDB is stopped");
});

test("a bad option fails before any server starts", async () => {
  const err = await bench("--runs", "0").then(() => undefined, (e: { code: number; stdout: string; stderr: string }) => e);
  assert.ok(err, "exits non-zero");
  assert.is(err.code, 1);
  assert.match(err.stderr, "--runs 0");
  assert.not.match(err.stdout, "mariadb: pid");
});

test.run();
