/**
 * One call at a time on a connection, in the order they were made. Canal's server answers a
 * connection's packets strictly in order, so a reply can only be matched to its request if no
 * other request goes out in between (request-channel.ts).
 */
export class Mutex {
  private tail: Promise<void> = Promise.resolve();

  /** Resolves, in call order, with the function that lets the next caller in. */
  lock(): Promise<() => void> {
    let release!: () => void;
    const turn = new Promise<void>((resolve) => (release = resolve));
    const ready = this.tail.then(() => release);
    this.tail = this.tail.then(() => turn);
    return ready;
  }
}
