/**
 * Keeps `npm run bench -- e2e` working: the whole benchmark (its own MariaDB, the workload,
 * the decode-only runner, the node and the client) at a tiny scale with one run. Only the
 * shape of the output, that the client saw every row, and the clean-up are checked; timings
 * on a shared CI box mean nothing.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { isPidAlive } from "../../src/testkit/index.js";

const run = promisify(execFile);
const root = new URL("../..", import.meta.url).pathname;

function bench(...args: string[]) {
  return run(process.execPath, ["--import", "tsx", "bench/run.ts", "e2e", ...args], { cwd: root, timeout: 240_000 });
}

test("a small-scale run prints a decode-only and an e2e line and ends with the e2e line, then stops its servers", async () => {
  const { stdout } = await bench("--scale", "0.01", "--runs", "1");
  const lines = stdout.trimEnd().split("\n");
  assert.match(stdout, /workload: 13000 row changes in mysql-bin\.\d+/);
  assert.ok(lines.some((l) => l.startsWith("  run 1 decode-only ")), "a decode-only run line");
  // The client stops at the workload's row count and the bench fails unless it saw exactly that many.
  assert.ok(lines.some((l) => /^ {2}run 1 e2e +\d+\.\d+ s +\d+ rows\/s +node peak RSS \d+\.\d MiB/.test(l)), "an e2e run line");

  const last = /^e2e: (\d+) rows\/s, decode-only: (\d+) rows\/s, ratio (\d+\.\d\d), node peak RSS (\d+\.\d) MiB$/.exec(lines.at(-1)!);
  assert.ok(last, `last line: ${lines.at(-1)}`);
  const [e2e, decode, ratio, rss] = last.slice(1).map(Number) as [number, number, number, number];
  assert.ok(e2e > 0 && decode > 0 && Number.isFinite(e2e) && Number.isFinite(decode));
  assert.ok(Math.abs(ratio - e2e / decode) < 0.01, `ratio ${ratio} = ${e2e} / ${decode}`);
  assert.ok(rss > 0);

  const pid = Number(/^mariadb: pid (\d+)/m.exec(stdout)?.[1]);
  assert.ok(pid > 0);
  assert.not.ok(isPidAlive(pid), "the benchmark's MariaDB is stopped");
});

test("a bad option fails before any server starts", async () => {
  const err = await bench("--scale", "0").then(() => undefined, (e: { code: number; stdout: string; stderr: string }) => e);
  assert.ok(err, "exits non-zero");
  assert.is(err.code, 1);
  assert.match(err.stderr, "--scale 0");
  assert.not.match(err.stdout, "mariadb: pid");
});

test.run();
