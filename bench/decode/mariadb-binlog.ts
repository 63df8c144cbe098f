/**
 * Second reference, MariaDB's own C decoder: `mariadb-binlog --read-from-remote-server
 * --base64-output=decode-rows -v` prints every row as pseudo-SQL, to /dev/null. Timed as a
 * whole process (connect included), which is how the baseline's ~355k rows/s was measured;
 * GNU time gives its peak RSS and CPU.
 */
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import type { RunResult, RunSpec } from "./child.js";
import { runProcess } from "./children.js";

const GNU_TIME = "/usr/bin/time";

function findOnPath(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? "").split(":"), "/usr/bin", "/usr/local/bin"];
  return dirs.map((d) => join(d, name)).find((p) => existsSync(p));
}

/** The mariadb-binlog binary, or undefined when the client package is not installed. */
export function findMariadbBinlog(): string | undefined {
  return findOnPath("mariadb-binlog") ?? findOnPath("mysqlbinlog");
}

/** One read of the file; `rows` is what the file holds (this tool's output is not parsed). */
export async function runMariadbBinlog(binary: string, spec: RunSpec, rows: number, timeoutMs: number): Promise<RunResult> {
  const args = [
    "--no-defaults",
    "--read-from-remote-server",
    `--host=${spec.host}`,
    `--port=${spec.port}`,
    `--user=${spec.user}`,
    `--password=${spec.password}`,
    "--base64-output=decode-rows",
    "-v",
    `--result-file=/dev/null`,
    spec.file,
  ];
  const withTime = existsSync(GNU_TIME);
  const timeFile = join(tmpdir(), `canal-ts-bench-time-${process.pid}`);
  try {
    const { seconds } = withTime
      ? await runProcess(GNU_TIME, ["-f", "%M %U %S", "-o", timeFile, binary, ...args], timeoutMs)
      : await runProcess(binary, args, timeoutMs);
    const [rssKiB = NaN, user = NaN, sys = NaN] = withTime ? readFileSync(timeFile, "utf8").trim().split("\n").at(-1)!.split(" ").map(Number) : [];
    return { tool: "mariadb-binlog -v", rows, events: 0, seconds, cpuSeconds: user + sys, peakRssMiB: rssKiB / 1024, outputBytes: 0 };
  } finally {
    rmSync(timeFile, { force: true });
  }
}
