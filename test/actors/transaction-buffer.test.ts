import { test } from "uvu";
import * as assert from "uvu/assert";
import { TransactionBuffer } from "../../src/actors/transaction-buffer.js";
import type { EntryKind } from "../../src/protocol/binlog/entry-writer.js";
import { EventType } from "../../src/protocol/entry.js";

interface TestEntry {
  key: string;
  kind: EntryKind;
  eventType: number | undefined;
}
const entry = (key: string, kind: EntryKind, eventType?: number): TestEntry => ({ key, kind, eventType });
const begin = (k: string) => entry(k, "begin");
const end = (k: string) => entry(k, "end");
const insert = (k: string) => entry(k, "rows", EventType.INSERT);
const ddl = (k: string) => entry(k, "ddl", EventType.ALTER);

function collect(options: ConstructorParameters<typeof TransactionBuffer<TestEntry>>[1] = {}) {
  const groups: string[][] = [];
  const buffer = new TransactionBuffer<TestEntry>((g) => groups.push(g.map((e) => e.key)), options);
  return { groups, buffer };
}

test("a transaction is one group, flushed at its end; a DDL is a group of its own", () => {
  const { groups, buffer } = collect();
  for (const e of [begin("b1"), insert("r1"), insert("r2"), end("e1"), ddl("d1"), begin("b2"), insert("r3"), end("e2")]) buffer.add(e);
  assert.equal(groups, [["b1", "r1", "r2", "e1"], ["d1"], ["b2", "r3", "e2"]]);
});

test("BEGIN flushes what was buffered before it; a QUERY entry (annotation) flushes, statement DML does not", () => {
  const { groups, buffer } = collect();
  buffer.add(insert("orphan"));
  buffer.add(begin("b1"));
  buffer.add(entry("q", "query", EventType.QUERY));
  buffer.add(entry("s", "query", EventType.INSERT));
  buffer.add(insert("r1"));
  buffer.add(end("e1"));
  assert.equal(groups, [["orphan"], ["b1", "q"], ["s", "r1", "e1"]]);
});

test("a transaction larger than the size is split", () => {
  const { groups, buffer } = collect({ size: 3 });
  for (const e of [begin("b"), insert("1"), insert("2"), insert("3"), insert("4"), end("e")]) buffer.add(e);
  assert.equal(groups, [["b", "1", "2"], ["3", "4", "e"]]);
});

test("empty transactions are dropped, one let through per interval or threshold", () => {
  let now = 0;
  const { groups, buffer } = collect({ emptyIntervalMs: 5000, emptyThreshold: 3, now: () => now });
  const empty = (n: number) => { buffer.add(begin(`b${n}`)); buffer.add(end(`e${n}`)); };
  for (let n = 1; n <= 5; n++) empty(n);
  assert.equal(groups, [["b4", "e4"]], "the 4th empty group exceeds the threshold of 3");
  assert.is(buffer.droppedEmpty, 4);
  now = 5001;
  empty(6);
  assert.equal(groups.at(-1), ["b6", "e6"], "5 s passed");
});

test.run();
