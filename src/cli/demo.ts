/**
 * `canal-ts demo`: the first-run tour. It starts a real ZooKeeper, MariaDB (ROW binlog) and
 * NATS with JetStream on free loopback ports and shows each one working, then runs a canal-ts
 * node on the MariaDB binlog and tails it with the Canal client while it writes, updates and
 * deletes sample rows, so the rows can be seen arriving as Canal entries.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { once } from "node:events";
import mysql from "mysql2/promise";
import { connect as natsConnect } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { StandaloneNode } from "../actors/standalone-node.js";
import { ZkSessionClient } from "../actors/zk/session-client.js";
import { configFromFlags } from "../config/index.js";
import { clusterNodePath, clusterPath } from "../protocol/zk-layout.js";
import { ensureServersInstalled, freePort, startAll, type AllServers } from "../testkit/index.js";
import { runTail } from "./tail.js";

export interface DemoOptions {
  /** Keep the servers, the node and the tail running until Ctrl-C instead of stopping after the tour. */
  keep: boolean;
  log: (line: string) => void;
}

export async function runDemo({ keep, log }: DemoOptions): Promise<void> {
  ensureServersInstalled(log);
  const started = Date.now();
  const servers = await startAll();
  try {
    log(`started ZooKeeper ${servers.zookeeper.connectString}, MariaDB 127.0.0.1:${servers.mariadb.port}, NATS ${servers.nats.url} in ${Date.now() - started} ms`);
    await showZooKeeper(servers, log);
    await showNats(servers, log);
    await showNodeAndTail(servers, keep, log);
  } finally {
    await servers.stop();
    log("stopped every server the demo started");
  }
}

async function showZooKeeper({ zookeeper }: AllServers, log: DemoOptions["log"]): Promise<void> {
  const zk = await ZkSessionClient.connect({ connectString: zookeeper.connectString, sessionTimeoutMs: 4000 });
  try {
    await zk.ensurePath(clusterPath());
    await zk.create(clusterNodePath("127.0.0.1:11111"), null, "ephemeral");
    const children = await zk.children(clusterPath());
    log(`zookeeper: session ${zk.sessionId}, ephemeral ${clusterPath()} children: ${children.join(", ")}`);
  } finally {
    await zk.close();
  }
}

async function showNats({ nats }: AllServers, log: DemoOptions["log"]): Promise<void> {
  const nc = await natsConnect({ servers: nats.url, name: "canal-ts-demo" });
  try {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: "CANAL_DEMO", subjects: ["canal.demo.>"] });
    const ack = await jetstream(nc).publish("canal.demo.example", JSON.stringify({ from: "standby", to: "running" }), { msgID: "demo-1" });
    const stored = await jsm.streams.getMessage("CANAL_DEMO", { seq: ack.seq });
    log(`nats: JetStream stored ${stored?.subject} #${ack.seq}: ${stored?.string()}`);
  } finally {
    await nc.close();
  }
}

/**
 * A standalone node on the MariaDB binlog and `canal-ts tail` on it, in this process, while
 * sample transactions are written: what a user of canal-ts sees.
 */
async function showNodeAndTail({ mariadb }: AllServers, keep: boolean, log: DemoOptions["log"]): Promise<void> {
  const db = await mysql.createConnection({ host: mariadb.host, port: mariadb.port, user: mariadb.user, password: mariadb.password, multipleStatements: true });
  const dataDir = mkdtempSync(join(tmpdir(), "canal-ts-demo-"));
  const port = await freePort();
  const { config } = configFromFlags({ destination: "example", source: mariadb.uri(), bind: "127.0.0.1", port: String(port), "data-dir": dataDir, filter: "shop\\..*" });
  const node = await StandaloneNode.start({ config, log: (r) => r.level === "error" && log(`node: ${r.msg} ${JSON.stringify(r.fields)}`) });
  const stopTail = new AbortController();
  try {
    log(`canal-ts node serving destination "example" (filter shop\\..*) on 127.0.0.1:${port}; tailing it:`);
    const tail = runTail({ destination: "example", host: "127.0.0.1", port, format: "table", signal: stopTail.signal, log: () => {} }, process.stdout);
    await db.query("CREATE DATABASE shop; CREATE TABLE shop.orders (id INT PRIMARY KEY, item VARCHAR(40), amount DECIMAL(10,2), placed DATETIME(3))");
    await db.query("INSERT INTO shop.orders VALUES (1, 'tea', 3.50, NOW(3)), (2, 'cake', 4.25, NOW(3))");
    await db.query("BEGIN; UPDATE shop.orders SET amount = 3.75 WHERE id = 1; INSERT INTO shop.orders VALUES (3, 'scone', 2.10, NOW(3)); COMMIT");
    await db.query("DELETE FROM shop.orders WHERE id = 2");
    if (keep) {
      log(`write rows and watch them arrive: mariadb -h127.0.0.1 -P${mariadb.port} -u${mariadb.user} -p${mariadb.password} shop. Ctrl-C stops everything.`);
      await Promise.race([once(process, "SIGINT"), once(process, "SIGTERM")]);
    } else {
      await new Promise((resolve) => setTimeout(resolve, 1500));
    }
    stopTail.abort();
    await tail;
  } finally {
    stopTail.abort();
    await node.stop();
    await db.end();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
