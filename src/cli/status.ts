/**
 * `canal-ts status [--nats URL] [--zk HOSTS] [--wait MS] [--json]`: the cluster's picture, per
 * destination: which node runs it, who stands by, the acked cursor, the lag, the clients.
 *
 * With --nats it asks every node (`canal.admin.status`, scatter-gather: every reply that comes
 * within --wait ms counts), which knows the most: states, lag, clients, dropped inspection
 * documents. With --zk alone (or when no node answers on NATS) it reads Canal's tree in
 * ZooKeeper, which any Canal or canal-ts cluster has: running nodes, cluster lists, cursors.
 */
import { parseArgs } from "node:util";
import { connect } from "@nats-io/transport-node";
import { CLUSTER_STATUS_SUBJECT, type AdminReply, type CursorView, type NodeStatus } from "../actors/nats/subjects.js";
import { readClusterView } from "../actors/cluster/balance.js";
import { ZkSessionClient } from "../actors/zk/session-client.js";
import { parseNatsServers, parseZooKeeperAddress, zooKeeperConnectString } from "../config/addresses.js";
import { CanalConfigError, CanalConnectionError } from "../errors.js";
import { parseCursorJson } from "../protocol/cursor-json.js";
import { clientCursorPath, clientIdsOf, clusterPath, destinationPath } from "../protocol/zk-layout.js";
import { natsConnectOptions, shownNatsServer } from "../actors/nats/credentials.js";

export const STATUS_USAGE = `usage: canal-ts status [--nats URL] [--zk HOSTS] [--wait MS] [--json]
  prints, per destination, the node running it, the nodes standing by, the acked cursor and the lag
  --nats URL     ask every node over NATS (canal.admin.status); most detail
  --zk HOSTS     read Canal's tree in ZooKeeper (works without NATS; also the fallback when no node answers)
  --wait MS      how long to collect NATS replies (default 500)
  --json         the picture as JSON`;

/** One destination as the cluster shows it. */
export interface DestinationPicture {
  destination: string;
  /** `node (ip:port)` or `ip:port`; undefined when nobody runs it. */
  running: string | undefined;
  /** Nodes able to take it, with their state when it is not plain standby. */
  standby: string[];
  cursors: CursorView[];
  lagMs: number | undefined;
  clients: number | undefined;
}

export interface ClusterPicture {
  source: "nats" | "zookeeper";
  destinations: DestinationPicture[];
  /** One line per node: address, mode, sessions, inspection counters. */
  nodes: string[];
  /** The nodes' full replies (NATS only). */
  statuses?: NodeStatus[];
}

export interface StatusOptions {
  nats?: string[];
  zk?: string;
  waitMs: number;
  json: boolean;
}

export function parseStatusArgs(args: string[]): StatusOptions {
  const { values } = parseArgs({ args, options: { nats: { type: "string" }, zk: { type: "string" }, wait: { type: "string" }, json: { type: "boolean" } }, strict: true });
  if (values.nats === undefined && values.zk === undefined) throw new CanalConfigError(`expected --nats URL or --zk HOSTS (or both), got neither\n${STATUS_USAGE}`);
  const waitMs = values.wait === undefined ? 500 : Number(values.wait);
  if (!Number.isInteger(waitMs) || waitMs < 1 || waitMs > 60_000) throw new CanalConfigError(`--wait ${values.wait}: expected a whole number of milliseconds from 1 to 60000`);
  return {
    nats: values.nats === undefined ? undefined : parseNatsServers({ value: values.nats, where: { key: "--nats", source: "the command line" } }),
    zk: values.zk === undefined ? undefined : zooKeeperConnectString(parseZooKeeperAddress({ value: values.zk, where: { key: "--zk", source: "the command line" } })),
    waitMs,
    json: values.json ?? false,
  };
}

/** Collects every node's status from `canal.admin.status` within `waitMs`. */
export async function statusFromNats(servers: string[], waitMs: number): Promise<NodeStatus[]> {
  const nc = await connect({ ...natsConnectOptions(servers), name: "canal-ts status", timeout: 5000 }).catch((err: unknown) => {
    throw new CanalConnectionError(`NATS ${servers.map(shownNatsServer).join(",")}: cannot connect (${String(err)}); expected a reachable nats-server`, { retriable: false, cause: err });
  });
  try {
    const statuses: NodeStatus[] = [];
    // "no responders" when no node listens: an empty cluster, not a failure of this command.
    const replies = await nc.requestMany(CLUSTER_STATUS_SUBJECT, "", { strategy: "timer", maxWait: waitMs }).catch(() => [] as never[]);
    for await (const msg of replies) {
      try {
        const reply = msg.json<AdminReply<NodeStatus>>();
        if (reply.ok) statuses.push(reply);
      } catch {
        // A reply that is not a status (another program on the subject): not part of the picture.
      }
    }
    return statuses.sort((a, b) => a.node.localeCompare(b.node));
  } finally {
    await nc.close();
  }
}

/** The picture from the nodes' own replies. */
export function pictureFromStatuses(statuses: readonly NodeStatus[]): ClusterPicture {
  const names = [...new Set(statuses.flatMap((s) => s.destinations.map((d) => d.name)))].sort();
  const destinations = names.map((name): DestinationPicture => {
    const picture: DestinationPicture = { destination: name, running: undefined, standby: [], cursors: [], lagMs: undefined, clients: undefined };
    for (const node of statuses) {
      const d = node.destinations.find((x) => x.name === name);
      if (d === undefined) continue;
      const who = `${node.node} (${node.address})`;
      if (["running", "starting", "releasing"].includes(d.state)) {
        picture.running = d.state === "running" ? who : `${who} ${d.state}`;
        picture.cursors = d.cursors ?? [];
        picture.lagMs = d.lagMs;
        picture.clients = d.clients;
      } else if (d.state !== "stopped") {
        picture.standby.push(d.state === "standby" ? who : `${who} ${d.state}`);
      }
    }
    return picture;
  });
  const nodes = statuses.map((s) => {
    const zk = s.zookeeper === undefined ? "" : ` zookeeper ${s.zookeeper.state}`;
    const i = s.inspection;
    return `${s.node} ${s.address} ${s.mode}${zk}, up since ${s.startedAt}, ${s.sessions.length} session(s), inspection ${i.connected ? "connected" : "disconnected"}: published ${i.published}, dropped ${i.dropped}, queued ${i.queued}/${i.queueLimit}`;
  });
  return { source: "nats", destinations, nodes, statuses: [...statuses] };
}

/** The picture from Canal's tree in ZooKeeper alone: no states beyond running, no lag. */
export async function statusFromZooKeeper(connectString: string): Promise<ClusterPicture> {
  const client = await ZkSessionClient.connect({ connectString, sessionTimeoutMs: 10_000 }).catch((err: unknown) => {
    throw new CanalConnectionError(`ZooKeeper ${connectString}: cannot connect (${String(err)}); expected a reachable ensemble`, { retriable: false, cause: err });
  });
  try {
    const view = await readClusterView(client);
    const nodes = (await client.children(clusterPath()).catch(() => [] as string[])).sort();
    const destinations = await Promise.all(
      [...view.candidates.keys()].sort().map(async (destination): Promise<DestinationPicture> => {
        const running = view.running.get(destination);
        const clientIds = clientIdsOf(await client.children(destinationPath(destination)));
        const cursors = (
          await Promise.all(
            clientIds.map(async (clientId): Promise<CursorView[]> => {
              const node = await client.read(clientCursorPath(destination, clientId));
              if (node?.data == null) return [];
              const c = parseCursorJson(new TextDecoder().decode(node.data));
              return [{ clientId, journalName: c.journalName, position: c.position, timestamp: c.timestamp ?? 0, gtid: c.gtid ?? "" }];
            }),
          )
        ).flat();
        const standby = (view.candidates.get(destination) ?? []).filter((a) => a !== running).sort();
        return { destination, running, standby, cursors, lagMs: undefined, clients: undefined };
      }),
    );
    return { source: "zookeeper", destinations, nodes: nodes.map((n) => `${n} registered`) };
  } finally {
    await client.close();
  }
}

function formatCursor(c: CursorView): string {
  const at = c.timestamp > 0 ? ` @${new Date(c.timestamp).toISOString().slice(0, 23).replace("T", " ")}` : "";
  return `${c.clientId}:${c.journalName}:${c.position}${at}`;
}

/** The picture as a table (one row per destination) and a line per node. */
export function formatPicture(picture: ClusterPicture): string {
  const header = ["DESTINATION", "RUNNING ON", "STANDBY", "CURSOR (client:file:offset @event time)", "LAG", "CLIENTS"];
  const rows = picture.destinations.map((d) => [
    d.destination,
    d.running ?? "-",
    d.standby.length === 0 ? "-" : d.standby.join(", "),
    d.cursors.length === 0 ? "-" : d.cursors.map(formatCursor).join(", "),
    d.lagMs === undefined ? "?" : `${d.lagMs} ms`,
    d.clients === undefined ? "?" : String(d.clients),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join("  ");
  const from = picture.source === "nats" ? "from the nodes over NATS" : "from ZooKeeper (no lag or client counts there)";
  return [`cluster status ${from}`, line(header), ...rows.map(line), "", `nodes (${picture.nodes.length}):`, ...picture.nodes.map((n) => `  ${n}`), ""].join("\n");
}

export async function runStatus(options: StatusOptions, out: { write(text: string): unknown }): Promise<ClusterPicture> {
  let picture: ClusterPicture | undefined;
  if (options.nats !== undefined) {
    const statuses = await statusFromNats(options.nats, options.waitMs);
    if (statuses.length > 0 || options.zk === undefined) picture = pictureFromStatuses(statuses);
  }
  picture ??= await statusFromZooKeeper(options.zk!);
  out.write(options.json ? `${JSON.stringify(picture, null, 2)}\n` : formatPicture(picture));
  return picture;
}
