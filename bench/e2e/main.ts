/**
 * `npm run bench -- e2e`: MariaDB → node → one client, on the reference workload, with the
 * decode-only rate measured in the same run as the reference.
 *
 * Starts a private MariaDB from the test kit and writes the workload into one closed binlog
 * file (bench/decode/workload.ts). Each run then does, in fresh processes:
 *   - decode-only: the decode benchmark's runner (BinlogStream → EntryWriter) over the file;
 *   - e2e: the bundled `canal-ts server` reading the file from offset 4 with the default store,
 *     and one client doing getWithoutAck/ack with 1 MiB batches until it has seen every row,
 *     timed from its first get to the batch holding the last row (and, for comparison, from the
 *     node's binlog dump start); the node's peak RSS is its VmHWM.
 * Medians over the runs, the highest node RSS of any run, and the one line the issue asks for:
 *   e2e: <rows/s> rows/s, decode-only: <rows/s> rows/s, ratio <e2e/decode>, node peak RSS <MiB> MiB
 *
 * Options: --runs N (each, alternating, default 3)  --scale S (workload size, default 1 = 650k rows)
 *          --profile (one extra e2e run with the node under --cpu-prof, summarised)
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { MariaDBServer } from "../../src/testkit/index.js";
import { LOOPBACK } from "../../src/testkit/process.js";
import type { RunResult, RunSpec } from "../decode/child.js";
import { bundleScripts, killRunningChildren, runNodeTool, THREAD_SCRIPTS } from "../decode/children.js";
import { type BenchOptions, median, parseBenchOptions, prepare, withWorkloadServer } from "../decode/main.js";
import { formatProfile, readProfile, summariseProfile } from "../decode/profile.js";
import { type BuiltWorkload, planWorkload } from "../decode/workload.js";
import type { ClientResult, ClientSpec } from "./client-run.js";
import { DESTINATION, type RunningNode, startNode } from "./node-process.js";
import { stagesOf } from "./profile-areas.js";

/** 1 MiB: Canal's MEMSIZE batch unit (the node's default mode) is 1024 bytes. */
const BATCH_SIZE_KIB = 1024;
/**
 * How long a get may wait on the node for a full batch. Only the stream's last, partial batch
 * waits it out, so it bounds what that adds to the time; mid-stream a get returns as soon as
 * 1 MiB is there.
 */
const GET_TIMEOUT_MS = 50;

/** How long the client may wait for the node's port: the node's start, with its source connecting first. */
const NODE_START_MS = 30_000;

type Scripts = Record<"decode" | "node" | "client", string>;

interface E2eResult {
  client: ClientResult;
  /**
   * From the node's binlog dump beginning to the client's last row: the conservative clock.
   * The client's own clock starts later, when the store already holds what the node read while
   * its port was not yet open.
   */
  fromSourceSeconds: number;
  nodePeakRssMiB: number;
  nodeCpuSeconds: number;
}

class E2eBench {
  private serverId = 1000;
  /** The node of the e2e run under way, stopped by `stop` when the benchmark is interrupted. */
  private node: RunningNode | undefined;

  constructor(
    private readonly scripts: Scripts,
    private readonly server: MariaDBServer,
    private readonly workload: BuiltWorkload,
    private readonly timeoutMs: number,
  ) {}

  async decodeOnly(): Promise<RunResult> {
    const { server, workload } = this;
    const spec: RunSpec = { host: server.host, port: server.port, user: server.user, password: server.password, file: workload.file, serverId: this.serverId++ };
    const r = await runNodeTool(this.scripts.decode, spec, this.timeoutMs);
    if (r.rows !== workload.rows) throw new Error(`decode-only saw ${r.rows} row changes; the binlog holds ${workload.rows}`);
    return r;
  }

  /** The node and the client start together; the client connects as soon as the node's port opens. */
  async e2e(nodeArgs: string[] = []): Promise<E2eResult> {
    const node = await startNode({ script: this.scripts.node, source: this.server.uri(), file: this.workload.file, serverId: this.serverId++, nodeArgs });
    this.node = node;
    try {
      const spec: ClientSpec = {
        host: LOOPBACK,
        port: node.port,
        destination: DESTINATION,
        rows: this.workload.rows,
        batchSize: BATCH_SIZE_KIB,
        getTimeoutMs: GET_TIMEOUT_MS,
        connectWithinMs: NODE_START_MS,
      };
      const [, client] = await Promise.all([node.ready, runNodeTool<ClientSpec, ClientResult>(this.scripts.client, spec, this.timeoutMs)]).catch((err: Error) => {
        killRunningChildren(); // the client, when the node failed
        throw new Error(`${err.message}\nlast lines of the node's log:\n${node.logTail()}`);
      });
      if (client.rows !== this.workload.rows) throw new Error(`the e2e client saw ${client.rows} row changes; the binlog holds ${this.workload.rows}`);
      return {
        client,
        fromSourceSeconds: (client.lastRowAt - node.sourceConnectedAt()) / 1000,
        nodePeakRssMiB: node.peakRssMiB(),
        nodeCpuSeconds: node.cpuSeconds(),
      };
    } finally {
      this.node = undefined;
      await node.stop();
    }
  }

  async stop(): Promise<void> {
    await this.node?.stop();
  }
}

const rate = (rows: number, seconds: number) => Math.round(rows / seconds);

async function measure(options: BenchOptions, b: E2eBench, workload: BuiltWorkload, nodeScript: string): Promise<void> {
  const decodeSeconds: number[] = [];
  const e2eSeconds: number[] = [];
  let nodePeakRssMiB = 0;
  for (let run = 1; run <= options.runs; run++) {
    const d = await b.decodeOnly();
    decodeSeconds.push(d.seconds);
    console.log(`  run ${run} decode-only  ${d.seconds.toFixed(3)} s  ${rate(d.rows, d.seconds)} rows/s  peak RSS ${d.peakRssMiB.toFixed(1)} MiB  (cpu ${d.cpuSeconds.toFixed(2)} s)`);
    const e = await b.e2e();
    e2eSeconds.push(e.client.seconds);
    nodePeakRssMiB = Math.max(nodePeakRssMiB, e.nodePeakRssMiB);
    const c = e.client;
    console.log(
      `  run ${run} e2e          ${c.seconds.toFixed(3)} s  ${rate(c.rows, c.seconds)} rows/s  node peak RSS ${e.nodePeakRssMiB.toFixed(1)} MiB` +
        `  (${c.batches} batches, ${(c.bytes / 2 ** 20).toFixed(1)} MiB of entries; node cpu ${e.nodeCpuSeconds.toFixed(2)} s,` +
        ` client cpu ${c.cpuSeconds.toFixed(2)} s; ${rate(c.rows, e.fromSourceSeconds)} rows/s from the node's dump start)`,
    );
  }

  if (options.profile) {
    const dir = mkdtempSync(join(tmpdir(), "canal-ts-cpuprof-"));
    try {
      await b.e2e(["--cpu-prof", `--cpu-prof-dir=${dir}`]);
      const profile = readProfile(dir);
      console.log(formatProfile(summariseProfile(profile, nodeScript, 20), "the node in one e2e run"));
      console.log("  by stage (each sample to its nearest caller in our code):");
      for (const { stage, share } of stagesOf(profile, nodeScript)) console.log(`    ${(share * 100).toFixed(1).padStart(5)}%  ${stage}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  const e2e = rate(workload.rows, median(e2eSeconds.sort((x, y) => x - y)));
  const decode = rate(workload.rows, median(decodeSeconds.sort((x, y) => x - y)));
  console.log(`(medians of ${options.runs} runs each; node peak RSS = highest VmHWM of any run; e2e from the client's first get,`);
  console.log(` "from the node's dump start" also counts what the node read into its store before its port opened)`);
  console.log(`e2e: ${e2e} rows/s, decode-only: ${decode} rows/s, ratio ${(e2e / decode).toFixed(2)}, node peak RSS ${nodePeakRssMiB.toFixed(1)} MiB`);
}

export async function main(argv: string[]): Promise<void> {
  const options = parseBenchOptions(argv);
  planWorkload(options.scale); // reject a bad --scale before starting anything
  const bundles = await bundleScripts("bench-e2e", { decode: "bench/decode/ours.ts", node: "src/cli/main.ts", client: "bench/e2e/client.ts", ...THREAD_SCRIPTS });
  let running: E2eBench | undefined;
  await withWorkloadServer(
    async () => {
      await running?.stop();
      bundles.remove();
    },
    async (server) => {
      console.log(`mariadb: pid ${server.pid} on ${server.host}:${server.port}`);
      const workload = await prepare(server, options.scale);
      const mib = (workload.size / 2 ** 20).toFixed(1);
      console.log(`workload: ${workload.rows} row changes in ${workload.file} (${mib} MiB), written in ${workload.seconds.toFixed(1)} s`);
      running = new E2eBench(bundles.script, server, workload, 60_000 + 600_000 * options.scale);
      await measure(options, running, workload, bundles.script.node);
    },
  );
}
