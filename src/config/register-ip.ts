/** The address a node publishes in ZooKeeper, chosen as Canal chooses it (canal-facts.md §4.1). */
import { networkInterfaces, type NetworkInterfaceInfo } from "node:os";
import type { NodeConfig } from "./types.js";

const WILDCARDS = new Set(["0.0.0.0", "::", ""]);

/**
 * `registerIp` if set; else the bind address unless it is a wildcard; else the first
 * non-internal IPv4 address of the host; else 127.0.0.1.
 */
export function resolveRegisterIp(
  config: Pick<NodeConfig, "registerIp" | "bind">,
  interfaces: NodeJS.Dict<NetworkInterfaceInfo[]> = networkInterfaces(),
): string {
  if (config.registerIp !== undefined) return config.registerIp;
  if (!WILDCARDS.has(config.bind)) return config.bind;
  for (const list of Object.values(interfaces)) {
    const found = list?.find((i) => i.family === "IPv4" && !i.internal);
    if (found !== undefined) return found.address;
  }
  return "127.0.0.1";
}
