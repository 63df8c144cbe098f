/**
 * Shared by the JetStream sink tests: read a whole stream back, in stream order, with an
 * ordered consumer (what a downstream reader of the sink would do).
 */
import { connect } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { FlatMessage } from "../../src/actors/sink/index.js";

export interface StoredFlatMessage {
  seq: number;
  subject: string;
  /** The Nats-Msg-Id header. */
  msgId: string | undefined;
  text: string;
  json: FlatMessage;
}

/** Every message of the stream, in stream order (bounded: at most `max`, within `timeoutMs`). */
export async function readStream(url: string, stream: string, { max = 100_000, timeoutMs = 20_000 } = {}): Promise<StoredFlatMessage[]> {
  const nc = await connect({ servers: url });
  try {
    const jsm = await jetstreamManager(nc);
    const total = (await jsm.streams.info(stream)).state.messages;
    const consumer = await jetstream(nc).consumers.get(stream);
    const out: StoredFlatMessage[] = [];
    const deadline = Date.now() + timeoutMs;
    while (out.length < Math.min(total, max) && Date.now() < deadline) {
      const batch = await consumer.fetch({ max_messages: 1000, expires: 1000 });
      for await (const m of batch) {
        out.push({ seq: m.seq, subject: m.subject, msgId: m.headers?.get("Nats-Msg-Id"), text: m.string(), json: m.json<FlatMessage>() });
        if (out.length >= Math.min(total, max)) break;
      }
    }
    return out;
  } finally {
    await nc.close();
  }
}

/** The number of messages the stream holds now (0 when it does not exist yet). */
export async function streamCount(url: string, stream: string): Promise<number> {
  const nc = await connect({ servers: url });
  try {
    const jsm = await jetstreamManager(nc);
    return (await jsm.streams.info(stream)).state.messages;
  } catch {
    return 0;
  } finally {
    await nc.close();
  }
}

export async function until(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
