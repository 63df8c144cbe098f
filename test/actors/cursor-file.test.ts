/**
 * The standalone cursor file: Canal's meta.dat bytes, atomic replacement (a crash before the
 * rename leaves the old file), and clear errors instead of a silent fresh start.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { CursorFile, CursorFileError, toLogPosition } from "../../src/actors/cursor-file.js";
import type { LogPosition } from "../../src/protocol/cursor-json.js";

/** canal-facts.md §3.3: meta.dat as Canal's FileMixedMetaManager writes it. */
const META_DAT =
  '{"clientDatas":[{"clientIdentity":{"clientId":1001,"destination":"example","filter":""},"cursor":{"identity":{"slaveId":-1,"sourceAddress":{"address":"localhost","port":3306}},"postion":{"gtid":"","included":false,"journalName":"mysql-bin.000003","position":4567,"serverId":1,"timestamp":1700000000000}}}],"destination":"example"}';

const cursorAt = (position: number): LogPosition => ({
  sourceAddress: { address: "localhost", port: 3306 },
  journalName: "mysql-bin.000003",
  position,
  serverId: 1,
  timestamp: 1700000000000,
  gtid: "",
  included: false,
});

const dirs: string[] = [];
function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "canal-ts-cursor-"));
  dirs.push(dir);
  return dir;
}
const metaPath = (dir: string) => join(dir, "example", "meta.dat");

async function rejectsWith(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  try {
    await promise;
  } catch (err) {
    assert.instance(err, CursorFileError);
    assert.match((err as Error).message, pattern);
    return;
  }
  assert.unreachable(`expected a CursorFileError matching ${pattern}`);
}

test.after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

test("no meta.dat: no cursor, and nothing is written until a change", async () => {
  const dir = dataDir();
  const file = await CursorFile.open(dir, "example");
  assert.equal(file.list(), []);
  assert.is(file.get(1001), undefined);
  assert.equal(readdirSync(dir), []);
});

test("a cursor is written as Canal's exact meta.dat bytes, creating the directory, and read back", async () => {
  const dir = dataDir();
  const file = await CursorFile.open(dir, "example");
  await file.set({ clientId: 1001, filter: "", cursor: cursorAt(4567) });
  assert.is(readFileSync(metaPath(dir), "utf8"), META_DAT);
  const again = await CursorFile.open(dir, "example");
  assert.equal(again.get(1001), { clientId: 1001, filter: "", cursor: cursorAt(4567) });
});

test("reads a meta.dat written by Canal", async () => {
  const dir = dataDir();
  mkdirSync(join(dir, "example"));
  writeFileSync(metaPath(dir), META_DAT);
  const file = await CursorFile.open(dir, "example");
  assert.equal(file.get(1001)?.cursor, cursorAt(4567));
});

test("a crash between writing the temp file and the rename leaves the previous cursor; the next write replaces both", async () => {
  const dir = dataDir();
  const file = await CursorFile.open(dir, "example");
  await file.set({ clientId: 1001, filter: "", cursor: cursorAt(4567) });
  // What a crash mid-write leaves: a half-written temp file beside the intact meta.dat.
  writeFileSync(`${metaPath(dir)}.tmp`, META_DAT.slice(0, 60));

  const reopened = await CursorFile.open(dir, "example");
  assert.equal(reopened.get(1001)?.cursor, cursorAt(4567));
  await reopened.set({ clientId: 1001, filter: "", cursor: cursorAt(9000) });
  assert.equal(readdirSync(join(dir, "example")), ["meta.dat"]);
  assert.equal((await CursorFile.open(dir, "example")).get(1001)?.cursor, cursorAt(9000));
});

test("changes made while a write runs are coalesced, and each resolves once it is on disk", async () => {
  const dir = dataDir();
  const file = await CursorFile.open(dir, "example");
  const writes = Array.from({ length: 50 }, (_, i) => file.set({ clientId: 1001, filter: "", cursor: cursorAt(1000 + i) }));
  writes.push(file.set({ clientId: 1002, cursor: cursorAt(5) }));
  await Promise.all(writes);
  await file.flush();
  const onDisk = await CursorFile.open(dir, "example");
  assert.equal(onDisk.get(1001)?.cursor, cursorAt(1049));
  assert.equal(onDisk.get(1002), { clientId: 1002, cursor: cursorAt(5) });
  assert.equal(onDisk.list().map((c) => c.clientId), [1001, 1002]);
});

test("remove forgets a client on disk", async () => {
  const dir = dataDir();
  const file = await CursorFile.open(dir, "example");
  await file.set({ clientId: 1001, filter: "", cursor: cursorAt(4) });
  await file.remove(1001);
  await file.remove(1001);
  assert.is(readFileSync(metaPath(dir), "utf8"), '{"clientDatas":[],"destination":"example"}');
});

test("an unusable meta.dat is a CursorFileError naming the file and the fix, never a fresh start", async () => {
  const dir = dataDir();
  mkdirSync(join(dir, "example"));
  for (const text of ["", "{not json", '{"clientDatas":[{"clientIdentity":{"clientId":"x"}}],"destination":"example"}']) {
    writeFileSync(metaPath(dir), text);
    await rejectsWith(CursorFile.open(dir, "example"), new RegExp(`${metaPath(dir)} is unusable .*delete it to start destination example from its configured position`));
  }
  writeFileSync(metaPath(dir), META_DAT.replaceAll('"example"', '"other"'));
  await rejectsWith(CursorFile.open(dir, "example"), /belongs to destination "other"/);
});

test("a failed write is reported to the change's caller, and the next change writes everything", async () => {
  const dir = dataDir();
  const file = await CursorFile.open(dir, "example");
  writeFileSync(join(dir, "example"), "a file where the directory should be");
  try {
    await file.set({ clientId: 1001, filter: "", cursor: cursorAt(4567) });
    assert.unreachable("the write cannot succeed");
  } catch (err) {
    assert.match((err as NodeJS.ErrnoException).code ?? "", /ENOTDIR|EEXIST/);
  }
  rmSync(join(dir, "example"));
  await file.flush();
  assert.is(readFileSync(metaPath(dir), "utf8"), META_DAT);
});

test("the directory is made by the first write only, and made again when it was removed since", async () => {
  const dir = dataDir();
  const file = await CursorFile.open(dir, "example");
  await file.set({ clientId: 1001, filter: "", cursor: cursorAt(1) });
  rmSync(join(dir, "example"), { recursive: true });
  await file.set({ clientId: 1001, filter: "", cursor: cursorAt(4567) });
  assert.is(readFileSync(metaPath(dir), "utf8"), META_DAT);
  assert.equal(readdirSync(join(dir, "example")), ["meta.dat"]);
});

test("a meta.dat that cannot be read is a CursorFileError", async () => {
  const dir = dataDir();
  writeFileSync(join(dir, "example"), "not a directory");
  await rejectsWith(CursorFile.open(dir, "example"), /cannot read the cursor file/);
});

test("toLogPosition: a store position as Canal's cursor, gtid '' when none", () => {
  const position = { file: "mysql-bin.000003", offset: 4567, timestamp: 1700000000000, serverId: 1, gtid: undefined };
  assert.equal(toLogPosition(position, { address: "localhost", port: 3306 }), cursorAt(4567));
  assert.is(toLogPosition({ ...position, gtid: "0-1-9" }, { address: "localhost", port: 3306 }).gtid, "0-1-9");
});

test.run();
