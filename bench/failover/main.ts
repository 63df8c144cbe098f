/**
 * `npm run bench -- failover [--trials N]`: how long a destination is without service when its
 * running node dies (kill -9) or is stopped (SIGTERM), measured from the signal to the client's
 * next received row, with a continuous write load and an independent check that no row was
 * lost (issue 5; design.md goals: kill -9 ≤ 3000 ms with a 2 s session timeout, SIGTERM ≤ 500 ms,
 * never a row lost; Canal: ≈ 45–55 s and ≈ 5 s).
 *
 * Starts a ZooKeeper (standalone; --ensemble for 3 members), a MariaDB, and two `canal-ts
 * server` nodes (the CLI bundled fresh from src/, each its own process) with
 * `--zk-session-timeout 2000`. A consumer in this process follows the running node through
 * ZooKeeper (the connector's resolve option) doing get/ack; the sequence load commits one row
 * every --interval ms. Each trial, once the consumer is live on the running node and the standby
 * is registered, sends the signal to the running node and times the first received row whose
 * number is newer than every row received before the signal; the stopped node is then started
 * again as a standby. kill -9 and SIGTERM trials alternate. At the end the load stops, the
 * consumer catches up, and the checker must find every committed row.
 *
 * Prints one line per trial, medians and maxima, the checker's summary, and ends with
 *   failover: kill9 median <ms> ms max <ms> ms, sigterm median <ms> ms max <ms> ms, lost <n>
 * (exit 1 when a row was lost or a trial did not fail over within its bound).
 *
 * Options: --trials N (each kind, 1..100, default 20)  --interval MS (load pace, default 5)
 *          --session-timeout MS (default 2000)  --anti-flap MS (the nodes' default unless given)
 *          --ensemble (a 3-member ZooKeeper instead of a standalone one)
 *          --verbose (each trial's client events: disconnects, reconnect attempts and why they failed)
 */
import { parseArgs } from "node:util";
import mysql from "mysql2/promise";
import { ZkSessionClient } from "../../src/actors/zk/session-client.js";
import { RunningServerDiscovery } from "../../src/client/zk-discovery.js";
import { destinationClusterNodePath } from "../../src/protocol/zk-layout.js";
import { type CanalNode, startCanalNode } from "../../src/testkit/canal-node.js";
import { type MariaDBServer, startMariaDB, startZooKeeper, startZooKeeperEnsemble } from "../../src/testkit/index.js";
import { startSequenceLoad, type SequenceLoad } from "../../src/testkit/sequence-load.js";
import { bundleScripts, THREAD_SCRIPTS } from "../decode/children.js";
import { median } from "../decode/main.js";
import { FollowingConsumer } from "../../src/testkit/following-consumer.js";

const DESTINATION = "failover";
const DATABASE = "seqload";
const TABLE = "seq";

/** Bounds: each wait of a trial, and how long a stopped node may take to exit. */
const FAILOVER_BOUND_MS = 30_000;
const STEADY_BOUND_MS = 30_000;
const NODE_START_MS = 30_000;
/** Per trial, everything included, for the load's and the whole run's time bound. */
const TRIAL_BUDGET_MS = 3 * FAILOVER_BOUND_MS;

export interface FailoverOptions {
  trials: number;
  intervalMs: number;
  sessionTimeoutMs: number;
  antiFlapMs: number | undefined;
  ensemble: boolean;
  verbose: boolean;
}

export function parseFailoverOptions(argv: string[]): FailoverOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      trials: { type: "string", default: "20" },
      interval: { type: "string", default: "5" },
      "session-timeout": { type: "string", default: "2000" },
      "anti-flap": { type: "string" },
      ensemble: { type: "boolean", default: false },
      verbose: { type: "boolean", default: false },
    },
  });
  const int = (name: string, raw: string | undefined, min: number, max: number): number => {
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) throw new Error(`--${name} ${raw}: expected an integer in ${min}..${max}`);
    return value;
  };
  return {
    trials: int("trials", values.trials, 1, 100),
    intervalMs: int("interval", values.interval, 1, 1000),
    sessionTimeoutMs: int("session-timeout", values["session-timeout"], 1000, 60_000),
    antiFlapMs: values["anti-flap"] === undefined ? undefined : int("anti-flap", values["anti-flap"], 0, 60_000),
    ensemble: values.ensemble === true,
    verbose: values.verbose === true,
  };
}

type Kind = "kill9" | "sigterm";

interface Trial {
  kind: Kind;
  from: string;
  to: string;
  ms: number;
}

interface Cluster {
  zkConnect: string;
  db: MariaDBServer;
  cli: string;
  start: string;
  options: FailoverOptions;
}

/** The two nodes by id; a stopped node is replaced by its restart under the same id, port and server id. */
class Nodes {
  readonly byId = new Map<string, CanalNode>();
  private readonly serverIds = new Map<string, number>();

  constructor(private readonly cluster: Cluster) {}

  async start(id: string, port?: number): Promise<CanalNode> {
    const { zkConnect, db, cli, start, options } = this.cluster;
    if (!this.serverIds.has(id)) this.serverIds.set(id, 1000 + this.serverIds.size);
    const node = await startCanalNode({
      nodeId: id,
      cli,
      ...(port === undefined ? {} : { port }),
      args: [
        ...["--zk", zkConnect, "--zk-session-timeout", String(options.sessionTimeoutMs)],
        ...(options.antiFlapMs === undefined ? [] : ["--zk-anti-flap-delay", String(options.antiFlapMs)]),
        ...["--source", db.uri(), "--destination", DESTINATION, "--filter", `${DATABASE}\\..*`],
        ...["--server-id", String(this.serverIds.get(id)), "--start", start],
      ],
      readyTimeoutMs: NODE_START_MS,
    });
    this.byId.set(id, node);
    return node;
  }

  byAddress(address: string): CanalNode | undefined {
    return [...this.byId.values()].find((n) => n.address === address && n.isAlive());
  }

  idOf(node: CanalNode): string {
    return node.nodeId ?? node.address;
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.byId.values()].map((n) => n.stop()));
  }
}

/** Polls until `check` is true; false when `timeoutMs` passes. */
async function until(check: () => Promise<boolean> | boolean, timeoutMs: number, pollMs = 20): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

function stats(trials: Trial[], kind: Kind): { median: number; max: number; count: number } {
  const ms = trials.filter((t) => t.kind === kind).map((t) => t.ms).sort((a, b) => a - b);
  return { median: ms.length === 0 ? NaN : median(ms), max: ms.length === 0 ? NaN : ms.at(-1)!, count: ms.length };
}

async function binlogEnd(db: MariaDBServer): Promise<string> {
  const sql = await mysql.createConnection({ host: db.host, port: db.port, user: db.user, password: db.password });
  try {
    // The table first, so that no node ever decodes its CREATE while the load runs.
    await sql.query(`CREATE DATABASE IF NOT EXISTS ${DATABASE}`);
    await sql.query(`CREATE TABLE IF NOT EXISTS ${DATABASE}.${TABLE} (n BIGINT PRIMARY KEY, at DATETIME(6) NOT NULL)`);
    const [rows] = await sql.query<mysql.RowDataPacket[]>("SHOW MASTER STATUS");
    return `${rows[0]!["File"]}:${rows[0]!["Position"]}`;
  } finally {
    await sql.end();
  }
}

async function runTrials(
  options: FailoverOptions,
  nodes: Nodes,
  zk: ZkSessionClient,
  discovery: RunningServerDiscovery,
  consumer: FollowingConsumer,
  load: SequenceLoad,
): Promise<Trial[]> {
  const trials: Trial[] = [];
  const registered = async (node: CanalNode) => (await zk.read(destinationClusterNodePath(DESTINATION, node.address))) !== undefined;
  const kinds: Kind[] = Array.from({ length: options.trials * 2 }, (_, i) => (i % 2 === 0 ? "kill9" : "sigterm"));
  for (const [i, kind] of kinds.entries()) {
    const label = `trial ${String(Math.floor(i / 2) + 1).padStart(2)} ${kind.padEnd(7)}`;
    // Steady state: both nodes registered, a running one, and the consumer receiving rows committed from now on.
    for (const node of nodes.byId.values()) {
      if (!(await until(() => registered(node), STEADY_BOUND_MS))) throw new Error(`${label}: node ${nodes.idOf(node)} (${node.address}) is not registered for ${DESTINATION} in ZooKeeper after ${STEADY_BOUND_MS} ms`);
    }
    const running = await discovery.runningServer(DESTINATION, { timeoutMs: STEADY_BOUND_MS });
    const victim = nodes.byAddress(running.address);
    if (victim === undefined) throw new Error(`${label}: the running node ${running.address} is none of ours (${[...nodes.byId.values()].map((n) => n.address).join(", ")})`);
    const mark = load.lastCommitted() + 1;
    if (!(await consumer.caughtUp(mark, STEADY_BOUND_MS))) throw new Error(`${label}: the consumer did not receive row ${mark} within ${STEADY_BOUND_MS} ms (it has ${consumer.checker.maxReceived()})`);

    // The measure: signal → the first row newer than any received before it, from the node
    // that took over. (A node stopped with SIGTERM may still answer a get or two while it hands
    // over; those rows are no failover.)
    const logsSince = new Map([...nodes.byId.values()].map((n) => [n, n.logs.length]));
    const connectionsSince = consumer.servers.length;
    const timelineSince = consumer.timeline.length;
    const before = consumer.checker.maxReceived();
    const countsBefore = consumer.checker.counts();
    const arrival = consumer.firstNewerThan(before, FAILOVER_BOUND_MS, victim.address);
    const fromVictim = consumer.firstNewerThan(before, FAILOVER_BOUND_MS);
    const signalledAt = Date.now();
    victim.kill(kind === "kill9" ? "SIGKILL" : "SIGTERM");
    const next = await arrival;
    if (next === undefined) throw new Error(`${label}: no row newer than ${before} within ${FAILOVER_BOUND_MS} ms after ${kind === "kill9" ? "kill -9" : "SIGTERM"} of ${nodes.idOf(victim)} (${victim.address})`);
    const ms = next.at - signalledAt;
    const early = await Promise.race([fromVictim, Promise.resolve(undefined)]);
    const lastWords = early !== undefined && early.server === victim.address ? `; ${nodes.idOf(victim)} still delivered at +${early.at - signalledAt} ms` : "";
    const to = nodes.byAddress(next.server);
    const trial: Trial = { kind, from: nodes.idOf(victim), to: to === undefined ? next.server : nodes.idOf(to), ms };
    trials.push(trial);
    // Where the time went: the new node's own log times, and the consumer's new connection.
    const at = async (msg: RegExp): Promise<string> => {
      if (to === undefined) return "?";
      const line = await to.waitForLog((l) => msg.test(l.msg ?? ""), 1000, { since: logsSince.get(to) ?? 0 }).catch(() => undefined);
      const time = typeof line?.fields["time"] === "string" ? Date.parse(line.fields["time"]) : NaN;
      return Number.isNaN(time) ? "?" : `+${time - signalledAt}`;
    };
    const connected = consumer.servers.slice(connectionsSince).find((c) => c.server === next.server);
    if (options.verbose) for (const e of consumer.timeline.slice(timelineSince)) console.log(`      +${e.at - signalledAt} ms client ${e.what}`);
    const counts = consumer.checker.counts();
    const again = (cause: keyof typeof counts.duplicates) => counts.duplicates[cause] - countsBefore.duplicates[cause];
    const redelivered = `redelivered ${again("redelivery of an unacked batch")} unacked + ${again("redelivery of an acked batch")} acked`;
    const breakdown = `${trial.to} active ${await at(/^instance (active|running)$/)}, serving ${await at(/^destination serving$/)}, client connected ${connected === undefined ? "?" : `+${connected.at - signalledAt}`} ms`;

    // The stopped node comes back as a standby, at the same address.
    const exit = await Promise.race([victim.exited, new Promise<undefined>((r) => setTimeout(r, FAILOVER_BOUND_MS))]);
    if (exit === undefined) throw new Error(`${label}: ${nodes.idOf(victim)} did not exit within ${FAILOVER_BOUND_MS} ms of ${kind}`);
    const how = exit.signal ?? `exit ${exit.code}`;
    await victim.stop();
    const restartStarted = Date.now();
    const restarted = await nodes.start(trial.from, victim.port);
    const restartMs = Date.now() - restartStarted;
    console.log(`  ${label} ${trial.from} -> ${trial.to}  ${String(ms).padStart(5)} ms  (${breakdown}; ${redelivered}${lastWords}; old node ${how}; first new row ${next.n}; restarted as pid ${restarted.pid} in ${restartMs} ms)`);
  }
  return trials;
}

export async function main(argv: string[]): Promise<void> {
  const options = parseFailoverOptions(argv);
  const bundle = await bundleScripts("bench-failover", { cli: "src/cli/main.ts", ...THREAD_SCRIPTS });
  const cleanUps: (() => Promise<unknown> | unknown)[] = [() => bundle.remove()];
  const cleanUp = async () => {
    for (const fn of cleanUps.splice(0).reverse()) {
      try {
        await fn();
      } catch (err) {
        console.error(`clean-up: ${(err as Error).message}`);
      }
    }
  };
  const interrupted = (signal: NodeJS.Signals) => {
    console.error(`${signal}: stopping`);
    void cleanUp().finally(() => process.exit(130));
  };
  process.once("SIGINT", interrupted);
  process.once("SIGTERM", interrupted);
  try {
    const [zkServer, db] = await Promise.all([options.ensemble ? startZooKeeperEnsemble() : startZooKeeper(), startMariaDB()]);
    cleanUps.push(() => db.stop(), () => zkServer.stop());
    const zkPids = "members" in zkServer ? zkServer.members.map((m) => m.pid).join(",") : String(zkServer.pid);
    console.log(`zookeeper: pid ${zkPids} on ${zkServer.connectString} (${options.ensemble ? "3-member ensemble" : "standalone"})`);
    console.log(`mariadb: pid ${db.pid} on ${db.host}:${db.port}`);

    const start = await binlogEnd(db);
    const nodes = new Nodes({ zkConnect: zkServer.connectString, db, cli: bundle.script.cli, start, options });
    cleanUps.push(() => nodes.stopAll());
    // The first node first, so it is the running one and the other starts as a standby.
    const first = await nodes.start("n1");
    await nodes.start("n2");
    for (const node of nodes.byId.values()) console.log(`node ${node.nodeId}: pid ${node.pid} on ${node.address}`);

    const zk = await ZkSessionClient.connect({ connectString: zkServer.connectString, sessionTimeoutMs: 10_000 });
    cleanUps.push(() => zk.close());
    const discovery = await RunningServerDiscovery.connect(zkServer.connectString);
    cleanUps.push(() => discovery.close());

    const loadMs = 60_000 + options.trials * 2 * TRIAL_BUDGET_MS;
    const load = await startSequenceLoad({ server: db, database: DATABASE, intervalMs: options.intervalMs, maxRows: Math.ceil(loadMs / options.intervalMs) + 1, maxMs: loadMs });
    cleanUps.push(() => load.stop().catch(() => undefined));
    const consumer = new FollowingConsumer(discovery, DESTINATION, load.first, TABLE);
    await consumer.start();
    cleanUps.push(() => consumer.stop());
    console.log(`load: one row every ${options.intervalMs} ms into ${load.table}; consumer following the running node (first on ${first.address})`);

    const trials = await runTrials(options, nodes, zk, discovery, consumer, load);

    const { lastCommitted } = await load.stop();
    const caughtUp = await consumer.caughtUp(lastCommitted, STEADY_BOUND_MS);
    await consumer.stop();
    const report = consumer.checker.report(lastCommitted);
    const k = stats(trials, "kill9");
    const s = stats(trials, "sigterm");
    console.log(`kill9:   median ${k.median} ms, max ${k.max} ms over ${k.count} trials (goal ≤ 3000 ms; Canal ≈ 45–55 s)`);
    console.log(`sigterm: median ${s.median} ms, max ${s.max} ms over ${s.count} trials (goal ≤ 500 ms; Canal ≈ 5 s)`);
    console.log(`consumer: ${consumer.servers.length} connections; ${consumer.hiccups.length} calls ended by a failover${caughtUp ? "" : `; did NOT catch up to ${lastCommitted}`}`);
    console.log(`checker: ${report.summary}`);
    console.log(`failover: kill9 median ${k.median} ms max ${k.max} ms, sigterm median ${s.median} ms max ${s.max} ms, lost ${report.lost.count}`);
    if (report.lost.count > 0) throw new Error(`${report.lost.count} committed rows were never received: ${JSON.stringify(report.lost.ranges.slice(0, 10))}`);
  } finally {
    process.off("SIGINT", interrupted);
    process.off("SIGTERM", interrupted);
    await cleanUp();
  }
}
