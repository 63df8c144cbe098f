/**
 * What the e2e client process (client.ts, one fresh process per run) gets and gives back: the
 * spec arrives as a JSON argument, the result leaves as the last stdout line, as the decode
 * runners do (bench/decode/child.ts).
 */

export interface ClientSpec {
  host: string;
  port: number;
  destination: string;
  /** Row changes the workload wrote; the client stops when it has seen them all. */
  rows: number;
  /** fetch_size of each get: KiB in the node's default MEMSIZE mode. */
  batchSize: number;
  /** How long each get may wait on the node for a full batch. */
  getTimeoutMs: number;
  /** The client starts with the node and retries connecting until the node's port opens, for at most this long. */
  connectWithinMs: number;
}

export interface ClientResult {
  /** Row changes seen, from the entries' rowsCount (an UPDATE's before/after pair counts once). */
  rows: number;
  entries: number;
  /** Non-empty batches received (each acked). */
  batches: number;
  /** Entry bytes received. */
  bytes: number;
  /** From the first get request to the batch holding the last row. */
  seconds: number;
  /** Epoch ms of the batch holding the last row, to time the run from the node's side too. */
  lastRowAt: number;
  cpuSeconds: number;
  peakRssMiB: number;
}
