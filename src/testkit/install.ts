/**
 * Where the server binaries live, and how to get them: the test kit runs Debian 12's packages
 * (`zookeeper`, `mariadb-server`, `nats-server`) as plain processes, never their system services.
 */
import { execFileSync } from "node:child_process";
import { accessSync, constants, existsSync, rmSync, writeFileSync } from "node:fs";
import { delimiter, join } from "node:path";
import { CanalConfigError } from "../errors.js";

export interface ServerBinaries {
  java: string;
  /** Class path for QuorumPeerMain; zookeeper.jar's manifest pulls in the rest of its jars. */
  zookeeperClassPath: string;
  mariadbd: string;
  mariadbInstallDb: string;
  natsServer: string;
}

const ZOOKEEPER_JARS = ["/usr/share/java/zookeeper.jar", "/usr/share/java/slf4j-simple.jar"];

/** Debian package → what we need from it. */
const PACKAGES = {
  zookeeper: ["java", ...ZOOKEEPER_JARS],
  "mariadb-server": ["mariadbd", "mariadb-install-db"],
  "nats-server": ["nats-server"],
} as const;

const APT_INSTALL = `apt-get install -y --no-install-recommends ${Object.keys(PACKAGES).join(" ")}`;

/** mariadbd and nats-server live in /usr/sbin, which a non-root PATH often lacks. */
function findExecutable(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? "").split(delimiter), "/usr/sbin", "/sbin"];
  for (const dir of dirs.filter(Boolean)) {
    const path = join(dir, name);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not here
    }
  }
  return undefined;
}

function find(thing: string): string | undefined {
  return thing.startsWith("/") ? (existsSync(thing) ? thing : undefined) : findExecutable(thing);
}

function missingPackages(): string[] {
  return Object.entries(PACKAGES)
    .filter(([, needs]) => needs.some((thing) => find(thing) === undefined))
    .map(([pkg]) => pkg);
}

/** The binaries the servers run from; throws, naming what is missing and the fix, if any is absent. */
export function findServerBinaries(): ServerBinaries {
  const missing = missingPackages();
  if (missing.length > 0) {
    throw new CanalConfigError(
      `server packages not installed: ${missing.join(", ")}; ` +
        `run \`node --import tsx scripts/servers.ts install\` as root (it runs apt-get update && ${APT_INSTALL})`,
    );
  }
  return {
    java: find("java")!,
    zookeeperClassPath: ZOOKEEPER_JARS.join(":"),
    mariadbd: find("mariadbd")!,
    mariadbInstallDb: find("mariadb-install-db")!,
    natsServer: find("nats-server")!,
  };
}

/**
 * Installs whichever of the three Debian packages is missing (needs root and apt-get), then
 * returns the binaries. Without systemd, mariadb-server's postinst would start the system
 * MariaDB on port 3306 through invoke-rc.d; a policy-rc.d that answers 101 ("action forbidden")
 * stops that, the same way Debian's Docker images do. nats-server and zookeeper start nothing.
 */
export function ensureServersInstalled(log: (line: string) => void = () => {}): ServerBinaries {
  const missing = missingPackages();
  if (missing.length === 0) return findServerBinaries();
  if (process.getuid?.() !== 0) {
    throw new CanalConfigError(`server packages not installed: ${missing.join(", ")}; as root run: apt-get update && ${APT_INSTALL}`);
  }
  if (findExecutable("apt-get") === undefined) {
    throw new CanalConfigError(`server packages not installed: ${missing.join(", ")}, and apt-get was not found (the test kit expects Debian 12)`);
  }
  const policy = "/usr/sbin/policy-rc.d";
  const ownPolicy = !existsSync(policy);
  if (ownPolicy) writeFileSync(policy, "#!/bin/sh\n# canal-ts: keep package installs from starting services\nexit 101\n", { mode: 0o755 });
  try {
    const run = (args: string[]) => {
      // stdout stays free for whatever the caller prints; apt-get talks on stderr.
      log(`$ apt-get ${args.join(" ")}`);
      execFileSync("apt-get", args, { stdio: ["ignore", 2, 2], env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
    };
    run(["update"]);
    run(["install", "-y", "--no-install-recommends", ...Object.keys(PACKAGES)]);
  } finally {
    if (ownPolicy) rmSync(policy, { force: true });
  }
  return findServerBinaries();
}
