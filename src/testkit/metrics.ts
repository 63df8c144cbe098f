/**
 * Reading a node's Prometheus metrics in tests and the demo: scrape `/metrics` and look series
 * up by name and labels.
 *
 *   const m = await scrapeMetrics(node.metricsPort);
 *   m.value("canal_instance_put_rows", { destination: "d" });   // undefined when absent
 *   m.sum("canal_ts_takeovers_total", { cause: "failover" });   // over every matching series
 */
import { CanalConnectionError } from "../errors.js";
import { LOOPBACK } from "./process.js";

export interface MetricSample {
  name: string;
  labels: Readonly<Record<string, string>>;
  value: number;
}

export interface Metrics {
  readonly samples: readonly MetricSample[];
  /** The value of the one series with exactly these labels (besides none other), or undefined. */
  value(name: string, labels?: Record<string, string>): number | undefined;
  /** The sum over every series of `name` whose labels include `labels`; 0 when none. */
  sum(name: string, labels?: Record<string, string>): number;
}

/** GETs `http://127.0.0.1:<port><path>`; bounded by `timeoutMs`. */
export async function httpGet(port: number, path: string, timeoutMs = 5000): Promise<{ status: number; body: string }> {
  try {
    const res = await fetch(`http://${LOOPBACK}:${port}${path}`, { signal: AbortSignal.timeout(timeoutMs) });
    return { status: res.status, body: await res.text() };
  } catch (err) {
    throw new CanalConnectionError(`GET http://${LOOPBACK}:${port}${path} failed: ${(err as Error).message}`, { cause: err });
  }
}

export async function scrapeMetrics(port: number): Promise<Metrics> {
  const { status, body } = await httpGet(port, "/metrics");
  if (status !== 200) throw new CanalConnectionError(`GET /metrics on port ${port}: status ${status}, expected 200`, { retriable: false });
  return parseMetrics(body);
}

/** Parses Prometheus text format 0.0.4 (what prom-client writes: no timestamps, escaped label values). */
export function parseMetrics(text: string): Metrics {
  const samples: MetricSample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match === null) continue;
    const labels: Record<string, string> = {};
    for (const l of (match[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  const includes = (s: MetricSample, labels: Record<string, string>) => Object.entries(labels).every(([k, v]) => s.labels[k] === v);
  return {
    samples,
    value: (name, labels = {}) =>
      samples.find((s) => s.name === name && includes(s, labels) && Object.keys(s.labels).length === Object.keys(labels).length)?.value,
    sum: (name, labels = {}) => samples.filter((s) => s.name === name && includes(s, labels)).reduce((a, s) => a + s.value, 0),
  };
}
