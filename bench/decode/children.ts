/**
 * Runs one decode per fresh child process. The Node runners are bundled with esbuild, as
 * `npm run build` bundles the product, and run under plain `node`: under tsx every child
 * would carry its loader (~30 MiB of RSS, and a second thread) that production does not.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import * as esbuild from "esbuild";
import type { RunResult, RunSpec } from "./child.js";

export type NodeTool = "ours" | "zongji";

const repoRoot = new URL("../..", import.meta.url).pathname;

export interface Runners {
  /** The bundled script of each tool. */
  script: Record<NodeTool, string>;
  /** Removes the bundles. */
  remove(): void;
}

/**
 * Bundles the runners under the repo's .tmp/ (git-ignored), so that the packages left
 * external (mysql2, zongji) resolve from the repo's node_modules.
 */
export async function bundleRunners(): Promise<Runners> {
  return bundleScripts("bench-decode", { ours: "bench/decode/ours.ts", zongji: "bench/decode/zongji.ts" });
}

/** The scripts of the node's threads, which a bundled node starts from beside its own bundle: add them to any bundle of the CLI. */
export { THREAD_SCRIPTS } from "../../build.mjs";

/** Bundles each entry (name → repo-relative .ts path) into a fresh `.tmp/<prefix>-*` dir as `<name>.mjs`. */
export async function bundleScripts<Name extends string>(
  prefix: string,
  entries: Record<Name, string>,
): Promise<{ script: Record<Name, string>; remove(): void }> {
  mkdirSync(join(repoRoot, ".tmp"), { recursive: true });
  const outdir = mkdtempSync(join(repoRoot, ".tmp", `${prefix}-`));
  try {
    await esbuild.build({
      entryPoints: Object.fromEntries(Object.entries<string>(entries).map(([name, path]) => [name, join(repoRoot, path)])),
      outdir,
      absWorkingDir: repoRoot, // the "// src/…" module markers profile.ts reads are relative to it
      outExtension: { ".js": ".mjs" },
      bundle: true,
      platform: "node",
      target: "node20",
      format: "esm",
      packages: "external",
      logLevel: "warning",
    });
  } catch (err) {
    rmSync(outdir, { recursive: true, force: true });
    throw err;
  }
  return {
    script: Object.fromEntries(Object.keys(entries).map((name) => [name, join(outdir, `${name}.mjs`)])) as Record<Name, string>,
    remove: () => rmSync(outdir, { recursive: true, force: true }),
  };
}

/** Children still running, killed by `killRunningChildren` when the benchmark is interrupted. */
const running = new Set<ChildProcess>();

export function killRunningChildren(): void {
  for (const child of running) child.kill("SIGKILL");
}

/** Runs `command` to completion with stdout collected; rejects with its stderr when it fails. */
export function runProcess(command: string, args: string[], timeoutMs: number): Promise<{ stdout: string; seconds: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    running.add(child);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d));
    child.stderr.on("data", (d: Buffer) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      const seconds = (performance.now() - started) / 1000;
      clearTimeout(timer);
      running.delete(child);
      if (code === 0) return resolve({ stdout, seconds });
      const how = signal === "SIGKILL" ? `was killed after ${timeoutMs} ms` : `exited with ${signal ?? `code ${code}`}`;
      reject(new Error(`${command} ${args[0] ?? ""} ${how}:\n${stderr.trim()}`));
    });
  });
}

/** Runs one decode (or another child's run) in a fresh `node` (extra `nodeArgs`, e.g. --cpu-prof) and returns what it reported. */
export async function runNodeTool<Spec = RunSpec, Result = RunResult>(script: string, spec: Spec, timeoutMs: number, nodeArgs: string[] = []): Promise<Result> {
  const { stdout } = await runProcess(process.execPath, [...nodeArgs, script, JSON.stringify(spec)], timeoutMs);
  try {
    return JSON.parse(stdout.trim().split("\n").at(-1)!) as Result;
  } catch {
    throw new Error(`${script} printed no result line:\n${stdout}`);
  }
}
