/**
 * The standalone-mode cursor store: the acked cursor of each client of one destination, in
 * `<dataDir>/<destination>/meta.dat`, in the JSON of Canal's FileMixedMetaManager
 * (canal-facts.md §3.3, §6.4), so a Canal deployment's data dir can be taken over as it is.
 *
 * Durability, better than Canal (which rewrites meta.dat in place once a second, and not on
 * kill -9):
 *   - every write is atomic: write `meta.dat.tmp`, fsync it, rename it over `meta.dat`, fsync
 *     the directory. A crash leaves the old file or the new one, never half of one; a stale
 *     temp file from a crash is simply overwritten by the next write;
 *   - `set` resolves once a write holding that change is on disk. Writes are coalesced: while
 *     one runs, later changes wait and go out together in the next one, so a fast stream of
 *     acks costs at most one write in flight and one queued.
 *
 * Reading: no meta.dat means no cursor (first start: the destination starts from its
 * configured position). A meta.dat that cannot be read, is not valid JSON, or belongs to
 * another destination is a CursorFileError naming the file and the fix; the destination must
 * not start somewhere else on its own. A leftover `meta.dat.tmp` is ignored.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { CanalError } from "../errors.js";
import { formatMetaDat, parseMetaDat, type MetaClient, type MetaDat } from "../protocol/cursor-json.js";
import { CoalescedWrites } from "./coalesced-writes.js";
import { writeFileDurably } from "./durable-file/durable-file.js";
import type { CursorStore } from "./cursor-store.js";

// Their home is the store interface now; kept here for the callers that import them from meta.dat's module.
export { toLogPosition, type SourceAddress } from "./cursor-store.js";

export const META_FILE_NAME = "meta.dat";

/** meta.dat exists but cannot be used. Never retriable: an operator must look at it. */
export class CursorFileError extends CanalError {
  override name = "CursorFileError";
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { ...options, retriable: false });
  }
}

export class CursorFile implements CursorStore {
  readonly path: string;
  private readonly clients = new Map<number, MetaClient>();
  /** A write found the directory (and made it durable when it made it): later writes need not make it. */
  private dirExists = false;
  private readonly writes = new CoalescedWrites(async () => {
    await writeFileDurably(this.path, formatMetaDat({ destination: this.destination, clients: this.list() }), this.dirExists);
    this.dirExists = true;
  });

  private constructor(
    readonly dataDir: string,
    readonly destination: string,
  ) {
    this.path = join(dataDir, destination, META_FILE_NAME);
  }

  /** Reads the destination's meta.dat (none: no clients). Throws CursorFileError when it is unusable. */
  static async open(dataDir: string, destination: string): Promise<CursorFile> {
    const file = new CursorFile(dataDir, destination);
    const text = await file.readText();
    if (text !== undefined) for (const client of file.parse(text).clients) file.clients.set(client.clientId, client);
    return file;
  }

  /** The client's entry (filter and cursor), if it has one. */
  get(clientId: number): MetaClient | undefined {
    return this.clients.get(clientId);
  }

  /** All clients, by ascending clientId (Canal lists subscriptions that way). */
  list(): MetaClient[] {
    return [...this.clients.values()].sort((a, b) => a.clientId - b.clientId);
  }

  /** Records a client's filter and cursor (subscribe, ack); resolves when it is on disk. */
  set(client: MetaClient): Promise<void> {
    this.clients.set(client.clientId, client);
    return this.changed();
  }

  /** Forgets a client (unsubscribe); resolves when that is on disk. */
  remove(clientId: number): Promise<void> {
    if (!this.clients.delete(clientId)) return this.flush();
    return this.changed();
  }

  /** Resolves when every change made so far is on disk (and retries a write that failed). */
  flush(): Promise<void> {
    return this.writes.flush();
  }

  private changed(): Promise<void> {
    return this.writes.changed();
  }

  private async readText(): Promise<string | undefined> {
    try {
      return await readFile(this.path, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw new CursorFileError(`cannot read the cursor file ${this.path}: ${(err as Error).message}`, { cause: err });
    }
  }

  private parse(text: string): MetaDat {
    const fix = `fix it, or delete it to start destination ${this.destination} from its configured position`;
    let meta: MetaDat;
    try {
      meta = parseMetaDat(text);
    } catch (err) {
      throw new CursorFileError(`the cursor file ${this.path} is unusable (${(err as Error).message}): ${fix}`, { cause: err });
    }
    if (meta.destination !== this.destination)
      throw new CursorFileError(`the cursor file ${this.path} belongs to destination ${JSON.stringify(meta.destination)}: ${fix}`);
    return meta;
  }
}
