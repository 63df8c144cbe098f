/**
 * The sinks a destination can publish to (today: NATS JetStream, in Canal's flat-message JSON).
 * The nodes start one with the destination wherever it runs and stop it before the destination.
 */
import type { DestinationConfig } from "../../config/types.js";
import type { Destination } from "../destination.js";
import type { ServerLog } from "../session.js";
import { JetStreamSink, type JetStreamSinkOptions } from "./jetstream-sink.js";

export { JetStreamSink, type JetStreamSinkOptions, type SinkStats } from "./jetstream-sink.js";
export { flatMessageJson, flatRowsOf, type FlatMessage, type FlatRow } from "./flat-message.js";

/** Starts the destination's sink when its config has one (its counters then join the destination's stats); undefined otherwise. */
export function startSink(
  config: DestinationConfig,
  destination: Destination,
  log: ServerLog,
  options: Pick<JetStreamSinkOptions, "nodeId" | "stillServing"> = {},
): JetStreamSink | undefined {
  if (config.sink === undefined) return undefined;
  const sink = JetStreamSink.start({ destination, config: config.sink, log, ...options });
  destination.sink = sink;
  return sink;
}
