/**
 * A cluster client as a process of its own, for the election tests (kill -9 needs a process):
 * runs createCanalClient with the options given as JSON in argv[2] and prints one JSON line per
 * happening on stdout:
 *   {"t":"state","state":"standby","at":…}
 *   {"t":"batch","id":3,"connection":1,"server":"127.0.0.1:4711","ns":[…],"at":…}   (received)
 *   {"t":"acked","id":3,"connection":1,"at":…}                                      (ack written)
 *   {"t":"closed","at":…}
 * `ackDelayMs` waits that long between receiving a batch and acking it, so a kill lands mid-batch.
 * SIGTERM closes the client (releasing its node) and exits 0.
 */
import { createCanalClient, type CanalClientOptions } from "../../src/client/cluster-client.js";
import { sequenceOf } from "./cluster-kit.js";

const options = JSON.parse(process.argv[2] ?? "{}") as CanalClientOptions & { ackDelayMs?: number };
const print = (line: Record<string, unknown>) => process.stdout.write(`${JSON.stringify({ ...line, at: Date.now() })}\n`);
const client = createCanalClient(options);
client.on("state", ({ state, error }) => print({ t: "state", state, error: error?.message }));
process.once("SIGTERM", () => {
  void client.close().then(() => {
    print({ t: "closed" });
    process.exit(0);
  });
});
for await (const batch of client) {
  print({ t: "batch", id: batch.id, connection: batch.connection, server: client.status.server, ns: sequenceOf(batch) });
  if (options.ackDelayMs) await new Promise((resolve) => setTimeout(resolve, options.ackDelayMs));
  try {
    await batch.ack();
    print({ t: "acked", id: batch.id, connection: batch.connection });
  } catch (err) {
    print({ t: "ack-failed", id: batch.id, connection: batch.connection, error: (err as Error).message });
  }
}
print({ t: "closed" });
