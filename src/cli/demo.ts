/**
 * `canal-ts demo`: the first-run tour, the real thing on one machine. It starts a ZooKeeper and
 * a MariaDB with a ROW binlog on free loopback ports, then two canal-ts nodes in cluster mode
 * (real processes, `canal-ts server --zk …`), and a tail that finds the destination's running
 * node in ZooKeeper and follows it. It writes sample rows and shows them arriving, kills the
 * running node with SIGKILL, shows the other node take over and the tail carry on there, shows
 * what the metrics said about it, and stops everything it started.
 *
 * Bounded by default (each wait has a deadline; the tour ends on its own): that is what the CLI
 * test runs. `--keep` keeps everything up after the tour until Ctrl-C, for writing rows by
 * hand. Ctrl-C at any point stops the tour and everything it started.
 */
import { once } from "node:events";
import mysql from "mysql2/promise";
import { ZkSessionClient } from "../actors/zk/session-client.js";
import { CanalConnector, DEFAULT_CLIENT_ID } from "../client/connector.js";
import { parseCursorJson } from "../protocol/cursor-json.js";
import { clientCursorPath } from "../protocol/zk-layout.js";
import { CanalLateReplyError, CanalStaleBatchError } from "../client/errors.js";
import { transactionsOf, renderTransaction } from "../client/render.js";
import { RunningServerDiscovery } from "../client/zk-discovery.js";
import { CanalConnectionError, CanalError } from "../errors.js";
import {
  ensureServersInstalled,
  scrapeMetrics,
  startCanalNode,
  startMariaDB,
  startZooKeeper,
  type CanalNode,
  type MariaDBServer,
  type ZooKeeperServer,
} from "../testkit/index.js";

export interface DemoOptions {
  /** Keep the servers, the nodes and the tail running after the tour until Ctrl-C. */
  keep: boolean;
  log: (line: string) => void;
  /** Where the tail prints; default stdout. */
  out?: NodeJS.WritableStream;
}

const DESTINATION = "example";
/** Short sessions so a kill -9 fails over in about two seconds (the test kit's ZooKeeper grants them). */
const SESSION_TIMEOUT_MS = 2000;
/** Each step of the tour waits at most this long for what it shows. */
const STEP_TIMEOUT_MS = 30_000;

export async function runDemo({ keep, log, out = process.stdout }: DemoOptions): Promise<void> {
  ensureServersInstalled(log);
  const interrupted = new AbortController();
  const onSignal = () => interrupted.abort(new CanalError("interrupted (Ctrl-C)"));
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  const cleanup: Array<() => Promise<unknown>> = [];
  try {
    const started = Date.now();
    const [zk, db] = await Promise.all([startZooKeeper(), startMariaDB()]);
    cleanup.push(() => zk.stop(), () => db.stop());
    log(`started ZooKeeper ${zk.connectString} and MariaDB ${db.host}:${db.port} (ROW binlog) in ${Date.now() - started} ms`);
    await tour({ zk, db, keep, log, out, signal: interrupted.signal, cleanup });
  } catch (err) {
    if (!interrupted.signal.aborted) throw err;
    log("interrupted");
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    for (const stop of cleanup.reverse()) await stop().catch(() => undefined);
    log("stopped the tail, both canal-ts nodes, ZooKeeper and MariaDB");
  }
}

interface TourContext {
  zk: ZooKeeperServer;
  db: MariaDBServer;
  keep: boolean;
  log: (line: string) => void;
  out: NodeJS.WritableStream;
  signal: AbortSignal;
  /** Stops for what the tour starts, run in reverse order at the end. */
  cleanup: Array<() => Promise<unknown>>;
}

async function tour({ zk, db, keep, log, out, signal, cleanup }: TourContext): Promise<void> {
  const sql = await mysql.createConnection({ host: db.host, port: db.port, user: db.user, password: db.password, multipleStatements: true });
  cleanup.push(() => sql.end());
  await sql.query("CREATE DATABASE shop; CREATE TABLE shop.orders (id INT PRIMARY KEY, item VARCHAR(40), amount DECIMAL(10,2), placed DATETIME(3))");

  // Two nodes with the same destination: one runs it, the other stands by.
  const args = ["--zk", zk.connectString, "--zk-session-timeout", String(SESSION_TIMEOUT_MS), "--source", db.uri(), "--destination", DESTINATION, "--filter", "shop\\..*"];
  const cli = bundledCli();
  // Started side by side; a node that did start is stopped at the end even if the other failed.
  const starts = ["a", "b"].map((nodeId) => startCanalNode({ nodeId, args, ...(cli === undefined ? {} : { cli }) }));
  for (const start of starts) cleanup.push(async () => (await start).stop());
  const nodes: CanalNode[] = await Promise.all(starts);
  for (const node of nodes) log(`canal-ts node ${node.nodeId} up on ${node.address} (metrics http://127.0.0.1:${node.metricsPort}/metrics), pid ${node.pid}`);
  // Open one in a browser before the kill below to watch the standby's instance take over.
  log(`live state charts: ${nodes.map((n) => `node ${n.nodeId} http://127.0.0.1:${n.metricsPort}/charts`).join(", ")}`);
  const nameOf = (address: string) => nodes.find((n) => n.address === address)?.nodeId ?? address;

  const discovery = await RunningServerDiscovery.connect(zk.connectString);
  cleanup.push(() => discovery.close());
  const running = await discovery.runningServer(DESTINATION, { timeoutMs: STEP_TIMEOUT_MS, signal });
  const first = `${running.host}:${running.port}`;
  log(`destination "${DESTINATION}" runs on node ${nameOf(first)}; node ${nameOf(nodes.find((n) => n.address !== first)!.address)} stands by`);

  // The tail: finds the running node in ZooKeeper on every (re)connect, so it follows failovers.
  const tail = new FollowingTail(discovery, out, (line) => log(line), nameOf);
  cleanup.push(() => tail.stop());
  await tail.start(signal);
  log(`tailing "${DESTINATION}" (following its running node through ZooKeeper):`);

  await sql.query("INSERT INTO shop.orders VALUES (1, 'tea', 3.50, NOW(3)), (2, 'cake', 4.25, NOW(3))");
  await sql.query("BEGIN; UPDATE shop.orders SET amount = 3.75 WHERE id = 1; INSERT INTO shop.orders VALUES (3, 'scone', 2.10, NOW(3)); COMMIT");
  await sql.query("DELETE FROM shop.orders WHERE id = 2");
  const deleted = await tail.waitFor((c) => c.type === "DELETE" && c.id === 2, STEP_TIMEOUT_MS, signal);
  // At least once: a node that takes over resumes at the acked cursor in ZooKeeper. Wait until
  // the tail's ack of these rows is there, so the failover below shows resuming, not replaying.
  const cursor = await ackedCursor(zk.connectString, deleted, signal);
  log(`the tail's ack is in ZooKeeper: ${clientCursorPath(DESTINATION, DEFAULT_CLIENT_ID)} at ${cursor}`);

  // The failover: SIGKILL of the running node; ZooKeeper expires its session, the standby takes over.
  const victim = nodes.find((n) => n.address === first)!;
  log(`kill -9 node ${victim.nodeId} (pid ${victim.pid}), which runs "${DESTINATION}"`);
  const killedAt = Date.now();
  victim.kill("SIGKILL");
  await victim.exited;
  await sql.query("INSERT INTO shop.orders VALUES (4, 'muffin', 2.80, NOW(3)), (5, 'coffee', 3.20, NOW(3))");
  const arrived = await tail.waitFor((c) => c.type === "INSERT" && c.id === 5, STEP_TIMEOUT_MS, signal);
  const survivor = nodes.find((n) => n !== victim)!;
  log(`the tail carried on at node ${nameOf(arrived.server)}: rows written after the kill arrived ${arrived.at - killedAt} ms after it`);
  await sql.query("UPDATE shop.orders SET amount = 2.95 WHERE id = 4");
  await tail.waitFor((c) => c.type === "UPDATE" && c.id === 4, STEP_TIMEOUT_MS, signal);

  // What an operator's dashboard saw.
  const m = await scrapeMetrics(survivor.metricsPort);
  const d = { destination: DESTINATION };
  const took = m.value("canal_ts_takeover_last_duration_seconds", { ...d, cause: "failover" });
  log(
    `node ${survivor.nodeId} metrics: canal_ts_takeovers_total{cause="failover"} ${m.sum("canal_ts_takeovers_total", { ...d, cause: "failover" })}` +
      (took === undefined ? "" : `, took over ${took.toFixed(3)} s after it saw node ${victim.nodeId}'s session expire`) +
      `, canal_instance_put_rows ${m.value("canal_instance_put_rows", d) ?? 0}, canal_ts_source_lag_seconds ${m.value("canal_ts_source_lag_seconds", d) ?? "?"}`,
  );

  if (keep) {
    log(`everything stays up. Write rows and watch them arrive: mariadb -h${db.host} -P${db.port} -u${db.user} ${db.password === "" ? "" : `-p${db.password} `}shop`);
    log(`node ${survivor.nodeId} metrics: curl http://127.0.0.1:${survivor.metricsPort}/metrics (and /readyz), live charts http://127.0.0.1:${survivor.metricsPort}/charts; its log: ${survivor.logFile}. Ctrl-C stops everything.`);
    if (!signal.aborted) await once(signal, "abort");
  }
}

/**
 * The CLI bundle this demo runs from (dist/cli.js), so the nodes run the same build; undefined
 * when running from source, where the test kit's default (the repository's dist/cli.js) applies.
 */
function bundledCli(): string | undefined {
  const script = process.argv[1];
  return script !== undefined && /cli\.js$/.test(script) ? script : undefined;
}

/** Waits until the client's cursor in ZooKeeper is at or past `change`; returns it as `file:offset`. */
async function ackedCursor(connectString: string, change: SeenChange, signal: AbortSignal): Promise<string> {
  const zk = await ZkSessionClient.connect({ connectString, sessionTimeoutMs: 10_000 });
  try {
    const deadline = Date.now() + STEP_TIMEOUT_MS;
    for (;;) {
      const node = await zk.read(clientCursorPath(DESTINATION, DEFAULT_CLIENT_ID));
      if (node?.data) {
        const cursor = parseCursorJson(new TextDecoder().decode(node.data));
        if (cursor.journalName > change.file || (cursor.journalName === change.file && cursor.position >= change.offset)) return `${cursor.journalName}:${cursor.position}`;
      }
      if (signal.aborted) throw signal.reason;
      if (Date.now() > deadline) throw new CanalConnectionError(`demo: the tail's ack did not reach ZooKeeper within ${STEP_TIMEOUT_MS} ms`, { retriable: false });
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } finally {
    await zk.close();
  }
}

interface SeenChange {
  type: string;
  id: number | undefined;
  file: string;
  offset: number;
  /** The node that delivered it, and when. */
  server: string;
  at: number;
}

/** A tail like `canal-ts tail`, but resolving the running node from ZooKeeper and remembering what it printed. */
class FollowingTail {
  private readonly connector: CanalConnector;
  private readonly seen: SeenChange[] = [];
  private readonly stopping = new AbortController();
  private loop: Promise<void> | undefined;
  private server = "";

  constructor(discovery: RunningServerDiscovery, private readonly out: NodeJS.WritableStream, log: (line: string) => void, nameOf: (address: string) => string) {
    this.connector = new CanalConnector({
      resolve: discovery.resolver(DESTINATION),
      destination: DESTINATION,
      // Short steps: after a kill -9 the look-up names the dead node until its session expires.
      reconnect: { initialDelayMs: 50, maxDelayMs: 250 },
      soTimeoutMs: 5000,
      connectTimeoutMs: 10_000,
    });
    this.connector.on("connected", ({ address, reconnect }) => {
      this.server = address;
      log(`tail ${reconnect ? "reconnected" : "connected"} to node ${nameOf(address)} (${address})`);
    });
  }

  async start(signal: AbortSignal): Promise<void> {
    await this.connector.connect({ signal });
    await this.connector.subscribe();
    this.loop = this.run();
  }

  /** Resolves with the first change printed that matches; rejects after `timeoutMs`. */
  async waitFor(match: (c: SeenChange) => boolean, timeoutMs: number, signal: AbortSignal): Promise<SeenChange> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.seen.find(match);
      if (found !== undefined) return found;
      if (signal.aborted) throw signal.reason;
      if (Date.now() > deadline) throw new CanalConnectionError(`demo: the tail did not show the expected change within ${timeoutMs} ms`, { retriable: false });
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await this.connector.disconnect();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopping.signal.aborted && this.connector.state !== "disconnected") {
      try {
        for await (const batch of this.connector.batches({ batchSize: 100, timeoutMs: 200, signal: this.stopping.signal })) {
          const text = transactionsOf(batch.entries).map((group) => renderTransaction(group, batch.id, { color: false })).join("");
          if (text !== "") this.out.write(text);
          const at = Date.now();
          for (const change of batch.changes) {
            const row = change.after ?? change.before;
            const id = row?.["id"] === undefined ? undefined : Number(row["id"].value);
            this.seen.push({ type: change.type, id, file: change.position.file, offset: change.position.offset, server: this.server, at });
          }
          await batch.ack();
        }
      } catch (err) {
        if (this.stopping.signal.aborted) return;
        // A batch of a connection that ended with its node: the new node delivers it again.
        if (err instanceof CanalStaleBatchError) continue;
        if (err instanceof CanalLateReplyError) {
          await this.connector.rollback().catch(() => undefined);
          continue;
        }
        this.out.write(`tail stopped: ${err instanceof Error ? err.message : String(err)}\n`);
        return;
      }
    }
  }
}
