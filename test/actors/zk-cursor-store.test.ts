/**
 * ZkCursorStore against a real ZooKeeper (each test starts and stops its own): Canal's exact
 * bytes under `<d>/<clientId>`, takeover of what a previous owner (ours or Canal) wrote, and
 * fencing: once another node took the destination over, nothing this store writes lands, and
 * nothing the previous owner wrote before the takeover is lost.
 *
 * Network trouble comes from a small TCP relay between the client and the real server; a lost
 * reply is made by a session wrapper that lets the real multi run and then reports
 * CONNECTION_LOSS, as the adapter does when the socket dies before the answer.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { TcpRelay } from "../../src/testkit/tcp-relay.js";
import { ZkSessionClient, ZooKeeperError, type ZkSessionEvent } from "../../src/actors/zk/session-client.js";
import { CursorFencedError, ZkCursorError, ZkCursorStore, type CursorSession } from "../../src/actors/zk/cursor-store.js";
import { isRetriable } from "../../src/errors.js";
import { parseCursorJson, type LogPosition } from "../../src/protocol/cursor-json.js";
import { startZooKeeper, type ZooKeeperServer } from "../../src/testkit/index.js";

const D = "example";
const DEST = `/otter/canal/destinations/${D}`;
const SOURCE = { address: "10.35.165.15", port: 3306 };

/** canal-facts.md §3.3: the cursor exactly as Canal 1.1.8 writes it. */
const CANAL_CURSOR =
  '{"@type":"com.alibaba.otter.canal.protocol.position.LogPosition","identity":{"slaveId":-1,"sourceAddress":{"address":"10.35.165.15","port":3306}},"postion":{"gtid":"","included":false,"journalName":"mysql-bin.000003","position":4567,"serverId":1,"timestamp":1700000000000}}';

const cursorAt = (position: number): LogPosition => ({
  sourceAddress: { address: "10.35.165.15", port: 3306 },
  journalName: "mysql-bin.000003",
  position,
  serverId: 1,
  timestamp: 1700000000000,
  gtid: "",
  included: false,
});

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array | null | undefined) => (b == null ? b : new TextDecoder().decode(b));

async function withZooKeeper(fn: (zk: ZooKeeperServer) => Promise<void>): Promise<void> {
  const zk = await startZooKeeper();
  try {
    await fn(zk);
  } finally {
    await zk.stop();
  }
}

const sessions: ZkSessionClient[] = [];
async function session(connectString: string, onEvent?: (e: ZkSessionEvent) => void, sessionTimeoutMs = 4000): Promise<ZkSessionClient> {
  const client = await ZkSessionClient.connect({ connectString, sessionTimeoutMs, ...(onEvent && { onEvent }) });
  sessions.push(client);
  return client;
}
test.after.each(async () => {
  await Promise.all(sessions.splice(0).map((s) => s.close()));
});

async function node(zk: ZkSessionClient, path: string) {
  const found = await zk.read(path);
  return found && { text: text(found.data), version: found.stat.version };
}

async function fencedBy(promise: Promise<unknown>): Promise<CursorFencedError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.instance(err, CursorFencedError, `expected a CursorFencedError, got ${String(err)}`);
  assert.not.ok(isRetriable(err));
  return err as CursorFencedError;
}


// ---- layout and bytes -----------------------------------------------------------------------

test("a cursor is Canal's exact typed JSON, <d>/<clientId> has null data, the filter is raw UTF-8, and a blank filter writes no node", async () => {
  await withZooKeeper(async (server) => {
    const zk = await session(server.connectString);
    const store = await ZkCursorStore.takeOver(zk, D, SOURCE);
    assert.equal(store.list(), [], "no destination node yet: no clients");

    await store.set({ clientId: 1001, filter: "shop\\..*", cursor: cursorAt(4567) });
    assert.is((await node(zk, `${DEST}/1001/cursor`))?.text, CANAL_CURSOR);
    assert.is((await zk.read(`${DEST}/1001`))?.data, null, "the subscription node holds jute null, as Canal's createPersistent");
    assert.is((await node(zk, `${DEST}/1001/filter`))?.text, "shop\\..*");
    assert.equal(parseCursorJson(CANAL_CURSOR), cursorAt(4567), "what we write parses back with the typed parser");

    await store.set({ clientId: 1002, filter: "  ", cursor: cursorAt(4) });
    assert.is(await zk.read(`${DEST}/1002/filter`), undefined, "a blank filter is not written (Canal's subscribe)");
    await store.set({ clientId: 1003 });
    assert.equal((await zk.children(`${DEST}/1003`)).sort(), [], "subscribed without a cursor: only the subscription node");
    assert.equal(store.get(1001), { clientId: 1001, filter: "shop\\..*", cursor: cursorAt(4567) });
  });
});

test("takeOver reads what a previous store wrote, and a cursor in Canal's exact format; the bump keeps the bytes", async () => {
  await withZooKeeper(async (server) => {
    const zk1 = await session(server.connectString);
    const first = await ZkCursorStore.takeOver(zk1, D, SOURCE);
    await first.set({ clientId: 1001, filter: "shop\\..*", cursor: cursorAt(9000) });
    await first.set({ clientId: 7, cursor: cursorAt(12) });
    // As Canal (ZooKeeperMetaManager) leaves it: a client whose cursor Canal wrote, and one only subscribed.
    await zk1.ensurePath(`${DEST}/1002`);
    await zk1.create(`${DEST}/1002/cursor`, bytes(CANAL_CURSOR), "persistent");
    await zk1.ensurePath(`${DEST}/1003`);
    // Not subscriptions (listAllSubscribeInfo takes numeric children only).
    await zk1.ensurePath(`${DEST}/cluster`);
    await zk1.create(`${DEST}/running`, bytes('{"active":true,"address":"10.0.0.1:11111"}'), "ephemeral");
    await zk1.close();

    const zk2 = await session(server.connectString);
    const second = await ZkCursorStore.takeOver(zk2, D, SOURCE);
    assert.equal(second.list().map((c) => c.clientId), [7, 1001, 1002, 1003], "numeric children, ascending");
    assert.equal(second.get(1001), { clientId: 1001, filter: "shop\\..*", cursor: cursorAt(9000) });
    assert.equal(second.get(1002), { clientId: 1002, cursor: cursorAt(4567) });
    assert.equal(second.get(1003), { clientId: 1003 });
    assert.equal(await node(zk2, `${DEST}/1002/cursor`), { text: CANAL_CURSOR, version: 1 }, "bumped: same bytes, next version");

    await second.set({ clientId: 1002, cursor: cursorAt(5000) });
    assert.equal(await node(zk2, `${DEST}/1002/cursor`), { text: CANAL_CURSOR.replace("4567", "5000"), version: 2 });
  });
});

test("a cursor node that is not Canal's typed JSON stops the takeover with an error naming the node and the fix", async () => {
  await withZooKeeper(async (server) => {
    const zk = await session(server.connectString);
    await zk.ensurePath(`${DEST}/1001`);
    await zk.create(`${DEST}/1001/cursor`, bytes(CANAL_CURSOR.replace('"@type":"com.alibaba.otter.canal.protocol.position.LogPosition",', "")), "persistent");
    const err = await ZkCursorStore.takeOver(zk, D, SOURCE).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.instance(err, ZkCursorError);
    assert.match((err as Error).message, new RegExp(`the cursor node ${DEST}/1001/cursor is unusable .*"@type".*delete it to start destination example from its configured position`));
  });
});

// ---- coalescing, removal, lost replies --------------------------------------------------------

test("changes made while a write runs are coalesced into few multis, and each resolves once it is in ZooKeeper", async () => {
  await withZooKeeper(async (server) => {
    const zk = await session(server.connectString);
    let multis = 0;
    const counting: CursorSession = { ...bind(zk), multi: (ops) => (multis++, zk.multi(ops)) };
    const store = await ZkCursorStore.takeOver(counting, D, SOURCE);
    const writes = Array.from({ length: 50 }, (_, i) => store.set({ clientId: 1001, filter: "", cursor: cursorAt(1000 + i) }));
    writes.push(store.set({ clientId: 1002, cursor: cursorAt(5) }));
    await Promise.all(writes);
    await store.flush();
    assert.ok(multis <= 3, `${multis} multis for 51 changes`);
    assert.is((await node(zk, `${DEST}/1001/cursor`))?.text, CANAL_CURSOR.replace("4567", "1049"));
    assert.is((await node(zk, `${DEST}/1002/cursor`))?.text, CANAL_CURSOR.replace("4567", "5"));
  });
});

test("remove deletes the whole subscription subtree (Canal's unsubscribe), a client's running node included", async () => {
  await withZooKeeper(async (server) => {
    const zk = await session(server.connectString);
    const store = await ZkCursorStore.takeOver(zk, D, SOURCE);
    await store.set({ clientId: 1001, filter: "shop\\..*", cursor: cursorAt(4) });
    await zk.create(`${DEST}/1001/running`, bytes('{"active":true,"address":"10.0.0.5:51234","clientId":1001}'), "ephemeral");
    await store.remove(1001);
    assert.is(await zk.read(`${DEST}/1001`), undefined);
    assert.is(store.get(1001), undefined);
    await store.remove(1001);
    await store.set({ clientId: 1001, cursor: cursorAt(8) });
    assert.equal(await node(zk, `${DEST}/1001/cursor`), { text: CANAL_CURSOR.replace("4567", "8"), version: 0 }, "subscribed again from scratch");
  });
});

test("a reply lost after the write was applied is found out by reading, not taken for another owner's write", async () => {
  await withZooKeeper(async (server) => {
    const zk = await session(server.connectString);
    let loseNext = false;
    const lossy: CursorSession = {
      ...bind(zk),
      multi: async (ops) => {
        const stats = await zk.multi(ops);
        if (!loseNext) return stats;
        loseNext = false;
        throw new ZooKeeperError("ZooKeeper multi failed with CONNECTION_LOSS: the connection was lost before an answer came", { code: "CONNECTION_LOSS", op: "multi", outcomeUnknown: true });
      },
    };
    const store = await ZkCursorStore.takeOver(lossy, D, SOURCE, { retryDelayMs: 5 });
    await store.set({ clientId: 1001, cursor: cursorAt(1) });
    loseNext = true;
    await store.set({ clientId: 1001, cursor: cursorAt(2) });
    await store.set({ clientId: 1001, filter: "a\\.b", cursor: cursorAt(3) });
    assert.equal(await node(zk, `${DEST}/1001/cursor`), { text: CANAL_CURSOR.replace("4567", "3"), version: 2 });
    assert.is(store.fencedBy, undefined);
  });
});

// ---- fencing ----------------------------------------------------------------------------------

test("after another node takes over, the old store's writes reject CursorFencedError and the node keeps the taken-over value", async () => {
  await withZooKeeper(async (server) => {
    const zkA = await session(server.connectString);
    const fences: CursorFencedError[] = [];
    const a = await ZkCursorStore.takeOver(zkA, D, SOURCE, { onFenced: (err) => fences.push(err) });
    await a.set({ clientId: 1001, filter: "shop\\..*", cursor: cursorAt(100) });

    const zkB = await session(server.connectString);
    const b = await ZkCursorStore.takeOver(zkB, D, SOURCE);
    assert.equal(b.get(1001)?.cursor, cursorAt(100));

    const err = await fencedBy(a.set({ clientId: 1001, filter: "shop\\..*", cursor: cursorAt(200) }));
    assert.is(err.destination, D);
    assert.is(err.clientId, 1001);
    assert.is(err.path, `${DEST}/1001/cursor`);
    assert.is(err.expectedVersion, 0);
    assert.match(err.message, /destination example: the cursor of client 1001 at \/otter\/canal\/destinations\/example\/1001\/cursor was moved by another node \(expected version 0, got BAD_VERSION\)/);
    assert.equal(fences, [err], "onFenced once");
    assert.is(await a.fenced, err);
    assert.equal(await node(zkB, `${DEST}/1001/cursor`), { text: CANAL_CURSOR.replace("4567", "100"), version: 1 });

    // Every later write of the old store, of any kind, is refused with the same error, without a write.
    assert.is(await fencedBy(a.set({ clientId: 1001, filter: "other\\..*", cursor: cursorAt(100) })), err);
    assert.is(await fencedBy(a.set({ clientId: 1002, cursor: cursorAt(1) })), err);
    assert.is(await fencedBy(a.remove(1001)), err);
    assert.is(await fencedBy(a.flush()), err);
    assert.is((await node(zkB, `${DEST}/1001/filter`))?.text, "shop\\..*");
    assert.is(await zkB.read(`${DEST}/1002`), undefined);
    assert.equal(fences.length, 1);

    // The new owner writes on.
    await b.set({ clientId: 1001, filter: "shop\\..*", cursor: cursorAt(300) });
    assert.equal(await node(zkB, `${DEST}/1001/cursor`), { text: CANAL_CURSOR.replace("4567", "300"), version: 2 });
  });
});

test("a filter change of a fenced-off store is refused too (it rides with a check of the cursor version)", async () => {
  await withZooKeeper(async (server) => {
    const zkA = await session(server.connectString);
    const a = await ZkCursorStore.takeOver(zkA, D, SOURCE);
    await a.set({ clientId: 1001, filter: "shop\\..*", cursor: cursorAt(100) });
    await ZkCursorStore.takeOver(await session(server.connectString), D, SOURCE);
    const err = await fencedBy(a.set({ clientId: 1001, filter: "other\\..*", cursor: cursorAt(100) }));
    assert.is(err.path, `${DEST}/1001/cursor`);
    assert.is((await node(zkA, `${DEST}/1001/filter`))?.text, "shop\\..*");
  });
});

test("a stale owner cannot create a cursor the takeover had nothing to bump for: the destination's epoch fences it, and the new owner writes on", async () => {
  await withZooKeeper(async (server) => {
    const zkA = await session(server.connectString);
    const fences: CursorFencedError[] = [];
    const a = await ZkCursorStore.takeOver(zkA, D, SOURCE, { onFenced: (err) => fences.push(err) });
    await a.set({ clientId: 1001 }); // subscribed, no cursor yet: no cursor version to bump at takeover
    const epochBefore = (await zkA.read(DEST))!.stat.version;
    const b = await ZkCursorStore.takeOver(await session(server.connectString), D, SOURCE);
    const dest = (await zkA.read(DEST))!;
    assert.is(dest.data, null, "<d> keeps Canal's null data");
    assert.is(dest.stat.version, epochBefore + 1, "the takeover bumped <d>'s version");

    const err = await fencedBy(a.set({ clientId: 1001, cursor: cursorAt(50) }));
    assert.is(err.path, DEST);
    assert.is(err.expectedVersion, epochBefore);
    assert.match(err.message, /destination example: another node took it over \(\/otter\/canal\/destinations\/example is no longer at version \d+, got BAD_VERSION\)/);
    assert.equal(fences, [err]);
    assert.is(await zkA.read(`${DEST}/1001/cursor`), undefined, "the stale owner's cursor did not land");
    // Nor does a cursor for a client the new owner never heard of.
    assert.is(await fencedBy(a.set({ clientId: 2002, cursor: cursorAt(1) })), err);
    assert.is(await zkA.read(`${DEST}/2002/cursor`), undefined);

    await b.set({ clientId: 1001, cursor: cursorAt(60) });
    assert.is((await node(zkA, `${DEST}/1001/cursor`))?.text, CANAL_CURSOR.replace("4567", "60"));
  });
});

test("an old owner writing while the new one takes over: each write is either seen by the takeover or rejected, never lost after it", async () => {
  await withZooKeeper(async (server) => {
    for (let round = 0; round < 6; round++) {
      const dest = `race${round}`;
      const zkA = await session(server.connectString);
      const a = await ZkCursorStore.takeOver(zkA, dest, SOURCE);
      await a.set({ clientId: 1001, cursor: cursorAt(1) });
      let lastOk = 1;
      const writer = (async () => {
        for (let p = 2; ; p++) {
          try {
            await a.set({ clientId: 1001, cursor: cursorAt(p) });
            lastOk = p;
          } catch (err) {
            return err;
          }
        }
      })();
      await sleep(5 + round * 7); // the takeover lands at a different point of the stream each round
      const zkB = await session(server.connectString);
      const b = await ZkCursorStore.takeOver(zkB, dest, SOURCE);
      const stopped = await writer;
      assert.instance(stopped, CursorFencedError);
      assert.is(b.get(1001)?.cursor?.position, lastOk, `round ${round}: the takeover resumes from the old owner's last successful write`);
      const inZk = await node(zkB, `/otter/canal/destinations/${dest}/1001/cursor`);
      assert.is(parseCursorJson(inZk!.text!).position, lastOk, `round ${round}: nothing the old owner wrote after the takeover landed`);
      assert.ok(lastOk > 1, `round ${round}: the old owner did write during the race`);
    }
  });
});

test("a session that expired cannot write: the store is fenced, the node unchanged", async () => {
  await withZooKeeper(async (server) => {
    const relay = await TcpRelay.start(server.port);
    try {
      const events: ZkSessionEvent[] = [];
      const zk = await session(relay.connectString, (e) => events.push(e), 1000);
      const fences: CursorFencedError[] = [];
      const store = await ZkCursorStore.takeOver(zk, D, SOURCE, { onFenced: (err) => fences.push(err) });
      await store.set({ clientId: 1001, cursor: cursorAt(10) });

      // Unreachable for longer than the session: the server expires it; back again, the client learns so.
      relay.refuse();
      await sleep(2500);
      relay.heal();
      const deadline = Date.now() + 10_000;
      while (events.at(-1)?.type !== "expired" && Date.now() < deadline) await sleep(20);
      assert.is(events.at(-1)?.type, "expired");

      const err = await fencedBy(store.set({ clientId: 1001, cursor: cursorAt(20) }));
      assert.match(err.message, /destination example: the ZooKeeper session expired/);
      assert.equal(fences, [err]);
      const other = await session(server.connectString);
      assert.is((await node(other, `${DEST}/1001/cursor`))?.text, CANAL_CURSOR.replace("4567", "10"));
    } finally {
      await relay.stop();
    }
  });
});

test("revoke: the instance stops serving, every later write is refused at once without reaching ZooKeeper", async () => {
  await withZooKeeper(async (server) => {
    const zk = await session(server.connectString);
    const fences: CursorFencedError[] = [];
    const store = await ZkCursorStore.takeOver(zk, D, SOURCE, { onFenced: (err) => fences.push(err) });
    await store.set({ clientId: 1001, cursor: cursorAt(10) });
    store.revoke("lost the running node");
    const err = await fencedBy(store.set({ clientId: 1001, cursor: cursorAt(20) }));
    assert.match(err.message, /destination example: cursor writes revoked \(lost the running node\)/);
    assert.is(await store.fenced, err);
    assert.equal(fences, [], "the caller decided: no callback");
    assert.is((await node(zk, `${DEST}/1001/cursor`))?.text, CANAL_CURSOR.replace("4567", "10"));
  });
});

/** The session's methods, bound, so a test can wrap one of them. */
function bind(zk: ZkSessionClient): CursorSession {
  return {
    read: zk.read.bind(zk),
    children: zk.children.bind(zk),
    setData: zk.setData.bind(zk),
    ensurePath: zk.ensurePath.bind(zk),
    multi: zk.multi.bind(zk),
  };
}

test.run();
