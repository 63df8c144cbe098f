/**
 * Where our runner's time goes: one extra run under `node --cpu-prof`, summarised as self time
 * per function and per source module, so the decoder's owners see the hot spots without
 * opening DevTools. Bundle lines are mapped back to their source file through the
 * `// path/to/module.ts` markers esbuild writes before each module it inlines.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { RunSpec } from "./child.js";
import { runNodeTool } from "./children.js";

export interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

export interface CpuProfile {
  nodes: Array<{ id: number; hitCount?: number; children?: number[]; callFrame: CallFrame }>;
}

/** Sorted (bundle line, source module) markers of one bundle. */
function moduleMarkers(bundle: string): Array<[number, string]> {
  const markers: Array<[number, string]> = [];
  readFileSync(bundle, "utf8")
    .split("\n")
    .forEach((line, i) => {
      const m = /^\/\/ ((?:src|bench|test)\/\S+\.ts)$/.exec(line);
      if (m) markers.push([i, m[1]!]);
    });
  return markers;
}

function moduleOf(url: string, line: number, bundleUrl: string, markers: Array<[number, string]>): string {
  if (url === "") return "(vm)";
  if (url === bundleUrl) {
    let found = "(bundle)";
    for (const [start, name] of markers) if (start <= line) found = name;
    return found;
  }
  const pkg = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (pkg) return pkg[1]!;
  return url.startsWith("node:") ? "node internals" : url;
}

/** The source module of a frame in `bundle`'s profile: a src/… path, a package, "node internals" or "(vm)". */
export function moduleResolver(bundle: string): (frame: CallFrame) => string {
  const bundleUrl = pathToFileURL(bundle).href;
  const markers = moduleMarkers(bundle);
  return ({ url, lineNumber }) => moduleOf(url, lineNumber, bundleUrl, markers);
}

export interface ProfileSummary {
  samples: number;
  /** Share of non-idle samples, highest first. */
  functions: Array<{ name: string; module: string; share: number }>;
  modules: Array<{ module: string; share: number }>;
}

export function summariseProfile(profile: CpuProfile, bundle: string, top = 15): ProfileSummary {
  const moduleFor = moduleResolver(bundle);
  const byFunction = new Map<string, { name: string; module: string; hits: number }>();
  const byModule = new Map<string, number>();
  let total = 0;
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0;
    const { functionName, lineNumber } = node.callFrame;
    if (hits === 0 || functionName === "(idle)") continue; // idle = waiting for the socket
    total += hits;
    const module = moduleFor(node.callFrame);
    const name = functionName || "(anonymous)";
    const key = `${name}\0${module}\0${lineNumber}`;
    const entry = byFunction.get(key) ?? { name, module, hits: 0 };
    entry.hits += hits;
    byFunction.set(key, entry);
    byModule.set(module, (byModule.get(module) ?? 0) + hits);
  }
  const functions = [...byFunction.values()]
    .sort((a, b) => b.hits - a.hits)
    .slice(0, top)
    .map((f) => ({ name: f.name, module: f.module, share: f.hits / total }));
  const modules = [...byModule.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([module, hits]) => ({ module, share: hits / total }));
  return { samples: total, functions, modules };
}

/** One profiled run of `bundle` (not counted in the medians); returns its summary. */
export async function profileRun(bundle: string, spec: RunSpec, timeoutMs: number): Promise<ProfileSummary> {
  const dir = mkdtempSync(join(tmpdir(), "canal-ts-cpuprof-"));
  try {
    await runNodeTool(bundle, spec, timeoutMs, ["--cpu-prof", `--cpu-prof-dir=${dir}`]);
    return summariseProfile(readProfile(dir), bundle);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The profile that `node --cpu-prof --cpu-prof-dir=<dir>` wrote. */
export function readProfile(dir: string): CpuProfile {
  const file = readdirSync(dir).find((f) => f.endsWith(".cpuprofile"));
  if (file === undefined) throw new Error(`node --cpu-prof wrote no profile into ${dir}`);
  return JSON.parse(readFileSync(join(dir, file), "utf8")) as CpuProfile;
}

export function formatProfile(s: ProfileSummary, what = 'one "ours" run'): string {
  const pct = (x: number) => `${(x * 100).toFixed(1).padStart(5)}%`;
  return [
    `profile of ${what} (self time, ${s.samples} non-idle samples):`,
    "  by module:",
    ...s.modules.map((m) => `    ${pct(m.share)}  ${m.module}`),
    "  by function:",
    ...s.functions.map((f) => `    ${pct(f.share)}  ${f.name}  (${f.module})`),
  ].join("\n");
}
