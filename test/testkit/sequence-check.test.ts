/**
 * The failover tests' invariant checker, on hand-made streams: a clean stream, loss, disorder,
 * and each cause of a duplicate.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { checkSequence, type ReceivedBatch, SequenceChecker } from "../../src/testkit/sequence-check.js";

const A = "127.0.0.1:11111";
const B = "127.0.0.1:22222";

/** A batch of n from..to (inclusive). */
function batch(batchId: number, connection: number, server: string, from: number, to: number, acked = true): ReceivedBatch {
  return { batchId, connection, server, ns: Array.from({ length: to - from + 1 }, (_, i) => from + i), acked };
}

test("every committed number once, in order, over two connections: ok", () => {
  const r = checkSequence([batch(1, 1, A, 1, 10), batch(2, 1, A, 11, 20), batch(1, 2, B, 21, 30)], { lastCommitted: 30 });
  assert.ok(r.ok, r.summary);
  assert.is(r.verdict, "ok");
  assert.is(r.lost.count, 0);
  assert.is(r.distinct, 30);
  assert.is(r.rows, 30);
  assert.is(r.batches, 3);
  assert.is(r.connections, 2);
  assert.equal(r.servers, [A, B]);
  assert.is(r.duplicates.count, 0);
  assert.equal(r.outOfOrder, []);
  assert.match(r.summary, /^ok: 30 committed \(1\.\.30\), 30 distinct received in 30 rows, 3 batches, 2 connections to 2 servers; lost 0; out of order 0; duplicates 0/);
});

test("committed numbers never received are lost, as ranges; the tail counts too", () => {
  const r = checkSequence([batch(1, 1, A, 1, 4), batch(2, 1, A, 7, 7), batch(3, 1, A, 9, 10)], { lastCommitted: 13 });
  assert.not.ok(r.ok);
  assert.is(r.lost.count, 6);
  assert.equal(r.lost.ranges, [[5, 6], [8, 8], [11, 13]]);
  assert.is(r.verdict, "failed");
  assert.match(r.summary, /lost 6 \(5\.\.6, 8, 11\.\.13\)/);
});

test("nothing received of a load that committed nothing is ok; the load's first number is honoured", () => {
  assert.ok(checkSequence([], { lastCommitted: 0 }).ok);
  const r = checkSequence([batch(1, 1, A, 101, 105)], { first: 101, lastCommitted: 105 });
  assert.ok(r.ok, r.summary);
  const early = checkSequence([batch(1, 1, A, 99, 105)], { first: 101, lastCommitted: 105 });
  assert.equal(early.unexpected, [99, 100]);
  assert.not.ok(early.ok);
});

test("a number beyond the last committed one is unexpected", () => {
  const r = checkSequence([batch(1, 1, A, 1, 6)], { lastCommitted: 5 });
  assert.equal(r.unexpected, [6]);
  assert.not.ok(r.ok);
  assert.match(r.summary, /unexpected 1 \(first 6\)/);
});

test("the rows of an unacked batch delivered again after a failover: allowed duplicates", () => {
  const r = checkSequence(
    [batch(1, 1, A, 1, 10), batch(2, 1, A, 11, 15, false), batch(1, 2, B, 11, 20)],
    { lastCommitted: 20 },
  );
  assert.ok(r.ok, r.summary);
  assert.is(r.duplicates.count, 5);
  assert.is(r.duplicates.byCause["redelivery of an unacked batch"], 5);
  const d = r.duplicates.list[0]!;
  assert.is(d.n, 11);
  assert.is(d.cause, "redelivery of an unacked batch");
  assert.ok(d.allowed);
  assert.equal(d.previous, { index: 1, batchId: 2, connection: 1, server: A, acked: false });
  assert.equal(d.batch, { index: 2, batchId: 1, connection: 2, server: B, acked: true });
  assert.equal(r.outOfOrder, [], "a new connection starting lower is a redelivery, not disorder");
});

test("rows of an acked batch delivered again: a defect, marked when that was the connection's last ack", () => {
  // Batch 2 of connection 1 was the last ack before that connection ended: an ack maybe in flight.
  const inFlight = checkSequence([batch(1, 1, A, 1, 10), batch(2, 1, A, 11, 15), batch(1, 2, B, 11, 20)], { lastCommitted: 20 });
  assert.not.ok(inFlight.ok);
  assert.is(inFlight.duplicates.byCause["redelivery of an acked batch"], 5);
  assert.is(inFlight.duplicates.ackedLastOnConnection, 5);
  assert.ok(inFlight.duplicates.list.every((d) => !d.allowed && d.ackedLastOnConnection));
  assert.match(inFlight.summary, /5 redelivery of an acked batch \[5 of the last ack on a connection\]/);
  assert.is(inFlight.verdict, "acks in flight");
  assert.match(inFlight.summary, /^ok but for acks in flight: /);

  // Batch 1 was acked, and batch 2 after it: the server lost an ack it had certainly read.
  const lostCursor = checkSequence([batch(1, 1, A, 1, 10), batch(2, 1, A, 11, 15), batch(1, 2, B, 6, 20)], { lastCommitted: 20 });
  const early = lostCursor.duplicates.list.filter((d) => d.n <= 10);
  assert.is(early.length, 5);
  assert.ok(early.every((d) => d.cause === "redelivery of an acked batch" && !d.ackedLastOnConnection));
  assert.is(lostCursor.duplicates.ackedLastOnConnection, 5, "11..15 still count as the last ack's");
  assert.is(lostCursor.verdict, "failed");
  assert.match(lostCursor.summary, /^FAILED: /);
});

test("an earlier acked delivery decides the cause even when the latest delivery was unacked", () => {
  const r = checkSequence([batch(1, 1, A, 1, 5), batch(1, 2, B, 1, 5, false), batch(1, 3, A, 1, 5)], { lastCommitted: 5 });
  const third = r.duplicates.list.filter((d) => d.batch.index === 2);
  assert.is(third.length, 5);
  assert.ok(third.every((d) => d.cause === "redelivery of an acked batch" && d.previous.index === 0));
});

test("a number repeated inside one batch is its own defect", () => {
  const r = checkSequence([{ batchId: 1, connection: 1, server: A, ns: [1, 2, 2, 3], acked: true }], { lastCommitted: 3 });
  assert.is(r.duplicates.byCause["repeated within one batch"], 1);
  assert.not.ok(r.ok);
  // It also goes backwards within its connection.
  assert.equal(r.outOfOrder.map((o) => [o.n, o.kind, o.after]), [[2, "backwards", 2]]);
});

test("a number first received after a higher one is late; a connection going back is backwards", () => {
  const r = checkSequence([batch(1, 1, A, 1, 3), { batchId: 2, connection: 1, server: A, ns: [5, 4, 6], acked: true }], { lastCommitted: 6 });
  assert.equal(r.outOfOrder.map((o) => [o.n, o.kind, o.after]), [[4, "backwards", 5], [4, "late", 5]]);
  assert.is(r.lost.count, 0);
  assert.not.ok(r.ok);

  // A gap filled later by another connection: late, though that connection itself goes forward.
  const gap = checkSequence([batch(1, 1, A, 1, 3), batch(2, 1, A, 5, 6), batch(1, 2, B, 4, 4)], { lastCommitted: 6 });
  assert.equal(gap.outOfOrder.map((o) => [o.n, o.kind, o.after]), [[4, "late", 6]]);
});

test("the incremental checker answers maxReceived and has while the stream runs", () => {
  const checker = new SequenceChecker();
  assert.is(checker.maxReceived(), -Infinity);
  checker.add(batch(1, 1, A, 1, 4));
  assert.is(checker.maxReceived(), 4);
  assert.ok(checker.has(3));
  assert.not.ok(checker.has(5));
  assert.is(checker.report(4).lost.count, 0);
  assert.is(checker.report(6).lost.count, 2, "report can be asked again with a later lastCommitted");
  checker.add(batch(2, 1, A, 5, 6, false));
  checker.add(batch(1, 2, B, 5, 7));
  checker.add(batch(2, 2, B, 3, 3));
  assert.equal(checker.counts(), {
    duplicates: { "redelivery of an unacked batch": 2, "redelivery of an acked batch": 1, "repeated within one batch": 0 },
    outOfOrder: 1,
  });
});

test.run();
