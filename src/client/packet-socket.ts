/**
 * One TCP connection to a Canal server, as a sequence of Canal packets: frames read by the
 * socket where the pure FrameReader says (a batch straight into memory of its own), whole frames written with one `write` each, every read bounded by a
 * timeout and an optional AbortSignal.
 *
 * A read that times out or is aborted closes the connection: the reply it was waiting for may
 * still come, and a later read would then take it for the reply to something else. So does a
 * frame or packet that cannot be decoded. After close every read and write fails with the
 * reason, a CanalConnectionError unless the cause was a protocol error.
 */
import { connect as tcpConnect, type Socket } from "node:net";
import { CanalConnectionError, CanalError, CanalProtocolError } from "../errors.js";
import { decodePacket, FrameReader, type Packet } from "../protocol/index.js";

export interface PacketSocketOptions {
  host: string;
  port: number;
  /** Bound on the TCP connect, in ms. */
  connectTimeoutMs: number;
  /** Ends a connect in progress. */
  signal?: AbortSignal;
  /** Largest frame accepted; default the FrameDecoder's (256 MiB). */
  maxFrameBytes?: number;
}

export class PacketSocket {
  readonly address: string;
  private readonly frames: FrameReader;
  private readonly received: Packet[] = [];
  private waiter: { resolve(packet: Packet): void; reject(err: CanalError): void } | undefined;
  private closeReason: CanalError | undefined;
  private readonly closedListeners: ((reason: CanalError) => void)[] = [];

  private constructor(
    private readonly socket: Socket,
    options: PacketSocketOptions,
    frames: FrameReader,
  ) {
    this.address = `${options.host}:${options.port}`;
    this.frames = frames;
    socket.setNoDelay(true);
    socket.setKeepAlive(true);
    socket.on("error", (err) => this.close(new CanalConnectionError(`connection to ${this.address} failed: ${err.message}`, { cause: err })));
    socket.on("close", () => this.close(new CanalConnectionError(`connection to ${this.address} was closed by the server`)));
  }

  /** Our end of the connection, `ip:port` (what Canal's client HA writes into its client node). */
  get localAddress(): string {
    const ip = this.socket.localAddress ?? "";
    return `${ip.startsWith("::ffff:") ? ip.slice(7) : ip}:${this.socket.localPort ?? 0}`;
  }

  /** Opens the TCP connection; rejects with a retriable CanalConnectionError naming the address. */
  static open(options: PacketSocketOptions): Promise<PacketSocket> {
    const address = `${options.host}:${options.port}`;
    return new Promise((resolve, reject) => {
      if (options.signal?.aborted) return reject(abortError(`connect to ${address}`, options.signal));
      const frames = new FrameReader(options.maxFrameBytes === undefined ? {} : { maxFrameBytes: options.maxFrameBytes });
      let opened: PacketSocket | undefined;
      // The socket reads where the frame reader says, and each read goes to the connection made
      // in onConnect: Node starts reading only after it has emitted 'connect'.
      const socket = tcpConnect({
        host: options.host,
        port: options.port,
        onread: {
          buffer: () => frames.readBuffer(),
          callback: (n) => {
            opened?.onRead(n);
            return true;
          },
        },
      });
      const fail = (err: CanalError) => {
        cleanup();
        socket.destroy();
        reject(err);
      };
      const timer = setTimeout(() => fail(new CanalConnectionError(`connect to ${address} timed out after ${options.connectTimeoutMs} ms`)), options.connectTimeoutMs);
      const onAbort = () => fail(abortError(`connect to ${address}`, options.signal!));
      const onError = (err: Error) => fail(new CanalConnectionError(`cannot connect to ${address}: ${err.message}`, { cause: err }));
      const onConnect = () => {
        cleanup();
        resolve((opened = new PacketSocket(socket, options, frames)));
      };
      const cleanup = () => {
        clearTimeout(timer);
        options.signal?.removeEventListener("abort", onAbort);
        socket.off("error", onError);
        socket.off("connect", onConnect);
      };
      options.signal?.addEventListener("abort", onAbort, { once: true });
      socket.once("error", onError);
      socket.once("connect", onConnect);
    });
  }

  /** Called once, with the reason, when the connection closes for any reason. */
  onClosed(listener: (reason: CanalError) => void): void {
    if (this.closeReason !== undefined) listener(this.closeReason);
    else this.closedListeners.push(listener);
  }

  /** Writes one whole frame; resolves once it is handed to the kernel. */
  write(frame: Uint8Array): Promise<void> {
    if (this.closeReason !== undefined) return Promise.reject(this.closeReason);
    return new Promise((resolve, reject) => {
      this.socket.write(frame, (err) => (err ? reject(this.closeReason ?? new CanalConnectionError(`write to ${this.address} failed: ${err.message}`, { cause: err })) : resolve()));
    });
  }

  /**
   * The next packet. Waits at most `timeoutMs` (Infinity: no limit besides the signal); a
   * timeout or abort closes the connection (see the module comment). One read at a time.
   */
  read(timeoutMs: number, signal?: AbortSignal): Promise<Packet> {
    if (this.closeReason !== undefined) return Promise.reject(this.closeReason);
    const ready = this.received.shift();
    if (ready !== undefined) return Promise.resolve(ready);
    if (this.waiter !== undefined) return Promise.reject(new CanalError("PacketSocket.read called while another read is waiting"));
    if (signal?.aborted) {
      const err = abortError(`waiting for a reply from ${this.address}`, signal);
      this.close(err);
      return Promise.reject(err);
    }
    return new Promise((resolve, reject) => {
      const timer = Number.isFinite(timeoutMs)
        ? setTimeout(() => this.close(new CanalConnectionError(`no reply from ${this.address} within ${timeoutMs} ms; connection closed`)), timeoutMs)
        : undefined;
      const onAbort = () => this.close(abortError(`waiting for a reply from ${this.address}`, signal!));
      signal?.addEventListener("abort", onAbort, { once: true });
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        this.waiter = undefined;
      };
      this.waiter = {
        resolve: (packet) => (done(), resolve(packet)),
        reject: (err) => (done(), reject(err)),
      };
    });
  }

  /** Closes the connection (idempotent); a waiting read fails with `reason`. */
  close(reason: CanalError = new CanalConnectionError(`connection to ${this.address} closed by the client`, { retriable: false })): void {
    if (this.closeReason !== undefined) return;
    this.closeReason = reason;
    this.received.length = 0;
    this.socket.destroy();
    this.waiter?.reject(reason);
    for (const listener of this.closedListeners.splice(0)) listener(reason);
  }

  /** `n` bytes were read where the frame reader said. */
  private onRead(n: number): void {
    if (this.closeReason !== undefined) return;
    try {
      for (const frame of this.frames.received(n)) {
        const packet = decodePacket(frame);
        if (this.waiter !== undefined) this.waiter.resolve(packet);
        else this.received.push(packet);
      }
    } catch (err) {
      const reason = err instanceof CanalProtocolError ? err : new CanalProtocolError(`undecodable data from ${this.address}: ${String(err)}`, { cause: err });
      this.close(reason);
    }
  }
}

/** The error for an aborted wait: the signal's reason when it is a CanalError, else a non-retriable connection error. */
export function abortError(what: string, signal: AbortSignal): CanalError {
  if (signal.reason instanceof CanalError) return signal.reason;
  return new CanalConnectionError(`${what} was aborted`, { retriable: false, cause: signal.reason });
}
