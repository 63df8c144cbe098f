/**
 * Throwaway ZooKeeper servers for tests: one standalone server, or a 3-member ensemble whose
 * members can be stopped, killed and started again to exercise failover. Debian's jars are run
 * with `java ... QuorumPeerMain zoo.cfg`; the Debian service is never used.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { CanalConfigError } from "../errors.js";
import { findServerBinaries } from "./install.js";
import {
  DEFAULT_READY_TIMEOUT_MS,
  LOOPBACK,
  type ServerProcess,
  freePort,
  freePorts,
  makeTempDir,
  removeDir,
  spawnServer,
  waitUntil,
} from "./process.js";

export interface ZooKeeperOptions {
  /** Client port; a free one by default. */
  port?: number;
  readyTimeoutMs?: number;
  /** Leave the server running after this process exits (see `SpawnOptions.detached`). */
  detached?: boolean;
}

export interface ZooKeeperServer {
  /** For `ZkSessionClient.connect({ connectString })`, e.g. "127.0.0.1:40211". */
  readonly connectString: string;
  readonly port: number;
  readonly dir: string;
  readonly pid: number;
  /** SIGTERM (then SIGKILL), and remove the data dir. */
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export interface ZooKeeperMember {
  /** The `myid` of this member, 1-based. */
  readonly id: number;
  /** Its client port. */
  readonly port: number;
  readonly dir: string;
  /** PID of the running JVM, undefined while stopped. */
  readonly pid: number | undefined;
  /** "leader" or "follower" while serving, undefined otherwise. */
  mode(): Promise<string | undefined>;
  /** Graceful stop (SIGTERM); the data dir stays, so `start()` brings the member back. */
  stop(): Promise<void>;
  /** Crash (SIGKILL). */
  kill(): Promise<void>;
  /** Starts a stopped member and waits until it has rejoined the ensemble. */
  start(): Promise<void>;
}

export interface ZooKeeperEnsemble {
  /** All members, e.g. "127.0.0.1:40211,127.0.0.1:40212,127.0.0.1:40213". */
  readonly connectString: string;
  readonly members: readonly ZooKeeperMember[];
  /** Stops every member and removes all data dirs. */
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * tickTime=500 with explicit session bounds: the server clamps a client's requested session
 * timeout into [min, max], so HA tests can ask for 1–4 s sessions and get them.
 */
const BASE_CONFIG = [
  "tickTime=500",
  "initLimit=10",
  "syncLimit=5",
  "minSessionTimeout=1000",
  "maxSessionTimeout=60000",
  `clientPortAddress=${LOOPBACK}`,
  // Otherwise every member binds Jetty's AdminServer to port 8080 on all interfaces.
  "admin.enableServer=false",
  "4lw.commands.whitelist=srvr,ruok,stat,mntr,cons",
];

/** Small fixed heap and serial GC: the JVM default sizes the heap to a quarter of RAM. */
const JVM_FLAGS = [
  "-Xms32m",
  "-Xmx256m",
  "-XX:+UseSerialGC",
  "-XX:TieredStopAtLevel=1", // C1 only: faster start-up, plenty for a test server
  "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
];

/** Sends a four-letter word and returns the whole answer (the server closes after replying). */
function fourLetterWord(port: number, word: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: LOOPBACK, port });
    let answer = "";
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no answer to "${word}" from ${LOOPBACK}:${port} within ${timeoutMs} ms`)));
    socket.on("connect", () => socket.write(word));
    socket.on("data", (chunk) => (answer += chunk.toString()));
    socket.on("error", reject);
    socket.on("close", () => resolve(answer));
  });
}

/**
 * The server's mode ("standalone", "leader", "follower") while it serves requests. `srvr`, not
 * `ruok`: `ruok` says "imok" before the server serves, `srvr` only prints `Mode:` once it does.
 */
async function serverMode(port: number, timeoutMs: number): Promise<string | undefined> {
  return /^Mode: (\S+)/m.exec(await fourLetterWord(port, "srvr", timeoutMs))?.[1];
}

/**
 * Short, for polling: a connection made just as the JVM opens its port sometimes gets no answer
 * at all (seen in many starts here), while the next attempt is answered at once.
 */
const READY_PROBE_TIMEOUT_MS = 500;

interface NodeConfig {
  name: string;
  dir: string;
  clientPort: number;
  /** `server.N=...` lines; empty for a standalone server. */
  quorum: string[];
  myid?: number;
  detached: boolean;
  readyTimeoutMs: number;
}

/** One ZooKeeper JVM with its own config and data dir, which can be (re)started. */
class ZooKeeperNode {
  private process: ServerProcess | undefined;
  private readonly cfgFile: string;

  constructor(private readonly config: NodeConfig) {
    const dataDir = join(config.dir, "data");
    mkdirSync(dataDir, { recursive: true });
    if (config.myid !== undefined) writeFileSync(join(dataDir, "myid"), `${config.myid}\n`);
    this.cfgFile = join(config.dir, "zoo.cfg");
    const lines = [...BASE_CONFIG, `dataDir=${dataDir}`, `clientPort=${config.clientPort}`, ...config.quorum];
    writeFileSync(this.cfgFile, `${lines.join("\n")}\n`);
  }

  get pid(): number | undefined {
    return this.process?.isAlive() ? this.process.pid : undefined;
  }

  async start(): Promise<void> {
    if (this.pid !== undefined) throw new CanalConfigError(`${this.config.name} is already running (pid ${this.pid})`);
    const { java, zookeeperClassPath } = findServerBinaries();
    const server = spawnServer({
      name: this.config.name,
      command: java,
      args: [...JVM_FLAGS, "-cp", zookeeperClassPath, "org.apache.zookeeper.server.quorum.QuorumPeerMain", this.cfgFile],
      logFile: join(this.config.dir, "server.log"),
      detached: this.config.detached,
    });
    this.process = server;
    const serving = async () => (await serverMode(this.config.clientPort, READY_PROBE_TIMEOUT_MS)) !== undefined;
    await waitUntil(server, serving, this.config.readyTimeoutMs);
  }

  mode(): Promise<string | undefined> {
    return serverMode(this.config.clientPort, 2000).catch(() => undefined);
  }

  async stop(signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    await this.process?.stop({ signal });
  }
}

/** Starts a standalone ZooKeeper on a free loopback port. */
export async function startZooKeeper(opts: ZooKeeperOptions = {}): Promise<ZooKeeperServer> {
  const port = opts.port ?? (await freePort());
  const dir = makeTempDir("zookeeper");
  const node = new ZooKeeperNode({
    name: `zookeeper on ${LOOPBACK}:${port}`,
    dir,
    clientPort: port,
    quorum: [],
    detached: opts.detached ?? false,
    readyTimeoutMs: opts.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS,
  });
  try {
    await node.start();
  } catch (err) {
    removeDir(dir);
    throw err;
  }
  const stop = async () => {
    await node.stop();
    removeDir(dir);
  };
  return { connectString: `${LOOPBACK}:${port}`, port, dir, pid: node.pid!, stop, [Symbol.asyncDispose]: stop };
}

/** Starts an ensemble of `size` members (3 by default) and waits until every member serves. */
export async function startZooKeeperEnsemble(
  opts: { size?: number; readyTimeoutMs?: number; detached?: boolean } = {},
): Promise<ZooKeeperEnsemble> {
  const size = opts.size ?? 3;
  if (!Number.isInteger(size) || size < 2) throw new CanalConfigError(`ensemble size must be an integer >= 2, got ${size}`);
  // Each member needs a client port, a quorum port and a leader-election port.
  const ports = await freePorts(size * 3);
  const ids = Array.from({ length: size }, (_, i) => i + 1);
  const clientPort = (id: number) => ports[(id - 1) * 3]!;
  const quorum = ids.map((id) => `server.${id}=${LOOPBACK}:${ports[(id - 1) * 3 + 1]}:${ports[(id - 1) * 3 + 2]}`);
  const base = makeTempDir("zookeeper-ensemble");
  const nodes = ids.map(
    (id) =>
      new ZooKeeperNode({
        name: `zookeeper member ${id} on ${LOOPBACK}:${clientPort(id)}`,
        dir: join(base, `member-${id}`),
        clientPort: clientPort(id),
        quorum,
        myid: id,
        detached: opts.detached ?? false,
        readyTimeoutMs: opts.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS,
      }),
  );
  const stop = async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    removeDir(base);
  };
  // Members only serve once a quorum has elected a leader, so all must start together.
  const started = await Promise.allSettled(nodes.map((n) => n.start()));
  const failed = started.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) {
    await stop();
    throw failed.reason;
  }
  const members = nodes.map(
    (node, i): ZooKeeperMember => ({
      id: ids[i]!,
      port: clientPort(ids[i]!),
      dir: join(base, `member-${ids[i]}`),
      get pid() {
        return node.pid;
      },
      mode: () => node.mode(),
      stop: () => node.stop("SIGTERM"),
      kill: () => node.stop("SIGKILL"),
      start: () => node.start(),
    }),
  );
  return {
    connectString: members.map((m) => `${LOOPBACK}:${m.port}`).join(","),
    members,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
