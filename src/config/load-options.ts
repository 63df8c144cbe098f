/** What every loader takes and returns. */
import { hostname } from "node:os";
import { defaultTimeZone } from "../protocol/binlog/temporal.js";
import type { BuildContext } from "./build.js";
import type { NodeConfig } from "./types.js";
import type { ConfigWarning } from "./where.js";

export interface LoadOptions {
  /** Environment for placeholders and Canal's dotted-name overrides; default process.env. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Directory relative paths on the command line are relative to; default process.cwd(). */
  cwd?: string;
  /** Host name for the default node id; default os.hostname(). */
  hostname?: string;
  /** Zone for TIMESTAMP rendering when none is configured; default the process's. */
  timeZone?: string;
}

export interface LoadedConfig {
  config: NodeConfig;
  /** Things that did not stop loading but the operator should see (ignored Canal keys…). */
  warnings: ConfigWarning[];
}

export function loadContext(options: LoadOptions): BuildContext {
  return {
    baseDir: options.cwd ?? process.cwd(),
    hostname: options.hostname ?? hostname(),
    defaultTimeZone: options.timeZone ?? defaultTimeZone(),
  };
}
