/**
 * The live view of a node's machines on its HTTP port (issue 8):
 *
 *   GET /charts         one HTML page, nothing external: per destination the instance machine's
 *                       chart with the current state (and its enclosing states) highlighted, the
 *                       TCP sessions with theirs, the ZooKeeper session and the binlog source.
 *   GET /charts/state   JSON: the current state of every instance, session and the rest, with
 *                       the seq it is as of.
 *   GET /charts/events  server-sent events: every TransitionDoc as it happens (./live-feed.ts).
 *
 * The charts are the committed Graphviz SVGs (docs/charts/*.svg, drawn from the machines by
 * `canal-ts chart --format svg`, kept in sync by test/charts), read when the page is asked for:
 * the page highlights `<g class="node"><title>STATE.ID</title>` and the clusters
 * `cluster_STATE.ID` around it. The page opens the event stream first and then reads the
 * state, applying only documents newer than the state's seq, so nothing falls between the two.
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { CanalConfigError } from "../../errors.js";
import type { Inspector } from "../nats/inspector.js";
import type { TransitionDoc } from "../nats/subjects.js";
import type { NodeView } from "./node-view.js";

/** The charts the page draws, by machine. */
const CHART_FILES = { instance: "instance.svg", session: "session.svg" } as const;
/** Enough for any install layout (src/actors/ops, dist/); the walk also stops at the root. */
const MAX_WALK_UP = 32;

/**
 * The nearest `docs/charts` holding the page's SVGs, walking up from `start` (this module's
 * directory by default: src/actors/ops under tsx, dist/ in the bundle); null if none.
 */
export function findChartsDir(start: string = dirname(fileURLToPath(import.meta.url))): string | null {
  let dir = start;
  for (let i = 0; i < MAX_WALK_UP; i++) {
    const candidate = join(dir, "docs", "charts");
    if (existsSync(join(candidate, CHART_FILES.instance))) return candidate;
    const parent = dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
  return null;
}

/** The SVG element alone: the XML prolog, doctype and comments cannot stand inside HTML. */
function svgElement(text: string, file: string): string {
  const start = text.indexOf("<svg");
  const end = text.lastIndexOf("</svg>");
  if (start < 0 || end < start) throw new CanalConfigError(`state chart ${file}: expected an SVG document (<svg …>…</svg>), found none`);
  return text
    .slice(start, end + "</svg>".length)
    .replace(/<!--[\s\S]*?-->/g, "")
    .replace(/^<svg width="[^"]*" height="[^"]*"/, "<svg");
}

/** Both charts, or a CanalConfigError that says where they were looked for. */
export async function readCharts(dir: string | null = findChartsDir()): Promise<Record<keyof typeof CHART_FILES, string>> {
  if (dir === null) {
    throw new CanalConfigError(
      `no state charts: expected docs/charts/${CHART_FILES.instance} in a directory above ${dirname(fileURLToPath(import.meta.url))} (the repository's docs/charts, or regenerate them with: canal-ts chart --format svg --out docs/charts)`,
    );
  }
  const out: Partial<Record<keyof typeof CHART_FILES, string>> = {};
  for (const [machine, file] of Object.entries(CHART_FILES) as Array<[keyof typeof CHART_FILES, string]>) {
    const path = join(dir, file);
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch (err) {
      throw new CanalConfigError(`state chart ${path}: cannot read it (${(err as Error).message}); expected the SVG drawn by canal-ts chart --format svg`, { cause: err });
    }
    out[machine] = svgElement(text, path);
  }
  return out as Record<keyof typeof CHART_FILES, string>;
}

export interface ChartState {
  node: string;
  boot: string;
  /** The picture includes every document up to this seq; apply only later ones from the stream. */
  seq: number;
  mode: "standalone" | "cluster" | "starting";
  address: string | undefined;
  destinations: Array<{ name: string; instance: string | null; source: string | null; owner: string | null }>;
  zookeeper: string | null;
  sessions: Array<{ actor: string; destination: string; state: string; remote: string | null }>;
  /** The last document of every actor, as the stream would have sent it. */
  actors: TransitionDoc[];
}

/** The current picture, from the inspector's last documents and the node's own list of destinations. */
export function chartState(inspector: Inspector, view: NodeView | undefined): ChartState {
  const actors = inspector.current();
  const of = (destination: string, actor: string) => actors.find((d) => d.destination === destination && d.actor === actor);
  const names = new Set(view?.destinations().map((d) => d.name) ?? []);
  for (const d of actors) if (d.actor === "instance" || d.actor === "source") names.add(d.destination);
  return {
    node: inspector.node,
    boot: inspector.boot,
    seq: inspector.lastSeq,
    mode: view?.mode ?? "starting",
    address: view?.address,
    destinations: [...names].sort().map((name) => {
      const instance = of(name, "instance");
      return {
        name,
        instance: instance?.to ?? null,
        source: of(name, "source")?.to ?? null,
        owner: typeof instance?.fields["owner"] === "string" ? instance.fields["owner"] : null,
      };
    }),
    zookeeper: actors.find((d) => d.actor === "zk-session")?.to ?? null,
    sessions: actors
      .filter((d) => d.actor.startsWith("session-"))
      .map((d) => ({ actor: d.actor, destination: d.destination, state: d.to, remote: typeof d.fields["remote"] === "string" ? d.fields["remote"] : null })),
    actors,
  };
}

/** The page: the two SVGs as templates the script clones per destination and per session. */
export function chartsPage(node: string, charts: Record<keyof typeof CHART_FILES, string>): string {
  const title = `canal-ts ${escapeHtml(node)}: state charts`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${title}</title>
<style>${PAGE_CSS}</style>
</head>
<body>
<header><h1>${title}</h1><span id="status" class="status">connecting…</span></header>
<p id="summary"></p>
<div id="destinations"></div>
<h2>TCP sessions</h2>
<div id="sessions"><p class="muted">none</p></div>
<template id="chart-instance">${charts.instance}</template>
<template id="chart-session">${charts.session}</template>
<script>${PAGE_SCRIPT}</script>
</body>
</html>
`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const PAGE_CSS = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 1em 2em; color: #222; }
header { display: flex; align-items: baseline; gap: 1em; }
h1 { font-size: 1.3em; margin: 0; }
h2 { font-size: 1.1em; margin: 1.2em 0 0.4em; }
.status { padding: 0.1em 0.6em; border-radius: 1em; background: #eee; }
.status.live { background: #d8f5d8; }
.status.down { background: #f8d8d8; }
.muted { color: #888; }
.state { font-family: ui-monospace, monospace; font-weight: bold; color: #b00; }
.chart { border: 1px solid #ddd; border-radius: 4px; padding: 4px; max-width: 1100px; }
.chart svg { width: 100%; height: auto; }
.chart g.node.current > path, .chart g.node.current > polygon, .chart g.node.current > ellipse { stroke: #d00; stroke-width: 3; fill: #ffe3e3; }
.chart g.node.current > text { font-weight: bold; fill: #900; }
.chart g.cluster.current > path, .chart g.cluster.current > polygon { stroke: #d00; stroke-width: 2; fill: #fff6f6; }
.sessions-grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(720px, 1fr)); gap: 1em; }
table { border-collapse: collapse; }
td, th { padding: 0.2em 0.8em; border-bottom: 1px solid #eee; text-align: left; }
`;

/**
 * Plain browser JavaScript (no build step, no library). A state string is the inspector's
 * stateString: `active.serving`, or `open.authenticated.(request.idle,subscription.subscribed)`
 * for parallel regions; stateIds turns it into every state id it is in.
 */
const PAGE_SCRIPT = `
"use strict";
const SESSION_CHARTS = 4;
let boot = null, seq = 0, buffer = null, mode = "starting", address = null, destinations = [];
const actors = new Map();
const $ = (id) => document.getElementById(id);
const keyOf = (d) => d.actor.startsWith("session-") ? d.actor : d.destination + "/" + d.actor;

function splitTop(text) {
  const parts = []; let depth = 0, from = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "(") depth++;
    else if (c === ")") depth--;
    else if (c === "," && depth === 0) { parts.push(text.slice(from, i)); from = i + 1; }
  }
  parts.push(text.slice(from));
  return parts;
}
function stateIds(state) {
  const ids = [];
  const walk = (text, prefix) => {
    if (text.startsWith("(") && text.endsWith(")")) { for (const part of splitTop(text.slice(1, -1))) walk(part, prefix); return; }
    const dot = text.indexOf(".");
    if (dot < 0) { ids.push(prefix + text); return; }
    const id = prefix + text.slice(0, dot);
    ids.push(id);
    walk(text.slice(dot + 1), id + ".");
  };
  walk(state, "");
  return ids;
}
function highlight(chart, state) {
  const ids = new Set(stateIds(state));
  chart.dataset.state = state;
  for (const g of chart.querySelectorAll("g.node, g.cluster")) {
    const title = g.querySelector(":scope > title");
    if (!title) continue;
    const id = g.classList.contains("cluster") ? title.textContent.replace(/^cluster_/, "") : title.textContent;
    g.classList.toggle("current", ids.has(id));
  }
}
function chart(machine) {
  const div = document.createElement("div");
  div.className = "chart";
  div.dataset.machine = machine;
  div.appendChild($("chart-" + machine).content.cloneNode(true));
  return div;
}
function text(tag, content, cls) {
  const el = document.createElement(tag);
  el.textContent = content;
  if (cls) el.className = cls;
  return el;
}

function destinationSection(name) {
  let section = document.querySelector('section[data-destination="' + CSS.escape(name) + '"]');
  if (section) return section;
  section = document.createElement("section");
  section.dataset.destination = name;
  section.appendChild(text("h2", "destination \u201c" + name + "\u201d"));
  const line = document.createElement("p");
  line.append("instance ", text("span", "…", "state instance-state"), " ", text("span", "", "muted owner"), " · source ", text("span", "…", "source-state"));
  section.appendChild(line);
  $("destinations").appendChild(section);
  return section;
}

function render() {
  const zk = actors.get("_/zk-session");
  $("summary").textContent = "node " + (boot ? boot.node : "?") + " (" + mode + ")" + (zk ? " · ZooKeeper session " + zk.to : "") + " · seq " + seq;
  const names = new Set(destinations);
  for (const d of actors.values()) if (d.actor === "instance" || d.actor === "source") names.add(d.destination);
  for (const name of [...names].sort()) {
    const section = destinationSection(name);
    const instance = actors.get(name + "/instance");
    const source = actors.get(name + "/source");
    section.querySelector(".instance-state").textContent = instance ? instance.to : (mode === "standalone" ? "none (standalone: no instance machine)" : "…");
    const owner = instance && instance.fields && instance.fields.owner;
    section.querySelector(".owner").textContent = owner ? (owner === address ? "running here (" + owner + ")" : "running on " + owner) : "";
    section.querySelector(".source-state").textContent = source ? source.to : "not connected here";
    let c = section.querySelector(".chart");
    if (instance) {
      if (!c) { c = chart("instance"); section.appendChild(c); }
      highlight(c, instance.to);
    }
  }
  renderSessions();
}

const sessionCells = new Map();
function renderSessions() {
  const box = $("sessions");
  const sessions = [...actors.values()].filter((d) => d.actor.startsWith("session-"));
  if (sessions.length === 0) { sessionCells.clear(); box.replaceChildren(text("p", "none", "muted")); return; }
  if (sessions.length > SESSION_CHARTS) {
    sessionCells.clear();
    const table = document.createElement("table");
    const head = document.createElement("tr");
    for (const h of ["session", "remote", "destination", "state"]) head.appendChild(text("th", h));
    table.appendChild(head);
    for (const d of sessions) {
      const row = document.createElement("tr");
      row.dataset.session = d.actor;
      row.append(text("td", d.actor), text("td", String(d.fields.remote || "")), text("td", d.destination), text("td", d.to, "state"));
      table.appendChild(row);
    }
    box.replaceChildren(table);
    return;
  }
  // Few sessions: one chart each, kept from event to event (a busy client changes state on every request).
  let grid = box.querySelector(".sessions-grid");
  if (!grid) {
    sessionCells.clear();
    grid = document.createElement("div");
    grid.className = "sessions-grid";
    box.replaceChildren(grid);
  }
  const live = new Set(sessions.map((d) => d.actor));
  for (const [actor, cell] of sessionCells) if (!live.has(actor)) { cell.remove(); sessionCells.delete(actor); }
  for (const d of sessions) {
    let cell = sessionCells.get(d.actor);
    if (!cell) {
      cell = document.createElement("div");
      cell.dataset.session = d.actor;
      cell.append(text("h3", ""), text("p", "", "state"), chart("session"));
      sessionCells.set(d.actor, cell);
      grid.appendChild(cell);
    }
    cell.querySelector("h3").textContent = d.actor + " " + String(d.fields.remote || "") + (d.destination === "_" ? "" : " · " + d.destination);
    cell.querySelector("p.state").textContent = d.to;
    highlight(cell.querySelector(".chart"), d.to);
  }
}

function apply(d) {
  if (boot && d.boot !== boot.boot) { restart(); return; }
  if (d.seq <= seq) return;
  seq = d.seq;
  // A closed session is gone, as /charts/state forgets it.
  if (d.actor.startsWith("session-") && d.to === "closed") actors.delete(keyOf(d)); else actors.set(keyOf(d), d);
  render();
}

async function restart() {
  buffer = [];
  try {
    const res = await fetch("/charts/state", { cache: "no-store" });
    if (!res.ok) throw new Error(await res.text());
    const state = await res.json();
    boot = { node: state.node, boot: state.boot };
    seq = state.seq; mode = state.mode; address = state.address || null;
    destinations = state.destinations.map((d) => d.name);
    actors.clear();
    for (const d of state.actors) actors.set(keyOf(d), d);
    $("destinations").replaceChildren();
    $("sessions").replaceChildren();
    sessionCells.clear();
  } catch (err) {
    $("status").textContent = "state unavailable: " + err.message;
    $("status").className = "status down";
    buffer = null;
    setTimeout(restart, 1000);
    return;
  }
  const waiting = buffer; buffer = null;
  render();
  for (const d of waiting) apply(d);
}

const events = new EventSource("/charts/events");
events.onopen = () => { $("status").textContent = "live"; $("status").className = "status live"; restart(); };
events.onerror = () => { $("status").textContent = "reconnecting…"; $("status").className = "status down"; };
events.onmessage = (e) => { const d = JSON.parse(e.data); if (buffer) buffer.push(d); else apply(d); };
`;
