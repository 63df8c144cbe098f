/**
 * The lease of one ZooKeeper connection, read from its bytes: the latest moment the server is
 * known to have held the session.
 *
 * A reply proves that the server held the session when it read the request, and every request
 * restarts the session's expiry there, so the session cannot expire before the request's send
 * time plus the session timeout. The time a reply is read proves nothing by itself: bytes that
 * waited in the socket buffer while this process was frozen (SIGSTOP, a long pause) are read when
 * it wakes, possibly long after the session expired. So the lease is the send time of the latest
 * request that was answered.
 *
 * ZooKeeper answers a connection's requests in order, pings included, and every request is
 * answered; a watch notification (xid -1) answers nothing. Every packet is a 4-byte big-endian
 * length and its body. The first packet each way is the handshake: the ConnectRequest, then the
 * ConnectResponse (protocol version, timeout, session id, password), whose timeout is 0 when the
 * session had already expired.
 */

const NOTIFICATION_XID = -1;

/** One connection's lease; feed it every byte written and read, in order. */
export class ZkLease {
  /** Epoch ms of the latest answered request's send time; 0 before the handshake's answer. */
  renewedAt = 0;
  /** Send times of the requests not answered yet, oldest first. */
  private readonly unanswered: number[] = [];
  private handshakeAnswered = false;
  private readonly written = new PacketSplitter(0, () => undefined);
  private readonly read = new PacketSplitter(8, (head) => this.answered(head));

  /** Bytes this client wrote at `at` (epoch ms, taken before the write). */
  sent(bytes: Uint8Array, at: number): void {
    const before = this.written.packets;
    this.written.push(bytes);
    for (let n = before; n < this.written.packets; n++) this.unanswered.push(at);
  }

  /** Bytes this client read from the server. */
  received(bytes: Uint8Array): void {
    this.read.push(bytes);
  }

  private answered(head: Buffer): void {
    if (!this.handshakeAnswered) {
      this.handshakeAnswered = true;
      const sentAt = this.unanswered.shift();
      // A timeout of 0 is the server's "session expired": no renewal.
      if (sentAt !== undefined && head.length >= 8 && head.readInt32BE(4) > 0) this.renew(sentAt);
      return;
    }
    if (head.length >= 4 && head.readInt32BE(0) === NOTIFICATION_XID) return;
    const sentAt = this.unanswered.shift();
    if (sentAt !== undefined) this.renew(sentAt);
  }

  private renew(sentAt: number): void {
    if (sentAt > this.renewedAt) this.renewedAt = sentAt;
  }
}

/** Splits a byte stream into length-prefixed packets; hands on the first `headSize` bytes of each body. */
class PacketSplitter {
  packets = 0;
  private lengthBytes = 0;
  private length = 0;
  /** Body bytes of the current packet still to come. */
  private left = 0;
  private readonly head: Buffer;
  private headLength = 0;

  constructor(
    private readonly headSize: number,
    private readonly onPacket: (head: Buffer) => void,
  ) {
    this.head = Buffer.alloc(headSize);
  }

  push(bytes: Uint8Array): void {
    let i = 0;
    while (i < bytes.length) {
      if (this.lengthBytes < 4) {
        this.length = ((this.length << 8) | bytes[i++]!) >>> 0;
        if (++this.lengthBytes === 4) {
          this.left = this.length;
          this.headLength = 0;
          if (this.left === 0) this.complete();
        }
        continue;
      }
      const take = Math.min(this.left, bytes.length - i);
      const keep = Math.min(take, this.headSize - this.headLength);
      if (keep > 0) {
        this.head.set(bytes.subarray(i, i + keep), this.headLength);
        this.headLength += keep;
      }
      i += take;
      this.left -= take;
      if (this.left === 0) this.complete();
    }
  }

  private complete(): void {
    this.packets++;
    this.lengthBytes = 0;
    this.length = 0;
    this.onPacket(this.head.subarray(0, this.headLength));
  }
}
