#!/usr/bin/env node
// Build: generate the protobuf modules, prove that src/machines stays pure, then bundle the
// CLI and the library into dist/ with esbuild.
//
// Machines must be drawable by Stately and walkable by model-based tests, so they may not do
// IO. The check below makes that a build failure instead of a review comment: any file under
// src/machines that imports a Node built-in, anything under src/actors, or a ZooKeeper / NATS /
// MySQL client fails the build with the list of offending imports.
import * as esbuild from "esbuild";
import { builtinModules } from "node:module";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join, relative, resolve, sep } from "node:path";
import { generateProto } from "./scripts/gen-proto.mjs";

const root = new URL(".", import.meta.url).pathname;
const builtins = new Set(builtinModules);
const ioPackages = [/^zookeeper$/, /^node-zookeeper-client$/, /^@nats-io\//, /^nats$/, /^mysql2?(\/|$)/, /^mariadb$/];

function listTs(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return listTs(path);
    return name.endsWith(".ts") && !name.endsWith(".d.ts") ? [path] : [];
  });
}

/** Why `spec`, imported from `importer` (a file under machinesDir), is IO; undefined when it is fine. */
function forbiddenImport(spec, importer, machinesDir, actorsDir) {
  const bare = spec.replace(/^node:/, "").split("/")[0];
  if (spec.startsWith("node:") || builtins.has(spec) || builtins.has(bare)) return "a Node built-in";
  if (ioPackages.some((re) => re.test(spec))) return "an IO client package";
  if (spec.startsWith(".")) {
    const target = resolve(importer, "..", spec);
    if (target === actorsDir || target.startsWith(actorsDir + sep)) return "src/actors (IO)";
    // Relative imports that leave src/machines are followed by esbuild and checked in turn.
  }
  return undefined;
}

/**
 * Bundles every file under `machinesDir` in memory and fails with the offending imports if any
 * of them (or anything they import) reaches IO. Exported for the test that proves it fails.
 */
export async function checkMachinesArePure(machinesDir = join(root, "src/machines"), actorsDir = join(root, "src/actors")) {
  const entryPoints = listTs(machinesDir);
  if (entryPoints.length === 0) return;
  const offences = [];
  const purity = {
    name: "machines-are-pure",
    setup(build) {
      build.onResolve({ filter: /.*/ }, (args) => {
        if (args.kind === "entry-point") return undefined;
        const why = forbiddenImport(args.path, args.importer, machinesDir, actorsDir);
        if (why) {
          offences.push(`${relative(root, args.importer)} imports "${args.path}" (${why})`);
          return { path: args.path, external: true };
        }
        // Third-party packages other than the IO clients (xstate) are not walked into.
        if (!args.path.startsWith(".") && !args.path.startsWith("/")) return { path: args.path, external: true };
        return undefined;
      });
    },
  };
  await esbuild.build({ entryPoints, bundle: true, write: false, platform: "neutral", format: "esm", outdir: "unused", logLevel: "silent", plugins: [purity] });
  if (offences.length > 0) {
    throw new Error(`src/machines must stay pure (no IO); found:\n  ${[...new Set(offences)].join("\n  ")}`);
  }
}

/**
 * The scripts our threads run (src/actors/own-thread.ts), each bundled beside the bundles that
 * start them under this name: any bundle of the CLI or the library needs them beside it.
 */
export const THREAD_SCRIPTS = {
  "binlog-source-worker": "src/actors/source-thread/worker.ts",
  "durable-file-thread": "src/actors/durable-file/thread.ts",
};

export async function build() {
  generateProto();
  await checkMachinesArePure();
  const threads = Object.fromEntries(Object.entries(THREAD_SCRIPTS).map(([name, path]) => [name, join(root, path)]));
  await esbuild.build({
    entryPoints: { cli: join(root, "src/cli/main.ts"), index: join(root, "src/index.ts"), ...threads },
    outdir: join(root, "dist"),
    bundle: true,
    platform: "node",
    target: "node20",
    format: "esm",
    sourcemap: true,
    // Dependencies stay in node_modules, installed with canal-ts; only our own code is bundled.
    packages: "external",
    logLevel: "warning",
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  build().catch((err) => {
    console.error(err.message);
    process.exit(1);
  });
}
