/**
 * Shared by the session suites: a live CanalServer on 127.0.0.1:0 in front of real EventStores
 * holding real Entry bytes, a minimal in-memory destination host (what the instance wiring
 * provides in the node), and a raw-frame client that sends exact bytes and reads frames back.
 */
import { connect, type Socket } from "node:net";
import { CanalServer, type CanalServerOptions, type DestinationHost, type LogRecord, type ServedDestination } from "../../src/actors/canal-server.js";
import { EventStore, type BinlogPosition, type StoreEntry } from "../../src/actors/event-store.js";
import {
  encodeEntry,
  encodeRowChange,
  encodeTransactionBegin,
  encodeTransactionEnd,
  EntryType,
  EventType,
  SourceType,
  type Header,
} from "../../src/protocol/entry.js";
import { encodeFrame, FrameDecoder } from "../../src/protocol/frame.js";
import { decodePacket, type Packet } from "../../src/protocol/packet.js";
import { scrambleGenPass } from "../../src/protocol/scramble.js";

export const PASSWORD_HASH = scrambleGenPass("canal");

export const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");
export const unhex = (text: string) => new Uint8Array(Buffer.from(text, "hex"));
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `condition` every 10 ms; true once it holds, false if it still does not after `ms`. */
export async function eventually(condition: () => boolean, ms = 2000): Promise<boolean> {
  for (const deadline = Date.now() + ms; Date.now() < deadline; await sleep(10)) if (condition()) return true;
  return condition();
}

// ---- destinations ---------------------------------------------------------------------------------

export interface DestinationOptions {
  bufferSize?: number;
  maxBytes?: number;
  /** The store's onReleased: entries no reader reads any more (a node's source then writes over them). */
  onReleased?(count: number): void;
}

/** A served destination as the node's instance provides it, reduced to memory. */
export class TestDestination implements ServedDestination {
  readonly store: EventStore;
  readonly subscribers = new Set<number>();
  readonly cursors = new Map<number, BinlogPosition>();
  readonly filters: string[] = [];

  constructor(name: string, options: DestinationOptions = {}) {
    this.store = new EventStore({ destination: name, batchMode: "ITEMSIZE", bufferSize: options.bufferSize ?? 1024, maxBytes: options.maxBytes, onReleased: options.onReleased });
  }
  isSubscribed(clientId: number): boolean {
    return this.subscribers.has(clientId);
  }
  async subscribe(clientId: number, filter: string): Promise<void> {
    this.subscribers.add(clientId);
    this.filters.push(filter);
  }
  async unsubscribe(clientId: number): Promise<void> {
    this.subscribers.delete(clientId);
    this.cursors.delete(clientId);
    this.store.forgetClient(clientId);
  }
  async acked(clientId: number, cursor: BinlogPosition): Promise<void> {
    this.cursors.set(clientId, cursor);
  }
}

export class TestHost implements DestinationHost {
  readonly served = new Map<string, TestDestination>();
  /** Every name looked up, so a test can prove an unknown destination left nothing behind. */
  readonly lookups: string[] = [];
  add(name: string, options?: DestinationOptions): TestDestination {
    const d = new TestDestination(name, options);
    this.served.set(name, d);
    return d;
  }
  destination(name: string): ServedDestination | undefined {
    this.lookups.push(name);
    return this.served.get(name);
  }
}

// ---- entries --------------------------------------------------------------------------------------

let offset = 4;
const FILE = "mysql-bin.000001";
const EXECUTE_TIME = 1_700_000_000_000;

function header(row?: { eventType: EventType; table: string }): Header {
  const h: Header = { version: 1, logfileName: FILE, logfileOffset: offset, serverId: 1, serverenCode: "UTF-8", executeTime: EXECUTE_TIME, sourceType: SourceType.MYSQL, eventLength: 31 };
  return row === undefined ? h : { ...h, schemaName: "test", tableName: row.table, eventType: row.eventType };
}

function stored(bytes: Uint8Array, kind: StoreEntry["kind"], eventType: EventType | undefined, rowCount: number): StoreEntry {
  const entry: StoreEntry = { bytes, kind, eventType, key: `${FILE}:${offset}`, rowCount, file: FILE, offset, gtid: undefined, serverId: 1, executeTime: EXECUTE_TIME };
  offset += 100;
  return entry;
}

/** One committed transaction as real Canal Entry bytes: BEGIN, `rows` INSERT entries, END. */
export function transaction(rows: number, table = "t1"): StoreEntry[] {
  const out: StoreEntry[] = [];
  const begin = encodeEntry({ header: header(), entryType: EntryType.TRANSACTIONBEGIN, storeValue: encodeTransactionBegin({ threadId: 10 }) });
  out.push(stored(begin, "begin", undefined, 0));
  for (let i = 0; i < rows; i++) {
    const rowChange = encodeRowChange({
      tableId: 100,
      eventType: EventType.INSERT,
      isDdl: false,
      rowDatas: [{ afterColumns: [{ index: 0, sqlType: 4, name: "id", isKey: true, updated: true, isNull: false, value: String(offset), mysqlType: "int(11)" }] }],
    });
    out.push(stored(encodeEntry({ header: header({ eventType: EventType.INSERT, table }), entryType: EntryType.ROWDATA, storeValue: rowChange }), "rows", EventType.INSERT, 1));
  }
  const end = encodeEntry({ header: header(), entryType: EntryType.TRANSACTIONEND, storeValue: encodeTransactionEnd({ transactionId: "12345" }) });
  out.push(stored(end, "end", undefined, 0));
  return out;
}

export function fill(store: EventStore, entries: StoreEntry[]): void {
  const put = store.putAll(entries);
  if (put !== entries.length) throw new Error(`store took ${put} of ${entries.length} entries`);
}

// ---- server ---------------------------------------------------------------------------------------

export interface LiveServer {
  server: CanalServer;
  host: TestHost;
  logs: LogRecord[];
}

export async function startServer(options: Partial<CanalServerOptions> = {}): Promise<LiveServer> {
  const host = new TestHost();
  const logs: LogRecord[] = [];
  const server = await CanalServer.start({
    host: "127.0.0.1",
    port: 0,
    user: "canal",
    passwordHash: PASSWORD_HASH,
    destinations: host,
    log: (record) => logs.push(record),
    ...options,
  });
  return { server, host, logs };
}

// ---- raw client -----------------------------------------------------------------------------------

/** A socket that speaks frames: sends exact bytes, reads whole frames with a deadline. */
export class RawClient {
  private readonly decoder = new FrameDecoder();
  private readonly frames: Uint8Array[] = [];
  private waiter: (() => void) | undefined;
  private ended = false;
  readonly closed: Promise<void>;

  private constructor(readonly socket: Socket) {
    socket.on("data", (chunk) => {
      this.frames.push(...this.decoder.push(chunk));
      this.waiter?.();
    });
    socket.on("error", () => {});
    this.closed = new Promise((resolve) =>
      socket.on("close", () => {
        this.ended = true;
        this.waiter?.();
        resolve();
      }),
    );
  }

  static connect(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: "127.0.0.1", port }, () => resolve(new RawClient(socket)));
      socket.once("error", reject);
    });
  }

  /** Sends a Packet body (hex or bytes) with its length header. */
  sendPacket(body: Uint8Array | string): void {
    this.socket.write(encodeFrame(typeof body === "string" ? unhex(body) : body));
  }

  /** Sends bytes exactly as given (a frame, a broken frame, anything). */
  sendRaw(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  /** The next frame's body; fails after `ms`. */
  async nextBody(ms = 2000): Promise<Uint8Array> {
    const deadline = Date.now() + ms;
    while (this.frames.length === 0) {
      if (this.ended) throw new Error("connection closed while waiting for a frame");
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no frame within ${ms} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.waiter = undefined;
    }
    return this.frames.shift()!;
  }

  async next(ms?: number): Promise<Packet> {
    return decodePacket(await this.nextBody(ms));
  }

  /** Asserts that nothing arrives within `ms`. */
  async expectSilence(ms = 150): Promise<void> {
    await sleep(ms);
    if (this.frames.length > 0) throw new Error(`expected no reply, got ${hex(this.frames[0]!)}`);
  }

  /** Resolves true when the server closed the connection within `ms`. */
  async closedWithin(ms: number): Promise<boolean> {
    return Promise.race([this.closed.then(() => true), sleep(ms).then(() => false)]);
  }

  close(): void {
    this.socket.destroy();
  }
}
