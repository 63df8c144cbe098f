/**
 * `GET /charts/events`: the node's inspection documents as server-sent events, one `data:` line
 * of TransitionDoc JSON each, `id:` its seq.
 *
 * The Inspector calls us inside the actor's transition, so a document is only appended to the
 * client's pending list there; writing happens on a later turn of the event loop. Each client is
 * bounded: while its socket does not take what was written (write() returned false, waiting for
 * 'drain'), documents pile up to PENDING_LIMIT, and one more drops the client. A dropped browser
 * reconnects by itself (EventSource) and starts again from /charts/state, so it loses nothing it
 * cannot recover, and the node never holds more than PENDING_LIMIT documents per client.
 */
import type { ServerResponse } from "node:http";
import type { Inspector } from "../nats/inspector.js";
import type { TransitionDoc } from "../nats/subjects.js";

/** Documents one client may have waiting before it is dropped. */
const PENDING_LIMIT = 256;
/** Live pages at once; a page more gets 503 (each client costs a listener on every transition). */
const CLIENT_LIMIT = 16;
/** A comment line this often keeps proxies and idle browsers from closing a quiet stream. */
const KEEPALIVE_MS = 15_000;
/** What a browser waits before reconnecting after a drop (the SSE `retry:` field). */
const RETRY_MS = 1000;

export interface LiveFeedStats {
  clients: number;
  /** Clients dropped because they fell PENDING_LIMIT documents behind. */
  dropped: number;
}

class LiveClient {
  private pending: string[] = [];
  private scheduled = false;
  private waitingDrain = false;
  closed = false;

  constructor(
    private readonly res: ServerResponse,
    private readonly onDrop: () => void,
  ) {
    res.on("drain", () => {
      this.waitingDrain = false;
      this.schedule();
    });
  }

  push(doc: TransitionDoc): void {
    if (this.closed) return;
    if (this.pending.length >= PENDING_LIMIT) {
      this.onDrop();
      return;
    }
    this.pending.push(`id: ${doc.seq}\ndata: ${JSON.stringify(doc)}\n\n`);
    this.schedule();
  }

  comment(text: string): void {
    if (this.closed || this.waitingDrain) return;
    this.res.write(`: ${text}\n\n`);
  }

  end(): void {
    if (this.closed) return;
    this.closed = true;
    this.pending = [];
    this.res.end();
  }

  private schedule(): void {
    if (this.scheduled || this.waitingDrain || this.pending.length === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    if (this.closed || this.waitingDrain || this.pending.length === 0) return;
    const chunk = this.pending.join("");
    this.pending = [];
    if (!this.res.write(chunk)) this.waitingDrain = true;
  }
}

export class LiveFeed {
  private readonly clients = new Set<LiveClient>();
  private readonly keepalive: ReturnType<typeof setInterval>;
  private off: (() => void) | undefined;
  private inspector: Inspector | undefined;
  private droppedClients = 0;

  constructor() {
    this.keepalive = setInterval(() => {
      for (const client of this.clients) client.comment("keep-alive");
    }, KEEPALIVE_MS);
    this.keepalive.unref();
  }

  /** From now on the documents of this node's inspector go to the clients. */
  attach(inspector: Inspector): void {
    this.off?.();
    this.inspector = inspector;
    this.off = inspector.listen((doc) => {
      for (const client of this.clients) client.push(doc);
    });
  }

  get stats(): LiveFeedStats {
    return { clients: this.clients.size, dropped: this.droppedClients };
  }

  /** Answers an EventSource request: headers now, documents as they come, until either side closes. */
  serve(res: ServerResponse): void {
    if (this.inspector === undefined) {
      res.writeHead(503, { "content-type": "text/plain", "retry-after": "1" });
      res.end("the node is starting: no inspection yet; expected it within seconds\n");
      return;
    }
    if (this.clients.size >= CLIENT_LIMIT) {
      res.writeHead(503, { "content-type": "text/plain", "retry-after": "5" });
      res.end(`${this.clients.size} live pages are open; expected at most ${CLIENT_LIMIT}\n`);
      return;
    }
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-store", connection: "keep-alive" });
    // The seq a page's /charts/state must reach: documents up to it may come before the picture does.
    res.write(`retry: ${RETRY_MS}\n: node ${this.inspector.node} boot ${this.inspector.boot} seq ${this.inspector.lastSeq}\n\n`);
    const client: LiveClient = new LiveClient(res, () => {
      this.droppedClients++;
      remove();
    });
    const remove = () => {
      this.clients.delete(client);
      client.end();
    };
    this.clients.add(client);
    // The response's close, not the request's: a GET's request "closes" once read, the stream lives on.
    res.on("close", remove);
    res.on("error", remove);
  }

  /** Ends every stream (the HTTP server is closing). */
  close(): void {
    clearInterval(this.keepalive);
    this.off?.();
    for (const client of this.clients) client.end();
    this.clients.clear();
  }
}
