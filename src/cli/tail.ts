/**
 * `canal-ts tail <destination> (--server HOST:PORT | --zk HOSTS) [--user U --password P] [--filter REGEX]
 *  [--format table|json] [--batch-size N] [--client-id N]`
 *
 * With --zk it is a cluster client (src/client/cluster-client.ts): it finds the node running the
 * destination, follows it across failovers, and takes part in the client election of its
 * clientId (it stands by while another client of that clientId consumes).
 *
 * Prints changes as they come, through the client library: a readable table per transaction
 * (coloured on a terminal) or one JSON line per change. A batch is acked only after its text
 * has been written out, so a tail stopped mid-batch prints that batch again next time (at least
 * once). A lost connection is retried with backoff; status lines go to `log` (stderr), never
 * to the output. Ctrl-C (the caller aborts `signal`) disconnects cleanly.
 */
import { parseArgs } from "node:util";
import { hostPortParts } from "../config/addresses.js";
import * as values from "../config/values.js";
import { invalid, type Raw } from "../config/where.js";
import { CanalConnector, DEFAULT_CLIENT_ID } from "../client/connector.js";
import { CanalLateReplyError, CanalStaleBatchError } from "../client/errors.js";
import { changeJson, renderTransaction, transactionsOf } from "../client/render.js";
import type { Batch } from "../client/batch.js";
import { createCanalClient } from "../client/cluster-client.js";
import { CanalConfigError, CanalError } from "../errors.js";
import { compileNameFilter } from "../protocol/filter.js";

export const TAIL_USAGE = `usage: canal-ts tail <destination> (--server HOST:PORT | --zk HOSTS) [options]

  --server HOST:PORT   the canal-ts (or Canal) server
  --zk HOSTS           ZooKeeper (host:port,...[/chroot]): follow the running node, elect with other clients
  --user U             canal.user of the server
  --password P         its password
  --filter REGEX       Canal table filter, e.g. "shop\\\\..*" (replaces the server's filter, as in Canal)
  --format table|json  a table per transaction (default), or one JSON line per change
  --batch-size N       entries per get (default 100)
  --client-id N        Canal clientId (default 1001, the Java client's)`;

export type TailFormat = "table" | "json";

export interface TailOptions {
  destination: string;
  /** The server, unless `zk` is given. */
  host?: string;
  port?: number;
  /** ZooKeeper connect string: tail as a cluster client instead of one server's. */
  zk?: string;
  user?: string;
  password?: string;
  /** Subscribe with this Canal filter; default "" (keep the server's). */
  filter?: string;
  format?: TailFormat;
  /** Default 100. */
  batchSize?: number;
  clientId?: number;
  /** Colour in table format; default: whether `out` is a terminal. */
  color?: boolean;
  /** How long one get waits on the server for a full batch, in ms. Default 200 (the printing delay when idle). */
  pollMs?: number;
  /** Stops tailing (Ctrl-C). */
  signal?: AbortSignal;
  /** Status lines (connected, reconnecting); default stderr. */
  log?: (line: string) => void;
}

/** Where the changes are printed: process.stdout, or any stream with a write callback. */
export interface TailOutput {
  write(text: string, callback: (err?: Error | null) => void): unknown;
  isTTY?: boolean;
}

const cli = (key: string, value: unknown): Raw => ({ value, where: { key, source: "the command line" } });

/** Parses the arguments after `tail`; invalid ones are a CanalConfigError naming the value and what was expected. */
export function parseTailArgs(argv: string[]): TailOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        server: { type: "string" },
        zk: { type: "string" },
        user: { type: "string" },
        password: { type: "string" },
        filter: { type: "string" },
        format: { type: "string" },
        "batch-size": { type: "string" },
        "client-id": { type: "string" },
      },
    });
  } catch (err) {
    throw new CanalConfigError(`tail: ${err instanceof Error ? err.message : String(err)}\n${TAIL_USAGE}`, { cause: err });
  }
  const { values: flags, positionals } = parsed;
  if (positionals.length !== 1) {
    throw new CanalConfigError(`tail: expected exactly one destination, got ${positionals.length === 0 ? "none" : positionals.map((p) => JSON.stringify(p)).join(", ")}\n${TAIL_USAGE}`);
  }
  if ((flags.server === undefined) === (flags.zk === undefined)) {
    throw new CanalConfigError(`tail: expected exactly one of --server (HOST:PORT of a Canal server) or --zk (ZooKeeper host:port,...), got ${flags.server === undefined ? "neither" : "both"}\n${TAIL_USAGE}`);
  }
  let options: TailOptions;
  if (flags.zk !== undefined) {
    if (flags.zk.trim() === "") throw invalid(cli("--zk", flags.zk), "is empty", "a ZooKeeper connect string host:port[,host:port...][/chroot]");
    options = { destination: positionals[0]!, zk: flags.zk };
  } else {
    const server = hostPortParts(cli("--server", flags.server), "HOST:PORT of a Canal server");
    if (server.port === undefined) throw invalid(cli("--server", flags.server), "has no port", "HOST:PORT of a Canal server");
    options = { destination: positionals[0]!, host: server.host.value as string, port: values.port(server.port) };
  }
  if (flags.user !== undefined) options.user = flags.user;
  if (flags.password !== undefined) options.password = flags.password;
  if (flags.filter !== undefined) {
    compileNameFilter(flags.filter, true);
    options.filter = flags.filter;
  }
  if (flags.format !== undefined) {
    if (flags.format !== "table" && flags.format !== "json") throw invalid(cli("--format", flags.format), "is not a format", "table or json");
    options.format = flags.format;
  }
  if (flags["batch-size"] !== undefined) options.batchSize = values.integer(cli("--batch-size", flags["batch-size"]), 1, 1_000_000);
  if (flags["client-id"] !== undefined) options.clientId = values.integer(cli("--client-id", flags["client-id"]), -32768, 32767, "a Canal clientId (a Java short)");
  return options;
}

/** Tails until `options.signal` aborts; rejects on an error the tail cannot get past (bad credentials, unknown destination). */
export async function runTail(options: TailOptions, out: TailOutput): Promise<void> {
  if (options.zk !== undefined) return runClusterTail({ ...options, zk: options.zk }, out);
  const { signal } = options;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const format = options.format ?? "table";
  const color = options.color ?? out.isTTY === true;
  const connector = new CanalConnector({
    host: options.host!,
    port: options.port!,
    destination: options.destination,
    username: options.user ?? "",
    password: options.password ?? null,
    clientId: options.clientId ?? DEFAULT_CLIENT_ID,
    reconnect: true,
  });
  connector.on("connected", ({ address, reconnect }) => log(`${reconnect ? "reconnected" : "connected"} to ${address}, destination ${options.destination}`));
  connector.on("reconnecting", ({ attempt, delayMs, error }) => log(`${error.message}; reconnecting in ${delayMs} ms (attempt ${attempt})`));

  const print = printer(format, color);

  // Ctrl-C while waiting for a batch: disconnect at once, which ends the get in flight and the
  // loop (the connector, told first, does not take the closed connection for a lost one).
  // Ctrl-C while printing a batch: finish printing it and ack it first, then stop.
  let printing = false;
  const stop = () => {
    if (!printing) void connector.disconnect();
  };
  signal?.addEventListener("abort", stop, { once: true });
  try {
    if (signal?.aborted) return;
    await connector.connect();
    await connector.subscribe(options.filter ?? "");
    while (connector.state !== "disconnected") {
      try {
        for await (const batch of connector.batches({ batchSize: options.batchSize ?? 100, timeoutMs: options.pollMs ?? 200 })) {
          printing = true;
          const text = print(batch);
          if (text !== "") await write(out, text);
          await batch.ack();
          printing = false;
          if (signal?.aborted) return;
        }
      } catch (err) {
        // Both mean the server will deliver the batches concerned again: say so and go on.
        if (err instanceof CanalStaleBatchError) log(`${err.message}; it will be delivered again`);
        else if (err instanceof CanalLateReplyError) {
          log(`${err.message}; rolling back so that every unacked batch is delivered again`);
          await connector.rollback();
        } else throw err;
      }
    }
  } catch (err) {
    if (signal?.aborted) return;
    throw err;
  } finally {
    signal?.removeEventListener("abort", stop);
    await connector.disconnect();
  }
}

function printer(format: TailFormat, color: boolean): (batch: Batch) => string {
  return (batch) =>
    format === "json"
      ? batch.changes.map((change) => `${changeJson(change, batch.id)}\n`).join("")
      : transactionsOf(batch.entries).map((group) => renderTransaction(group, batch.id, { color })).join("");
}

/**
 * Tails as a cluster client: state changes (standby, the server found, reconnects) go to `log`;
 * each batch is printed, then acked. Ctrl-C while waiting closes the client at once (its client
 * node is released, so a standby tail takes over); while printing, the batch is finished and
 * acked first.
 */
async function runClusterTail(options: TailOptions & { zk: string }, out: TailOutput): Promise<void> {
  const { signal } = options;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const print = printer(options.format ?? "table", options.color ?? out.isTTY === true);
  const client = createCanalClient({
    zk: options.zk,
    destination: options.destination,
    username: options.user ?? "",
    password: options.password ?? null,
    clientId: options.clientId ?? DEFAULT_CLIENT_ID,
    filter: options.filter ?? "",
    batchSize: options.batchSize ?? 100,
    pollMs: options.pollMs ?? 200,
  });
  client.on("state", ({ state, previous, server, holder, error }) => {
    if (state === "standby") log(`standing by: client ${options.clientId ?? DEFAULT_CLIENT_ID} of ${options.destination} is consumed by ${holder ?? "another client"}`);
    // Said once the subscription holds: from then on every change reaches this tail (before it,
    // a destination still starting on a new node has not fixed where its binlog reading begins).
    else if (previous === "subscribing" && (state === "ready" || state === "fetching")) log(`connected to ${server}, destination ${options.destination}`);
    else if (state === "reconnecting" && error !== undefined) log(`${error.message}; reconnecting`);
  });
  let printing = false;
  const stop = () => {
    if (!printing) void client.close();
  };
  signal?.addEventListener("abort", stop, { once: true });
  try {
    if (signal?.aborted) return;
    for await (const batch of client) {
      printing = true;
      const text = print(batch);
      if (text !== "") await write(out, text);
      await batch.ack().catch((err: unknown) => {
        // The connection went between print and ack: the batch comes again, and is printed again.
        if (!(err instanceof CanalError) || !err.retriable) log(`${(err as Error).message}; it will be delivered again`);
      });
      printing = false;
      if (signal?.aborted) return;
    }
  } finally {
    signal?.removeEventListener("abort", stop);
    await client.close();
  }
}

function write(out: TailOutput, text: string): Promise<void> {
  return new Promise((resolve, reject) => out.write(text, (err) => (err ? reject(err) : resolve())));
}
