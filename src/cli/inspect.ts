/**
 * `canal-ts inspect [--nats URL] [--node N] [--destination D] [--json]`: the live, cluster-wide
 * stream of state transitions (src/actors/nats/SUBJECTS.md), one readable line each, coloured
 * on a terminal. A gap in a node's sequence numbers is shown: that node dropped documents
 * (NATS was down or slow) or this subscriber missed them (core NATS is at most once).
 */
import { parseArgs } from "node:util";
import { connect } from "@nats-io/transport-node";
import { parseNatsServers } from "../config/addresses.js";
import { CanalConfigError, CanalConnectionError } from "../errors.js";
import { inspectFilter, NODE_LEVEL, type TransitionDoc } from "../actors/nats/subjects.js";
import { natsConnectOptions, shownNatsServer } from "../actors/nats/credentials.js";

export const INSPECT_USAGE = `usage: canal-ts inspect [--nats URL] [--node N] [--destination D] [--json]
  prints every state transition of every node (instances, ZooKeeper sessions, client sessions,
  binlog sources) as it happens, one line each
  --nats URL         NATS server(s), comma-separated (default nats://127.0.0.1:4222)
  --node N           only this node (its --node-id)
  --destination D    only this destination ("_" for node-level actors)
  --json             the documents as published, one per line`;

export interface InspectOptions {
  servers: string[];
  node?: string;
  destination?: string;
  json?: boolean;
  color?: boolean;
  signal?: AbortSignal;
}

export function parseInspectArgs(args: string[]): InspectOptions {
  const { values } = parseArgs({
    args,
    options: { nats: { type: "string" }, node: { type: "string" }, destination: { type: "string" }, json: { type: "boolean" } },
    strict: true,
  });
  const token = (value: string | undefined, flag: string) => {
    if (value !== undefined && !/^[A-Za-z0-9_-]{1,128}$/.test(value)) throw new CanalConfigError(`${flag} ${JSON.stringify(value)}: expected letters, digits, '_' or '-'`);
    return value;
  };
  return {
    servers: parseNatsServers({ value: values.nats ?? "nats://127.0.0.1:4222", where: { key: "--nats", source: "the command line" } }),
    node: token(values.node, "--node"),
    destination: token(values.destination, "--destination"),
    json: values.json ?? false,
  };
}

const ansi = (code: number) => (text: string) => `\x1b[${code}m${text}\x1b[0m`;
const paint = { dim: ansi(2), red: ansi(31), green: ansi(32), yellow: ansi(33), cyan: ansi(36), magenta: ansi(35), bold: ansi(1) };

/** Green where a destination serves, red where something was lost, yellow on the way. */
function stateColour(state: string): (text: string) => string {
  if (/fenced|expired|closed|stopped|offline/.test(state)) return paint.red;
  if (/serving|running|connected|^active|subscribed/.test(state)) return paint.green;
  if (/contending|starting|releasing|suspended|waiting|retrying|connecting/.test(state)) return paint.yellow;
  return (text) => text;
}

/** `xstate.after.contendDelay.instance.standby.waiting` → `after contendDelay`, and the like. */
export function shortEvent(type: string): string {
  const after = /^xstate\.after\.([^.]+)/.exec(type);
  if (after) return `after ${after[1]}`;
  const done = /^xstate\.(done|error)\.actor\.(.+)$/.exec(type);
  if (done) return `${done[1]} ${done[2]!.replace(/^\d+\./, "")}`;
  return type;
}

/** One readable line for a transition. */
export function formatTransition(doc: TransitionDoc, color: boolean): string {
  const c = color ? paint : { dim: id, red: id, green: id, yellow: id, cyan: id, magenta: id, bold: id };
  const time = doc.time.slice(11, 23);
  const where = doc.destination === NODE_LEVEL ? doc.node : `${doc.node}/${doc.destination}`;
  const to = color ? stateColour(doc.to)(doc.to) : doc.to;
  const fields = Object.entries(doc.fields)
    .filter(([, v]) => v !== null && v !== undefined && !(Array.isArray(v) && v.length === 0))
    .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
    .join(" ");
  const move = doc.from === null ? `${c.dim("·")} → ${to}` : doc.from === doc.to ? `${to} ${c.dim("(context)")}` : `${doc.from} → ${to}`;
  return `${c.dim(time)} ${c.cyan(where)} ${c.bold(doc.actor)} ${move} ${c.dim(`on ${shortEvent(doc.event)}`)}${fields === "" ? "" : ` ${c.dim(fields)}`}`;
}

function id(text: string): string {
  return text;
}

/** Prints transitions until `signal` aborts. */
export async function runInspect(options: InspectOptions, out: { write(text: string): unknown; isTTY?: boolean }, log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): Promise<void> {
  const color = options.color ?? out.isTTY === true;
  const nc = await connect({ ...natsConnectOptions(options.servers), name: "canal-ts inspect", maxReconnectAttempts: -1, reconnectTimeWait: 250, timeout: 5000 }).catch((err: unknown) => {
    throw new CanalConnectionError(`NATS ${options.servers.map(shownNatsServer).join(",")}: cannot connect (${String(err)}); expected a reachable nats-server`, { retriable: false, cause: err });
  });
  const subject = inspectFilter(options.node, options.destination);
  log(`inspecting ${subject} on ${nc.getServer()}`);
  // Gaps are judged per node boot, and only when every document of the node is seen.
  const lastSeq = new Map<string, number>();
  const judgeGaps = options.destination === undefined;
  const sub = nc.subscribe(subject, {
    callback: (err, msg) => {
      if (err !== null) return;
      let doc: TransitionDoc;
      try {
        doc = msg.json<TransitionDoc>();
      } catch {
        log(`not a transition document on ${msg.subject}: ${msg.string().slice(0, 200)}`);
        return;
      }
      if (options.json) return void out.write(`${msg.string()}\n`);
      const key = `${doc.node}/${doc.boot}`;
      const last = lastSeq.get(key);
      if (judgeGaps && last !== undefined && doc.seq > last + 1) {
        const gap = `${doc.seq - last - 1} transition(s) of ${doc.node} not received (dropped while NATS was away, or missed)`;
        out.write(`${color ? paint.magenta(gap) : gap}\n`);
      }
      lastSeq.set(key, Math.max(last ?? 0, doc.seq));
      out.write(`${formatTransition(doc, color)}\n`);
    },
  });
  const stopped = new Promise<void>((resolve) => {
    if (options.signal?.aborted) return resolve();
    options.signal?.addEventListener("abort", () => resolve(), { once: true });
  });
  await stopped;
  sub.unsubscribe();
  await nc.close();
}
