/**
 * The cluster-mode cursor store: the acked cursor and filter of each client of one destination
 * in ZooKeeper, in Canal's layout and bytes (canal-facts.md §3.1–3.3), so Java Canal tooling,
 * zkCli and a Canal server taking the destination over read what we wrote:
 *
 *   /otter/canal/destinations/<d>/<clientId>          persistent, null data (a subscription)
 *   /otter/canal/destinations/<d>/<clientId>/cursor   Canal's typed LogPosition JSON, "@type" first
 *   /otter/canal/destinations/<d>/<clientId>/filter   the subscribe filter, raw UTF-8, only when non-blank
 *
 * FENCING (design.md Decision 3: a stale node can never move the cursor). Canal writes the
 * cursor with version -1 once a second, so a server that lost its running node without
 * noticing keeps overwriting the new owner's cursor. Here every cursor node carries the proof of
 * ownership in its version:
 *
 *   - takeOver() runs right after this node created the running node and before its source
 *     starts. For every subscribed client it reads the cursor and rewrites the same bytes
 *     conditionally on the version it read. That bump is the hand-over point: a write by the
 *     previous owner that landed before it is seen (the bump fails BAD_VERSION, we read again
 *     and resume from that write); one that comes after it fails, because it expects the old
 *     version. Nothing the old owner wrote is lost, and nothing it writes later lands.
 *   - Every later write of a cursor expects the version this store last wrote (ZooKeeper adds
 *     exactly 1 per write, so we know it without reading). A filter write rides in the same
 *     multi as a check on the client's cursor version, so it is fenced the same way. A cursor
 *     node this store does not know of is created, and a create that finds the node already
 *     there means someone else moved that cursor since our takeover.
 *   - The destination node `<d>` carries an epoch in its version: takeOver bumps it first (its
 *     data stays jute null, as Canal leaves it), and every multi of this store ends with a
 *     check of the version it bumped. Cursor versions alone cannot fence a write that has no
 *     version to expect (the first cursor of a client that had none at takeover, a client the
 *     new owner never heard of); the epoch does: once another node took over, every multi of
 *     this store fails on it, whatever it writes. The cursor bumps stay for owners that do not
 *     check the epoch (a Canal server, or a canal-ts before it).
 *   - BAD_VERSION or NO_NODE on a cursor or on `<d>`, NODE_EXISTS on a cursor create, or the session
 *     expiring (or being closed) all mean: another node owns the destination now, or may. The
 *     store is then FENCED for good: the write rejects with CursorFencedError, every later
 *     set/remove/flush rejects with the same error, `onFenced` is called once and `fenced`
 *     resolves, so the instance stops serving at once. Only a new takeOver (on a new running
 *     node) may write again.
 *
 * A takeover races a still-writing old owner: each round is read, then rewrite at that version;
 * a conflict is retried at once, bounded (`takeoverConflicts`). The instance calls revoke() the
 * moment it stops serving (self-fencing), so nothing more leaves this store.
 *
 * Writes go out at once, one multi in flight per store; changes made meanwhile wait and go
 * together in the next one, each carrying the latest state of every client that changed (the
 * spirit of CursorFile, and of Canal's dirty-set flush, without its one-second delay). A write
 * whose connection was lost may or may not have been applied: we read the nodes to find out
 * before trying again, so a retry never fences us against our own write. Retriable failures
 * (CONNECTION_LOSS, TIMEOUT) are tried again a bounded number of times while the session lives.
 *
 * The store does not own the session: the instance that opened it closes it.
 */
import { CanalError } from "../../errors.js";
import { formatCursorJson, parseCursorJson, type LogPosition, type MetaClient } from "../../protocol/cursor-json.js";
import { clientCursorPath, clientFilterPath, clientIdsOf, clientPath, destinationPath } from "../../protocol/zk-layout.js";
import type { CursorStore, SourceAddress } from "../cursor-store.js";
import { ZooKeeperError, type ZkMultiOp, type ZkSessionClient } from "./session-client.js";
import { CoalescedWrites } from "../coalesced-writes.js";

/**
 * Another node owns the destination now (or this node's session is gone), so this node must not
 * move its cursors or serve it. Never retriable on this store: the instance stops serving, and
 * only a new takeover may write again.
 */
export class CursorFencedError extends CanalError {
  override name = "CursorFencedError";
  readonly destination: string;
  /** The client whose write found the fence; undefined when the whole session is gone. */
  readonly clientId: number | undefined;
  /** The node that was not as expected; undefined when the whole session is gone. */
  readonly path: string | undefined;
  /** The version this store expected the node to have (-1: expected it not to exist). */
  readonly expectedVersion: number | undefined;

  constructor(
    message: string,
    details: { destination: string; clientId?: number; path?: string; expectedVersion?: number; cause?: unknown },
  ) {
    super(message, { retriable: false, cause: details.cause });
    this.destination = details.destination;
    this.clientId = details.clientId;
    this.path = details.path;
    this.expectedVersion = details.expectedVersion;
  }
}

/** A cursor node in ZooKeeper that cannot be read. Never retriable: an operator must look at it. */
export class ZkCursorError extends CanalError {
  override name = "ZkCursorError";
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { ...options, retriable: false });
  }
}

/** What ZkCursorStore needs of a session (ZkSessionClient has it all; tests may wrap one). */
export type CursorSession = Pick<ZkSessionClient, "read" | "children" | "setData" | "ensurePath" | "multi">;

export interface ZkCursorStoreOptions {
  /** Called once, when the store becomes fenced (before the write that found it rejects). */
  onFenced?(err: CursorFencedError): void;
  /** Attempts per write or takeover step on CONNECTION_LOSS / TIMEOUT; default 5. */
  attempts?: number;
  /** First pause between attempts, doubled each time; default 50 ms. */
  retryDelayMs?: number;
  /** takeOver: how many times a cursor may change between our read and our bump before we give up; default 100. */
  takeoverConflicts?: number;
}

/** What this store knows ZooKeeper holds for a client: written or read by us since takeover. */
interface Known {
  /** `<d>/<clientId>` exists. */
  subscribed: boolean;
  /** The cursor node, its version and bytes; absent when there is no cursor node. */
  cursor?: { version: number; text: string };
  /** The filter node; absent when there is none. */
  filter?: { version: number; text: string };
}

/** A cursor write in flight: what the node holds if the multi was applied. */
interface CursorAttempt {
  clientId: number;
  path: string;
  before: Known["cursor"];
  after: { version: number; text: string };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });
const utf8 = (text: string): Uint8Array => encoder.encode(text);

export class ZkCursorStore implements CursorStore {
  /** The clients as the Destination sees them (in-memory; always the latest). */
  private readonly clients = new Map<number, MetaClient>();
  /** What ZooKeeper holds, as far as this store knows. */
  private readonly known = new Map<number, Known>();
  /** Clients changed since their last write. */
  private dirty = new Set<number>();
  /** One multi in flight, each writing whatever is dirty then. */
  private readonly writes = new CoalescedWrites(() => this.writeDirty());
  private fence: CursorFencedError | undefined;
  private resolveFenced!: (err: CursorFencedError) => void;
  /** Resolves (never rejects) with the error once the store is fenced. */
  readonly fenced: Promise<CursorFencedError>;
  private readonly attempts: number;
  private readonly retryDelayMs: number;
  /** The version of `<d>` this store's takeover bumped it to; every multi checks it. */
  private epoch = -1;

  private constructor(
    private readonly session: CursorSession,
    readonly destination: string,
    /** The MySQL server this node reads the destination from (what its new cursors are stamped with). */
    readonly sourceAddress: SourceAddress,
    private readonly options: ZkCursorStoreOptions,
  ) {
    this.fenced = new Promise((resolve) => (this.resolveFenced = resolve));
    this.attempts = Math.max(1, options.attempts ?? 5);
    this.retryDelayMs = options.retryDelayMs ?? 50;
  }

  /**
   * Takes the destination's cursors over for this node: reads every subscription (each numeric
   * child of `/otter/canal/destinations/<d>`, as Canal's listAllSubscribeInfo), its cursor and
   * filter, and bumps every cursor's version (see the header). Call it after creating the
   * running node and before the source starts. Rejects CursorFencedError when the session is
   * gone or a cursor keeps moving under it (another node is still writing), ZkCursorError for a
   * cursor node that is not Canal's cursor JSON, and a retriable ZooKeeperError when ZooKeeper
   * stayed unreachable.
   */
  static async takeOver(
    session: CursorSession,
    destination: string,
    sourceAddress: SourceAddress,
    options: ZkCursorStoreOptions = {},
  ): Promise<ZkCursorStore> {
    const store = new ZkCursorStore(session, destination, sourceAddress, options);
    try {
      // First: from here on no multi of an older owner lands, so the reads below see all it wrote.
      await store.claimEpoch();
      const ids = clientIdsOf(await store.retrying(() => session.children(destinationPath(destination))));
      // In parallel: the takeover is on the failover path, and clients are independent.
      await Promise.all(ids.map((id) => store.takeOverClient(id)));
    } catch (err) {
      throw store.asFence(err);
    }
    return store;
  }

  // ---- CursorStore ---------------------------------------------------------------------------

  list(): MetaClient[] {
    return [...this.clients.values()].sort((a, b) => a.clientId - b.clientId);
  }

  get(clientId: number): MetaClient | undefined {
    return this.clients.get(clientId);
  }

  set(client: MetaClient): Promise<void> {
    if (this.fence) return Promise.reject(this.fence);
    // Validates the clientId as a node name before anything changes.
    clientPath(this.destination, client.clientId);
    this.clients.set(client.clientId, client);
    return this.changed(client.clientId);
  }

  remove(clientId: number): Promise<void> {
    if (this.fence) return Promise.reject(this.fence);
    this.clients.delete(clientId);
    // Always written, even for a client we never knew: Canal's unsubscribe deletes whatever is there.
    return this.changed(clientId);
  }

  flush(): Promise<void> {
    return this.fence ? Promise.reject(this.fence) : this.writes.flush();
  }

  /** The error this store was fenced with, if it was. */
  get fencedBy(): CursorFencedError | undefined {
    return this.fence;
  }

  /**
   * The instance stops serving the destination (self-fencing, a lost running node): from now
   * on every set/remove/flush rejects CursorFencedError and nothing more is sent. A multi
   * already sent may still land, and only if the cursors are still ours. `fenced` resolves;
   * `onFenced` is not called (the caller decided). Idempotent; the first fence wins.
   */
  revoke(reason = "this node stopped serving it"): void {
    this.fenceWith(
      new CursorFencedError(`destination ${this.destination}: cursor writes revoked (${reason}); only a new takeover may write them again`, {
        destination: this.destination,
      }),
      false,
    );
  }

  // ---- takeover ------------------------------------------------------------------------------

  /** Bumps `<d>`'s version, keeping its null data (a bump whose reply was lost is bumped again: only the last counts). */
  private async claimEpoch(): Promise<void> {
    const path = destinationPath(this.destination);
    await this.retrying(() => this.session.ensurePath(path));
    const [stat] = await this.retrying(() => this.session.multi([{ op: "set", path, data: null, version: -1 }]));
    this.epoch = stat!.version;
  }

  private async takeOverClient(clientId: number): Promise<void> {
    const [cursor, filter] = await Promise.all([this.bumpCursor(clientId), this.readFilter(clientId)]);
    const known: Known = { subscribed: true };
    const client: MetaClient = { clientId };
    if (cursor) {
      known.cursor = { version: cursor.version, text: cursor.text };
      if (cursor.position) client.cursor = cursor.position;
    }
    if (filter) {
      known.filter = filter;
      client.filter = filter.text;
    }
    this.known.set(clientId, known);
    this.clients.set(clientId, client);
  }

  /**
   * Reads a client's cursor and rewrites the same bytes at the version read: from then on a
   * write expecting an older version fails. A BAD_VERSION means someone wrote in between: read
   * again at once (no pause: a pause only gives the other writer more room) and resume from
   * that write. A writer that wins every round for `takeoverConflicts` rounds is still serving
   * the destination, so this node must not: CursorFencedError (the instance contends again later).
   */
  private async bumpCursor(clientId: number): Promise<{ version: number; text: string; position: LogPosition | undefined } | undefined> {
    const path = clientCursorPath(this.destination, clientId);
    const maxConflicts = this.options.takeoverConflicts ?? 100;
    let conflicts = 0;
    let failures = 0;
    for (;;) {
      try {
        const node = await this.session.read(path);
        if (!node) return undefined;
        const text = this.decode(path, node.data);
        // Null or empty data is no cursor (Canal's getCursor returns null), but the node is there.
        const position = text === "" ? undefined : this.parseCursor(path, text);
        const stat = await this.session.setData(path, utf8(text), node.stat.version);
        return { version: stat.version, text, position };
      } catch (err) {
        if (!(err instanceof ZooKeeperError)) throw err;
        if (err.code === "BAD_VERSION" || err.code === "NO_NODE") {
          if (++conflicts < maxConflicts) continue;
          throw new CursorFencedError(
            `destination ${this.destination}: the cursor of client ${clientId} at ${path} changed under each of ${conflicts} takeover attempts: another node is still writing it, so this node must not serve the destination`,
            { destination: this.destination, clientId, path, cause: err },
          );
        }
        // Lost or timed out (a bump that was applied after all is simply bumped again).
        if (!err.retriable || ++failures >= this.attempts) throw err;
        await this.pause(failures);
      }
    }
  }

  private async readFilter(clientId: number): Promise<{ version: number; text: string } | undefined> {
    const path = clientFilterPath(this.destination, clientId);
    const node = await this.retrying(() => this.session.read(path));
    if (!node || node.data === null) return node && { version: node.stat.version, text: "" };
    return { version: node.stat.version, text: this.decode(path, node.data) };
  }

  private decode(path: string, data: Uint8Array | null): string {
    if (data === null) return "";
    try {
      return decoder.decode(data);
    } catch (err) {
      throw new ZkCursorError(`${path} is not UTF-8 text: ${this.fix()}`, { cause: err });
    }
  }

  private parseCursor(path: string, text: string): LogPosition {
    try {
      return parseCursorJson(text);
    } catch (err) {
      throw new ZkCursorError(`the cursor node ${path} is unusable (${(err as Error).message}): ${this.fix()}`, { cause: err });
    }
  }

  private fix(): string {
    return `fix it, or delete it to start destination ${this.destination} from its configured position`;
  }

  // ---- writing -------------------------------------------------------------------------------

  private changed(clientId: number): Promise<void> {
    this.dirty.add(clientId);
    return this.writes.changed();
  }

  private async writeDirty(): Promise<void> {
    if (this.fence) throw this.fence;
    const batch = [...this.dirty].sort((a, b) => a - b);
    this.dirty = new Set();
    try {
      await this.writeClients(batch);
    } catch (err) {
      // Not written: these clients go out with the next write (unless fenced, then nothing does).
      for (const id of batch) this.dirty.add(id);
      throw err;
    }
  }

  /** Brings ZooKeeper to the in-memory state of these clients, in one multi, retrying what may be retried. */
  private async writeClients(ids: number[]): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      if (attempt > 0) await this.pause(attempt);
      let cursorWrites: CursorAttempt[] = [];
      try {
        const ops: ZkMultiOp[] = [];
        for (const id of ids) {
          const client = this.clients.get(id);
          if (client) cursorWrites.push(...(await this.setOps(client, ops)));
          else await this.removeOps(id, ops);
        }
        if (ops.length === 0) return;
        // Last, so that a cursor another owner moved is named as such; anything else of a
        // store whose destination was taken over fails here.
        ops.push({ op: "check", path: destinationPath(this.destination), version: this.epoch });
        const stats = await this.session.multi(ops);
        this.applied(ops, stats.map((s) => s?.version));
        return;
      } catch (err) {
        const fence = this.fenceFor(err, cursorWrites);
        if (fence) throw this.fenceWith(fence);
        if (!(err instanceof ZooKeeperError)) throw err;
        if (attempt + 1 >= this.attempts) throw err;
        const kind = err.path === undefined ? "other" : this.parsePath(err.path).kind;
        if (kind === "filter" && (err.code === "NODE_EXISTS" || err.code === "BAD_VERSION" || err.code === "NO_NODE")) {
          // Filters are Canal's "create, or overwrite on NodeExists": learn the node and write again.
          await this.relearnFilter(err.path!);
          continue;
        }
        // An unsubscribe raced a change of the subtree (a client's running node came or went): list it again.
        if ((kind === "client" || kind === "other") && (err.code === "NOT_EMPTY" || err.code === "NO_NODE")) continue;
        if (!err.retriable) throw err;
        // Connection lost mid-write: find out what was applied before writing again.
        if (err.outcomeUnknown) {
          try {
            await this.resync(cursorWrites);
          } catch (again) {
            const fence = this.fenceFor(again, []);
            if (fence) throw this.fenceWith(fence);
            if (!(again instanceof ZooKeeperError && again.retriable)) throw again;
            cursorWrites = [];
          }
        }
      }
    }
  }

  /** Adds the ops that write one client's latest state; returns the cursor write among them. */
  private async setOps(client: MetaClient, ops: ZkMultiOp[]): Promise<CursorAttempt[]> {
    const { clientId } = client;
    const known = this.knownOf(clientId);
    if (!known.subscribed) {
      // Outside the multi: a Canal client creates this node itself for its running node (§5),
      // so finding it already there is normal, and creating it is idempotent.
      await this.session.ensurePath(clientPath(this.destination, clientId));
      known.subscribed = true;
    }
    const attempts: CursorAttempt[] = [];
    const cursorPath = clientCursorPath(this.destination, clientId);
    let cursorOp = false;
    if (client.cursor !== undefined) {
      const text = formatCursorJson(client.cursor);
      if (known.cursor?.text !== text) {
        if (known.cursor) ops.push({ op: "set", path: cursorPath, data: utf8(text), version: known.cursor.version });
        else ops.push({ op: "create", path: cursorPath, data: utf8(text), mode: "persistent" });
        attempts.push({ clientId, path: cursorPath, before: known.cursor, after: { version: known.cursor ? known.cursor.version + 1 : 0, text } });
        cursorOp = true;
      }
    }
    const filter = client.filter;
    if (filter !== undefined && filter.trim() !== "" && known.filter?.text !== filter) {
      // Fenced like the cursor: the multi only applies while the cursor is still ours.
      if (!cursorOp && known.cursor) ops.push({ op: "check", path: cursorPath, version: known.cursor.version });
      const filterPath = clientFilterPath(this.destination, clientId);
      if (known.filter) ops.push({ op: "set", path: filterPath, data: utf8(filter), version: known.filter.version });
      else ops.push({ op: "create", path: filterPath, data: utf8(filter), mode: "persistent" });
    }
    return attempts;
  }

  /** Canal's unsubscribe (deleteRecursive of `<d>/<clientId>`), with the cursor deleted at our version. */
  private async removeOps(clientId: number, ops: ZkMultiOp[]): Promise<void> {
    const known = this.known.get(clientId);
    const base = clientPath(this.destination, clientId);
    const cursorPath = clientCursorPath(this.destination, clientId);
    const nodes = await this.subtree(base);
    if (nodes.length === 0) {
      this.known.delete(clientId);
      return;
    }
    if (nodes.includes(cursorPath) && !known?.cursor) {
      throw this.fenceWith(
        new CursorFencedError(
          `destination ${this.destination}: client ${clientId} has a cursor at ${cursorPath} that this node never wrote nor read at takeover (expected none): another node moved it, so this node must stop serving the destination`,
          { destination: this.destination, clientId, path: cursorPath, expectedVersion: -1 },
        ),
      );
    }
    for (const path of nodes) ops.push({ op: "delete", path, version: path === cursorPath ? known!.cursor!.version : -1 });
  }

  /** The node and its descendants, deepest first; [] when it does not exist. */
  private async subtree(path: string): Promise<string[]> {
    const node = await this.session.read(path);
    if (!node) return [];
    const below: string[] = [];
    for (const child of await this.session.children(path)) below.push(...(await this.subtree(`${path}/${child}`)));
    return [...below, path];
  }

  /** Records what a successful multi wrote. ZooKeeper returns the new Stat of "set" ops; created nodes start at version 0. */
  private applied(ops: ZkMultiOp[], versions: Array<number | undefined>): void {
    ops.forEach((op, i) => {
      const { clientId, kind } = this.parsePath(op.path);
      if (clientId === undefined) return;
      const known = this.knownOf(clientId);
      if (op.op === "delete") {
        if (kind === "client") this.known.delete(clientId);
        return;
      }
      if (op.op === "check" || kind === "client") return;
      const text = decoder.decode(op.data ?? new Uint8Array());
      const version = op.op === "set" ? (versions[i] ?? op.version + 1) : 0;
      if (kind === "cursor") known.cursor = { version, text };
      else if (kind === "filter") known.filter = { version, text };
    });
  }

  /**
   * After a write whose outcome is unknown: each cursor node holds either what it held before
   * (not applied) or what we wrote (applied; a multi is all or nothing). Anything else is
   * another writer: fenced.
   */
  private async resync(attempts: CursorAttempt[]): Promise<void> {
    for (const a of attempts) {
      const node = await this.session.read(a.path);
      const text = node ? this.decode(a.path, node.data) : undefined;
      const version = node?.stat.version;
      const known = this.knownOf(a.clientId);
      if (node && version === a.after.version && text === a.after.text) {
        known.cursor = { ...a.after };
        continue;
      }
      const unchanged = a.before === undefined ? node === undefined : version === a.before.version && text === a.before.text;
      if (unchanged) continue;
      throw this.fenceWith(this.movedError(a.clientId, a.path, a.before?.version ?? -1, node?.stat.version));
    }
    // Filters are re-learned from the conflict the next attempt meets, and a removal lists the
    // subtree again, so only the cursors need looking at here.
  }

  private async relearnFilter(path: string): Promise<void> {
    const { clientId } = this.parsePath(path);
    if (clientId === undefined) return;
    const node = await this.session.read(path);
    const known = this.knownOf(clientId);
    if (node) known.filter = { version: node.stat.version, text: this.decode(path, node.data) };
    else delete known.filter;
  }

  private knownOf(clientId: number): Known {
    let known = this.known.get(clientId);
    if (!known) {
      known = { subscribed: false };
      this.known.set(clientId, known);
    }
    return known;
  }

  /** Which client node a path of ours is. */
  private parsePath(path: string): { clientId: number | undefined; kind: "client" | "cursor" | "filter" | "other" } {
    const prefix = `${destinationPath(this.destination)}/`;
    if (!path.startsWith(prefix)) return { clientId: undefined, kind: "other" };
    const [id, leaf, ...rest] = path.slice(prefix.length).split("/");
    if (id === undefined || !/^[0-9]+$/.test(id)) return { clientId: undefined, kind: "other" };
    const kind = leaf === undefined ? "client" : rest.length === 0 && (leaf === "cursor" || leaf === "filter") ? leaf : "other";
    return { clientId: Number(id), kind };
  }

  // ---- fencing -------------------------------------------------------------------------------

  /** The fence a failed write means, if it means one. */
  private fenceFor(err: unknown, attempts: CursorAttempt[]): CursorFencedError | undefined {
    if (err instanceof CursorFencedError) return err;
    if (!(err instanceof ZooKeeperError)) return undefined;
    if (err.code === "SESSION_EXPIRED" || err.code === "CLOSED") return this.sessionGone(err);
    if (err.path === destinationPath(this.destination) && (err.code === "BAD_VERSION" || err.code === "NO_NODE")) return this.epochMoved(err);
    const { clientId, kind } = err.path === undefined ? { clientId: undefined, kind: "other" as const } : this.parsePath(err.path);
    if (clientId === undefined || kind !== "cursor") return undefined;
    if (err.code !== "BAD_VERSION" && err.code !== "NO_NODE" && err.code !== "NODE_EXISTS") return undefined;
    const attempt = attempts.find((a) => a.clientId === clientId);
    const expected = attempt ? (attempt.before?.version ?? -1) : (this.known.get(clientId)?.cursor?.version ?? -1);
    return this.movedError(clientId, err.path!, expected, undefined, err);
  }

  private movedError(clientId: number, path: string, expectedVersion: number, found: number | undefined, cause?: unknown): CursorFencedError {
    const expected = expectedVersion === -1 ? "expected no node" : `expected version ${expectedVersion}`;
    const got = found === undefined ? (cause instanceof ZooKeeperError ? `, got ${cause.code}` : "") : `, found version ${found}`;
    return new CursorFencedError(
      `destination ${this.destination}: the cursor of client ${clientId} at ${path} was moved by another node (${expected}${got}): another node owns the destination now, so this node must stop serving it`,
      { destination: this.destination, clientId, path, expectedVersion, cause },
    );
  }

  private epochMoved(err: ZooKeeperError): CursorFencedError {
    const path = destinationPath(this.destination);
    return new CursorFencedError(
      `destination ${this.destination}: another node took it over (${path} is no longer at version ${this.epoch}, got ${err.code}), so this node must stop serving it`,
      { destination: this.destination, path, expectedVersion: this.epoch, cause: err },
    );
  }

  private sessionGone(err: ZooKeeperError): CursorFencedError {
    const how = err.code === "CLOSED" ? "was closed" : "expired";
    return new CursorFencedError(
      `destination ${this.destination}: the ZooKeeper session ${how}, so its running node is gone and another node may own the destination; this node must stop serving it`,
      { destination: this.destination, cause: err },
    );
  }

  /** A takeover failure as the caller should see it: a session gone is a fence like any other. The rejection tells the caller; onFenced is not called. */
  private asFence(err: unknown): unknown {
    const fence = this.fenceFor(err, []);
    return fence ? this.fenceWith(fence, false) : err;
  }

  /** Fences the store for good (the first fence wins) and tells the instance once. */
  private fenceWith(err: CursorFencedError, notify = true): CursorFencedError {
    if (this.fence) return this.fence;
    this.fence = err;
    this.resolveFenced(err);
    if (!notify) return err;
    try {
      this.options.onFenced?.(err);
    } catch (thrown) {
      // The callback's own failure must not turn the fence into another error for the writer.
      queueMicrotask(() => {
        throw thrown;
      });
    }
    return err;
  }

  // ---- retries -------------------------------------------------------------------------------

  /** A read, tried again on CONNECTION_LOSS / TIMEOUT (reads are safe to repeat). */
  private async retrying<T>(read: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await read();
      } catch (err) {
        if (!(err instanceof ZooKeeperError && err.retriable) || attempt + 1 >= this.attempts) throw err;
        await this.pause(attempt + 1);
      }
    }
  }

  private pause(attempt: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, this.retryDelayMs * 2 ** (attempt - 1)));
  }
}
