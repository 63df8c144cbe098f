/**
 * The outstanding (fetched, not yet acked) batches of each client of one destination: Canal's
 * batch marks in MemoryMetaManager with the checks of CanalServerWithEmbedded (canal-facts.md
 * §6.3, §11.19, §11.20).
 *   - Ids count from 1 per client, in memory only, and keep growing across rollbacks. They
 *     also keep growing when a client is forgotten (unsubscribe), so an ack of a batch from
 *     before can never match a new one.
 *   - Several batches may be outstanding. Ack and rollback of one batch must name the oldest;
 *     an id that is not outstanding is "not exist". The texts are Canal's.
 * Ids are handed out in increasing order and only the oldest is ever removed, so a client's
 * marks are a FIFO queue.
 */
import { CanalServerError } from "../../errors.js";
import type { BinlogPosition } from "./entry.js";

export interface BatchMark {
  id: number;
  /** Ring sequence of the batch's last entry. */
  endSeq: number;
  /** Where the cursor moves when the batch is acked; undefined when it holds no ack point. */
  ackPoint: BinlogPosition | undefined;
}

/** An ack or rollback named a batch that is not outstanding for the client. */
export class BatchNotFoundError extends CanalServerError {
  override name = "BatchNotFoundError";
  constructor(operation: "ack" | "rollback", clientId: number, batchId: number) {
    // Canal's two texts differ by a space: "ack error , clientId" vs "rollback error, clientId".
    super(`${operation === "ack" ? "ack error ," : "rollback error,"} clientId:${clientId} batchId:${batchId} is not exist , please check`);
  }
}

/** An ack or rollback named an outstanding batch that is not the oldest. */
export class BatchOrderError extends CanalServerError {
  override name = "BatchOrderError";
  constructor(batchId: number, oldestId: number) {
    super(`batchId:${batchId} is not the firstly:${oldestId}`);
  }
}

interface ClientBatches {
  nextId: number;
  outstanding: BatchMark[];
}

export class BatchLedger {
  private readonly clients = new Map<number, ClientBatches>();

  /** Records a fetched batch and returns its id. */
  add(clientId: number, endSeq: number, ackPoint: BinlogPosition | undefined): number {
    const client = this.client(clientId);
    const id = client.nextId++;
    client.outstanding.push({ id, endSeq, ackPoint });
    return id;
  }

  /** Removes the client's oldest batch, which must be `batchId`. */
  removeOldest(operation: "ack" | "rollback", clientId: number, batchId: number): BatchMark {
    const outstanding = this.clients.get(clientId)?.outstanding ?? [];
    if (!outstanding.some((mark) => mark.id === batchId)) throw new BatchNotFoundError(operation, clientId, batchId);
    const oldest = outstanding[0]!;
    if (oldest.id !== batchId) throw new BatchOrderError(batchId, oldest.id);
    return outstanding.shift()!;
  }

  /** Drops every outstanding batch of the client (rollback of all, unsubscribe). */
  clear(clientId: number): void {
    const client = this.clients.get(clientId);
    if (client !== undefined) client.outstanding.length = 0;
  }

  /** Ids of the client's outstanding batches, oldest first. */
  outstandingIds(clientId: number): number[] {
    return (this.clients.get(clientId)?.outstanding ?? []).map((mark) => mark.id);
  }

  private client(clientId: number): ClientBatches {
    let client = this.clients.get(clientId);
    if (client === undefined) this.clients.set(clientId, (client = { nextId: 1, outstanding: [] }));
    return client;
  }
}
