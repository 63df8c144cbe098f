/**
 * `${name}` and `${name:default}` placeholders, as Canal's Spring placeholder configurer
 * resolves them in .properties values (`canal.file.data.dir = ${canal.conf.dir}`), and as our
 * YAML/JSON files use them for secrets (`password: ${MYSQL_PASSWORD}`). Placeholders may nest
 * inside a default and inside a looked-up value. `$${` is a literal `${` (Spring has no
 * escape; this one only matters for a value that really contains `${`).
 */
import { invalid, type Raw } from "./where.js";

/** Looks a name up; undefined when it is not set. */
export type Lookup = (name: string) => string | undefined;

const MAX_DEPTH = 16;

export function expandPlaceholders(raw: Raw, lookup: Lookup): Raw {
  if (typeof raw.value !== "string" || !raw.value.includes("${")) return raw;
  return { ...raw, value: expand(raw.value, raw, lookup, [], 0) };
}

function expand(value: string, raw: Raw, lookup: Lookup, chain: string[], depth: number): string {
  if (depth > MAX_DEPTH) throw invalid(raw, "has placeholders nested too deeply", `at most ${MAX_DEPTH} levels of \${…}`);
  let out = "";
  let i = 0;
  while (i < value.length) {
    if (value.startsWith("$${", i)) {
      out += "${";
      i += 3;
      continue;
    }
    if (!value.startsWith("${", i)) {
      out += value[i];
      i++;
      continue;
    }
    const end = closingBrace(value, i + 2);
    if (end < 0) throw invalid(raw, "has an unclosed ${", "${name} or ${name:default}");
    const body = value.slice(i + 2, end);
    const colon = body.indexOf(":");
    const name = colon < 0 ? body : body.slice(0, colon);
    if (chain.includes(name)) throw invalid(raw, `has a placeholder cycle ${[...chain, name].join(" → ")}`, "placeholders that do not refer to themselves");
    const found = lookup(name);
    if (found !== undefined && found.trim() !== "") {
      out += expand(found, raw, lookup, [...chain, name], depth + 1);
    } else if (colon >= 0) {
      out += expand(body.slice(colon + 1), raw, lookup, chain, depth + 1);
    } else {
      throw invalid(raw, `refers to \${${name}}, which is not set`, `${name} set in the environment or the configuration, or a default as \${${name}:default}`);
    }
    i = end + 1;
  }
  return out;
}

/** Index of the `}` closing a placeholder whose body starts at `from`, skipping nested ones. */
function closingBrace(value: string, from: number): number {
  let depth = 0;
  for (let i = from; i < value.length; i++) {
    if (value.startsWith("${", i)) {
      depth++;
      i++;
    } else if (value[i] === "}") {
      if (depth === 0) return i;
      depth--;
    }
  }
  return -1;
}
