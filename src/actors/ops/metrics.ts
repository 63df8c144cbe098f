/**
 * The node's Prometheus metrics, on prom-client. Two families:
 *
 *   - Canal's own names (canal-facts.md §9) for what canal-ts measures the same way, so existing
 *     Canal dashboards keep working: `canal_instance_*` per destination, counters without a
 *     `_total` suffix, delays in ms. Like Canal, the per-destination gauges exist only while the
 *     destination runs on this node; unlike Canal, counters stay (at their last value) when it
 *     moves away, so `rate()` over a node that ran it stays correct.
 *   - Ours, `canal_ts_*`: instance state, takeovers and their duration, lag that tells idle from
 *     stalled, store usage, cursors, clients, the ZooKeeper session.
 *
 * The node's counters live in the actors (CanalServer.stats, EventStore.stats, the binlog
 * stream's stats) as plain numbers on the data path; they are read only when Prometheus
 * scrapes (`render`), never per row. A destination that restarts here starts its counters from
 * 0 again; `CounterSync` turns every source into a monotonic counter anyway.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry, type Metric } from "prom-client";
import { GET_LATENCY_BUCKETS_MS } from "../session-stats.js";
import type { InstanceState } from "../../machines/instance.js";
import type { SinkStats } from "../sink/jetstream-sink.js";
import type { NodeView } from "./node-view.js";
import { SOURCE_STATES, sourceHealth } from "./source-health.js";
import { TAKEOVER_CAUSES, TakeoverClock, type Takeover } from "./takeover-clock.js";

/** Every state a destination can be in, so each gets a 0/1 series (absent series break alerts). */
const DESTINATION_STATES = ["offline", "standby", "contending", "starting", "running", "releasing", "fenced", "retrying", "stopped", "failed"] as const;
const ZK_STATES = ["live", "suspended", "gone"] as const;
const SINK_STATES = ["connecting", "publishing", "retrying", "stopped"] as const satisfies readonly SinkStats["state"][];

/** Takeover duration buckets, seconds: from a handover (well under 1 s) to a slow failover. */
const TAKEOVER_BUCKETS_S = [0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 30, 60];

export interface NodeMetricsOptions {
  nodeId: string;
  version?: string;
  /** Each destination's store batch mode (config store.batchMode), for Canal's canal_instance_store labels. */
  batchModes?: ReadonlyMap<string, string>;
}

export class NodeMetrics {
  readonly registry = new Registry();
  private view: NodeView | undefined;
  private readonly sync = new CounterSync();
  private readonly clocks = new Map<string, TakeoverClock>();
  private inspectionDropped: (() => number) | undefined;
  private zkLosses = 0;

  // ---- Canal's names (§9) ----
  private readonly canalInstance = this.gauge("canal_instance", "1 while the destination runs on this node (Canal: registered instance)", ["destination", "mode"]);
  private readonly trafficDelay = this.gauge("canal_instance_traffic_delay", "ms between now and the newest change read (0 when caught up, as a heartbeat sets it in Canal)", ["destination"]);
  private readonly subscriptions = this.gauge("canal_instance_subscriptions", "subscribed client ids", ["destination"]);
  private readonly receivedBytes = this.counter("canal_instance_received_binlog_bytes", "binlog bytes received from the database", ["destination", "parser"]);
  private readonly parserMode = this.gauge("canal_instance_parser_mode", "1; parallel is always false (one decoder per destination)", ["destination", "parallel"]);
  private readonly sinkBlocking = this.counter("canal_instance_sink_blocking_time", "ms the source waited on a full store", ["destination"]);
  private readonly produceSeq = this.counter("canal_instance_store_produce_seq", "entries put into the store", ["destination"]);
  private readonly consumeSeq = this.counter("canal_instance_store_consume_seq", "entries acked by clients", ["destination"]);
  private readonly storeInfo = this.gauge("canal_instance_store", "1, with the store's batch mode and size", ["destination", "batchMode", "size"]);
  private readonly produceMem = this.counter("canal_instance_store_produce_mem", "bytes put into the store", ["destination"]);
  private readonly consumeMem = this.counter("canal_instance_store_consume_mem", "bytes acked by clients", ["destination"]);
  private readonly putDelay = this.gauge("canal_instance_put_delay", "ms between now and the execute time of the last entry put", ["destination"]);
  private readonly getDelay = this.gauge("canal_instance_get_delay", "ms between now and the execute time of the last entry handed out", ["destination"]);
  private readonly ackDelay = this.gauge("canal_instance_ack_delay", "ms between now and the execute time of the last entry acked", ["destination"]);
  private readonly putRows = this.counter("canal_instance_put_rows", "table rows put into the store (rows in)", ["destination"]);
  private readonly getRows = this.counter("canal_instance_get_rows", "table rows handed to clients, redeliveries included (rows out)", ["destination"]);
  private readonly ackRows = this.counter("canal_instance_ack_rows", "table rows acked by clients", ["destination"]);

  // ---- ours ----
  private readonly nodeInfo = this.gauge("canal_ts_node_info", "1, with the node's id, mode and address", ["node_id", "mode", "address", "version"]);
  private readonly instanceState = this.gauge("canal_ts_instance_state", "1 for the state the destination is in on this node, 0 for the others", ["destination", "state"]);
  private readonly takeovers = this.counter("canal_ts_takeovers_total", "times the destination came up on this node, by cause (failover, handover, start)", ["destination", "cause"]);
  private readonly takeoverSeconds = new Histogram({
    name: "canal_ts_takeover_duration_seconds",
    help: "from seeing the previous owner gone (failover, handover) or from contending (start) to serving here",
    labelNames: ["destination", "cause"],
    buckets: TAKEOVER_BUCKETS_S,
    registers: [this.registry],
  });
  private readonly lastTakeover = this.gauge("canal_ts_takeover_last_duration_seconds", "duration of the latest takeover on this node", ["destination", "cause"]);
  private readonly lag = this.gauge("canal_ts_source_lag_seconds", "how far the destination is behind the database (0 when a heartbeat showed it caught up)", ["destination"]);
  private readonly sourceState = this.gauge("canal_ts_source_state", "1 for streaming, idle (caught up), stalled (nothing heard for 2 heartbeat periods) or blocked (store full)", ["destination", "state"]);
  private readonly silent = this.gauge("canal_ts_source_silent_seconds", "seconds since anything (change or heartbeat) came from the database", ["destination"]);
  private readonly storeEntries = this.gauge("canal_ts_store_entries", "entries held in the store (put, not yet acked)", ["destination"]);
  private readonly storeBytes = this.gauge("canal_ts_store_bytes", "bytes held in the store", ["destination"]);
  private readonly storeMaxEntries = this.gauge("canal_ts_store_max_entries", "the store's entry bound", ["destination"]);
  private readonly storeMaxBytes = this.gauge("canal_ts_store_max_bytes", "the store's byte bound", ["destination"]);
  private readonly cursorOffset = this.gauge("canal_ts_cursor_offset", "offset of the client's acked cursor in its binlog file", ["destination", "client_id"]);
  private readonly cursorFile = this.gauge("canal_ts_cursor_file_index", "number of the binlog file of the client's acked cursor (mysql-bin.000042: 42)", ["destination", "client_id"]);
  private readonly cursorTime = this.gauge("canal_ts_cursor_timestamp_seconds", "execute time of the change at the client's acked cursor", ["destination", "client_id"]);
  private readonly clients = this.gauge("canal_ts_clients", "client connections open", []);
  private readonly connections = this.counter("canal_ts_client_connections_total", "client connections accepted", []);
  private readonly packets = this.counter("canal_ts_client_packets_total", "client packets received, by type", ["packetType"]);
  private readonly clientErrors = this.counter("canal_ts_client_errors_total", "error acks sent, by code", ["errorCode"]);
  private readonly clientBytes = this.counter("canal_ts_client_bytes_total", "bytes from (in) and to (out) clients", ["direction"]);
  private readonly clientEntries = this.counter("canal_ts_client_entries_total", "entries sent to clients", []);
  private readonly zkSession = this.gauge("canal_ts_zookeeper_session", "1 for the state of the node's ZooKeeper session (live, suspended, gone)", ["state"]);
  private readonly zkLossCount = this.counter("canal_ts_zookeeper_session_losses_total", "ZooKeeper sessions lost (expired or unreachable past the timeout)", []);
  private readonly dropped = this.counter("canal_ts_inspection_dropped_events_total", "inspection events dropped because the NATS queue was full", []);
  private readonly sinkMessages = this.counter("canal_ts_sink_messages_total", "flat messages the JetStream sink published: stored, or dropped by JetStream as duplicates (replays)", ["destination", "outcome"]);
  private readonly sinkBatches = this.counter("canal_ts_sink_batches_total", "batches the JetStream sink published and acked", ["destination"]);
  private readonly sinkFailures = this.counter("canal_ts_sink_failures_total", "times the JetStream sink failed and rolled its batch back to retry", ["destination"]);
  private readonly sinkState = this.gauge("canal_ts_sink_state", "1 for the state the JetStream sink is in (connecting, publishing, retrying, stopped), 0 for the others", ["destination", "state"]);

  constructor(private readonly options: NodeMetricsOptions) {
    // Canal serves the JVM's and the process's standard metrics beside its own; these are Node's.
    collectDefaultMetrics({ register: this.registry });
    // GET latency as the server counts it (cumulative buckets in ms, Canal's bounds and longer
    // waits): exposed as it is, since the counts are already a histogram.
    this.registry.registerMetric(precomputedHistogram("canal_ts_client_get_latency_ms", "ms from taking a GET to writing its reply, waits included", () => this.view?.server().getLatency) as unknown as Metric);
  }

  /** The node, once it has started; before, only process metrics and takeovers are served. */
  attach(view: NodeView): void {
    this.view = view;
  }

  /**
   * An instance's snapshot (a cluster node's onSnapshot hook): times takeovers as they happen,
   * so none is missed between two scrapes.
   */
  instanceSnapshot(destination: string, address: string, state: InstanceState, owner: string | undefined, handover: boolean): Takeover | undefined {
    let clock = this.clocks.get(destination);
    if (clock === undefined) this.clocks.set(destination, (clock = new TakeoverClock(address)));
    const done = clock.update(state, owner, handover, Date.now());
    if (done !== undefined) {
      this.takeovers.inc({ destination, cause: done.cause });
      this.takeoverSeconds.observe({ destination, cause: done.cause }, done.ms / 1000);
      for (const cause of TAKEOVER_CAUSES) this.lastTakeover.remove({ destination, cause });
      this.lastTakeover.set({ destination, cause: done.cause }, done.ms / 1000);
    }
    return done;
  }

  /** The node's ZooKeeper session was lost. */
  zookeeperSessionLost(): void {
    this.zkLosses++;
  }

  /**
   * Hook for the NATS inspection publisher: how many inspection events it has dropped so far
   * (a cumulative count). Until one is set, the counter stays at 0.
   */
  setInspectionDropped(read: () => number): void {
    this.inspectionDropped = read;
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** Reads every counter of the node and renders the text exposition. */
  async render(): Promise<string> {
    this.refresh(Date.now());
    return this.registry.metrics();
  }

  private refresh(now: number): void {
    const { nodeId, version = "" } = this.options;
    this.sync.to(this.zkLossCount, {}, "zk", this.zkLosses);
    if (this.inspectionDropped !== undefined) this.sync.to(this.dropped, {}, "inspection", this.inspectionDropped());
    const view = this.view;
    if (view === undefined) return;
    this.nodeInfo.reset();
    this.nodeInfo.set({ node_id: nodeId, mode: view.mode, address: view.address, version }, 1);

    const server = view.server();
    this.clients.set(server.connectionsOpen);
    this.sync.to(this.connections, {}, "server", server.connectionsAccepted);
    for (const [packetType, n] of Object.entries(server.packets)) this.sync.to(this.packets, { packetType }, "server", n);
    for (const [errorCode, n] of Object.entries(server.errors)) this.sync.to(this.clientErrors, { errorCode }, "server", n);
    this.sync.to(this.clientBytes, { direction: "in" }, "server", server.bytesIn);
    this.sync.to(this.clientBytes, { direction: "out" }, "server", server.bytesOut);
    this.sync.to(this.clientEntries, {}, "server", server.entriesOut);

    const zk = view.zookeeper();
    if (zk !== undefined) for (const state of ZK_STATES) this.zkSession.set({ state }, zk.state === state ? 1 : 0);

    for (const d of view.destinations()) {
      const destination = d.name;
      for (const state of DESTINATION_STATES) this.instanceState.set({ destination, state }, d.state === state ? 1 : 0);
      const serving = d.serving;
      if (serving === undefined) {
        this.removeRunningGauges(destination);
        continue;
      }
      const stats = serving.stats;
      const store = stats.store;
      const source = stats.source;
      // The counters of this run of the destination: a new run starts a new source for CounterSync.
      const run = serving;
      this.canalInstance.set({ destination, mode: "spring" }, 1);
      this.parserMode.set({ destination, parallel: "false" }, 1);
      removeMatching(this.storeInfo, { destination });
      this.storeInfo.set({ destination, batchMode: this.options.batchModes?.get(destination) ?? "MEMSIZE", size: String(store.bufferSize) }, 1);
      this.subscriptions.set({ destination }, stats.cursors.length);
      if (source !== undefined) this.sync.to(this.receivedBytes, { destination, parser: "0" }, run, source.stream.bytes);
      this.sync.to(this.sinkBlocking, { destination }, run, store.blockedMs);
      this.sync.to(this.produceSeq, { destination }, run, store.putSequence);
      this.sync.to(this.consumeSeq, { destination }, run, store.ackSequence);
      this.sync.to(this.produceMem, { destination }, run, store.putBytes);
      this.sync.to(this.consumeMem, { destination }, run, store.ackBytes);
      this.sync.to(this.putRows, { destination }, run, store.putRows);
      this.sync.to(this.getRows, { destination }, run, store.getRows);
      this.sync.to(this.ackRows, { destination }, run, store.ackRows);
      // Canal clamps: what was got cannot be newer than what was put, nor acked newer than got.
      const putT = store.putExecTime;
      const getT = Math.min(store.getExecTime, putT);
      const ackT = Math.min(store.ackExecTime, getT);
      const delay = (t: number) => (t > 0 ? Math.max(0, now - t) : 0);
      this.putDelay.set({ destination }, delay(putT));
      this.getDelay.set({ destination }, delay(getT));
      this.ackDelay.set({ destination }, delay(ackT));

      const health = sourceHealth(source?.stream, stats.blocked, now);
      this.lag.set({ destination }, health.lagMs / 1000);
      this.trafficDelay.set({ destination }, health.lagMs);
      this.silent.set({ destination }, health.silentMs / 1000);
      for (const state of SOURCE_STATES) this.sourceState.set({ destination, state }, health.state === state ? 1 : 0);

      this.storeEntries.set({ destination }, store.heldEntries);
      this.storeBytes.set({ destination }, store.heldBytes);
      this.storeMaxEntries.set({ destination }, store.bufferSize);
      this.storeMaxBytes.set({ destination }, store.maxBytes);
      const sink = stats.sink;
      if (sink !== undefined) {
        this.sync.to(this.sinkMessages, { destination, outcome: "stored" }, run, sink.published);
        this.sync.to(this.sinkMessages, { destination, outcome: "duplicate" }, run, sink.duplicates);
        this.sync.to(this.sinkBatches, { destination }, run, sink.batches);
        this.sync.to(this.sinkFailures, { destination }, run, sink.failures);
        for (const state of SINK_STATES) this.sinkState.set({ destination, state }, sink.state === state ? 1 : 0);
      }
      for (const client of stats.cursors) {
        const labels = { destination, client_id: String(client.clientId) };
        if (client.cursor === undefined) continue;
        this.cursorOffset.set(labels, client.cursor.position);
        this.cursorFile.set(labels, fileIndex(client.cursor.journalName));
        if (client.cursor.timestamp !== undefined) this.cursorTime.set(labels, client.cursor.timestamp / 1000);
      }
    }
  }

  /** Gauges that describe a destination running here; Canal too drops them when it stops. */
  private removeRunningGauges(destination: string): void {
    for (const gauge of [this.trafficDelay, this.subscriptions, this.putDelay, this.getDelay, this.ackDelay, this.lag, this.silent, this.storeEntries, this.storeBytes, this.storeMaxEntries, this.storeMaxBytes]) {
      gauge.remove({ destination });
    }
    this.canalInstance.remove({ destination, mode: "spring" });
    this.parserMode.remove({ destination, parallel: "false" });
    for (const state of SOURCE_STATES) this.sourceState.remove({ destination, state });
    for (const state of SINK_STATES) this.sinkState.remove({ destination, state });
    for (const gauge of [this.cursorOffset, this.cursorFile, this.cursorTime, this.storeInfo]) removeMatching(gauge, { destination });
  }

  private gauge<L extends string>(name: string, help: string, labelNames: L[]): Gauge<L> {
    return new Gauge({ name, help, labelNames, registers: [this.registry] });
  }

  private counter<L extends string>(name: string, help: string, labelNames: L[]): Counter<L> {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }
}

/** `mysql-bin.000042` → 42; a name without a numeric suffix → 0. */
function fileIndex(journalName: string): number {
  const match = /\.(\d+)$/.exec(journalName);
  return match === null ? 0 : Number(match[1]);
}

/** Removes every series of `gauge` whose labels include `partial` (prom-client removes by exact labels only). */
function removeMatching(gauge: Gauge<string>, partial: Record<string, string>): void {
  const hashMap = (gauge as unknown as { hashMap?: Record<string, { labels: Record<string, string | number> }> }).hashMap;
  if (hashMap === undefined) return;
  for (const { labels } of Object.values(hashMap)) {
    if (Object.entries(partial).every(([k, v]) => labels[k] === v)) gauge.remove(labels);
  }
}

/**
 * Turns cumulative counts kept elsewhere into prom-client counters: each scrape adds what grew
 * since the last one. A count that belongs to a new source (a destination started again here)
 * or went down (a rewind, as a rollback rewinds get counts) starts a new baseline instead of
 * subtracting, so the exported counter never goes back.
 */
class CounterSync {
  private readonly last = new Map<string, { source: number; value: number }>();
  /** Sources by identity, as numbers: a stopped destination must not be kept alive by its metrics. */
  private readonly ids = new WeakMap<object, number>();
  private nextId = 1;

  to<L extends string>(counter: Counter<L>, labels: Partial<Record<L, string>>, sourceObject: object | string, value: number): void {
    const source = typeof sourceObject === "string" ? 0 : this.idOf(sourceObject);
    const key = `${(counter as unknown as { name: string }).name}${JSON.stringify(labels)}`;
    const seen = this.last.get(key);
    const base = seen === undefined ? 0 : seen.source !== source ? 0 : Math.min(seen.value, value);
    if (seen !== undefined && seen.source === source && value < seen.value) {
      this.last.set(key, { source, value });
      return;
    }
    if (value > base) counter.inc(labels, value - base);
    else counter.inc(labels, 0); // the series exists from the first scrape on, at 0
    this.last.set(key, { source, value });
  }

  private idOf(source: object): number {
    let id = this.ids.get(source);
    if (id === undefined) this.ids.set(source, (id = this.nextId++));
    return id;
  }
}

/** A histogram whose buckets are counted elsewhere (cumulative, `le` bounds), exposed as is. */
function precomputedHistogram(name: string, help: string, read: () => { count: number; sumMs: number; buckets: number[] } | undefined) {
  return {
    name,
    help,
    type: "histogram",
    aggregator: "sum",
    reset() {},
    async get() {
      const h = read();
      const values =
        h === undefined
          ? []
          : [
              ...GET_LATENCY_BUCKETS_MS.map((le, i) => ({ metricName: `${name}_bucket`, labels: { le }, value: h.buckets[i] ?? 0 })),
              { metricName: `${name}_bucket`, labels: { le: "+Inf" }, value: h.count },
              { metricName: `${name}_sum`, labels: {}, value: h.sumMs },
              { metricName: `${name}_count`, labels: {}, value: h.count },
            ];
      return { name, help, type: "histogram", values, aggregator: "sum" };
    },
  };
}
