/**
 * The connector's `resolve` option against live canal-ts servers on 127.0.0.1: the address is
 * asked for on every connect and reconnect, so a reconnecting connector follows a server that
 * moves; the wait for an address is bounded and ends with disconnect(); bad answers and bad
 * option combinations are named.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { CanalConnector, type ConnectorEvents, type ServerAddress } from "../../src/client/connector.js";
import { CanalConfigError, CanalConnectionError } from "../../src/errors.js";
import { transaction } from "./entries.js";
import { DESTINATION, startLiveServer, type LiveServer } from "./live-server.js";

const FAST_RECONNECT = { initialDelayMs: 10, maxDelayMs: 50 };

const servers: LiveServer[] = [];
async function liveServer(): Promise<LiveServer> {
  const server = await startLiveServer();
  servers.push(server);
  return server;
}
test.after.each(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const at = (server: LiveServer): ServerAddress => ({ host: "127.0.0.1", port: server.port });

function next<K extends keyof ConnectorEvents>(connector: CanalConnector, type: K, ms = 5000): Promise<ConnectorEvents[K]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${String(type)} event within ${ms} ms`)), ms);
    connector.once(type, (event) => (clearTimeout(timer), resolve(event)));
  });
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error("expected a rejection");
}

const ids = (batch: { changes: readonly { after?: Record<string, { value: string | null }> }[] }) => batch.changes.map((c) => c.after!["id"]!.value);

test("the address is resolved on connect; address and the connected event name the resolved server", async () => {
  const server = await liveServer();
  let calls = 0;
  const connector = new CanalConnector({ resolve: async () => (calls++, at(server)), destination: DESTINATION, soTimeoutMs: 5000 });
  assert.is(connector.address, "(unresolved)");
  const connected = next(connector, "connected");
  await connector.connect();
  assert.equal(await connected, { connection: 1, address: `127.0.0.1:${server.port}`, reconnect: false });
  assert.is(connector.address, `127.0.0.1:${server.port}`);
  assert.is(calls, 1);
  await connector.disconnect();
});

test("with reconnect, a connector follows the server the resolver names when the old one goes away; unacked rows come again there", async () => {
  const a = await liveServer();
  const b = await liveServer();
  // The same rows on both, as a new running node re-reads the binlog from the acked cursor.
  a.put(transaction(4, [{ id: 1, name: "one" }], 1));
  b.put(transaction(4, [{ id: 1, name: "one" }], 1));
  b.put(transaction(400, [{ id: 2, name: "two" }], 2));
  let running = a;
  const asked: number[] = [];
  const connector = new CanalConnector({
    resolve: async () => (asked.push(running.port), at(running)),
    destination: DESTINATION,
    soTimeoutMs: 5000,
    reconnect: FAST_RECONNECT,
  });
  await connector.connect();
  await connector.subscribe();
  const first = await connector.getWithoutAck(10, 500);
  assert.equal(ids(first), ["1"]);
  assert.is(first.connection, 1);

  const moved = next(connector, "connected");
  running = b;
  await a.close();
  assert.equal(await moved, { connection: 2, address: `127.0.0.1:${b.port}`, reconnect: true });
  const again = await connector.getWithoutAck(10, 500);
  assert.equal(ids(again), ["1", "2"]);
  assert.is(again.connection, 2);
  await again.ack();
  assert.is(asked[0], a.port);
  assert.is(asked.at(-1), b.port);
  await connector.disconnect();
});

test("a reconnect whose resolver has no server yet keeps trying until it has one", async () => {
  const a = await liveServer();
  let running: LiveServer | undefined = a;
  let failures = 0;
  const connector = new CanalConnector({
    resolve: async () => {
      if (running === undefined) {
        failures++;
        throw new CanalConnectionError(`no running server for ${DESTINATION}`);
      }
      return at(running);
    },
    destination: DESTINATION,
    soTimeoutMs: 5000,
    reconnect: FAST_RECONNECT,
  });
  await connector.connect();
  await connector.subscribe();
  running = undefined;
  const reconnected = next(connector, "connected");
  await a.close();
  while (failures < 3) await new Promise((r) => setTimeout(r, 10));
  const b = await liveServer();
  b.put(transaction(4, [{ id: 7, name: "seven" }], 1));
  running = b;
  assert.is((await reconnected).address, `127.0.0.1:${b.port}`);
  const batch = await connector.getWithoutAck(10, 500);
  assert.equal(ids(batch), ["7"]);
  await connector.disconnect();
});

test("the wait for an address is bounded by connectTimeoutMs, and disconnect() ends it", async () => {
  let seenSignal: AbortSignal | undefined;
  const never = (signal: AbortSignal) => {
    seenSignal = signal;
    return new Promise<ServerAddress>((_, reject) => signal.addEventListener("abort", () => reject(signal.reason), { once: true }));
  };
  const slow = new CanalConnector({ resolve: never, destination: DESTINATION, connectTimeoutMs: 200 });
  const started = Date.now();
  const err = await rejection(slow.connect());
  assert.instance(err, CanalConnectionError);
  assert.match(err.message, `resolving the server address for destination "${DESTINATION}" failed: no address within 200 ms`);
  assert.ok(Date.now() - started < 2000);
  assert.ok(seenSignal?.aborted, "the resolver's signal was aborted");

  const abandoned = new CanalConnector({ resolve: never, destination: DESTINATION, connectTimeoutMs: 60_000 });
  const connecting = rejection(abandoned.connect());
  await new Promise((r) => setTimeout(r, 20));
  await abandoned.disconnect();
  assert.instance(await connecting, CanalConnectionError);
});

test("a resolver's own CanalError passes through; another error is wrapped naming the destination", async () => {
  const own = new CanalConnector({ resolve: async () => Promise.reject(new CanalConnectionError("no alive canal server for example")), destination: DESTINATION });
  assert.match((await rejection(own.connect())).message, /^no alive canal server for example$/);
  const plain = new CanalConnector({ resolve: async () => Promise.reject(new Error("zk is down")), destination: DESTINATION });
  const err = await rejection(plain.connect());
  assert.instance(err, CanalConnectionError);
  assert.match(err.message, `resolving the server address for destination "${DESTINATION}" failed: Error: zk is down`);
});

test("a bad resolved address and bad option combinations are CanalConfigError naming the value", async () => {
  const badPort = new CanalConnector({ resolve: async () => ({ host: "127.0.0.1", port: 0 }), destination: DESTINATION });
  const err = await rejection(badPort.connect());
  assert.instance(err, CanalConfigError);
  assert.match(err.message, "resolved address port 0: expected an integer from 1 to 65535");

  const both = () => new CanalConnector({ host: "127.0.0.1", port: 1, resolve: async () => ({ host: "127.0.0.1", port: 1 }), destination: DESTINATION });
  assert.throws(both, (e: Error) => e instanceof CanalConfigError && /expected either host and port, or resolve/.test(e.message));
  const neither = () => new CanalConnector({ destination: DESTINATION });
  assert.throws(neither, (e: Error) => e instanceof CanalConfigError && /connector option host undefined: expected a host name or IP address/.test(e.message));
});

test.run();
