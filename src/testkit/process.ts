/**
 * Shared plumbing for the test kit: run a server binary as a plain background process (no
 * systemd, no container), wait for it to become ready while watching for an early exit, and
 * stop it by PID. Every server module (ZooKeeper, MariaDB, NATS) is built from these pieces.
 */
import { spawn } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { CanalConnectionError } from "../errors.js";

/** Every server binds here only; the machine may run system services on the usual ports. */
export const LOOPBACK = "127.0.0.1";

/** How long a server gets to become ready before the start fails (a cold JVM on 2 cores needs ~1 s). */
export const DEFAULT_READY_TIMEOUT_MS = 30_000;

/** How long a server gets to exit after SIGTERM before it is killed. */
export const DEFAULT_STOP_GRACE_MS = 10_000;

const POLL_INTERVAL_MS = 25;

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ServerProcess {
  /** Human name used in errors, e.g. "zookeeper member 2 on 127.0.0.1:40211". */
  readonly name: string;
  readonly pid: number;
  /** stdout and stderr of the server, appended across restarts. */
  readonly logFile: string;
  /** Settles when the process has exited (never rejects). */
  readonly exited: Promise<ExitStatus>;
  isAlive(): boolean;
  /** `stopPid`, then waits for Node to have seen the exit, so `isAlive()` is false afterwards. */
  stop(opts?: StopOptions): Promise<void>;
}

export interface SpawnOptions {
  name: string;
  command: string;
  args: string[];
  logFile: string;
  /**
   * Let the server outlive this Node process (own process group, not killed on exit). Only the
   * `scripts/servers.ts start` command wants this; tests must leave it off so that the test
   * runner's process-group kill and our exit hook take the servers down with the test.
   */
  detached?: boolean;
}

/** Children that must not outlive this process; SIGKILLed when it ends. */
const attached = new Set<number>();

function killAttached(): void {
  for (const pid of attached) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
}

/**
 * Ctrl-C reaches the servers too (they share our process group), but mariadbd ignores SIGINT,
 * and a signal that kills Node skips the 'exit' event; so kill them here, then let the signal
 * do what it would have done: end the process, unless the program handles it itself.
 */
function onSignal(signal: NodeJS.Signals): void {
  killAttached();
  if (process.listenerCount(signal) === 1) {
    process.removeListener(signal, onSignal);
    process.kill(process.pid, signal);
  }
}
process.on("exit", killAttached);
process.on("SIGINT", onSignal);
process.on("SIGTERM", onSignal);

/** Starts `command` in the background with stdout and stderr appended to `logFile`. */
export function spawnServer(opts: SpawnOptions): ServerProcess {
  const log = openSync(opts.logFile, "a");
  const child = spawn(opts.command, opts.args, {
    stdio: ["ignore", log, log],
    detached: opts.detached ?? false,
  });
  closeSync(log); // the child holds its own copy of the descriptor
  // spawn() reports ENOENT and friends as an 'error' event, which would crash the process
  // unhandled; a missing pid tells us the same thing synchronously.
  child.once("error", () => {});
  const pid = child.pid;
  if (pid === undefined) {
    throw new CanalConnectionError(`${opts.name}: could not run ${opts.command}`, { retriable: false });
  }
  let running = true;
  const exited = new Promise<ExitStatus>((resolve) => {
    child.on("exit", (code, signal) => {
      running = false;
      attached.delete(pid);
      resolve({ code, signal });
    });
  });
  if (opts.detached) child.unref();
  else attached.add(pid);
  const stop = async (stopOpts?: StopOptions) => {
    await stopPid(pid, stopOpts);
    await exited;
  };
  return { name: opts.name, pid, logFile: opts.logFile, exited, isAlive: () => running, stop };
}

/**
 * Polls `check` until it returns true. Fails fast, with the tail of the server's log, when the
 * server exits first; fails with the last check error when `timeoutMs` runs out. A server that
 * never became ready is killed before the error is thrown, so callers only clean up their dirs.
 */
export async function waitUntil(
  server: ServerProcess,
  check: () => Promise<boolean>,
  timeoutMs = DEFAULT_READY_TIMEOUT_MS,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exit: ExitStatus | undefined;
  void server.exited.then((e) => (exit = e));
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (exit) {
      const how = exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`;
      throw await startFailure(server, `exited with ${how} before it was ready`);
    }
    try {
      // A check stuck on a dying server must not hide the exit.
      if (await Promise.race([check(), server.exited.then(() => false)])) return;
    } catch (err) {
      lastError = err;
    }
    await Promise.race([sleep(POLL_INTERVAL_MS), server.exited]);
  }
  const last = lastError instanceof Error ? ` (last check: ${lastError.message})` : "";
  throw await startFailure(server, `was not ready within ${timeoutMs} ms${last}`);
}

async function startFailure(server: ServerProcess, what: string): Promise<CanalConnectionError> {
  await server.stop({ signal: "SIGKILL" });
  return new CanalConnectionError(
    `${server.name} ${what}; last lines of ${server.logFile}:\n${logTail(server.logFile)}`,
    { retriable: false },
  );
}

/** The last `lines` lines of a log file, indented, for error messages. */
export function logTail(file: string, lines = 20): string {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return "  (no log)";
  }
  const tail = text.trimEnd().split("\n").slice(-lines);
  return tail.length === 1 && tail[0] === "" ? "  (log is empty)" : tail.map((l) => `  ${l}`).join("\n");
}

/**
 * True while `pid` exists and is not a zombie. A server started by an earlier `servers.ts start`
 * is no child of ours, and an init that does not reap would leave it as a zombie forever.
 */
export function isPidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    // Field 3 of /proc/<pid>/stat is the state; the command name before it is in parentheses.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

export interface StopOptions {
  /** SIGTERM by default; SIGKILL to simulate a crash. */
  signal?: NodeJS.Signals;
  graceMs?: number;
}

/**
 * Stops a process by PID: `signal` (SIGTERM lets it shut down cleanly), then SIGKILL if it is
 * still there after `graceMs`. Resolves once the PID is gone.
 */
export async function stopPid(pid: number, { signal = "SIGTERM", graceMs = DEFAULT_STOP_GRACE_MS }: StopOptions = {}): Promise<void> {
  const send = (sig: NodeJS.Signals) => {
    try {
      process.kill(pid, sig);
    } catch {
      // already gone
    }
  };
  send(signal);
  const deadline = Date.now() + graceMs;
  while (isPidAlive(pid)) {
    if (Date.now() >= deadline && signal !== "SIGKILL") {
      send("SIGKILL");
      signal = "SIGKILL";
    }
    await sleep(POLL_INTERVAL_MS);
  }
}

/** A fresh private directory under the OS temp dir, e.g. /tmp/canal-ts-nats-XXXXXX. */
export function makeTempDir(kind: string): string {
  return mkdtempSync(join(tmpdir(), `canal-ts-${kind}-`));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/**
 * `count` distinct free TCP ports on the loopback address. All listeners are held open until
 * every port is known, so one call never returns the same port twice; the kernel may still hand
 * a port to someone else before the server binds it, which a start reports as "address in use".
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const server = createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, LOOPBACK, resolve);
      });
    }
    return servers.map((s) => {
      const address = s.address();
      if (address === null || typeof address === "string") throw new Error(`unexpected address ${String(address)}`);
      return address.port;
    });
  } finally {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  }
}

export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  return port!;
}
