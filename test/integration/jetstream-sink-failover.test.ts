/**
 * The JetStream sink across failovers (issue 7): two canal-ts nodes in cluster mode (real
 * processes, real ZooKeeper), a real MariaDB under a continuous sequence load (3 rows per
 * transaction, so entries hold several rows), a real nats-server with JetStream. The running
 * node is killed with SIGKILL five times, each time mid-load; the killed node comes back as the
 * standby. Afterwards the stream, read back with a JetStream consumer, must hold every
 * committed row exactly once, in commit order.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ZkSessionClient } from "../../src/actors/zk/session-client.js";
import { startCanalNode, type CanalNode } from "../../src/testkit/canal-node.js";
import { startMariaDB, startNats, startZooKeeper } from "../../src/testkit/index.js";
import { startSequenceLoad } from "../../src/testkit/sequence-load.js";
import { assertOneRunner, DATABASE, newOwner, nodeArgs, runningAddress, SESSION_TIMEOUT_MS, TABLE } from "./cluster-kit.js";
import { readStream, streamCount, until } from "./sink-kit.js";

const DESTINATION = "seq";
const STREAM = "SEQ";
const FAILOVERS = 5;

test("5 kill -9 failovers of the running node during a load: the stream holds each committed row exactly once, in commit order", async () => {
  const [zkServer, db, nats] = await Promise.all([startZooKeeper(), startMariaDB(), startNats()]);
  const zk = await ZkSessionClient.connect({ connectString: zkServer.connectString, sessionTimeoutMs: 10_000 });
  const args = [...nodeArgs(zkServer.connectString, db, DESTINATION), "--nats", nats.url, "--sink", STREAM];
  const start = (nodeId: string, port?: number) => startCanalNode({ nodeId, args, port });
  const nodes: CanalNode[] = [await start("a"), await start("b")];
  const killedAt = new Map<CanalNode, number>();
  const load = await startSequenceLoad({ server: db, rowsPerTransaction: 3, intervalMs: 10, maxRows: 60_000, maxMs: 75_000 });
  try {
    let owner = await runningAddress(zk, DESTINATION);
    const live = () => nodes.filter((n) => n.isAlive());
    for (let i = 1; i <= FAILOVERS; i++) {
      // Kill only once the stream is growing under the current owner: the kill lands mid-load.
      const before = await streamCount(nats.url, STREAM);
      await until(async () => (await streamCount(nats.url, STREAM)) >= before + 60, 15_000, `failover ${i}: the stream grows under ${owner}`);
      const victim = live().find((n) => n.address === owner)!;
      victim.kill("SIGKILL");
      killedAt.set(victim, Date.now());
      await victim.exited;
      owner = await newOwner(zk, DESTINATION, owner, 4 * SESSION_TIMEOUT_MS + 2000);
      // The killed node returns (same address) as the standby for the next round.
      nodes.push(await start(`${victim.nodeId}${i}`, victim.port));
    }
    const grown = await streamCount(nats.url, STREAM);
    await until(async () => (await streamCount(nats.url, STREAM)) >= grown + 60, 15_000, "the stream grows under the last owner");
    const { lastCommitted, first } = await load.stop();
    const expected = lastCommitted - first + 1;

    // Everything committed reaches the stream (INSERT messages of the sequence table).
    let rows: number[] = [];
    await until(
      async () => {
        const stored = await readStream(nats.url, STREAM);
        rows = stored.filter((m) => m.json.type === "INSERT" && m.json.database === DATABASE && m.json.table === TABLE).map((m) => Number(m.json.data![0]!["n"]));
        return rows.length >= expected;
      },
      20_000,
      `all ${expected} rows in the stream`,
    ).catch((err: Error) => {
      throw new Error(`${err.message}; got ${rows.length}, up to ${Math.max(0, ...rows)}`);
    });
    const stored = await readStream(nats.url, STREAM);
    const msgIds = stored.map((m) => m.msgId);
    assert.is(new Set(msgIds).size, msgIds.length, "no msg id twice in the stream");
    // Exactly once, in commit order: the rows are first, first+1, …, lastCommitted.
    const wrong = rows.findIndex((n, i) => n !== first + i);
    assert.is(wrong, -1, wrong < 0 ? "" : `row ${wrong} of the stream is n=${rows[wrong]}, expected ${first + wrong} (around: ${rows.slice(Math.max(0, wrong - 3), wrong + 4).join(",")})`);
    assert.is(rows.length, expected, `each of the ${expected} committed rows once`);
    // Every message belongs to one row change, on its table's subject.
    for (const m of stored) if (m.json.type === "INSERT") assert.is(m.subject, `canal.${DESTINATION}.${DATABASE}.${TABLE}`);
    assertOneRunner(nodes, [DESTINATION], killedAt);
    const last = nodes.find((n) => n.address === owner && n.isAlive())!;
    assert.ok(last.logs.some((l) => l.msg === "sink ready"), "the last owner's sink published");
    // How much the new owners published again and JetStream dropped (it depends on where each kill landed).
    const dropped = nodes.flatMap((n) => n.logs).filter((l) => l.msg === "sink replay dropped by JetStream").map((l) => Number(l.fields["duplicates"]));
    console.log(`  ${FAILOVERS} failovers, ${expected} rows, ${stored.length} messages; replays dropped by JetStream: ${dropped.length} (${dropped.reduce((a, b) => a + b, 0)} messages)`);
  } finally {
    await load.stop();
    await zk.close();
    await Promise.all(nodes.map((n) => n.stop()));
    await Promise.all([zkServer.stop(), db.stop(), nats.stop()]);
  }
});

test.run();
