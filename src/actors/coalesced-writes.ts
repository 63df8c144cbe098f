/**
 * Writes of a state that changes faster than it can be written (acked cursors): at most one
 * write in flight; changes made meanwhile are written together by the next one. `changed()`
 * resolves once a write that began after the change has finished, and rejects with that
 * write's error; a failed write is retried by the next change or flush.
 *
 *   const writes = new CoalescedWrites(() => persist(currentState()));
 *   state.x = 1; await writes.changed();   // durable
 */
export class CoalescedWrites {
  /** Bumped by every change; `written` is the change last durable. */
  private version = 0;
  private written = 0;
  private tail: Promise<void> = Promise.resolve();

  /** `write` persists the whole current state; it is never called twice at once. */
  constructor(private readonly write: () => Promise<void>) {}

  /** The state changed: resolves once it is durable. */
  changed(): Promise<void> {
    this.version++;
    return this.enqueue();
  }

  /** Resolves when every change made so far is durable (and retries a write that failed). */
  flush(): Promise<void> {
    return this.enqueue();
  }

  private enqueue(): Promise<void> {
    const link = this.tail.then(() => this.writeLatest());
    this.tail = link.catch(() => undefined); // a failed write is reported to its callers; the next link tries again
    return link;
  }

  private async writeLatest(): Promise<void> {
    if (this.written === this.version) return; // an earlier link already wrote this change
    const version = this.version;
    await this.write();
    this.written = version;
  }
}
