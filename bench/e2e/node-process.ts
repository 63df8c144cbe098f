/**
 * The node under test: the bundled `canal-ts server` CLI in a plain `node` process of its own,
 * started with the quick-start flags on a free loopback port and a fresh data dir (no cursor
 * from an earlier run), reading the workload's binlog file from offset 4 with the default
 * store. Its peak RSS and CPU time come from /proc, read before it is stopped, so the node
 * runs unchanged.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { freePort, logTail, spawnServer, waitUntil } from "../../src/testkit/index.js";
import { LOOPBACK, makeTempDir, removeDir } from "../../src/testkit/process.js";

export const DESTINATION = "bench";

export interface NodeSpec {
  /** The bundled CLI (src/cli/main.ts). */
  script: string;
  /** mysql://user:password@127.0.0.1:port */
  source: string;
  /** The workload's closed binlog file, read from offset 4. */
  file: string;
  serverId: number;
  /** Extra `node` flags, e.g. --cpu-prof. */
  nodeArgs?: string[];
}

export interface RunningNode {
  readonly pid: number;
  readonly port: number;
  /** Settles when the node says "node ready" (its port is open); rejects, with its log, when it exits first. */
  readonly ready: Promise<void>;
  /** Epoch ms of the node's "source connected" log line: when its binlog dump began. */
  sourceConnectedAt(): number;
  /** VmHWM: the highest resident set size so far. */
  peakRssMiB(): number;
  /** User + system CPU time so far. */
  cpuSeconds(): number;
  /** The last lines of its log, for error messages. */
  logTail(): string;
  /** SIGTERM (the node flushes its cursors and exits; a --cpu-prof node writes its profile), then removes its dir. */
  stop(): Promise<void>;
}

/** Linux reports /proc/<pid>/stat times in USER_HZ ticks, fixed at 100 by the kernel ABI. */
const TICKS_PER_SECOND = 100;

/** Spawns the node and returns at once, so that the client can start while the node does. */
export async function startNode(spec: NodeSpec): Promise<RunningNode> {
  const dir = makeTempDir("bench-e2e-node");
  const port = await freePort();
  const logFile = join(dir, "node.log");
  const server = spawnServer({
    name: `canal-ts node on ${LOOPBACK}:${port}`,
    command: process.execPath,
    args: [
      ...(spec.nodeArgs ?? []),
      spec.script,
      "server",
      // No metrics port: the bench's node must not collide with a node already on the default one.
      ...["--source", spec.source, "--destination", DESTINATION, "--bind", LOOPBACK, "--port", String(port), "--metrics-port", "0"],
      ...["--data-dir", join(dir, "data"), "--start", `${spec.file}:4`, "--server-id", String(spec.serverId)],
    ],
    logFile,
  });
  // Not a TTY, so the node logs JSON lines.
  const logLine = (msg: string) => readFileSync(logFile, "utf8").split("\n").find((l) => l.includes(`"msg":"${msg}"`));
  const ready = waitUntil(server, async () => logLine("node ready") !== undefined);
  ready.catch(() => undefined); // the caller awaits it; a node stopped before it was ready is no unhandled rejection
  const proc = (file: string) => readFileSync(`/proc/${server.pid}/${file}`, "utf8");
  return {
    pid: server.pid,
    port,
    ready,
    sourceConnectedAt: () => {
      const line = logLine("source connected");
      if (line === undefined) throw new Error(`the node logged no "source connected":\n${logTail(logFile)}`);
      return Date.parse((JSON.parse(line) as { time: string }).time);
    },
    peakRssMiB: () => Number(/^VmHWM:\s+(\d+) kB$/m.exec(proc("status"))![1]) / 1024,
    cpuSeconds: () => {
      const stat = proc("stat");
      // Fields 14 and 15 (utime, stime), counted after the parenthesised command name (field 2).
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
    },
    logTail: () => logTail(logFile),
    stop: async () => {
      try {
        await server.stop();
      } finally {
        removeDir(dir);
      }
    },
  };
}
