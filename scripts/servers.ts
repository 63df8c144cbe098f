// ZooKeeper + MariaDB + NATS for the quick start and benchmarks, as background processes that
// outlive this script. A thin shell over src/testkit:
//
//   node --import tsx scripts/servers.ts install       apt-get what is missing (root, Debian 12)
//   eval "$(node --import tsx scripts/servers.ts start)"   start all three, export their addresses
//   node --import tsx scripts/servers.ts stop          stop what `start` started, remove its data
//
// `start` records PIDs and data dirs in .tmp/servers.json (or $CANAL_SERVERS_STATE); stdout
// carries only the `export` lines, everything else goes to stderr.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { ensureServersInstalled, isPidAlive, startAll, stopPid } from "../src/testkit/index.js";

const stateFile = resolve(process.env.CANAL_SERVERS_STATE ?? new URL("../.tmp/servers.json", import.meta.url).pathname);

interface StartedServer {
  pid: number;
  dir: string;
}
type State = Record<"zookeeper" | "mariadb" | "nats", StartedServer>;

function readState(): State | undefined {
  return existsSync(stateFile) ? (JSON.parse(readFileSync(stateFile, "utf8")) as State) : undefined;
}

/** True if `pid` is still the server we started: a recycled PID would not have our data dir on its command line. */
function isOurs({ pid, dir }: StartedServer): boolean {
  try {
    return isPidAlive(pid) && readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(dir);
  } catch {
    return false;
  }
}

async function start(): Promise<void> {
  const running = readState();
  if (running && Object.values(running).some(isOurs)) {
    throw new Error(`servers from ${stateFile} are still running; run \`node --import tsx scripts/servers.ts stop\` first`);
  }
  const started = performance.now();
  const detached = { detached: true };
  const { zookeeper, mariadb, nats } = await startAll({ zookeeper: detached, mariadb: detached, nats: detached });
  const state: State = {
    zookeeper: { pid: zookeeper.pid, dir: zookeeper.dir },
    mariadb: { pid: mariadb.pid, dir: mariadb.dir },
    nats: { pid: nats.pid, dir: nats.dir },
  };
  mkdirSync(dirname(stateFile), { recursive: true });
  writeFileSync(stateFile, `${JSON.stringify(state, null, 2)}\n`);
  const exports = {
    CANAL_ZK_SERVERS: zookeeper.connectString,
    CANAL_MYSQL_HOST: mariadb.host,
    CANAL_MYSQL_PORT: String(mariadb.port),
    CANAL_MYSQL_USER: mariadb.user,
    CANAL_MYSQL_PASSWORD: mariadb.password,
    CANAL_MYSQL_URI: mariadb.uri(),
    CANAL_NATS_URL: nats.url,
  };
  for (const [name, value] of Object.entries(exports)) console.log(`export ${name}='${value.replace(/'/g, "'\\''")}'`);
  console.error(`started in ${Math.round(performance.now() - started)} ms; state in ${stateFile}`);
}

async function stop(): Promise<void> {
  const state = readState();
  if (!state) {
    console.error(`nothing to stop: no ${stateFile}`);
    return;
  }
  await Promise.all(
    Object.entries(state).map(async ([name, server]) => {
      if (isOurs(server)) await stopPid(server.pid);
      rmSync(server.dir, { recursive: true, force: true });
      console.error(`stopped ${name} (pid ${server.pid})`);
    }),
  );
  rmSync(stateFile);
}

const commands: Record<string, () => Promise<void> | void> = {
  install: () => console.error("installed:", ensureServersInstalled((line) => console.error(line))),
  start,
  stop,
};
const command = commands[process.argv[2] ?? ""];
if (!command) {
  console.error("usage: node --import tsx scripts/servers.ts install|start|stop");
  process.exit(2);
}
try {
  await command();
} catch (err) {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
}
