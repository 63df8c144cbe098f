/**
 * Starts a thread on one of our own scripts, from the TypeScript source tree (tests, tsx) or
 * from the bundles build.mjs writes into dist/, each thread script beside the CLI and the
 * library as `<bundle>.js`.
 */
import { Worker, type ResourceLimits } from "node:worker_threads";

export interface ThreadScript {
  /** The caller's import.meta.url: where the script is looked for. */
  from: string;
  /** The script's path from the caller in the source tree, without extension: "./worker". */
  source: string;
  /** Its bundle's name in dist/: "binlog-source-worker". */
  bundle: string;
}

export function startOwnThread(script: ThreadScript, resourceLimits?: ResourceLimits): Worker {
  const { from } = script;
  const extension = from.slice(from.lastIndexOf("."));
  const fromSource = extension === ".ts";
  const url = new URL(fromSource ? `${script.source}.ts` : `./${script.bundle}${extension}`, from);
  if (!fromSource) return new Worker(url, { resourceLimits });
  // Run from TypeScript source: Node 20 does not give a thread the loader of `--import tsx`,
  // so the thread registers it before it loads the script.
  const code = `import("tsx/esm/api").then(({ register }) => { register(); return import(${JSON.stringify(url.href)}); })`;
  return new Worker(code, { eval: true, resourceLimits });
}
