/**
 * Balanced assignment (design, Decisions 3): running instances spread over the nodes instead of
 * piling on the first node to start. Two halves:
 *
 *   - at contention, a node waits a little longer for each destination it already runs
 *     (ClusterNode's contend delay), so the least loaded node tends to win a freed destination;
 *   - here, a node running a destination whose preferred node (config `preferredNode`) is up
 *     hands it over; and a node that runs at least two more destinations than another node able to serve
 *     one of them (registered under `/destinations/<d>/cluster`) releases that one. The release
 *     is a handover, so the lighter node takes it at once, while this node waits out the
 *     anti-flap delay. One release at a time: the next look comes only after the last one
 *     settled, so the cluster converges without flapping.
 *
 * Only ZooKeeper's view counts (the running nodes' JSON), so Java Canal servers in the same
 * tree are counted, though never asked to release.
 */
import { destinationClusterPath, destinationsPath, parseServerRunning, runningPath } from "../../protocol/zk-layout.js";
import type { ZkSessionClient } from "../zk/session-client.js";

/** Who runs what, and who could: the cluster as ZooKeeper shows it. */
export interface ClusterView {
  /** destination → address of the node running it. */
  running: ReadonlyMap<string, string>;
  /** destination → addresses of the nodes registered to serve it. */
  candidates: ReadonlyMap<string, readonly string[]>;
}

/**
 * The destination `me` should release, or undefined. First one whose preferred node (destination
 * → address, from the configuration) is another registered candidate: it goes home. Else, to
 * even out the load: only when some other candidate runs at least two fewer (moving one then
 * narrows the gap without reversing it), the destination whose lightest candidate is lightest,
 * never one that prefers `me`.
 */
export function destinationToRelease(me: string, view: ClusterView, preferred: ReadonlyMap<string, string> = new Map()): string | undefined {
  for (const [destination, owner] of view.running) {
    const home = preferred.get(destination);
    if (owner === me && home !== undefined && home !== me && view.candidates.get(destination)?.includes(home)) return destination;
  }
  const load = new Map<string, number>();
  for (const address of view.running.values()) load.set(address, (load.get(address) ?? 0) + 1);
  for (const list of view.candidates.values()) for (const address of list) if (!load.has(address)) load.set(address, 0);
  const mine = load.get(me) ?? 0;
  let best: { destination: string; load: number } | undefined;
  for (const [destination, owner] of view.running) {
    if (owner !== me || preferred.get(destination) === me) continue;
    for (const other of view.candidates.get(destination) ?? []) {
      const otherLoad = load.get(other) ?? 0;
      if (other !== me && otherLoad + 2 <= mine && (best === undefined || otherLoad < best.load)) best = { destination, load: otherLoad };
    }
  }
  return best?.destination;
}

/** Reads the cluster view: every destination's running node and cluster list. */
export async function readClusterView(client: ZkSessionClient): Promise<ClusterView> {
  const running = new Map<string, string>();
  const candidates = new Map<string, readonly string[]>();
  const destinations = await client.children(destinationsPath());
  await Promise.all(
    destinations.map(async (destination) => {
      const [node, list] = await Promise.all([client.read(runningPath(destination)), client.children(destinationClusterPath(destination))]);
      candidates.set(destination, list);
      if (node === undefined || node.data === null) return;
      try {
        const data = parseServerRunning(node.data);
        if (data.active) running.set(destination, data.address);
      } catch {
        // Not ours to judge here: the instance watching that node reports unreadable JSON.
      }
    }),
  );
  return { running, candidates };
}
