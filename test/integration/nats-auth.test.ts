/**
 * A NATS server that requires a token: a node given `--nats nats://TOKEN@host:port` answers
 * the control plane, `canal-ts status` with the same URL sees it;
 * without the token, or with a wrong one, nothing gets in, and the token appears in no log
 * line and no error message.
 */
import { connect } from "@nats-io/transport-node";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { statusFromNats } from "../../src/cli/status.js";
import { startCanalNode } from "../../src/testkit/canal-node.js";
import { startMariaDB, startNats } from "../../src/testkit/index.js";

const TOKEN = "tok-3f9a1c";

test("a token in the NATS URL: the node publishes and answers status through a server that requires it; a wrong one is refused and never shown", async () => {
  const [db, nats] = await Promise.all([startMariaDB(), startNats({ token: TOKEN })]);
  const withToken = nats.url.replace("nats://", `nats://${TOKEN}@`);
  const wrong = nats.url.replace("nats://", "nats://not-the-token@");
  const nodeArgs = (url: string) => ["--source", db.uri(), "--destination", "seq", "--filter", "seqload\\.seq", "--nats", url];
  const node = await startCanalNode({ nodeId: "secured", args: nodeArgs(withToken) });
  const outsider = await startCanalNode({ nodeId: "outsider", args: nodeArgs(wrong) });
  try {
    const statuses = await statusFromNats([withToken], 2000);
    assert.equal(statuses.map((s) => s.node), ["secured"], "the node with the token answers; the other never got in");

    // The control plane answers whoever has the token, and nobody without it.
    const nc = await connect({ servers: nats.url, token: TOKEN });
    try {
      assert.is((await nc.request("canal.admin.secured.status", "", { timeout: 5000 })).json<{ ok: boolean }>().ok, true);
    } finally {
      await nc.close();
    }
    assert.is(await connect({ servers: nats.url, timeout: 2000, maxReconnectAttempts: 0 }).then(async (c) => (await c.close(), "in"), () => "refused"), "refused", "no token, no connection");

    const err = await statusFromNats([wrong], 1000).then(
      () => undefined,
      (e: Error) => e,
    );
    assert.ok(err !== undefined && /cannot connect/.test(err.message), String(err));
    assert.not.ok(err!.message.includes("not-the-token"), err!.message);
    await outsider.waitForLog("nats unreachable; inspection queues and drops until it is", 10_000);
    for (const line of [...node.logs, ...outsider.logs]) {
      assert.not.ok(line.text.includes(TOKEN) || line.text.includes("not-the-token"), `a log line shows a token: ${line.text}`);
    }
  } finally {
    await Promise.all([node.stop(), outsider.stop()]);
    await Promise.all([db.stop(), nats.stop()]);
  }
});

test.run();
