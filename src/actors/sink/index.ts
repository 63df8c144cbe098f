/**
 * The sinks a destination can publish to (today: NATS JetStream, in Canal's flat-message JSON).
 * The nodes start one with the destination wherever it runs and stop it before the destination.
 */
import type { DestinationConfig } from "../../config/types.js";
import type { ServerLog } from "../session.js";
import { JetStreamSink, type JetStreamSinkOptions } from "./jetstream-sink.js";

export { JetStreamSink, type JetStreamSinkOptions, type SinkStats } from "./jetstream-sink.js";
export { flatMessageJson, flatRowsOf, type FlatMessage, type FlatRow } from "./flat-message.js";

/** Starts the destination's sink when its config has one; undefined otherwise. */
export function startSink(
  config: DestinationConfig,
  destination: JetStreamSinkOptions["destination"],
  log: ServerLog,
  options: { nodeId?: string; stillServing?(): boolean } = {},
): JetStreamSink | undefined {
  if (config.sink === undefined) return undefined;
  return JetStreamSink.start({ destination, config: config.sink, log, ...options });
}
