/**
 * ZkSessionClient against real ZooKeeper servers from the test kit: data and null data (checked
 * with the Java zkCli), ephemeral nodes, watches, multi, chroot, and the session's life: a
 * connection that goes silent, operations while disconnected, a real expiry, a member failover,
 * and new sessions in the same process afterwards.
 *
 * Network trouble is made with a small TCP relay between client and server (`Relay`): it can
 * refuse connections (a server that is down) or swallow bytes while keeping sockets open (a
 * partition, or a frozen server). The server itself keeps running, so it decides expiry on its
 * own clock, exactly as in production.
 */
import { execFileSync } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { TcpRelay } from "../../src/testkit/tcp-relay.js";
import { ZkSessionClient, ZooKeeperError, parseConnectString, type ZkSessionEvent, type ZkWatchEvent } from "../../src/actors/zk/session-client.js";
import { CanalConfigError, isRetriable } from "../../src/errors.js";
import { findServerBinaries, freePort, startZooKeeper, startZooKeeperEnsemble, type ZooKeeperServer } from "../../src/testkit/index.js";

const text = (s: string) => new TextEncoder().encode(s);
const utf8 = (b: Uint8Array | null | undefined) => (b == null ? b : new TextDecoder().decode(b));

async function withZooKeeper(fn: (zk: ZooKeeperServer) => Promise<void>): Promise<void> {
  const zk = await startZooKeeper();
  try {
    await fn(zk);
  } finally {
    await zk.stop();
  }
}

/**
 * Connects and records every session event. 10 s sessions unless a test is about timing: a short
 * one lets the dead-connection detector (2/3 of it without a byte) drop a healthy connection
 * when a loaded machine stalls the ZooKeeper JVM.
 */
async function session(connectString: string, sessionTimeoutMs = 10_000, extra: { operationTimeoutMs?: number } = {}) {
  const events: ZkSessionEvent[] = [];
  const client = await ZkSessionClient.connect({ connectString, sessionTimeoutMs, ...extra, onEvent: (e) => events.push(e) });
  return { client, events };
}

/** Resolves with the next watch event of a read/children call. */
function nextEvent(arm: (watch: (e: ZkWatchEvent) => void) => Promise<unknown>): { armed: Promise<unknown>; event: Promise<ZkWatchEvent> } {
  let resolve!: (e: ZkWatchEvent) => void;
  const event = new Promise<ZkWatchEvent>((r) => (resolve = r));
  return { armed: arm(resolve), event };
}

async function waitFor(what: string, check: () => boolean, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
  return Date.now() - started;
}

async function rejects(promise: Promise<unknown>, code: string): Promise<ZooKeeperError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.instance(err, ZooKeeperError, `expected a ZooKeeperError ${code}, got ${String(err)}`);
  assert.is((err as ZooKeeperError).code, code, (err as Error).message);
  return err as ZooKeeperError;
}

/** The Java zkCli's `get`, for what Canal's operators would see. */
function zkCliGet(connectString: string, path: string): string {
  const { java, zookeeperClassPath } = findServerBinaries();
  const out = execFileSync(java, ["-Xmx64m", "-XX:TieredStopAtLevel=1", "-cp", zookeeperClassPath, "org.apache.zookeeper.ZooKeeperMain", "-server", connectString, "get", path], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
  // The answer is the last line, after the connection chatter.
  return out.replace(/\n$/, "").split("\n").pop()!;
}


// ---- data -------------------------------------------------------------------------------------

test("create and read: null data stays jute null (zkCli prints null), empty data stays empty, bytes round-trip", async () => {
  await withZooKeeper(async (zk) => {
    const { client } = await session(zk.connectString);
    try {
      await client.create("/null", null, "persistent");
      await client.create("/empty", new Uint8Array(0), "persistent");
      await client.create("/bytes", new Uint8Array([0, 1, 2, 255]), "persistent");
      assert.is((await client.read("/null"))!.data, null);
      assert.equal((await client.read("/empty"))!.data, Buffer.alloc(0));
      assert.equal([...(await client.read("/bytes"))!.data!], [0, 1, 2, 255]);
      const stat = (await client.read("/bytes"))!.stat;
      assert.is(stat.version, 0);
      assert.is(stat.ephemeralOwner, "0x0");
      assert.is(stat.dataLength, 4);
      assert.is(typeof stat.czxid, "bigint");
      assert.is(await client.read("/absent"), undefined);
      assert.is(zkCliGet(zk.connectString, "/null"), "null", "Canal's nodes must print null in zkCli");
      assert.is(zkCliGet(zk.connectString, "/empty"), "", "an empty array prints an empty line");
      await rejects(client.create("/null", null, "persistent"), "NODE_EXISTS");
      const missingParent = await rejects(client.create("/no/parent", null, "persistent"), "NO_NODE");
      assert.is(missingParent.path, "/no/parent");
      assert.match(missingParent.message, /create \/no\/parent failed with NO_NODE/);
      assert.not.ok(isRetriable(missingParent));
    } finally {
      await client.close();
    }
  });
});

test("setData is versioned, delete is idempotent, deleteRecursive removes a subtree, children of an absent node are []", async () => {
  await withZooKeeper(async (zk) => {
    const { client } = await session(zk.connectString);
    try {
      await client.create("/v", text("a"), "persistent");
      const s1 = await client.setData("/v", text("b"), 0);
      assert.is(s1.version, 1);
      assert.ok(s1.mzxid > s1.czxid);
      await rejects(client.setData("/v", text("c"), 0), "BAD_VERSION");
      assert.is(utf8((await client.read("/v"))!.data), "b");
      assert.is((await client.setData("/v", text("d"), -1)).version, 2);
      await rejects(client.setData("/absent", text("x"), -1), "NO_NODE");
      await rejects(client.delete("/v", 1), "BAD_VERSION");
      await client.delete("/v", 2);
      await client.delete("/v");
      assert.is(await client.read("/v"), undefined);

      await client.ensurePath("/t/a/b");
      await client.create("/t/a/b/c", text("x"), "persistent");
      await client.create("/t/d", null, "persistent");
      await rejects(client.delete("/t"), "NOT_EMPTY");
      assert.equal((await client.children("/t")).sort(), ["a", "d"]);
      await client.deleteRecursive("/t");
      assert.is(await client.read("/t"), undefined);
      await client.deleteRecursive("/t");
      assert.equal(await client.children("/t"), []);
      assert.throws(() => parseConnectString("a:1,,b"), (e: unknown) => e instanceof CanalConfigError);
      await client.read("relative").then(
        () => assert.unreachable(),
        (e: unknown) => assert.instance(e, CanalConfigError),
      );
    } finally {
      await client.close();
    }
  });
});

test("ensurePath creates the path and its parents with null data, the chroot included, and leaves existing nodes alone", async () => {
  await withZooKeeper(async (zk) => {
    const root = await ZkSessionClient.connect({ connectString: zk.connectString, sessionTimeoutMs: 2000 });
    const chrooted = await ZkSessionClient.connect({ connectString: `${zk.connectString}/canal/prod`, sessionTimeoutMs: 2000 });
    try {
      await chrooted.ensurePath("/otter/canal/destinations");
      await chrooted.ensurePath("/otter/canal/destinations");
      await chrooted.create("/otter/canal/cluster", text("kept"), "persistent");
      await chrooted.ensurePath("/otter/canal/cluster");
      assert.is(utf8((await chrooted.read("/otter/canal/cluster"))!.data), "kept");
      for (const path of ["/canal", "/canal/prod", "/canal/prod/otter", "/canal/prod/otter/canal", "/canal/prod/otter/canal/destinations"]) {
        const node = await root.read(path);
        assert.ok(node, `${path} exists`);
        assert.is(node.data, null, `${path} has null data`);
      }
      assert.equal((await chrooted.children("/")).sort(), ["otter"]);
      assert.equal((await root.children("/canal/prod/otter/canal")).sort(), ["cluster", "destinations"]);
    } finally {
      await chrooted.close();
      await root.close();
    }
  });
});

test("an ephemeral node belongs to the session and vanishes at once when it closes; close is idempotent", async () => {
  await withZooKeeper(async (zk) => {
    const { client: owner, events } = await session(zk.connectString);
    const { client: other } = await session(zk.connectString);
    try {
      await owner.create("/running", text('{"active":true,"address":"127.0.0.1:11111"}'), "ephemeral");
      const seen = await other.read("/running");
      assert.is(seen!.stat.ephemeralOwner, owner.sessionId);
      assert.match(owner.sessionId, /^0x[0-9a-f]+$/);
      const gone = nextEvent((w) => other.read("/running", w));
      await gone.armed;
      const closing = owner.close();
      assert.is(owner.close(), closing, "close() returns the same promise");
      await closing;
      assert.equal(await gone.event, { type: "deleted" });
      assert.is(await other.read("/running"), undefined);
      assert.equal(events, [{ type: "connected", sessionId: owner.sessionId }, { type: "closed" }]);
      await rejects(owner.read("/running"), "CLOSED");
    } finally {
      await owner.close();
      await other.close();
    }
  });
});

// ---- watches ----------------------------------------------------------------------------------

test("a read watch fires on creation, change and deletion, once each, and re-arming follows the node", async () => {
  await withZooKeeper(async (zk) => {
    const { client: watcher } = await session(zk.connectString);
    const { client: writer } = await session(zk.connectString);
    try {
      const fired: ZkWatchEvent[] = [];
      const created = nextEvent((w) => watcher.read("/n", (e) => (fired.push(e), w(e))));
      assert.is(await created.armed, undefined, "absent now, watched anyway");
      await writer.create("/n", text("1"), "persistent");
      assert.equal(await created.event, { type: "created" });

      const changed = nextEvent((w) => watcher.read("/n", w));
      assert.is(utf8(((await changed.armed) as { data: Uint8Array }).data), "1");
      await writer.setData("/n", text("2"), -1);
      assert.equal(await changed.event, { type: "changed" });

      const deleted = nextEvent((w) => watcher.read("/n", w));
      await deleted.armed;
      await writer.delete("/n");
      assert.equal(await deleted.event, { type: "deleted" });

      // Fired once: later changes do not reach a spent watch.
      await writer.create("/n", null, "persistent");
      await sleep(200);
      assert.equal(fired, [{ type: "created" }]);
    } finally {
      await watcher.close();
      await writer.close();
    }
  });
});

test("many watches armed on a quiet node (a reconnecting client re-reading it) share one library listener, and each fires once on the change", async () => {
  await withZooKeeper(async (zk) => {
    const { client: watcher } = await session(zk.connectString);
    const { client: writer } = await session(zk.connectString);
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
    process.on("warning", onWarning);
    try {
      await writer.create("/quiet", text("1"), "persistent");
      const reads = Array.from({ length: 40 }, () => nextEvent((w) => watcher.read("/quiet", w)));
      const lists = Array.from({ length: 40 }, () => nextEvent((w) => watcher.children("/quiet", w)));
      await Promise.all([...reads, ...lists].map((r) => r.armed));
      await writer.setData("/quiet", text("2"), -1);
      assert.equal(await Promise.all(reads.map((r) => r.event)), reads.map(() => ({ type: "changed" })));
      await writer.create("/quiet/child", null, "persistent");
      assert.equal(await Promise.all(lists.map((r) => r.event)), lists.map(() => ({ type: "children" })));
      await sleep(50); // warnings are emitted on the next tick
      assert.equal(warnings.filter((w) => w.startsWith("MaxListenersExceededWarning")), [], "no listener pile-up in the ZooKeeper library");
    } finally {
      process.off("warning", onWarning);
      await watcher.close();
      await writer.close();
    }
  });
});

test("a children watch fires when the list changes, and on creation when the parent does not exist yet", async () => {
  await withZooKeeper(async (zk) => {
    const { client: watcher } = await session(zk.connectString);
    const { client: writer } = await session(zk.connectString);
    try {
      const created = nextEvent((w) => watcher.children("/cluster", w));
      assert.equal(await created.armed, []);
      await writer.ensurePath("/cluster");
      assert.equal(await created.event, { type: "created" });

      const joined = nextEvent((w) => watcher.children("/cluster", w));
      assert.equal(await joined.armed, []);
      await writer.create("/cluster/10.0.0.1:11111", null, "ephemeral");
      assert.equal(await joined.event, { type: "children" });
      assert.equal(await watcher.children("/cluster"), ["10.0.0.1:11111"]);

      const left = nextEvent((w) => watcher.children("/cluster", w));
      await left.armed;
      await writer.close();
      assert.equal(await left.event, { type: "children" }, "an ephemeral member leaving changes the list");
      assert.equal(await watcher.children("/cluster"), []);
    } finally {
      await watcher.close();
      await writer.close();
    }
  });
});

// ---- multi ------------------------------------------------------------------------------------

test("multi is all-or-nothing: a check on a moved version fails BAD_VERSION naming that op, and nothing is applied", async () => {
  await withZooKeeper(async (zk) => {
    const { client } = await session(zk.connectString);
    try {
      await client.create("/running", text("me"), "ephemeral");
      await client.create("/cursor", text("c0"), "persistent");
      const running = (await client.read("/running"))!.stat;
      assert.is(running.version, 0);

      // Version 0 must be checked as 0 (the library's own Transaction would send -1: any).
      const stats = await client.multi([
        { op: "check", path: "/running", version: 0 },
        { op: "set", path: "/cursor", data: text("c1"), version: -1 },
        { op: "create", path: "/marker", data: null, mode: "persistent" },
      ]);
      assert.is(stats.length, 3);
      assert.is(stats[0], undefined);
      assert.is(stats[1]!.version, 1);
      assert.is(stats[2], undefined);
      assert.is((await client.read("/marker"))!.data, null);

      await client.setData("/running", text("someone else"), -1); // version 1 now
      const err = await rejects(
        client.multi([
          { op: "set", path: "/cursor", data: text("c2"), version: -1 },
          { op: "check", path: "/running", version: 0 },
          { op: "delete", path: "/marker", version: -1 },
        ]),
        "BAD_VERSION",
      );
      assert.is(err.path, "/running");
      assert.match(err.message, /failed at op 1 \(check \/running\)/);
      assert.is(utf8((await client.read("/cursor"))!.data), "c1", "the set before the failed check was not applied");
      assert.ok(await client.read("/marker"), "the delete after it was not applied");

      const exists = await rejects(client.multi([{ op: "create", path: "/marker", data: null, mode: "persistent" }]), "NODE_EXISTS");
      assert.is(exists.path, "/marker");
      await rejects(client.multi([{ op: "check", path: "/absent", version: -1 }]), "NO_NODE");
      assert.equal(await client.multi([]), []);
    } finally {
      await client.close();
    }
  });
});

// ---- the session's life -----------------------------------------------------------------------

test("operations while disconnected wait for the reconnect, or reject TIMEOUT (not sent, never sent later) at their deadline; the session survives", async () => {
  await withZooKeeper(async (zk) => {
    const relay = await TcpRelay.start(zk.port);
    // Long sessions, so the outage below is far shorter than them. `quick` gives up on an
    // operation after 500 ms; `patient` keeps the default deadline (the session timeout).
    const quick = await session(relay.connectString, 20_000, { operationTimeoutMs: 500 });
    const patient = await session(relay.connectString, 20_000);
    const direct = await ZkSessionClient.connect({ connectString: zk.connectString, sessionTimeoutMs: 2000 });
    try {
      await quick.client.create("/mine", null, "ephemeral");
      relay.refuse();
      await waitFor("both disconnected", () => quick.events.at(-1)?.type === "disconnected" && patient.events.at(-1)?.type === "disconnected", 2000);
      assert.not.ok(quick.client.connected);
      assert.is(quick.client.server, undefined);

      const started = Date.now();
      const timedOut = await rejects(quick.client.create("/ghost", null, "persistent"), "TIMEOUT");
      const tookMs = Date.now() - started;
      assert.ok(tookMs >= 450 && tookMs < 1500, `rejected after ${tookMs} ms, deadline 500 ms`);
      assert.is(timedOut.outcomeUnknown, false);
      assert.ok(isRetriable(timedOut));
      assert.match(timedOut.message, /create \/ghost failed with TIMEOUT .*it was not sent/);

      const held = patient.client.create("/held", text("sent after the reconnect"), "persistent");
      await sleep(300);
      relay.heal();
      await held;
      await waitFor("both reconnected", () => quick.events.at(-1)?.type === "connected" && patient.events.at(-1)?.type === "connected", 5000);
      assert.equal(quick.events, [
        { type: "connected", sessionId: quick.client.sessionId },
        { type: "disconnected" },
        { type: "connected", sessionId: quick.client.sessionId },
      ]);
      assert.is(utf8((await direct.read("/held"))!.data), "sent after the reconnect");
      assert.is((await direct.read("/mine"))!.stat.ephemeralOwner, quick.client.sessionId, "same session, ephemeral kept");
      await sleep(300);
      assert.is(await direct.read("/ghost"), undefined, "an operation that timed out before it was sent is never sent later");
    } finally {
      relay.heal();
      await Promise.all([quick.client.close(), patient.client.close(), direct.close()]);
      await relay.stop();
    }
  });
});

test("a silent connection is dropped after 2/3 of the session; the session expires on the server; after the partition: expired, then a new session works", async () => {
  await withZooKeeper(async (zk) => {
    const relay = await TcpRelay.start(zk.port);
    const { client, events } = await session(relay.connectString, 3000);
    const direct = await ZkSessionClient.connect({ connectString: zk.connectString, sessionTimeoutMs: 2000 });
    try {
      assert.is(client.sessionTimeoutMs, 3000, "negotiated");
      await client.create("/running", text("me"), "ephemeral");
      await client.create("/cursor", text("c0"), "persistent");
      const watched = nextEvent((w) => client.read("/cursor", w));
      await watched.armed;

      // A partition (or a frozen server): the socket stays open, nothing comes back.
      relay.blackhole();
      const started = Date.now();
      const inFlight = client.setData("/cursor", text("c1"), -1);
      const lost = await rejects(inFlight, "CONNECTION_LOSS");
      assert.is(lost.outcomeUnknown, true, "it was on the wire");
      const detectedMs = Date.now() - started;
      assert.ok(detectedMs >= 1500 && detectedMs < 3000, `dropped after ${detectedMs} ms (2/3 of 3000 is 2000)`);
      assert.equal(events.at(-1), { type: "disconnected" });

      // The server, still running, expires the session it no longer hears from.
      const gone = Date.now();
      while ((await direct.read("/running")) !== undefined) {
        if (Date.now() - gone > 10_000) assert.unreachable("the server never expired the partitioned session");
        await sleep(100);
      }
      assert.is(events.at(-1)?.type, "disconnected", "cut off, the client cannot know yet");

      relay.heal();
      await waitFor("expired", () => events.at(-1)?.type === "expired", 10_000);
      const id = client.sessionId;
      assert.equal(events, [{ type: "connected", sessionId: id }, { type: "disconnected" }, { type: "expired" }]);
      const dead = await rejects(client.read("/cursor"), "SESSION_EXPIRED");
      assert.not.ok(isRetriable(dead), "not on this client: make a new one");
      assert.is(utf8((await direct.read("/cursor"))!.data), "c0", "the write lost in the partition was not applied");
      await direct.setData("/cursor", text("c2"), -1);
      await sleep(300);
      assert.is(await Promise.race([watched.event, sleep(0).then(() => "no event")]), "no event", "watches of an expired session stay silent");
      assert.equal(events.length, 3, "nothing after expired");
      await client.close();
      assert.equal(events.length, 3, "no closed after expired");

      // A new session in the same process works (the native client failed exactly here).
      const next = await session(relay.connectString, 3000);
      try {
        assert.is.not(next.client.sessionId, id);
        await next.client.create("/running", text("me again"), "ephemeral");
        assert.is((await direct.read("/running"))!.stat.ephemeralOwner, next.client.sessionId);
      } finally {
        await next.client.close();
      }
    } finally {
      relay.heal();
      await client.close();
      await direct.close();
      await relay.stop();
    }
  });
});

test("a frozen process: a watch event that waited in the socket buffer past the session's expiry does not renew the lease when it is read", async () => {
  await withZooKeeper(async (zk) => {
    // 4 s: the other process (a Node start and a connect, slow on a loaded machine) must change
    // the node while the session still lives; the freeze then outlasts it by 4 s.
    const { client, events } = await session(zk.connectString, 4000);
    try {
      await client.create("/cursor", text("c0"), "persistent");
      const watched = nextEvent((w) => client.read("/cursor", w));
      await watched.armed;
      assert.ok(Date.now() - client.lastHeardAt < 4000, "a fresh lease before the freeze");

      // Freeze this process (its event loop blocked, as under SIGSTOP) while another client
      // changes the watched node: the server queues the notification on our socket, then
      // expires the session it no longer hears from.
      const frozenAt = Date.now();
      execFileSync(process.execPath, ["-e", SET_DATA_SCRIPT, zk.connectString, "/cursor", "c1"], { stdio: "inherit" });
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Math.max(0, frozenAt + 8000 - Date.now()));
      await new Promise((resolve) => setImmediate(resolve));

      const event = await Promise.race([watched.event, sleep(0).then(() => undefined)]);
      assert.is(event?.type, "changed", "the notification was read after the freeze");
      const age = Date.now() - client.lastHeardAt;
      assert.ok(age >= 8000, `the lease is as old as the freeze, not renewed by the stale bytes (${age} ms old)`);
      await waitFor("expired", () => events.at(-1)?.type === "expired", 10_000);
    } finally {
      await client.close();
    }
  });
});

/** A child process that sets a node's data with the library directly, then exits. */
const SET_DATA_SCRIPT = `
const zookeeper = require("node-zookeeper-client");
const [connectString, path, data] = process.argv.slice(1);
const client = zookeeper.createClient(connectString);
client.once("connected", () =>
  client.setData(path, Buffer.from(data), -1, (err) => {
    if (err) console.error(err);
    process.exit(err ? 1 : 0);
  }),
);
client.connect();
`;

test("ensemble: killing the member a session is on moves it to another member, same session id, ephemeral kept; held ops go through; new sessions work", async () => {
  const ensemble = await startZooKeeperEnsemble({ size: 3 });
  try {
    // 10 s: room for a leader election if the killed member was the leader.
    const { client, events } = await session(ensemble.connectString, 10_000);
    try {
      const id = client.sessionId;
      await client.create("/running", text("me"), "ephemeral");
      const server = client.server!;
      const member = ensemble.members.find((m) => server.endsWith(`:${m.port}`));
      assert.ok(member, `connected to ${server}, one of ${ensemble.connectString}`);
      await member.kill();
      // Issued once the client knows it is disconnected, so it is held, not sent into the dead socket.
      await waitFor("disconnected", () => events.length >= 2, 10_000);
      const held = client.create("/after-failover", null, "persistent");
      await waitFor("reconnected", () => events.length >= 3, 15_000);
      assert.equal(events, [{ type: "connected", sessionId: id }, { type: "disconnected" }, { type: "connected", sessionId: id }]);
      assert.is.not(client.server, server);
      await held;
      assert.is((await client.read("/running"))!.stat.ephemeralOwner, id);

      // After a session moved between members, new sessions in this process still work.
      const other = await ZkSessionClient.connect({ connectString: ensemble.connectString, sessionTimeoutMs: 4000 });
      try {
        assert.is((await other.read("/running"))!.stat.ephemeralOwner, id);
        assert.is((await other.read("/after-failover"))!.data, null);
        await other.create("/other", null, "ephemeral");
      } finally {
        await other.close();
      }
    } finally {
      await client.close();
    }
  } finally {
    await ensemble.stop();
  }
});

test("connect gives up after connectTimeoutMs with a retriable TIMEOUT, and leaves nothing running", async () => {
  const port = await freePort(); // nobody listens
  const started = Date.now();
  const err = await rejects(ZkSessionClient.connect({ connectString: `127.0.0.1:${port}`, sessionTimeoutMs: 2000, connectTimeoutMs: 700 }), "TIMEOUT");
  const tookMs = Date.now() - started;
  assert.ok(tookMs >= 650 && tookMs < 2000, `gave up after ${tookMs} ms`);
  assert.ok(isRetriable(err));
  assert.match(err.message, new RegExp(`no ZooKeeper session with 127\\.0\\.0\\.1:${port} within 700 ms`));
  // uvu ends the process only when no handle is left: a leaked reconnect loop would hang this file.
});

test.run();
