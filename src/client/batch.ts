/**
 * What a get returns: Canal's Message (a batch id and its entries), with the entries kept as
 * the bytes the server sent and decoded only when first asked for, and `ack()` / `rollback()`
 * bound to the connection the batch came from.
 */
import { EMPTY_BATCH_ID, decodeEntry, type Entry } from "../protocol/index.js";
import { changesOf, type Change } from "./changes.js";

/** Who settles a batch: the connector that fetched it (or a cluster client wrapping one). */
export interface BatchOwner {
  ack(batch: Batch): Promise<void>;
  rollback(batch: Batch): Promise<void>;
}

export class Batch {
  private decoded: readonly Entry[] | undefined;
  private changeList: readonly Change[] | undefined;

  constructor(
    /** Canal's batch id: from 1, per server session; -1 for an empty get. */
    readonly id: number,
    /** The serialized Canal entries, as received (for those who decode or forward them themselves). */
    readonly raw: readonly Uint8Array[],
    /** The connector connection the batch was received on (batch ids mean something only there). */
    readonly connection: number,
    private readonly owner: BatchOwner,
  ) {}

  get isEmpty(): boolean {
    return this.id === EMPTY_BATCH_ID || this.raw.length === 0;
  }

  /** The decoded entries, decoded on first access. Throws CanalProtocolError on a malformed entry. */
  get entries(): readonly Entry[] {
    return (this.decoded ??= this.raw.map(decodeEntry));
  }

  /** Every row change and statement of the batch, in binlog order (see changes.ts). */
  get changes(): readonly Change[] {
    return (this.changeList ??= this.entries.flatMap(changesOf));
  }

  /**
   * Confirms the batch: the server may forget it and move its cursor. Sent without waiting for
   * a reply (Canal's protocol); a rejection surfaces as CanalLateReplyError on the next call.
   * Throws CanalStaleBatchError, without sending, when the batch's connection has closed.
   */
  ack(): Promise<void> {
    return this.owner.ack(this);
  }

  /** Asks the server to deliver this batch (and, on Canal, everything unacked after it) again. */
  rollback(): Promise<void> {
    return this.owner.rollback(this);
  }
}
