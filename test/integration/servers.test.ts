// The test kit starts real ZooKeeper, MariaDB and NATS servers that are usable with the clients
// the runtime uses, reports a server that dies on start clearly, and leaves nothing behind.
import { existsSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { jetstream, jetstreamManager, AckPolicy } from "@nats-io/jetstream";
import { connect as connectNats } from "@nats-io/transport-node";
import mysql from "mysql2/promise";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ZkSessionClient } from "../../src/actors/zk/session-client.js";
import { CanalConnectionError } from "../../src/errors.js";
import {
  freePort,
  isPidAlive,
  startAll,
  startMariaDB,
  startNats,
  startZooKeeper,
  startZooKeeperEnsemble,
} from "../../src/testkit/index.js";

/** A 10 s session: room for a leader election without losing it. */
function connectZooKeeper(connectString: string): Promise<ZkSessionClient> {
  return ZkSessionClient.connect({ connectString, sessionTimeoutMs: 10_000, connectTimeoutMs: 10_000 });
}

/** Retries `fn` until it stops throwing; ZooKeeper needs a moment to fail over. */
async function eventually<T>(fn: () => Promise<T>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(100);
    }
  }
}

function assertGone(pid: number, dir: string): void {
  assert.not.ok(isPidAlive(pid), `pid ${pid} still alive after stop()`);
  assert.not.ok(existsSync(dir), `${dir} still exists after stop()`);
}

/** Holds `port`, hanging up on whoever connects (the readiness checks would otherwise wait). */
function occupy(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer((socket) => socket.destroy()).once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve(server));
  });
}

test("standalone ZooKeeper: an ephemeral znode is seen by a second client and vanishes when its owner closes", async () => {
  const server = await startZooKeeper();
  try {
    const owner = await connectZooKeeper(server.connectString);
    const watcher = await connectZooKeeper(server.connectString);
    try {
      await owner.create("/testkit", new TextEncoder().encode("owned"), "ephemeral");
      assert.ok(await watcher.read("/testkit"), "second client does not see the ephemeral znode");
      await owner.close(); // the server deletes the session's ephemerals at once
      await eventually(async () => assert.is(await watcher.read("/testkit"), undefined), 5000);
    } finally {
      await owner.close();
      await watcher.close();
    }
  } finally {
    await server.stop();
  }
  assertGone(server.pid, server.dir);
});

test("ZooKeeper ensemble: a client survives the leader stopping, a member can crash, and members rejoin", async () => {
  const ensemble = await startZooKeeperEnsemble({ size: 3 });
  const pids = ensemble.members.map((m) => m.pid!);
  try {
    const modes = await Promise.all(ensemble.members.map((m) => m.mode()));
    assert.equal(modes.filter((m) => m === "leader").length, 1, `modes ${modes.join(",")}`);
    const leader = ensemble.members[modes.indexOf("leader")]!;
    const follower = ensemble.members.find((m) => m !== leader)!;

    const zk = await connectZooKeeper(ensemble.connectString);
    try {
      await zk.create("/session", null, "ephemeral");
      await leader.stop();
      assert.is(leader.pid, undefined);
      // Same session: writes go through once the other two have elected a leader, and the
      // ephemeral znode survives the failover.
      await eventually(() => zk.create("/after-leader-stop", null, "persistent"));
      assert.is((await zk.read("/session"))?.stat.ephemeralOwner, zk.sessionId, "ephemeral znode lost in the failover");
      await leader.start();
      assert.is(await leader.mode(), "follower");
    } finally {
      await zk.close();
    }

    await follower.kill();
    assert.is(follower.pid, undefined);
    const others = ensemble.members.filter((m) => m !== follower);
    await eventually(async () => assert.ok((await Promise.all(others.map((m) => m.mode()))).includes("leader"), "no leader"));
    // A new client in the same process, after the failovers, still gets a session.
    const after = await connectZooKeeper(others.map((m) => `127.0.0.1:${m.port}`).join(","));
    try {
      assert.ok(await after.read("/after-leader-stop"));
    } finally {
      await after.close();
    }
    await follower.start();
    assert.is(await follower.mode(), "follower");
  } finally {
    await ensemble.stop();
  }
  for (const [i, member] of ensemble.members.entries()) assertGone(pids[i]!, member.dir);
});

test("MariaDB: the replication user writes rows and moves the binlog position, logged as ROW with FULL image and metadata", async () => {
  const server = await startMariaDB();
  try {
    const conn = await mysql.createConnection(server.uri());
    try {
      const [[settings]] = (await conn.query(
        "SELECT @@log_bin AS logBin, @@binlog_format AS format, @@binlog_row_image AS image, " +
          "@@binlog_row_metadata AS metadata, @@binlog_checksum AS checksum, @@server_id AS serverId",
      )) as [Array<Record<string, unknown>>, unknown];
      assert.equal(settings, { logBin: 1, format: "ROW", image: "FULL", metadata: "FULL", checksum: "CRC32", serverId: server.serverId });

      const position = async () => {
        const [rows] = (await conn.query("SHOW MASTER STATUS")) as [Array<{ File: string; Position: number }>, unknown];
        return rows[0]!;
      };
      const before = await position();
      await conn.query("CREATE DATABASE shop");
      await conn.query("CREATE TABLE shop.orders (id INT PRIMARY KEY, item VARCHAR(20))");
      await conn.query("INSERT INTO shop.orders VALUES (1, 'tea')");
      const after = await position();
      assert.is(after.File, before.File);
      assert.ok(after.Position > before.Position, `binlog position ${after.Position} did not move past ${before.Position}`);
    } finally {
      await conn.end();
    }
  } finally {
    await server.stop();
  }
  assertGone(server.pid, server.dir);
});

test("MariaDB: binlogRowMetadata and serverId options reach the server", async () => {
  const server = await startMariaDB({ binlogRowMetadata: "MINIMAL", serverId: 42 });
  try {
    const conn = await mysql.createConnection(server.uri());
    try {
      const [[row]] = (await conn.query("SELECT @@binlog_row_metadata AS metadata, @@server_id AS serverId")) as [
        Array<Record<string, unknown>>,
        unknown,
      ];
      assert.equal(row, { metadata: "MINIMAL", serverId: 42 });
    } finally {
      await conn.end();
    }
  } finally {
    await server.stop();
  }
});

test("NATS: a JetStream message published with a msgID comes back through a consumer", async () => {
  const server = await startNats();
  try {
    const nc = await connectNats({ servers: server.url });
    try {
      const jsm = await jetstreamManager(nc);
      await jsm.streams.add({ name: "TESTKIT", subjects: ["testkit.>"] });
      const js = jetstream(nc);
      const first = await js.publish("testkit.hello", "hi", { msgID: "hello-1" });
      const again = await js.publish("testkit.hello", "hi", { msgID: "hello-1" });
      assert.is(again.duplicate, true);
      assert.is(again.seq, first.seq);

      await jsm.consumers.add("TESTKIT", { durable_name: "reader", ack_policy: AckPolicy.Explicit });
      const consumer = await js.consumers.get("TESTKIT", "reader");
      const message = await consumer.next({ expires: 5000 });
      assert.ok(message, "no message within 5 s");
      assert.is(message.subject, "testkit.hello");
      assert.is(message.string(), "hi");
      message.ack();
    } finally {
      await nc.close();
    }
  } finally {
    await server.stop();
  }
  assertGone(server.pid, server.dir);
});

test("startAll: ZooKeeper, MariaDB and NATS start together well under 30 s", async () => {
  const started = performance.now();
  const servers = await startAll();
  const ms = Math.round(performance.now() - started);
  console.log(`startAll took ${ms} ms`);
  try {
    assert.ok(ms < 15_000, `startAll took ${ms} ms`);
  } finally {
    await servers.stop();
  }
  assertGone(servers.zookeeper.pid, servers.zookeeper.dir);
  assertGone(servers.mariadb.pid, servers.mariadb.dir);
  assertGone(servers.nats.pid, servers.nats.dir);
});

for (const [name, start] of [
  ["zookeeper", (port: number) => startZooKeeper({ port })],
  ["mariadb", (port: number) => startMariaDB({ port })],
  ["nats-server", (port: number) => startNats({ port })],
] as const) {
  test(`${name} that exits on start (port taken) fails with its name, port and log tail, and cleans up`, async () => {
    const port = await freePort();
    const squatter = await occupy(port);
    try {
      const err = await start(port).then(
        (s) => s.stop().then(() => assert.unreachable(`${name} started on a taken port`)),
        (e: unknown) => e,
      );
      assert.instance(err, CanalConnectionError);
      const message = (err as Error).message;
      assert.match(message, `${name} on 127.0.0.1:${port} exited with code`);
      assert.match(message, /address already in use/i);
      const logDir = /last lines of (\S+)\/server\.log:/.exec(message)?.[1];
      assert.ok(logDir, `no log path in: ${message}`);
      assert.not.ok(existsSync(logDir), `${logDir} left behind`);
    } finally {
      squatter.close();
    }
  });
}

test.run();
