/**
 * What a decode run (one fresh child process per run, one tool per process) gets and gives
 * back: the spec arrives as a JSON argument, the result leaves as the last stdout line. A
 * process of its own per run gives each tool a cold JIT and its own peak RSS, as the baseline
 * measured them.
 */

export interface RunSpec {
  host: string;
  port: number;
  user: string;
  password: string;
  /** The closed binlog file to read from offset 4 to its closing Rotate. */
  file: string;
  /** This replica's server id, distinct per run. */
  serverId: number;
}

export interface RunResult {
  tool: string;
  /** Row changes seen: an UPDATE's before/after pair counts once (as zongji's `rows` do). */
  rows: number;
  events: number;
  /** From connecting to the closing Rotate event. */
  seconds: number;
  cpuSeconds: number;
  peakRssMiB: number;
  /** What the tool produced, e.g. Entry bytes; for a check that nothing was skipped. */
  outputBytes: number;
}

/** What a tool's reader reports when it has seen the closing Rotate; `close` runs after the clock stops. */
export interface ReadOutcome {
  rows: number;
  events: number;
  outputBytes: number;
  close(): void | Promise<void>;
}

/** Runs `read` once against the spec in argv and prints the RunResult as JSON. */
export function runChild(tool: string, read: (spec: RunSpec) => Promise<ReadOutcome>): void {
  const spec = JSON.parse(process.argv[2] ?? "null") as RunSpec | null;
  if (spec === null) {
    console.error(`usage: node ${process.argv[1]} '<RunSpec JSON>'`);
    process.exit(2);
  }
  const started = performance.now();
  read(spec).then(
    async (outcome) => {
      const seconds = (performance.now() - started) / 1000;
      await outcome.close();
      const usage = process.resourceUsage();
      const result: RunResult = {
        tool,
        rows: outcome.rows,
        events: outcome.events,
        seconds,
        cpuSeconds: (usage.userCPUTime + usage.systemCPUTime) / 1e6,
        peakRssMiB: usage.maxRSS / 1024,
        outputBytes: outcome.outputBytes,
      };
      console.log(JSON.stringify(result));
      process.exit(0); // a client library may keep a timer or socket alive; the run is over
    },
    (err: unknown) => {
      console.error(`${tool}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      process.exit(1);
    },
  );
}
