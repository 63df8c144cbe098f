/**
 * `npm run bench -- <name> [options]`: the project's benchmarks, each starting the servers it
 * needs and ending with one summary line.
 *
 *   decode   binlog decode rows/s, ours vs @vlasky/zongji (bench/decode/main.ts for options)
 *   e2e      MariaDB → node → one client rows/s and node peak RSS, against decode-only (bench/e2e/main.ts)
 *   failover kill -9 / SIGTERM of the running node → the client's next row, ms, and rows lost (bench/failover/main.ts)
 */
const benches: Record<string, (argv: string[]) => Promise<void>> = {
  decode: async (argv) => (await import("./decode/main.js")).main(argv),
  e2e: async (argv) => (await import("./e2e/main.js")).main(argv),
  failover: async (argv) => (await import("./failover/main.js")).main(argv),
};

const [name, ...argv] = process.argv.slice(2);
const bench = name === undefined ? undefined : benches[name];
if (bench === undefined) {
  console.error(`usage: npm run bench -- <${Object.keys(benches).join("|")}> [options]`);
  process.exit(2);
}
bench(argv).then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exit(1);
  },
);
