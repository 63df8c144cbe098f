/**
 * How each kind of node is described to inspection and answers the control plane. Kept here,
 * not in the nodes, so the nodes only pass observers and call `serve`.
 */
import type { InstanceContext } from "../../machines/instance.js";
import type { SessionContext } from "../../machines/session.js";
import type { ZkSessionContext } from "../../machines/zk-session.js";
import { CanalError } from "../../errors.js";
import { instanceState } from "../../machines/instance.js";
import type { MetaClient } from "../../protocol/cursor-json.js";
import type { SourceStatus } from "../binlog-source.js";
import type { CanalServer } from "../canal-server.js";
import type { ClusterNode } from "../cluster/node.js";
import type { Destination } from "../destination.js";
import type { StandaloneNode } from "../standalone-node.js";
import type { ActorDescription, Inspector } from "./inspector.js";
import type { NodeAdmin } from "./link.js";
import { NODE_LEVEL, type CursorView, type DestinationStatus, type SessionStatus } from "./subjects.js";

export function instanceDescription(destination: string): ActorDescription<InstanceContext> {
  return {
    actor: "instance",
    destination,
    fields: (c) => ({ owner: c.owner ?? null, epoch: c.epoch ?? null, sessionId: c.sessionId ?? null, reason: c.lastReason ?? null }),
  };
}

export const zkSessionDescription: ActorDescription<ZkSessionContext> = {
  actor: "zk-session",
  destination: NODE_LEVEL,
  fields: (c) => ({ sessionId: c.sessionId ?? null, lost: c.lost }),
};

/** A session is node-level until it subscribes; then it is filed under its (first) destination. */
export function sessionDescription(id: number, remote: string): ActorDescription<SessionContext> {
  return {
    actor: `session-${id}`,
    destination: (c) => c.subscriptions[0]?.split("/")[0] ?? NODE_LEVEL,
    fields: (c) => ({ remote, subscriptions: c.subscriptions }),
    transient: true,
  };
}

/** Cursors, held entries, lag, clients and the sink's counters of a destination this node serves. */
export function servedStatus(destination: Destination, server: CanalServer | undefined): Partial<DestinationStatus> {
  const store = destination.store.stats();
  const lagMs = store.heldEntries === 0 || store.ackExecTime === 0 ? 0 : Math.max(0, store.putExecTime - store.ackExecTime);
  return {
    cursors: destination.clients().flatMap(cursorView),
    heldEntries: store.heldEntries,
    lagMs,
    clients: clientsOf(destination.name, server?.sessionList() ?? []),
    ...(destination.sink === undefined ? {} : { sink: destination.sink.stats }),
  };
}

export function clientsOf(destination: string, sessions: readonly SessionStatus[]): number {
  return sessions.filter((s) => s.subscriptions.some((key) => key.startsWith(`${destination}/`))).length;
}

function cursorView(client: MetaClient): CursorView[] {
  const c = client.cursor;
  if (c === undefined) return [];
  return [{ clientId: client.clientId, journalName: c.journalName, position: c.position, timestamp: c.timestamp ?? 0, gtid: c.gtid ?? "" }];
}

/**
 * The binlog source has no machine; its status changes are published as transitions of actor
 * `source`: `connected` (with the position it resumed from) and `schema:<mode>` (where column
 * names come from, Decision 5).
 */
export function sourceStatusRecorder(inspector: Inspector, destination: string): (status: SourceStatus) => void {
  let last: string | null = null;
  return (status) => {
    const to = status.type === "connected" ? "connected" : `schema:${status.mode}`;
    const fields: Record<string, unknown> =
      status.type === "connected" ? { attempt: status.attempt, resumeFrom: status.resumeFrom } : { mode: status.mode, table: status.table };
    inspector.record({ destination, actor: "source", from: last, to, event: status.type, fields });
    last = to;
  };
}

function unknownDestination(destination: string, known: Iterable<string>): CanalError {
  return new CanalError(`destination ${destination} is not configured on this node; expected one of: ${[...known].join(", ")}`);
}

/** The control plane of a cluster node. */
export function clusterAdmin(node: ClusterNode): NodeAdmin {
  return {
    status: () => {
      const sessions = node.server.sessionList();
      const view = node.zk.view;
      return {
        address: node.address,
        mode: "cluster",
        zookeeper: { state: view.state, sessionId: view.state === "gone" ? undefined : view.sessionId },
        sessions,
        destinations: [...node.instances.values()].map((instance) => {
          const { owner, epoch, lastReason } = instance.actor.getSnapshot().context;
          const served = instance.served();
          return {
            name: instance.name,
            state: instanceState(instance.actor.getSnapshot()),
            owner,
            epoch,
            lastReason,
            ...(served === undefined ? { clients: clientsOf(instance.name, sessions) } : servedStatus(served, node.server)),
          };
        }),
      };
    },
    release: async (destination) => {
      const instance = node.instances.get(destination);
      if (instance === undefined) throw unknownDestination(destination, node.instances.keys());
      if (!node.release(destination)) {
        const owner = instance.actor.getSnapshot().context.owner;
        throw new CanalError(`destination ${destination} does not run on this node (${node.address} is ${instance.state}${owner ? `; ${owner} runs it` : ""}); expected a node that runs it`);
      }
      return `releasing ${destination}: another node takes it over`;
    },
    stop: async (destination) => {
      await node.stopDestination(destination);
      return `stopped ${destination} on ${node.address}: handed over if it ran here; this node no longer contends for it until it restarts`;
    },
  };
}

/** The control plane of a standalone node: nothing to release to; stop ends a destination until restart. */
export function standaloneAdmin(node: StandaloneNode, address: string): NodeAdmin {
  return {
    status: () => {
      const sessions = node.server.sessionList();
      return {
        address,
        mode: "standalone",
        sessions,
        destinations: node.configured.map((name) => {
          const destination = node.destinations.get(name);
          return destination === undefined
            ? { name, state: "stopped", clients: clientsOf(name, sessions) }
            : { name, state: "running", owner: address, ...servedStatus(destination, node.server) };
        }),
      };
    },
    release: async (destination) => {
      if (!node.configured.includes(destination)) throw unknownDestination(destination, node.configured);
      throw new CanalError(`destination ${destination}: a standalone node has no other node to hand it to; expected a cluster node (--zk)`);
    },
    stop: async (destination) => {
      if (!node.configured.includes(destination)) throw unknownDestination(destination, node.configured);
      if (!(await node.stopDestination(destination))) return `${destination} was already stopped`;
      return `stopped ${destination}: its source stopped, cursors written, clients disconnected; it starts again with the node`;
    },
  };
}
