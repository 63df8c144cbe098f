/**
 * A canal-ts node as a real child process (`node dist/cli.js server …`), for multi-process tests
 * and benchmarks: its own free loopback port and working dir, its stderr JSON log lines read as
 * they are written, and real signals (kill -9, SIGTERM, SIGSTOP/SIGCONT).
 *
 *   await using node = await startCanalNode({ nodeId: "a", args: ["--zk", zk.connectString, "--source", db.uri(), "--destination", "d"] });
 *   await node.waitForLog("node ready", 10_000);
 *   node.kill("SIGKILL");
 *   await node.exited;
 *
 * The process is started with the test kit's `spawnServer` (stderr to a log file in the node's
 * dir, SIGKILLed if this process exits), and the file is followed to collect the lines: a pipe
 * would die with this process's reads, while the file also keeps what a crashed node wrote.
 */
import { closeSync, existsSync, openSync, readSync } from "node:fs";
import { join } from "node:path";
import { CanalConfigError, CanalConnectionError, CanalError } from "../errors.js";
import {
  DEFAULT_STOP_GRACE_MS,
  type ExitStatus,
  LOOPBACK,
  type ServerProcess,
  freePort,
  logTail,
  makeTempDir,
  removeDir,
  spawnServer,
  stopPid,
} from "./process.js";

/** The bundled CLI that `npm run build` writes. */
export const DEFAULT_CLI = new URL("../../dist/cli.js", import.meta.url).pathname;

/** How often the log file is read for new lines: short, since waits on log lines gate test steps. */
const LOG_POLL_MS = 10;

/** What a node logs once its Canal port is open (src/actors/standalone-node.ts). */
export const NODE_READY = "node ready";

/** One line of the node's stderr. */
export interface NodeLogLine {
  /** The line as written, without its newline. */
  readonly text: string;
  /** The JSON record (`time`, `level`, `msg` and the fields); empty for a line that is not JSON, such as a crash's stack trace. */
  readonly fields: Readonly<Record<string, unknown>>;
  readonly msg: string | undefined;
  readonly level: string | undefined;
  /** Epoch ms at which this process read the line (within LOG_POLL_MS of its writing). */
  readonly readAt: number;
}

/** A log line's `msg` (a string, matched exactly), a regex over the raw line, or a predicate. */
export type LogMatcher = string | RegExp | ((line: NodeLogLine) => boolean);

export interface CanalNodeOptions {
  /**
   * `canal-ts server` arguments, without `--port`, `--bind`, `--node-id` and `--data-dir`, which
   * are added from the options below unless given here.
   */
  args: readonly string[];
  /** `--node-id`; also names the node in errors. */
  nodeId?: string;
  /** Canal client port; a free loopback port by default (give the old one to restart "the same" node). */
  port?: number;
  /** Metrics and health HTTP port (`--metrics-port`); a free loopback port by default, 0 turns it off. */
  metricsPort?: number;
  /**
   * The node's dir (log file `node.log`, data dir `data/`). Kept when given, so a restarted node
   * finds its cursors; a fresh temp dir by default, removed by stop().
   */
  dir?: string;
  /** The CLI script to run; default dist/cli.js (`npm run build`). Benchmarks pass a fresh bundle. */
  cli?: string;
  /** Extra `node` flags, e.g. `--cpu-prof`. */
  nodeArgs?: readonly string[];
  /**
   * Resolve only once a log line matches (default "node ready", the Canal port is open); false
   * to return right after spawning. The start fails, and the node is killed, if it exits first or
   * the line does not come within `readyTimeoutMs`.
   */
  ready?: LogMatcher | false;
  /** Default 30000 ms. */
  readyTimeoutMs?: number;
  /** How long stop() waits after SIGTERM before SIGKILL; default 10000 ms. */
  stopGraceMs?: number;
}

export interface CanalNode {
  readonly pid: number;
  readonly port: number;
  /** The metrics and health HTTP port (0 when off): `http://127.0.0.1:<metricsPort>/metrics`, `/healthz`, `/readyz`. */
  readonly metricsPort: number;
  /** "127.0.0.1:<port>", the address clients connect to (and the node registers with --register-ip 127.0.0.1). */
  readonly address: string;
  readonly nodeId: string | undefined;
  readonly dir: string;
  readonly logFile: string;
  /** Every line read so far, oldest first (grows while the node runs). */
  readonly logs: readonly NodeLogLine[];
  /** Settles when the process has exited (never rejects). */
  readonly exited: Promise<ExitStatus>;
  isAlive(): boolean;
  /**
   * The first line from index `since` on (default 0: lines already read count) that matches.
   * Rejects with CanalConnectionError when the node exits first or `timeoutMs` runs out, with
   * the tail of its log.
   */
  waitForLog(match: LogMatcher, timeoutMs: number, options?: { since?: number }): Promise<NodeLogLine>;
  /** Sends a signal (SIGKILL to crash, SIGTERM to stop gracefully, SIGSTOP/SIGCONT to freeze); await `exited` for the end. */
  kill(signal: NodeJS.Signals): void;
  /**
   * Graceful stop: SIGTERM (plus SIGCONT, so a frozen node gets it), SIGKILL after the grace
   * period; then removes the dir unless it was given. Safe to call after the node has exited.
   */
  stop(): Promise<ExitStatus>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** The flags this kit sets unless `args` carries them. */
const OWN_FLAGS = ["--port", "--bind", "--node-id", "--data-dir", "--register-ip", "--metrics-port"] as const;

function hasFlag(args: readonly string[], flag: string): boolean {
  return args.some((a) => a === flag || a.startsWith(`${flag}=`));
}

function flagValue(args: readonly string[], flag: string): string | undefined {
  const i = args.findIndex((a) => a === flag || a.startsWith(`${flag}=`));
  if (i < 0) return undefined;
  return args[i] === flag ? args[i + 1] : args[i]!.slice(flag.length + 1);
}

/** Starts `canal-ts server` as a child process; by default resolves once it logged "node ready". */
export async function startCanalNode(options: CanalNodeOptions): Promise<CanalNode> {
  const cli = options.cli ?? DEFAULT_CLI;
  if (!existsSync(cli)) throw new CanalConfigError(`canal-ts CLI ${cli} does not exist: expected a built CLI (run "npm run build"), or pass options.cli`);
  const port = options.port ?? (await freePort());
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? makeTempDir(`node-${options.nodeId ?? "x"}`);
  const name = `canal-ts node${options.nodeId === undefined ? "" : ` ${options.nodeId}`} on ${LOOPBACK}:${port}`;
  const args = [...options.args];
  const add = (flag: (typeof OWN_FLAGS)[number], value: string | undefined) => {
    if (value !== undefined && !hasFlag(args, flag)) args.push(flag, value);
  };
  add("--port", String(port));
  // Never the default 11112: several nodes run side by side on one machine.
  const metricsPort = hasFlag(args, "--metrics-port") ? Number(flagValue(args, "--metrics-port")) : (options.metricsPort ?? (await freePort()));
  add("--metrics-port", String(metricsPort));
  add("--bind", LOOPBACK);
  add("--node-id", options.nodeId);
  add("--data-dir", join(dir, "data"));
  // A cluster node publishes its address in ZooKeeper; keep it on loopback, where clients are.
  if (hasFlag(args, "--zk")) add("--register-ip", LOOPBACK);

  let server: ServerProcess;
  try {
    server = spawnServer({ name, command: process.execPath, args: [...(options.nodeArgs ?? []), cli, "server", ...args], logFile: join(dir, "node.log") });
  } catch (err) {
    if (ownDir) removeDir(dir);
    throw err;
  }
  const node = new RunningCanalNode(server, port, metricsPort, options.nodeId, dir, ownDir, options.stopGraceMs ?? DEFAULT_STOP_GRACE_MS);
  const ready = options.ready ?? NODE_READY;
  if (ready !== false) {
    try {
      await node.waitForLog(ready, options.readyTimeoutMs ?? 30_000);
    } catch (err) {
      await node.stop({ signal: "SIGKILL" });
      throw err;
    }
  }
  return node;
}

interface LogWaiter {
  match: (line: NodeLogLine) => boolean;
  since: number;
  /** What it waits for, for the error. */
  what: string;
  resolve(line: NodeLogLine): void;
  reject(why: string): void;
}

class RunningCanalNode implements CanalNode {
  readonly logs: NodeLogLine[] = [];
  readonly exited: Promise<ExitStatus>;
  readonly address: string;
  private readonly fd: number;
  /** Bytes of an unfinished last line, kept until its newline arrives. */
  private partial = Buffer.alloc(0);
  private readonly waiters = new Set<LogWaiter>();
  private readonly timer: NodeJS.Timeout;
  private exitStatus: ExitStatus | undefined;
  private stopping: Promise<ExitStatus> | undefined;

  constructor(
    private readonly server: ServerProcess,
    readonly port: number,
    readonly metricsPort: number,
    readonly nodeId: string | undefined,
    readonly dir: string,
    private readonly ownDir: boolean,
    private readonly graceMs: number,
  ) {
    this.address = `${LOOPBACK}:${port}`;
    this.fd = openSync(server.logFile, "r");
    this.timer = setInterval(() => this.readNewLines(), LOG_POLL_MS);
    // Reading the log must not keep a test process alive on its own.
    this.timer.unref();
    this.exited = server.exited.then((status) => {
      clearInterval(this.timer);
      this.readNewLines(); // the last words of the process
      this.exitStatus = status;
      closeSync(this.fd);
      for (const waiter of [...this.waiters]) waiter.reject(`exited (${describeExit(status)}) without logging ${waiter.what}`);
      return status;
    });
  }

  get pid(): number {
    return this.server.pid;
  }

  get logFile(): string {
    return this.server.logFile;
  }

  isAlive(): boolean {
    return this.server.isAlive();
  }

  waitForLog(match: LogMatcher, timeoutMs: number, options: { since?: number } = {}): Promise<NodeLogLine> {
    const test = matcher(match);
    const since = options.since ?? 0;
    this.readNewLines();
    const found = this.logs.slice(since).find(test);
    if (found !== undefined) return Promise.resolve(found);
    const what = describeMatcher(match);
    if (this.exitStatus !== undefined) return Promise.reject(this.failure(`exited (${describeExit(this.exitStatus)}) without logging ${what}`));
    return new Promise<NodeLogLine>((resolve, reject) => {
      const timer = setTimeout(() => waiter.reject(`logged no ${what} within ${timeoutMs} ms`), timeoutMs);
      const waiter: LogWaiter = {
        match: test,
        since,
        resolve: (line) => (clearTimeout(timer), this.waiters.delete(waiter), resolve(line)),
        reject: (why) => (clearTimeout(timer), this.waiters.delete(waiter), reject(this.failure(why))),
        what,
      };
      this.waiters.add(waiter);
    });
  }

  kill(signal: NodeJS.Signals): void {
    try {
      process.kill(this.server.pid, signal);
    } catch (err) {
      // ESRCH: gone already, which is what a kill wants; anything else is a real problem.
      if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw new CanalError(`${this.server.name}: kill ${signal} failed: ${String(err)}`, { cause: err });
    }
  }

  stop(options: { signal?: NodeJS.Signals } = {}): Promise<ExitStatus> {
    this.stopping ??= (async () => {
      if (this.server.isAlive()) {
        const stopped = stopPid(this.server.pid, { signal: options.signal ?? "SIGTERM", graceMs: this.graceMs });
        // A frozen (SIGSTOPped) process only acts on SIGTERM once continued.
        this.kill("SIGCONT");
        await stopped;
      }
      const status = await this.exited;
      if (this.ownDir) removeDir(this.dir);
      return status;
    })();
    return this.stopping;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  private readNewLines(): void {
    if (this.exitStatus !== undefined) return;
    const chunks: Buffer[] = [this.partial];
    const buf = Buffer.allocUnsafe(64 * 1024);
    for (;;) {
      const n = readSync(this.fd, buf, 0, buf.length, null);
      if (n === 0) break;
      chunks.push(Buffer.from(buf.subarray(0, n)));
    }
    if (chunks.length === 1) return;
    const all = Buffer.concat(chunks);
    const lastNewline = all.lastIndexOf(0x0a);
    this.partial = all.subarray(lastNewline + 1);
    if (lastNewline < 0) return;
    const readAt = Date.now();
    const added: NodeLogLine[] = [];
    for (const text of all.subarray(0, lastNewline).toString("utf8").split("\n")) {
      if (text === "") continue;
      const line = parseLine(text, readAt);
      this.logs.push(line);
      added.push(line);
    }
    for (const waiter of [...this.waiters]) {
      const first = this.logs.length - added.length;
      const line = this.logs.slice(Math.max(first, waiter.since)).find(waiter.match);
      if (line !== undefined) waiter.resolve(line);
    }
  }

  private failure(what: string): CanalConnectionError {
    return new CanalConnectionError(`${this.server.name} ${what}; last lines of ${this.server.logFile}:\n${logTail(this.server.logFile)}`, { retriable: false });
  }
}

function parseLine(text: string, readAt: number): NodeLogLine {
  let fields: Record<string, unknown> = {};
  if (text.startsWith("{")) {
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) fields = parsed as Record<string, unknown>;
    } catch {
      // not JSON after all: keep the text only
    }
  }
  const str = (v: unknown) => (typeof v === "string" ? v : undefined);
  return { text, fields, msg: str(fields["msg"]), level: str(fields["level"]), readAt };
}

function matcher(match: LogMatcher): (line: NodeLogLine) => boolean {
  if (typeof match === "string") return (line) => line.msg === match;
  if (match instanceof RegExp) return (line) => match.test(line.text);
  return match;
}

function describeMatcher(match: LogMatcher): string {
  if (typeof match === "string") return `a line with msg "${match}"`;
  if (match instanceof RegExp) return `a line matching ${String(match)}`;
  return "a line matching the predicate";
}

function describeExit(status: ExitStatus): string {
  return status.signal !== null ? `signal ${status.signal}` : `code ${status.code}`;
}
