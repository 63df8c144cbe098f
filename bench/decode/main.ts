/**
 * `npm run bench -- decode`: binlog decode throughput of our source against @vlasky/zongji
 * (and MariaDB's C decoder), on the reference workload, in one run.
 *
 * Starts a private MariaDB from the test kit, writes the workload into one closed binlog file,
 * then reads that file over loopback with each tool, alternating, each read in a fresh process,
 * and prints medians and peak RSS, ending with the one line the issue asks for:
 *   decode: <ours> rows/s, zongji: <theirs> rows/s, ratio <ours/theirs>
 *
 * Options: --runs N (per tool, default 3)  --scale S (workload size, default 1 = 650k rows)
 *          --no-mariadb-binlog (skip the C reference)  --profile (one extra CPU-profiled run of ours)
 */
import { parseArgs } from "node:util";
import mysql from "mysql2/promise";
import { type MariaDBServer, startMariaDB } from "../../src/testkit/index.js";
import type { RunResult, RunSpec } from "./child.js";
import { bundleRunners, killRunningChildren, type NodeTool, runNodeTool, type Runners } from "./children.js";
import { findMariadbBinlog, runMariadbBinlog } from "./mariadb-binlog.js";
import { formatProfile, profileRun } from "./profile.js";
import { type BuiltWorkload, buildWorkload, planWorkload, WORKLOAD_SERVER_ARGS } from "./workload.js";

/** The options every workload benchmark takes: --runs N (1..50, default 3), --scale S, --profile. */
export interface BenchOptions {
  runs: number;
  scale: number;
  profile: boolean;
}

/** Parses the common options plus a benchmark's own boolean flags (each default false). */
export function parseBenchOptions<F extends string>(argv: string[], flags: readonly F[] = []): BenchOptions & Record<F, boolean> {
  const { values } = parseArgs({
    args: argv,
    options: {
      runs: { type: "string", default: "3" },
      scale: { type: "string", default: "1" },
      profile: { type: "boolean", default: false },
      ...Object.fromEntries(flags.map((flag) => [flag, { type: "boolean" as const, default: false }])),
    },
  });
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1 || runs > 50) throw new Error(`--runs ${values.runs}: expected an integer in 1..50`);
  const given = values as Record<string, unknown>;
  const own = Object.fromEntries(flags.map((flag) => [flag, given[flag] === true])) as Record<F, boolean>;
  return { runs, scale: Number(values.scale), profile: values.profile === true, ...own };
}

type Tool = NodeTool | "c";
const LABELS: Record<Tool, string> = { ours: "ours", zongji: "zongji", c: "mariadb-binlog -v" };

export function median(sorted: number[]): number {
  return sorted[(sorted.length - 1) >> 1]!; // the lower middle, as the baseline took it
}

function summaryLine(tool: Tool, results: RunResult[], workload: BuiltWorkload): { line: string; rowsPerSecond: number } {
  const secs = results.map((r) => r.seconds).sort((a, b) => a - b);
  const med = median(secs);
  const medianRun = results.find((r) => r.seconds === med)!;
  const rowsPerSecond = workload.rows / med;
  const cells = [
    LABELS[tool].padEnd(18),
    String(results.length).padStart(4),
    `${secs[0]!.toFixed(3)} / ${med.toFixed(3)} / ${secs.at(-1)!.toFixed(3)}`.padStart(24),
    Math.round(rowsPerSecond).toString().padStart(10),
    (workload.size / 2 ** 20 / med).toFixed(1).padStart(7),
    medianRun.cpuSeconds.toFixed(2).padStart(7),
    Math.max(...results.map((r) => r.peakRssMiB)).toFixed(1).padStart(9),
  ];
  return { line: cells.join("  "), rowsPerSecond };
}

/** Writes the reference workload at `scale` into a fresh binlog of `server`. */
export async function prepare(server: MariaDBServer, scale: number): Promise<BuiltWorkload> {
  const db = await mysql.createConnection({ host: server.host, port: server.port, user: server.user, password: server.password });
  try {
    return await buildWorkload(db, planWorkload(scale));
  } finally {
    await db.end();
  }
}

async function bench(options: ReturnType<typeof parseBenchOptions<"no-mariadb-binlog">>, runners: Runners, server: MariaDBServer): Promise<void> {
  console.log(`mariadb: pid ${server.pid} on ${server.host}:${server.port}`);
  const workload = await prepare(server, options.scale);
  const mib = (workload.size / 2 ** 20).toFixed(1);
  console.log(`workload: ${workload.rows} row changes in ${workload.file} (${mib} MiB), written in ${workload.seconds.toFixed(1)} s`);

  const cBinary = options["no-mariadb-binlog"] ? undefined : findMariadbBinlog();
  if (!options["no-mariadb-binlog"] && cBinary === undefined) console.log("mariadb-binlog not found: the C reference is skipped");
  const tools: Tool[] = cBinary === undefined ? ["ours", "zongji"] : ["ours", "zongji", "c"];
  const timeoutMs = 60_000 + 600_000 * options.scale;
  const results: Record<Tool, RunResult[]> = { ours: [], zongji: [], c: [] };
  let serverId = 1000;
  const spec = (): RunSpec => ({ host: server.host, port: server.port, user: server.user, password: server.password, file: workload.file, serverId: serverId++ });

  for (let run = 1; run <= options.runs; run++) {
    for (const tool of tools) {
      const r = tool === "c" ? await runMariadbBinlog(cBinary!, spec(), workload.rows, timeoutMs) : await runNodeTool(runners.script[tool], spec(), timeoutMs);
      if (r.rows !== workload.rows) throw new Error(`${LABELS[tool]} run ${run} saw ${r.rows} row changes; the binlog holds ${workload.rows}`);
      if (tool === "ours" && r.outputBytes === 0) throw new Error("ours wrote no Entry bytes");
      // CPU seconds of the run's process: on shared machines a steadier figure than the wall clock.
      console.log(
        `  run ${run} ${LABELS[tool].padEnd(18)} ${r.seconds.toFixed(3)} s  ${Math.round(r.rows / r.seconds)} rows/s  peak RSS ${r.peakRssMiB.toFixed(1)} MiB  cpu ${r.cpuSeconds.toFixed(2)} s`,
      );
      results[tool].push(r);
    }
  }

  console.log(`${"tool".padEnd(18)}  runs  ${"seconds min / med / max".padStart(24)}  ${"rows/s".padStart(10)}  ${"MiB/s".padStart(7)}  ${"cpu s".padStart(7)}  ${"RSS MiB".padStart(9)}`);
  const summaries = Object.fromEntries(tools.map((t) => [t, summaryLine(t, results[t], workload)])) as Record<Tool, ReturnType<typeof summaryLine>>;
  for (const tool of tools) console.log(summaries[tool].line);
  console.log("(rows/s and MiB/s from the median run; cpu s of the median run's process; RSS = highest peak of any run)");

  if (options.profile) console.log(formatProfile(await profileRun(runners.script.ours, spec(), timeoutMs)));

  const ours = summaries.ours.rowsPerSecond;
  const theirs = summaries.zongji.rowsPerSecond;
  console.log(`decode: ${Math.round(ours)} rows/s, zongji: ${Math.round(theirs)} rows/s, ratio ${(ours / theirs).toFixed(2)}`);
}

/**
 * Runs `body` with a workload MariaDB, then always cleans up: child processes, the extra
 * `cleanUp` of the benchmark, the server (by PID). Ctrl-C or SIGTERM cleans up the same way and
 * exits 130, so an interrupted benchmark leaves nothing running.
 */
export async function withWorkloadServer(cleanUp: () => Promise<void> | void, body: (server: MariaDBServer) => Promise<void>): Promise<void> {
  let server: MariaDBServer | undefined;
  const cleanUpAll = async () => {
    killRunningChildren();
    await cleanUp();
    await server?.stop();
  };
  const interrupted = (signal: NodeJS.Signals) => {
    console.error(`${signal}: stopping`);
    void cleanUpAll().finally(() => process.exit(130));
  };
  process.once("SIGINT", interrupted);
  process.once("SIGTERM", interrupted);
  try {
    server = await startMariaDB({ extraArgs: WORKLOAD_SERVER_ARGS });
    await body(server);
  } finally {
    process.off("SIGINT", interrupted);
    process.off("SIGTERM", interrupted);
    await cleanUpAll();
  }
}

export async function main(argv: string[]): Promise<void> {
  const options = parseBenchOptions(argv, ["no-mariadb-binlog"]);
  planWorkload(options.scale); // reject a bad --scale before starting anything
  const runners = await bundleRunners();
  await withWorkloadServer(
    () => runners.remove(),
    (server) => bench(options, runners, server),
  );
}
