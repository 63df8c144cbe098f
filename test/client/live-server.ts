/**
 * A live canal-ts Canal server for the client suites: the real CanalServer (TCP, sessions) on
 * 127.0.0.1 and a free port, serving destination "example" from a real EventStore that the
 * test fills with encoded Canal entries. Subscriptions are kept in memory, as a Canal server
 * with memory meta would.
 */
import { CanalServer, type LogRecord, type ServedDestination } from "../../src/actors/canal-server.js";
import { EventStore, type BatchMode } from "../../src/actors/event-store.js";
import { scrambleGenPass, type Entry } from "../../src/protocol/index.js";
import { storeEntry } from "./entries.js";

export const DESTINATION = "example";

export interface LiveServerOptions {
  user?: string;
  password?: string;
  /** Reuse a port (to restart "the same" server); default a free one. */
  port?: number;
  /** Keep the store of an earlier server (a connection drop, not a server restart). */
  store?: EventStore;
  batchMode?: BatchMode;
}

export interface LiveServer {
  port: number;
  store: EventStore;
  /** Warnings and errors the server logged. */
  problems: LogRecord[];
  put(entries: Entry[]): void;
  close(): Promise<void>;
}

export async function startLiveServer(options: LiveServerOptions = {}): Promise<LiveServer> {
  const store = options.store ?? new EventStore({ destination: DESTINATION, batchMode: options.batchMode ?? "ITEMSIZE" });
  const subscribed = new Set<number>();
  const served: ServedDestination = {
    store,
    isSubscribed: (clientId) => subscribed.has(clientId),
    async subscribe(clientId) {
      subscribed.add(clientId);
    },
    async unsubscribe(clientId) {
      subscribed.delete(clientId);
      store.forgetClient(clientId);
    },
    async acked() {},
  };
  const problems: LogRecord[] = [];
  const server = await CanalServer.start({
    host: "127.0.0.1",
    port: options.port ?? 0,
    user: options.user ?? "",
    passwordHash: options.password === undefined ? "" : scrambleGenPass(options.password),
    destinations: { destination: (name) => (name === DESTINATION ? served : undefined) },
    log: (record) => {
      if (record.level === "warn" || record.level === "error") problems.push(record);
    },
  });
  return {
    port: server.port,
    store,
    problems,
    put(entries) {
      const records = entries.map(storeEntry);
      if (store.putAll(records) !== records.length) throw new Error("the test store is full");
    },
    close: () => server.close(),
  };
}
