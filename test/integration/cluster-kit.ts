/**
 * Shared set-up of the cluster tests: a ZooKeeper (standalone or ensemble), a MariaDB with the
 * sequence load's table, canal-ts nodes as real processes in cluster mode, a consumer that
 * follows the running node, and the checks every failover test makes (Canal's tree, one owner
 * at a time, the sequence report).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { request } from "node:http";
import * as assert from "uvu/assert";
import { ZkSessionClient } from "../../src/actors/zk/session-client.js";
import { RunningServerDiscovery } from "../../src/client/zk-discovery.js";
import { parseCursorJson } from "../../src/protocol/cursor-json.js";
import { clientCursorPath, clientPath, clusterPath, destinationClusterPath, parseServerRunning, runningPath } from "../../src/protocol/zk-layout.js";
import { startCanalNode, type CanalNode } from "../../src/testkit/canal-node.js";
import type { MariaDBServer } from "../../src/testkit/index.js";
import type { SequenceChecker, SequenceReport } from "../../src/testkit/sequence-check.js";
import { FollowingConsumer } from "../../src/testkit/following-consumer.js";
import type { Batch } from "../../src/client/batch.js";
import type { CanalClient } from "../../src/client/cluster-client.js";
import type { TransitionDoc } from "../../src/actors/nats/subjects.js";

export const SESSION_TIMEOUT_MS = 2000;
export const TABLE = "seq";
export const DATABASE = "seqload";

/** `canal-ts server` flags of a cluster node serving the given destinations of the sequence table. */
export function nodeArgs(zkConnect: string, db: MariaDBServer, destination: string): string[] {
  return [
    "--zk", zkConnect,
    "--zk-session-timeout", String(SESSION_TIMEOUT_MS),
    "--source", db.uri(),
    "--destination", destination,
    "--filter", `${DATABASE}\\.${TABLE}`,
    "--register-ip", "127.0.0.1",
  ];
}

/**
 * At most one node runs each destination at any moment, from the nodes' own logs: a node runs
 * it from its "instance running" line until its next "instance …" line for that destination,
 * or until it was killed (`killedAt`, epoch ms). All processes share this machine's clock.
 */
export function assertOneRunner(nodes: readonly CanalNode[], destinations: readonly string[], killedAt: ReadonlyMap<CanalNode, number> = new Map()): void {
  for (const destination of destinations) {
    const spans: { node: string; from: number; to: number }[] = [];
    for (const node of nodes) {
      let from: number | undefined;
      for (const line of node.logs) {
        if (line.fields["destination"] !== destination || !line.msg?.startsWith("instance ")) continue;
        const at = Date.parse(String(line.fields["time"]));
        if (line.msg === "instance running") from = at;
        else if (from !== undefined) spans.push({ node: node.address, from, to: at }), (from = undefined);
      }
      if (from !== undefined) spans.push({ node: node.address, from, to: killedAt.get(node) ?? Infinity });
    }
    spans.sort((a, b) => a.from - b.from);
    for (let i = 1; i < spans.length; i++) {
      const [a, b] = [spans[i - 1]!, spans[i]!];
      assert.ok(b.from >= a.to, `${destination} ran on ${a.node} (${a.from}–${a.to}) and ${b.node} (from ${b.from}) at once`);
    }
  }
}

export async function startNode(nodeId: string, zkConnect: string, db: MariaDBServer, destination: string, port?: number): Promise<CanalNode> {
  return startCanalNode({ nodeId, args: nodeArgs(zkConnect, db, destination), port });
}

/** The node a log line says runs the destination now, by the running node's address. */
export async function runningAddress(zk: ZkSessionClient, destination: string, timeoutMs = 15_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const node = await zk.read(runningPath(destination));
    if (node?.data) {
      const running = parseServerRunning(node.data);
      if (running.active) return running.address;
    }
    if (Date.now() > deadline) throw new Error(`no node ran ${destination} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Waits until a node other than `old` runs the destination. */
export async function newOwner(zk: ZkSessionClient, destination: string, old: string, timeoutMs = 15_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const address = await runningAddress(zk, destination, timeoutMs).catch(() => undefined);
    if (address !== undefined && address !== old) return address;
    if (Date.now() > deadline) throw new Error(`${destination} did not move from ${old} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const text = (bytes: Uint8Array | null | undefined) => (bytes === null || bytes === undefined ? null : new TextDecoder().decode(bytes));

/** Canal's tree (canal-facts.md §3.1/§3.3): registrations with null data, the running JSON, the client's cursor. */
export async function assertCanalTree(zk: ZkSessionClient, destination: string, nodes: readonly CanalNode[], running: string): Promise<void> {
  const addresses = nodes.map((n) => n.address).sort();
  assert.equal((await zk.children(clusterPath())).sort(), addresses, "every live node under /otter/canal/cluster");
  assert.equal((await zk.children(destinationClusterPath(destination))).sort(), addresses, "and under the destination's cluster");
  for (const address of addresses) assert.is(text((await zk.read(`${clusterPath()}/${address}`))?.data), null, "cluster nodes hold null");
  const runningNode = await zk.read(runningPath(destination));
  assert.is(text(runningNode?.data), `{"active":true,"address":"${running}"}`);
  assert.ok(runningNode!.stat.ephemeralOwner !== "0x0", "the running node is ephemeral");
  assert.is(text((await zk.read(clientPath(destination, 1001)))?.data), null, "the client's node holds null");
  const cursor = text((await zk.read(clientCursorPath(destination, 1001)))?.data);
  assert.ok(cursor?.startsWith('{"@type":"com.alibaba.otter.canal.protocol.position.LogPosition","identity":{"slaveId":-1,'), cursor ?? "no cursor");
  assert.match(cursor!, /"postion":\{"gtid":"[0-9-]*","included":false,"journalName":"mysql-bin\.\d+","position":\d+,"serverId":\d+,"timestamp":\d+\}\}$/);
  parseCursorJson(cursor!);
}

/** The sequence report must show every committed row, in order, and no repeat of an acked batch beyond the crash window. */
export function assertDelivered(report: SequenceReport, allowAckedRepeatsOnCrash: boolean): void {
  assert.is(report.lost.count, 0, `lost rows: ${report.summary}`);
  assert.equal(report.outOfOrder, [], `out of order: ${report.summary}`);
  const acked = report.duplicates.byCause["redelivery of an acked batch"];
  // kill -9 may lose the last ack on the wire (Canal's ack has no reply); nothing else may repeat.
  const excused = allowAckedRepeatsOnCrash ? report.duplicates.ackedLastOnConnection : 0;
  assert.ok(acked <= excused, `acked rows delivered again: ${report.summary}`);
  assert.is(report.duplicates.byCause["repeated within one batch"], 0, report.summary);
}

/** What a failed wait needs to be understood: the consumer's hiccups and each node's last log lines. */
export function diagnose(consumer: FollowingConsumer, nodes: readonly CanalNode[]): string {
  const tail = nodes.map((n) => `${n.address}:\n${n.logs.slice(-12).map((l) => `  ${l.text}`).join("\n")}`).join("\n");
  return `received up to ${consumer.checker.maxReceived()}; consumer hiccups: ${consumer.hiccups.slice(-8).join(" | ")}\n${tail}`;
}

export async function followingConsumer(
  zkConnect: string,
  destination: string,
  first: number,
  checker?: SequenceChecker,
): Promise<{ consumer: FollowingConsumer; discovery: RunningServerDiscovery }> {
  const discovery = await RunningServerDiscovery.connect(zkConnect);
  const consumer = new FollowingConsumer(discovery, destination, first, TABLE, checker);
  await consumer.start();
  return { consumer, discovery };
}

/** The sequence numbers a batch carries (inserts into the load's table), in order. */
export function sequenceOf(batch: Batch): number[] {
  return batch.changes.filter((c) => c.table === TABLE && c.type === "INSERT").map((c) => Number(c.after!["n"]!.value));
}

/**
 * Consumes a cluster client (src/client/cluster-client.ts) into a sequence checker until the
 * client closes: every batch acked, each given to the checker with its ack outcome. `connectionBase`
 * keeps several clients' connection numbers apart in one checker.
 */
export function consumeClient(client: CanalClient, checker: SequenceChecker, connectionBase = 0): { errors: string[]; done: Promise<void> } {
  const errors: string[] = [];
  const done = (async () => {
    for (;;) {
      let batch: Batch | undefined;
      try {
        batch = await client.next();
      } catch (err) {
        errors.push(`next: ${(err as Error).message}`);
        return;
      }
      if (batch === undefined) return;
      const server = client.status.server ?? "(unknown)";
      let acked = false;
      try {
        await batch.ack();
        acked = true;
      } catch (err) {
        errors.push(`ack of batch ${batch.id}: ${(err as Error).message}`);
      }
      checker.add({ batchId: batch.id, connection: connectionBase + batch.connection, server, ns: sequenceOf(batch), acked, at: Date.now() });
    }
  })();
  return { errors, done };
}

/** Polls `check` every 20 ms until it holds; false after `timeoutMs`. */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return true;
}

/**
 * Follows a node's live feed of transitions (`/charts/events` on its HTTP port, server-sent
 * events) into `docs`, every actor of the node; `stop` ends it.
 */
export function followTransitions(port: number): { docs: TransitionDoc[]; stop(): void } {
  const docs: TransitionDoc[] = [];
  const req = request({ host: "127.0.0.1", port, path: "/charts/events" }, (res) => {
    let buffer = "";
    res.setEncoding("utf8");
    res.on("data", (chunk: string) => {
      buffer += chunk;
      let end: number;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const data = buffer.slice(0, end).split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trim()).join("");
        buffer = buffer.slice(end + 2);
        if (data !== "") docs.push(JSON.parse(data) as TransitionDoc);
      }
    });
  });
  // The node going away ends the feed; what it sent before is in `docs`.
  req.on("error", () => undefined);
  req.end();
  return { docs, stop: () => req.destroy() };
}

/** One line a client process (test/integration/client-process.ts) printed. */
export interface ClientLine {
  t: "state" | "batch" | "acked" | "ack-failed" | "closed";
  at: number;
  state?: string;
  id?: number;
  connection?: number;
  server?: string;
  ns?: number[];
}

/** A cluster client running as a child process, its printed lines collected as they come. */
export class ClientProcess {
  readonly lines: ClientLine[] = [];
  readonly exited: Promise<number | null>;
  private readonly child: ChildProcess;
  private stderr = "";

  constructor(readonly name: string, options: Record<string, unknown>) {
    const script = new URL("./client-process.ts", import.meta.url).pathname;
    this.child = spawn(process.execPath, ["--import", "tsx", script, JSON.stringify(options)], { stdio: ["ignore", "pipe", "pipe"] });
    let partial = "";
    this.child.stdout!.on("data", (chunk: Buffer) => {
      partial += chunk.toString("utf8");
      const parts = partial.split("\n");
      partial = parts.pop()!;
      for (const part of parts) if (part.startsWith("{")) this.lines.push(JSON.parse(part) as ClientLine);
    });
    this.child.stderr!.on("data", (chunk: Buffer) => (this.stderr = (this.stderr + chunk.toString("utf8")).slice(-4000)));
    this.exited = new Promise((resolve) => this.child.once("exit", (code) => resolve(code)));
  }

  kill(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  get states(): string[] {
    return this.lines.filter((l) => l.t === "state").map((l) => l.state!);
  }

  get batches(): ClientLine[] {
    return this.lines.filter((l) => l.t === "batch");
  }

  /** Waits for a line matching `match`, printed at index `since` or later; throws with the process's output after `timeoutMs`. */
  async waitFor(match: (line: ClientLine) => boolean, timeoutMs: number, since = 0): Promise<ClientLine> {
    let found: ClientLine | undefined;
    const ok = await eventually(() => (found = this.lines.slice(since).find(match)) !== undefined, timeoutMs);
    if (!ok) throw new Error(`client ${this.name}: no such line within ${timeoutMs} ms; states ${this.states.join(" ")}; stderr ${this.stderr}`);
    return found!;
  }

  /** Stops it (SIGKILL if SIGTERM is not enough within 10 s). */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 10_000);
    await this.exited;
    clearTimeout(timer);
  }
}

/** Every batch the processes received, in receive order, to the checker: acked when the process printed its ack. */
export function checkClientProcesses(processes: readonly ClientProcess[], checker: SequenceChecker): void {
  const all = processes.flatMap((p, index) => {
    const acked = new Set(p.lines.filter((l) => l.t === "acked").map((l) => `${l.connection}/${l.id}`));
    return p.batches.map((b) => ({ b, index, acked: acked.has(`${b.connection}/${b.id}`) }));
  });
  all.sort((x, y) => x.b.at - y.b.at);
  for (const { b, index, acked } of all) {
    checker.add({ batchId: b.id!, connection: (index + 1) * 1000 + b.connection!, server: b.server ?? "(unknown)", ns: b.ns!, acked, at: b.at });
  }
}
