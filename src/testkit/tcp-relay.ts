/**
 * A TCP relay in front of a real server on loopback, to make network trouble on demand: a
 * server going down (connections reset, new ones refused) or a partition (sockets stay open,
 * nothing gets through either way), and healing. Tests put it between a client and ZooKeeper.
 *
 *   const relay = await TcpRelay.start(zk.port);
 *   connect to relay.connectString …; relay.blackhole(); …; relay.heal(); await relay.stop();
 *
 * `TcpRelayGroup` does the same in front of every member of an ensemble at once: cutting them
 * all partitions a client from the whole ensemble.
 */
import { connect, createServer, type Server, type Socket } from "node:net";
import { freePort, LOOPBACK } from "./process.js";

export class TcpRelay {
  private mode: "pass" | "refuse" | "blackhole" = "pass";
  private readonly pairs = new Set<[Socket, Socket]>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(targetPort: number): Promise<TcpRelay> {
    const port = await freePort();
    const server = createServer();
    const relay = new TcpRelay(server, port);
    server.on("connection", (down) => relay.accept(down, targetPort));
    await new Promise<void>((resolve) => server.listen(port, LOOPBACK, resolve));
    return relay;
  }

  get connectString(): string {
    return `${LOOPBACK}:${this.port}`;
  }

  /** A server going down: existing connections are reset and new ones refused. */
  refuse(): void {
    this.mode = "refuse";
    for (const [down, up] of this.pairs) down.destroy(), up.destroy();
  }

  /** A partition: sockets stay open, nothing gets through, in either direction. */
  blackhole(): void {
    this.mode = "blackhole";
  }

  heal(): void {
    this.mode = "pass";
  }

  async stop(): Promise<void> {
    this.refuse();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(down: Socket, targetPort: number): void {
    if (this.mode === "refuse") return void down.destroy();
    const up = connect(targetPort, LOOPBACK);
    const pair: [Socket, Socket] = [down, up];
    this.pairs.add(pair);
    const forward = (to: Socket) => (chunk: Buffer) => {
      if (this.mode === "pass") to.write(chunk);
    };
    down.on("data", forward(up));
    up.on("data", forward(down));
    const end = () => {
      down.destroy();
      up.destroy();
      this.pairs.delete(pair);
    };
    for (const s of pair) s.on("close", end).on("error", end);
  }
}

/** Relays in front of several servers (an ensemble's members), cut and healed together. */
export class TcpRelayGroup {
  private constructor(private readonly relays: TcpRelay[]) {}

  static async start(targetPorts: readonly number[]): Promise<TcpRelayGroup> {
    return new TcpRelayGroup(await Promise.all(targetPorts.map((port) => TcpRelay.start(port))));
  }

  /** Every relay, comma-separated, as a ZooKeeper connect string. */
  get connectString(): string {
    return this.relays.map((r) => r.connectString).join(",");
  }

  refuse(): void {
    for (const r of this.relays) r.refuse();
  }

  blackhole(): void {
    for (const r of this.relays) r.blackhole();
  }

  heal(): void {
    for (const r of this.relays) r.heal();
  }

  async stop(): Promise<void> {
    await Promise.all(this.relays.map((r) => r.stop()));
  }
}
