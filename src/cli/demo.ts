/**
 * `canal-ts demo`: the first-run tour. It starts a real ZooKeeper, MariaDB (ROW binlog) and
 * NATS with JetStream on free loopback ports, shows each one working, and runs a Canal
 * handshake and authentication round trip over TCP with the wire codec, printing the bytes.
 *
 * It grows into "a node serving a live MariaDB binlog" as the server lands; today it is the
 * proof that the machine has everything a canal-ts cluster needs.
 */
import { randomBytes } from "node:crypto";
import { createServer, connect as tcpConnect, type Socket } from "node:net";
import { once } from "node:events";
import ZooKeeper from "zookeeper";
import mysql from "mysql2/promise";
import { connect as natsConnect } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import {
  AckErrorCode,
  checkAuth,
  decodeClientAuth,
  decodePacket,
  encodeAckFrame,
  encodeClientAuthFrame,
  encodeHandshakeFrame,
  FrameDecoder,
  readAck,
  readHandshake,
  scramble411,
  scrambleGenPass,
  type Packet,
} from "../protocol/index.js";
import { ensureServersInstalled, startAll, type AllServers } from "../testkit/index.js";

export interface DemoOptions {
  /** Keep the servers running until Ctrl-C instead of stopping after the tour. */
  keep: boolean;
  log: (line: string) => void;
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

export async function runDemo({ keep, log }: DemoOptions): Promise<void> {
  ensureServersInstalled(log);
  const started = Date.now();
  const servers = await startAll();
  try {
    log(`started ZooKeeper ${servers.zookeeper.connectString}, MariaDB 127.0.0.1:${servers.mariadb.port}, NATS ${servers.nats.url} in ${Date.now() - started} ms`);
    await showZooKeeper(servers, log);
    await showMariaDB(servers, log);
    await showNats(servers, log);
    await showCanalHandshake(log);
    if (keep) {
      log(`servers stay up; connect with: mariadb -h127.0.0.1 -P${servers.mariadb.port} -u${servers.mariadb.user} -p${servers.mariadb.password}. Ctrl-C stops them.`);
      await Promise.race([once(process, "SIGINT"), once(process, "SIGTERM")]);
    }
  } finally {
    await servers.stop();
    log("stopped every server the demo started");
  }
}

async function showZooKeeper({ zookeeper }: AllServers, log: DemoOptions["log"]): Promise<void> {
  const zk = new ZooKeeper({ connect: zookeeper.connectString, timeout: 4000, debug_level: 0, host_order_deterministic: false });
  const connected = once(zk, "connect");
  zk.init({});
  await connected;
  try {
    for (const path of ["/otter", "/otter/canal", "/otter/canal/cluster"]) await zk.create(path, "", ZooKeeper.constants.ZOO_PERSISTENT);
    await zk.create("/otter/canal/cluster/127.0.0.1:11111", "", ZooKeeper.constants.ZOO_EPHEMERAL);
    const children = await zk.get_children("/otter/canal/cluster", false);
    log(`zookeeper: session 0x${zk.client_id}, ephemeral /otter/canal/cluster children: ${children.join(", ")}`);
  } finally {
    zk.close();
  }
}

async function showMariaDB({ mariadb }: AllServers, log: DemoOptions["log"]): Promise<void> {
  const db = await mysql.createConnection({ host: mariadb.host, port: mariadb.port, user: mariadb.user, password: mariadb.password });
  try {
    const position = async () => {
      const [rows] = await db.query<mysql.RowDataPacket[]>("SHOW MASTER STATUS");
      return `${rows[0]?.File}:${rows[0]?.Position}`;
    };
    const [settings] = await db.query<mysql.RowDataPacket[]>("SELECT @@version AS version, @@binlog_format AS format, @@binlog_row_image AS image, @@binlog_row_metadata AS metadata");
    const s = settings[0]!;
    log(`mariadb: ${s.version}, binlog_format=${s.format}, binlog_row_image=${s.image}, binlog_row_metadata=${s.metadata}`);
    const before = await position();
    await db.query("CREATE DATABASE IF NOT EXISTS demo");
    await db.query("CREATE TABLE IF NOT EXISTS demo.orders (id INT PRIMARY KEY, item VARCHAR(40), amount DECIMAL(10,2))");
    await db.query("INSERT INTO demo.orders VALUES (1, 'tea', 3.50), (2, 'cake', 4.25)");
    log(`mariadb: wrote 2 rows into demo.orders; binlog moved from ${before} to ${await position()}`);
  } finally {
    await db.end();
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

/** Reads whole Canal packets from a socket, in order. */
function packetReader(socket: Socket): () => Promise<Packet> {
  const decoder = new FrameDecoder();
  const ready: Packet[] = [];
  let waiting: ((p: Packet) => void) | undefined;
  socket.on("data", (chunk) => {
    for (const frame of decoder.push(chunk)) ready.push(decodePacket(frame));
    if (waiting && ready.length > 0) waiting(ready.shift()!), (waiting = undefined);
  });
  return () => (ready.length > 0 ? Promise.resolve(ready.shift()!) : new Promise((resolve) => (waiting = resolve)));
}

/**
 * Canal's connection sequence (handshake with an 8-byte seed, ClientAuth with the scrambled
 * password, Ack), one side written with the server's rules and one with the Java client's.
 * A wrong password gets Canal's error Ack on the same connection, which stays open.
 */
async function showCanalHandshake(log: DemoOptions["log"]): Promise<void> {
  const credentials = { serverUser: "canal", serverPasswdHash: scrambleGenPass("canal") };
  const server = createServer((socket) => {
    const seed = randomBytes(8);
    const next = packetReader(socket);
    socket.write(encodeHandshakeFrame(seed));
    void (async () => {
      for (;;) {
        const auth = decodeClientAuth((await next()).body);
        const verdict = checkAuth(credentials, { username: auth.username, password: Buffer.from(auth.password).toString("utf8") }, seed);
        socket.write(verdict.ok ? encodeAckFrame() : encodeAckFrame({ errorCode: AckErrorCode.FAILED, errorMessage: verdict.message }));
      }
    })().catch(() => socket.destroy());
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  const socket = tcpConnect(port, "127.0.0.1");
  try {
    const next = packetReader(socket);
    const { seeds } = readHandshake(await next());
    log(`canal: handshake from 127.0.0.1:${port}, seed ${hex(seeds)}`);
    for (const password of ["wrong", "canal"]) {
      const frame = encodeClientAuthFrame({ username: "canal", password: Buffer.from(scramble411(password, seeds)), netReadTimeout: 3_600_000, netWriteTimeout: 3_600_000 });
      socket.write(frame);
      try {
        readAck(await next());
        log(`canal: ClientAuth ${hex(frame)} (password "${password}") -> Ack ok`);
      } catch (err) {
        log(`canal: ClientAuth with password "${password}" -> ${(err as Error).message}`);
      }
    }
  } finally {
    socket.destroy();
    server.close();
  }
}
