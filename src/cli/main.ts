#!/usr/bin/env node
/**
 * The `canal-ts` command. Each subcommand is a small module; this file only dispatches and turns
 * a CanalError into a one-line message and a non-zero exit.
 */
import { parseArgs } from "node:util";
import { CanalConfigError, CanalError } from "../errors.js";
import { CHART_USAGE, runChart } from "./chart.js";
import { runDemo } from "./demo.js";
import { INSPECT_USAGE, parseInspectArgs, runInspect } from "./inspect.js";
import { parseStatusArgs, runStatus, STATUS_USAGE } from "./status.js";
import { RELEASE_USAGE, runRelease } from "./release.js";
import { runServer, SERVER_USAGE } from "./server.js";
import { parseTailArgs, runTail, TAIL_USAGE } from "./tail.js";

const USAGE = `usage: canal-ts <command> [options]

commands:
  server ...      run a node serving Canal clients (see "canal-ts server --help")
  tail <destination> (--server HOST:PORT | --zk HOSTS) [--filter REGEX] [--format table|json] ...
                  print changes as they arrive (see "canal-ts tail --help")
  release <destination> --zk HOSTS
                  move a destination to another node of the cluster (see "canal-ts release --help")
  inspect [--nats URL] [--node N] [--destination D]
                  the live stream of every node's state transitions (see "canal-ts inspect --help")
  status [--nats URL] [--zk HOSTS]
                  per destination: the node running it, the standbys, the cursor, the lag
  demo [--keep]   start ZooKeeper and MariaDB (ROW binlog) on free loopback ports, two
                  canal-ts nodes in cluster mode and a tail following the running node;
                  write rows, kill -9 the running node, show the tail carry on at the
                  other, then stop everything (--keep: keep it all up until Ctrl-C)
  chart [--machine NAME] [--format stately|json|mermaid|dot|svg] [--out DIR]
                  draw the state machines (see "canal-ts chart --help")
  help            this text`;

const log = (line: string) => console.log(`${new Date().toISOString().slice(11, 23)} ${line}`);

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case "demo": {
      const { values } = parseArgs({ args: rest, options: { keep: { type: "boolean", default: false } }, strict: true });
      await runDemo({ keep: values.keep ?? false, log });
      return;
    }
    case "server":
      if (rest.includes("--help")) console.log(SERVER_USAGE);
      else await runServer(rest);
      return;
    case "chart":
      if (rest.includes("--help")) console.log(CHART_USAGE);
      else for (const file of runChart(rest, (text) => process.stdout.write(text))) log(`wrote ${file}`);
      return;
    case "release":
      if (rest.includes("--help")) console.log(RELEASE_USAGE);
      else await runRelease(rest, (line) => log(line));
      return;
    case "status":
      if (rest.includes("--help")) console.log(STATUS_USAGE);
      else await runStatus(parseStatusArgs(rest), process.stdout);
      return;
    case "inspect": {
      if (rest.includes("--help")) return void console.log(INSPECT_USAGE);
      const stop = new AbortController();
      process.once("SIGINT", () => stop.abort());
      process.once("SIGTERM", () => stop.abort());
      await runInspect({ ...parseInspectArgs(rest), signal: stop.signal }, process.stdout);
      return;
    }
    case "tail": {
      if (rest.includes("--help")) {
        console.log(TAIL_USAGE);
        return;
      }
      const options = parseTailArgs(rest);
      const stop = new AbortController();
      const onSignal = () => stop.abort();
      process.once("SIGINT", onSignal);
      process.once("SIGTERM", onSignal);
      try {
        await runTail({ ...options, signal: stop.signal }, process.stdout);
      } finally {
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
      }
      return;
    }
    case undefined:
    case "help":
    case "--help":
    case "-h":
      console.log(USAGE);
      return;
    default:
      throw new CanalConfigError(`unknown command "${command}"; expected one of: server, tail, release, inspect, status, chart, demo, help`);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof CanalError || (err instanceof TypeError && "code" in err && String(err.code).startsWith("ERR_PARSE_ARGS"))) {
    console.error(`canal-ts: ${err.message}`);
  } else {
    console.error(err);
  }
  process.exit(1);
});
