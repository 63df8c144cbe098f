/**
 * `canal-ts release <destination> --zk HOSTS`: Canal's manual switch (canal-facts.md §4.4).
 * Writes `{"active":false,"address":<owner>}` into the destination's running node; the owner
 * (canal-ts or Java Canal) then releases it, and a standby takes over. The write is versioned,
 * so it never lands on a node another server created in the meantime.
 */
import { parseArgs } from "node:util";
import { ZkSessionClient } from "../actors/zk/session-client.js";
import { parseZooKeeperAddress, zooKeeperConnectString } from "../config/addresses.js";
import { CanalConfigError, CanalError } from "../errors.js";
import { formatServerRunning, parseServerRunning, runningPath } from "../protocol/zk-layout.js";

export const RELEASE_USAGE = `canal-ts release <destination> --zk HOST:PORT[,HOST:PORT…][/chroot] [--wait MS]
  asks the node running <destination> to hand it over (Canal's switch: "active":false in its running node);
  waits up to --wait ms (default 10000) until another node runs it, and prints who`;

export interface ReleaseResult {
  destination: string;
  from: string;
  /** The node running it afterwards; undefined when none took it within the wait. */
  to: string | undefined;
}

export async function runRelease(args: string[], print: (line: string) => void): Promise<ReleaseResult> {
  const { values, positionals } = parseArgs({ args, options: { zk: { type: "string" }, wait: { type: "string" } }, allowPositionals: true, strict: true });
  const destination = positionals[0];
  if (destination === undefined || positionals.length !== 1) throw new CanalConfigError(`expected exactly one destination, got ${positionals.length}\n${RELEASE_USAGE}`);
  if (values.zk === undefined) throw new CanalConfigError(`--zk is missing: expected the ZooKeeper connect string\n${RELEASE_USAGE}`);
  const waitMs = values.wait === undefined ? 10_000 : Number(values.wait);
  if (!Number.isInteger(waitMs) || waitMs < 0) throw new CanalConfigError(`--wait ${values.wait}: expected a whole number of milliseconds ≥ 0`);
  const zk = parseZooKeeperAddress({ value: values.zk, where: { key: "--zk", source: "the command line" } });
  const client = await ZkSessionClient.connect({ connectString: zooKeeperConnectString(zk), sessionTimeoutMs: 10_000 });
  try {
    const path = runningPath(destination);
    const node = await client.read(path);
    if (node === undefined || node.data === null) throw new CanalError(`destination ${destination} is not running on any node (${path} does not exist)`);
    const { address } = parseServerRunning(node.data);
    await client.setData(path, new TextEncoder().encode(formatServerRunning({ active: false, address })), node.stat.version);
    print(`asked ${address} to release ${destination}`);
    const to = await waitForNewOwner(client, path, address, waitMs);
    print(to === undefined ? `no node took ${destination} within ${waitMs} ms` : `${destination} now runs on ${to}`);
    return { destination, from: address, to };
  } finally {
    await client.close();
  }
}

/** Polls the running node until it names another active server, or the wait is over. */
async function waitForNewOwner(client: ZkSessionClient, path: string, from: string, waitMs: number): Promise<string | undefined> {
  const deadline = Date.now() + waitMs;
  while (Date.now() < deadline) {
    const node = await client.read(path);
    if (node !== undefined && node.data !== null) {
      const running = parseServerRunning(node.data);
      if (running.active && running.address !== from) return running.address;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return undefined;
}
