/**
 * `canal-ts chart [--machine NAME] [--format stately|json|mermaid|dot|svg] [--out DIR]`: every
 * machine of canal-ts drawn from its definition (src/charts). To stdout by default; with
 * --out, one file per machine (`<machine>.<ext>`). SVG is the DOT text rendered by Graphviz's
 * `dot` (Debian package `graphviz`).
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { EXTENSIONS, MACHINES, renderChart, TEXT_FORMATS, type TextFormat } from "../charts/index.js";
import { CanalConfigError } from "../errors.js";

export const CHART_USAGE = `canal-ts chart [--machine NAME] [--format stately|json|mermaid|dot|svg] [--out DIR]
  machines: ${Object.keys(MACHINES).join(", ")} (default: all)
  formats:  stately (code Stately's editor imports), json (the XState definition), mermaid,
            dot (Graphviz), svg (dot rendered by Graphviz's dot; default mermaid)
  --out DIR writes <machine>.<ext> per machine; without it the charts go to stdout`;

const FORMATS = [...TEXT_FORMATS, "svg"] as const;
type Format = (typeof FORMATS)[number];

export function runChart(args: string[], write: (text: string) => void): string[] {
  const { values } = parseArgs({ args, options: { machine: { type: "string" }, format: { type: "string" }, out: { type: "string" } }, strict: true });
  const format = (values.format ?? "mermaid") as Format;
  if (!FORMATS.includes(format)) throw new CanalConfigError(`--format ${values.format}: expected one of ${FORMATS.join(", ")}`);
  const names = values.machine === undefined ? Object.keys(MACHINES) : [values.machine];
  for (const name of names) {
    if (MACHINES[name] === undefined) throw new CanalConfigError(`--machine ${name}: expected one of ${Object.keys(MACHINES).join(", ")}`);
  }
  const written: string[] = [];
  for (const name of names) {
    const text = format === "svg" ? renderSvg(renderChart(name, "dot")) : renderChart(name, format as TextFormat);
    if (values.out === undefined) {
      write(text);
      continue;
    }
    mkdirSync(values.out, { recursive: true });
    const file = join(values.out, `${name}.${EXTENSIONS[format]}`);
    writeFileSync(file, text);
    written.push(file);
  }
  return written;
}

/** DOT → SVG with Graphviz; a clear error when it is not installed. */
export function renderSvg(dot: string): string {
  const result = spawnSync("dot", ["-Tsvg"], { input: dot, encoding: "utf8", maxBuffer: 16 * 1024 * 1024 });
  if (result.error !== undefined)
    throw new CanalConfigError(`Graphviz's dot could not be run (${result.error.message}): expected the Debian package graphviz (apt-get install graphviz), or use --format dot or mermaid`);
  if (result.status !== 0) throw new CanalConfigError(`dot -Tsvg failed with status ${result.status}: ${result.stderr.trim()}`);
  return result.stdout;
}
