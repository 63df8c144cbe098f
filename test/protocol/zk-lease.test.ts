/**
 * ZkLease: the lease is the send time of the latest answered request, whatever time the answer
 * is read; notifications answer nothing; an expired handshake renews nothing; packets split or
 * joined across chunks count the same.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ZkLease } from "../../src/protocol/zk-lease.js";

/** A packet: 4-byte length, then the body. */
function packet(body: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(body.length);
  return Buffer.concat([length, body]);
}
const connectRequest = () => packet(Buffer.alloc(44));
/** ConnectResponse: protocol version, timeout (0: the session had expired), session id, password. */
function connectResponse(timeoutMs: number): Buffer {
  const body = Buffer.alloc(36);
  body.writeInt32BE(timeoutMs, 4);
  body.writeInt32BE(16, 16);
  return packet(body);
}
/** A request or reply whose body starts with its xid (-2 ping, -1 notification). */
function withXid(xid: number, extra = 12): Buffer {
  const body = Buffer.alloc(4 + extra);
  body.writeInt32BE(xid, 0);
  return packet(body);
}

test("the handshake's answer renews to the ConnectRequest's send time, not the time it is read", () => {
  const lease = new ZkLease();
  lease.sent(connectRequest(), 1000);
  assert.is(lease.renewedAt, 0);
  lease.received(connectResponse(4000));
  assert.is(lease.renewedAt, 1000);
});

test("a handshake answered with timeout 0 (session expired) renews nothing", () => {
  const lease = new ZkLease();
  lease.sent(connectRequest(), 1000);
  lease.received(connectResponse(0));
  assert.is(lease.renewedAt, 0);
});

test("replies renew in request order; notifications renew nothing and answer no request", () => {
  const lease = new ZkLease();
  lease.sent(connectRequest(), 1000);
  lease.received(connectResponse(4000));
  lease.sent(withXid(1), 2000);
  lease.sent(withXid(-2, 0), 3000);
  lease.received(withXid(-1, 30));
  assert.is(lease.renewedAt, 1000, "a notification is no answer");
  lease.received(withXid(1));
  assert.is(lease.renewedAt, 2000, "the first reply answers the first request");
  lease.received(withXid(-2, 12));
  assert.is(lease.renewedAt, 3000, "then the ping");
  lease.received(withXid(5));
  assert.is(lease.renewedAt, 3000, "a reply with no request outstanding renews nothing");
});

test("stale answers read after a freeze renew only to their requests' send times", () => {
  const lease = new ZkLease();
  lease.sent(connectRequest(), 1000);
  lease.received(connectResponse(4000));
  lease.sent(withXid(-2, 0), 2000);
  // Frozen from 2000 to 60000; at wake a new ping goes out before the buffered reply is read.
  lease.sent(withXid(-2, 0), 60_000);
  lease.received(Buffer.concat([withXid(-1), withXid(-2)]));
  assert.is(lease.renewedAt, 2000);
});

test("answers split across chunks at every byte, or joined in one, renew the same", () => {
  const replies = [connectResponse(4000), withXid(-1, 100), withXid(7, 300), withXid(8)];
  const bytes = Buffer.concat(replies);
  const ends = replies.map((_, i) => Buffer.concat(replies.slice(0, i + 1)).length);
  for (const step of [1, 2, 3, 5, 7, bytes.length]) {
    const lease = new ZkLease();
    lease.sent(Buffer.concat([connectRequest(), withXid(7)]), 1000);
    lease.sent(withXid(8), 2000);
    for (let i = 0; i < bytes.length; i += step) {
      lease.received(bytes.subarray(i, i + step));
      const read = Math.min(i + step, bytes.length);
      const expected = read >= ends[3]! ? 2000 : read >= ends[0]! ? 1000 : 0;
      assert.is(lease.renewedAt, expected, `step ${step}, ${read} bytes read`);
    }
  }
});

test.run();
