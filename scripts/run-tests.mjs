#!/usr/bin/env node
// Runs every test file in its own Node process (uvu has no isolation between files, and a
// leaked handle would hang a shared process), prints one result line per suite and ends with
// the single line CI reads: `N passed, N failed`.
//
//   npm test                      all suites under test/
//   npm test -- protocol frame    only files whose path contains one of the words
//
// TEST_FILE_TIMEOUT_MS bounds each file (default 5 minutes); a file that runs over is killed
// with its whole process group, so servers it started die with it.
import { spawn } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { generateProto } from "./gen-proto.mjs";

const root = new URL("..", import.meta.url).pathname;
const timeoutMs = Number(process.env.TEST_FILE_TIMEOUT_MS ?? 300_000);
const filters = process.argv.slice(2);

function findTests(dir) {
  return readdirSync(dir).sort().flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return findTests(path);
    return name.endsWith(".test.ts") ? [path] : [];
  });
}

/** uvu prints "Total: / Passed: / Skipped:" when a file's tests finish. */
function parseTotals(text) {
  const plain = text.replace(/\x1b\[[0-9;]*m/g, "");
  const num = (key) => {
    const all = [...plain.matchAll(new RegExp(`^\\s*${key}:\\s+(\\d+)`, "gm"))];
    return all.reduce((sum, m) => sum + Number(m[1]), 0);
  };
  return { found: /^\s*Total:/m.test(plain), total: num("Total"), passed: num("Passed"), skipped: num("Skipped") };
}

function runFile(file) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, ["--import", "tsx", file], {
      cwd: root,
      env: { ...process.env, FORCE_COLOR: "0" },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try { process.kill(-child.pid, "SIGKILL"); } catch {}
    }, timeoutMs);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      // The suite may have left children (servers) in its process group; stop them.
      try { process.kill(-child.pid, "SIGKILL"); } catch {}
      resolve({ file, code, signal, output, timedOut, ms: Date.now() - started });
    });
  });
}

generateProto();
const files = findTests(join(root, "test")).filter((f) => filters.length === 0 || filters.some((w) => f.includes(w)));
let passed = 0;
let failed = 0;
for (const file of files) {
  const name = relative(root, file);
  const r = await runFile(file);
  const t = parseTotals(r.output);
  // A file that crashed, hung or ran no test counts as one failure, so it can never pass silently.
  const fileFailed = t.total - t.passed - t.skipped;
  const broken = r.timedOut || r.code !== 0 || !t.found || t.total === 0;
  passed += t.passed;
  failed += Math.max(fileFailed, broken ? 1 : 0);
  const why = r.timedOut ? ` (killed after ${timeoutMs} ms)` : !t.found || t.total === 0 ? " (ran no test)" : "";
  const mark = broken || fileFailed > 0 ? "FAIL" : "ok  ";
  console.log(`${mark} ${name}  ${t.passed}/${t.total} passed in ${(r.ms / 1000).toFixed(1)} s${why}`);
  if (broken || fileFailed > 0 || process.env.TEST_VERBOSE) console.log(r.output.replace(/^/gm, "    | "));
  if (t.skipped > 0) console.log(`     ${t.skipped} skipped: every test must run`), (failed += t.skipped);
}
if (files.length === 0) failed += 1, console.log("no test files found under test/");
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
