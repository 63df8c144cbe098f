/**
 * Throwaway MariaDB servers for tests and benchmarks, set up the way Canal needs a source
 * database: binary log on, ROW format, FULL row image, CRC32 checksums, and a replication user
 * reachable over TCP with a password. Debian's mariadbd runs with `--no-defaults`, so nothing
 * from /etc/mysql (or the system server on 3306) leaks in.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, renameSync, statSync, writeFileSync } from "node:fs";
import { cp } from "node:fs/promises";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import mysql from "mysql2/promise";
import { CanalConfigError, CanalConnectionError } from "../errors.js";
import { findServerBinaries } from "./install.js";
import {
  DEFAULT_READY_TIMEOUT_MS,
  LOOPBACK,
  freePort,
  makeTempDir,
  removeDir,
  spawnServer,
  waitUntil,
  type ServerProcess,
} from "./process.js";

export type BinlogRowMetadata = "FULL" | "MINIMAL" | "NO_LOG";

export interface MariaDBOptions {
  /** TCP port; a free one by default. */
  port?: number;
  /** `server_id`, which the binlog events carry (default 1). */
  serverId?: number;
  /** The replication user created at start (default "canal" / "canal"). */
  user?: string;
  password?: string;
  /** FULL (default here) sends column names and types in TABLE_MAP events; MariaDB's own default is NO_LOG. */
  binlogRowMetadata?: BinlogRowMetadata;
  /** Appended to the mariadbd command line, e.g. ["--binlog-annotate-row-events=OFF"]. */
  extraArgs?: string[];
  readyTimeoutMs?: number;
  /** Leave the server running after this process exits (see `SpawnOptions.detached`). */
  detached?: boolean;
}

export interface MariaDBServer {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  /** Unix socket, in `dir`. */
  readonly socket: string;
  readonly dir: string;
  readonly serverId: number;
  /** PID of the latest mariadbd process (the killed one until start() brings a new one). */
  readonly pid: number;
  /** Crash: SIGKILL, keeping the data dir, so start() brings the same server back. */
  kill(): Promise<void>;
  /** Starts a killed server again on the same data dir and port; waits until it accepts logins. */
  start(): Promise<void>;
  /** "mysql://user:password@127.0.0.1:port/database" (no database by default). */
  uri(database?: string): string;
  /** SIGTERM (then SIGKILL), and remove the data dir. */
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Canal's documented grants (SELECT, REPLICATION SLAVE, REPLICATION CLIENT) plus what tests need
 * to create schemas, write rows and rotate binlogs (RELOAD for FLUSH BINARY LOGS).
 * REPLICATION CLIENT is MariaDB's BINLOG MONITOR: SHOW MASTER STATUS and SHOW BINLOG EVENTS.
 */
const GRANTS =
  "SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, ALTER, INDEX, CREATE TEMPORARY TABLES, LOCK TABLES, " +
  "CREATE VIEW, SHOW VIEW, TRIGGER, RELOAD, REPLICATION SLAVE, REPLICATION CLIENT";

/** Small enough that a server starts in a fraction of a second and several fit in a CI box. */
const MEMORY_AND_SPEED = [
  "--innodb-buffer-pool-size=64M",
  "--innodb-log-file-size=8M",
  // A test server's data is thrown away, so trade durability for speed.
  "--sync-binlog=0",
  "--innodb-flush-log-at-trx-commit=2",
];

const execFileAsync = promisify(execFile);

/**
 * Fills `dataDir` with a freshly initialised data dir. Running mariadb-install-db every time
 * made a start take ~0.8 s; copying a template takes ~0.1 s and brings a start to ~0.25 s. So
 * the first start on a machine initialises a template under os.tmpdir() and every start copies it. The template's name hashes everything
 * that shapes it (the mariadbd binary, the install options including the OS user that owns the
 * files), so an upgraded MariaDB gets a new one.
 */
async function copyPristineDataDir(mariadbd: string, mariadbInstallDb: string, dataDir: string): Promise<void> {
  const installArgs = [
    "--no-defaults",
    `--user=${userInfo().username}`,
    "--auth-root-authentication-method=socket",
    "--skip-test-db",
    "--skip-name-resolve",
    ...MEMORY_AND_SPEED,
  ];
  const binary = statSync(mariadbd);
  const key = createHash("sha256")
    .update(JSON.stringify([binary.size, binary.mtimeMs, installArgs]))
    .digest("hex")
    .slice(0, 16);
  const template = join(tmpdir(), `canal-ts-mariadb-template-${key}`);
  if (!existsSync(template)) await createTemplate(mariadbInstallDb, installArgs, template);
  await cp(template, dataDir, { recursive: true });
}

async function createTemplate(mariadbInstallDb: string, installArgs: string[], template: string): Promise<void> {
  const staging = mkdtempSync(`${template}.staging-`);
  try {
    await execFileAsync(mariadbInstallDb, [...installArgs, `--datadir=${join(staging, "data")}`]);
    // Atomic: when test processes race to create the template, one rename wins and the others
    // fail with ENOTEMPTY, the target being there already.
    renameSync(join(staging, "data"), template);
  } catch (err) {
    if (existsSync(template)) return; // another process won the race; its template is as good
    const stderr = err instanceof Error && "stderr" in err ? String(err.stderr).trim().split("\n").slice(-10).join("\n") : String(err);
    throw new CanalConnectionError(`mariadb-install-db into ${staging} failed:\n${stderr}`, { retriable: false, cause: err });
  } finally {
    removeDir(staging);
  }
}

function sqlString(value: string): string {
  return `'${value.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

/** Starts a MariaDB on a free loopback port with a fresh data dir and the replication user. */
export async function startMariaDB(opts: MariaDBOptions = {}): Promise<MariaDBServer> {
  const { mariadbd, mariadbInstallDb } = findServerBinaries();
  const port = opts.port ?? (await freePort());
  const serverId = opts.serverId ?? 1;
  const user = opts.user ?? "canal";
  const password = opts.password ?? "canal";
  const dir = makeTempDir("mariadb");
  const dataDir = join(dir, "data");
  const socket = join(dir, "mysqld.sock");
  const logFile = join(dir, "server.log");
  // mariadbd refuses to run as root unless told to; anyone else naming themselves only gets a warning.
  const osUser = userInfo().username;

  try {
    await copyPristineDataDir(mariadbd, mariadbInstallDb, dataDir);
  } catch (err) {
    removeDir(dir);
    throw err;
  }

  // Creates the replication user at start-up; the readiness check logs in as that user.
  const initFile = join(dir, "init.sql");
  const accounts = [`${sqlString(user)}@'${LOOPBACK}'`, `${sqlString(user)}@'localhost'`];
  writeFileSync(
    initFile,
    accounts.map((a) => `CREATE USER IF NOT EXISTS ${a} IDENTIFIED BY ${sqlString(password)};\nGRANT ${GRANTS} ON *.* TO ${a};\n`).join(""),
  );

  const args = [
    "--no-defaults", // must come first
    `--user=${osUser}`,
    `--datadir=${dataDir}`,
    `--socket=${socket}`,
    `--pid-file=${join(dir, "mysqld.pid")}`,
    `--bind-address=${LOOPBACK}`,
    `--port=${port}`,
    "--skip-name-resolve",
    `--server-id=${serverId}`,
    "--log-bin=mysql-bin",
    "--binlog-format=ROW",
    "--binlog-row-image=FULL",
    `--binlog-row-metadata=${opts.binlogRowMetadata ?? "FULL"}`,
    "--binlog-checksum=CRC32",
    `--init-file=${initFile}`,
    ...MEMORY_AND_SPEED,
    ...(opts.extraArgs ?? []),
  ];
  const canLogIn = async () => {
    const conn = await mysql.createConnection({ host: LOOPBACK, port, user, password, connectTimeout: 2000 });
    try {
      await conn.query("SELECT 1");
      return true;
    } finally {
      await conn.end();
    }
  };
  /** Starts mariadbd on this data dir and port and waits until the replication user can log in. */
  const launch = async (): Promise<ServerProcess> => {
    const server = spawnServer({
      name: `mariadb on ${LOOPBACK}:${port}`,
      command: mariadbd,
      args,
      logFile, // without --log-error, mariadbd logs to stderr
      detached: opts.detached ?? false,
    });
    await waitUntil(server, canLogIn, opts.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS);
    return server;
  };

  let server: ServerProcess;
  try {
    server = await launch();
  } catch (err) {
    removeDir(dir);
    throw err;
  }

  const stop = async () => {
    await server.stop();
    removeDir(dir);
  };
  return {
    host: LOOPBACK,
    port,
    user,
    password,
    socket,
    dir,
    serverId,
    get pid() {
      return server.pid;
    },
    kill: () => server.stop({ signal: "SIGKILL" }),
    async start() {
      if (server.isAlive()) throw new CanalConfigError(`mariadb on ${LOOPBACK}:${port} is already running (pid ${server.pid})`);
      server = await launch();
    },
    uri: (database = "") =>
      `mysql://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${LOOPBACK}:${port}/${encodeURIComponent(database)}`,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
