// The build refuses IO in src/machines: prove it fails on each kind of forbidden import and
// passes a machine that only uses xstate.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkMachinesArePure } from "../../build.mjs";

function tree(files: Record<string, string>): { root: string; machines: string; actors: string } {
  const root = mkdtempSync(join(tmpdir(), "canal-purity-"));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(root, path, ".."), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return { root, machines: join(root, "machines"), actors: join(root, "actors") };
}

test("a machine importing only xstate and its siblings passes", async () => {
  const t = tree({
    "machines/ok.ts": `import { setup } from "xstate"; import { d } from "./delays.js"; export const m = setup({}).createMachine({ id: "ok", initial: "a", states: { a: { after: { [d]: "a" } } } });`,
    "machines/delays.ts": `export const d = 100;`,
    "actors/io.ts": `import { readFileSync } from "node:fs"; export const r = readFileSync;`,
  });
  try {
    await checkMachinesArePure(t.machines, t.actors);
  } finally {
    rmSync(t.root, { recursive: true, force: true });
  }
});

test("node built-ins, src/actors and IO client packages each fail the build, all listed", async () => {
  const t = tree({
    "machines/bad.ts": [
      `import { readFileSync } from "node:fs";`,
      `import net from "net";`,
      `import { r } from "../actors/io.js";`,
      `import ZooKeeper from "zookeeper";`,
      `import zk from "node-zookeeper-client";`,
      `import { connect } from "@nats-io/transport-node";`,
      `import mysql from "mysql2/promise";`,
      `export const all = [readFileSync, net, r, ZooKeeper, zk, connect, mysql];`,
    ].join("\n"),
    "machines/indirect.ts": `import { helper } from "./helper.js"; export const h = helper;`,
    "machines/helper.ts": `import { createHash } from "crypto"; export const helper = createHash;`,
    "actors/io.ts": `export const r = 1;`,
  });
  try {
    const err = await checkMachinesArePure(t.machines, t.actors).then(() => undefined, (e: Error) => e);
    assert.ok(err, "the check must reject");
    for (const spec of ["node:fs", "net", "../actors/io.js", "zookeeper", "node-zookeeper-client", "@nats-io/transport-node", "mysql2/promise", "crypto"]) {
      assert.ok(err.message.includes(`imports "${spec}"`), `message names ${spec}:\n${err.message}`);
    }
    assert.match(err.message, /machines\/helper\.ts imports "crypto"/);
  } finally {
    rmSync(t.root, { recursive: true, force: true });
  }
});

test("the project's own src/machines is pure", async () => {
  await checkMachinesArePure();
});

test.run();
