/**
 * Throwaway nats-server with JetStream for tests: client and monitoring ports on loopback,
 * JetStream storage in the server's temp dir, with explicit limits (left alone, JetStream claims
 * about 75% of RAM and most of the disk).
 */
import { writeFileSync } from "node:fs";
import { get } from "node:http";
import { join } from "node:path";
import { findServerBinaries } from "./install.js";
import {
  DEFAULT_READY_TIMEOUT_MS,
  LOOPBACK,
  freePorts,
  makeTempDir,
  removeDir,
  spawnServer,
  waitUntil,
} from "./process.js";

export interface NatsOptions {
  /** Client port; a free one by default. */
  port?: number;
  readyTimeoutMs?: number;
  /** Leave the server running after this process exits (see `SpawnOptions.detached`). */
  detached?: boolean;
  /** Clients must present this token (`nats://TOKEN@host:port`). */
  token?: string;
}

export interface NatsServer {
  /** For `connect({ servers: url })`, e.g. "nats://127.0.0.1:40211". */
  readonly url: string;
  readonly port: number;
  /** HTTP monitoring: /healthz, /varz, /jsz. */
  readonly monitorPort: number;
  readonly dir: string;
  readonly pid: number;
  /** SIGTERM (then SIGKILL), and remove the data dir. */
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * /healthz answers 200 only once JetStream is up as well. Plain http without an agent rather
 * than fetch(), whose pooled keep-alive sockets hold the process open for seconds after a test.
 */
function isHealthy(url: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const request = get(url, { agent: false, timeout: 2000 }, (response) => {
      response.resume();
      resolve(response.statusCode === 200);
    });
    request.on("timeout", () => request.destroy(new Error(`no answer from ${url} within 2000 ms`)));
    request.on("error", reject);
  });
}

/** Starts nats-server with JetStream on free loopback ports; ready when /healthz says ok. */
export async function startNats(opts: NatsOptions = {}): Promise<NatsServer> {
  const { natsServer } = findServerBinaries();
  const [freeClient, monitorPort] = await freePorts(2);
  const port = opts.port ?? freeClient!;
  const dir = makeTempDir("nats");
  const configFile = join(dir, "nats.conf");
  writeFileSync(
    configFile,
    [
      `listen: ${LOOPBACK}:${port}`,
      `http: ${LOOPBACK}:${monitorPort}`,
      `server_name: canal-ts-test-${port}`,
      `jetstream { store_dir: ${JSON.stringify(join(dir, "jetstream"))}, max_memory_store: 64MB, max_file_store: 512MB }`,
      ...(opts.token === undefined ? [] : [`authorization { token: ${JSON.stringify(opts.token)} }`]),
      "",
    ].join("\n"),
  );
  const server = spawnServer({
    name: `nats-server on ${LOOPBACK}:${port}`,
    command: natsServer,
    args: ["-c", configFile],
    logFile: join(dir, "server.log"),
    detached: opts.detached ?? false,
  });

  const healthy = () => isHealthy(`http://${LOOPBACK}:${monitorPort}/healthz`);
  try {
    await waitUntil(server, healthy, opts.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS);
  } catch (err) {
    removeDir(dir);
    throw err;
  }

  const stop = async () => {
    await server.stop();
    removeDir(dir);
  };
  return {
    url: `nats://${LOOPBACK}:${port}`,
    port,
    monitorPort: monitorPort!,
    dir,
    pid: server.pid,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
