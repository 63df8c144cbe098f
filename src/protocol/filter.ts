/**
 * Canal's table name filters (canal-facts.md §7): `canal.instance.filter.regex` (white),
 * `canal.instance.filter.black.regex` (black), a client's subscribe filter, and the field
 * filters `canal.instance.filter.field` / `filter.black.field`.
 *
 * A name filter is a comma-separated list of regexes, each matched against `schema.table`
 * (Canal's AviaterRegexFilter):
 *   - split on top-level commas only (commas inside `{}`, `[]`, `()` stay, and a backslash
 *     protects the next character), empty pieces dropped, nothing trimmed;
 *   - pieces sorted by length, longest first (stable), each wrapped as `^…$`, joined with `|`;
 *   - matched case-insensitively, `.` matching newlines too, against the lower-cased target,
 *     with Jakarta ORO's `Perl5Matcher.matches`: the first match found from the start must
 *     span the whole target (no backtracking into a later alternative to make it longer);
 *   - an empty pattern or an empty target gives the filter's default: true for a white
 *     filter, false for a black one.
 *
 * Canal compiles with ORO's Perl5 dialect, we compile with JavaScript's RegExp. The dialects
 * agree on what filters use (classes, quantifiers, groups, `\d \w \s \b`, alternation); where
 * they differ, `translatePerl5` rewrites the Perl5 form or rejects the pattern by name, so a
 * filter never silently matches something Canal would not.
 */
import { CanalConfigError } from "../errors.js";

/** A compiled name filter; `matches` answers for one `schema.table`. */
export interface NameFilter {
  /** The filter as configured. */
  readonly source: string;
  /** The combined regex Canal would build (`^a$|^b$`), "" for an empty filter. */
  readonly regex: string;
  matches(name: string): boolean;
}

/**
 * Splits a filter on its top-level commas: not inside `{}` `[]` `()`, and not right after a
 * backslash (which is kept). Empty pieces are dropped; pieces are not trimmed.
 */
export function splitFilterPattern(pattern: string): string[] {
  const pieces: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === "\\") i++;
    else if (c === "{" || c === "[" || c === "(") depth++;
    else if ((c === "}" || c === "]" || c === ")") && depth > 0) depth--;
    else if (c === "," && depth === 0) {
      pieces.push(pattern.slice(start, i));
      start = i + 1;
    }
  }
  pieces.push(pattern.slice(start));
  return pieces.filter((p) => p.length > 0);
}

/** POSIX bracket classes ORO understands inside `[...]`, as JavaScript class contents. */
const POSIX_CLASSES: Readonly<Record<string, string>> = {
  alpha: "a-zA-Z",
  digit: "0-9",
  alnum: "a-zA-Z0-9",
  upper: "A-Z",
  lower: "a-z",
  space: " \\t\\n\\r\\f\\v",
  blank: " \\t",
  punct: "!-\\/:-@\\[-`{-~",
  xdigit: "0-9A-Fa-f",
  word: "\\w",
  cntrl: "\\x00-\\x1f\\x7f",
  print: "\\x20-\\x7e",
  graph: "\\x21-\\x7e",
};

/**
 * Rewrites one Perl5 (Jakarta ORO) regex as a JavaScript regex with the same meaning under
 * the flags a filter uses (`i` and `s`), or throws a CanalConfigError naming `regex`:
 *   - `\A` → `^`, `\Z` / `\z` → `$` (a filter target is one line);
 *   - a `]` right after `[` or `[^` is a literal in Perl (`[]a]`), an empty class in JS;
 *   - POSIX classes `[:alpha:]` inside brackets become explicit ranges;
 *   - inline flags `(?i)`, `(?s)`, `(?m)` are what the filter does anyway and are dropped,
 *     `(?i:…)` becomes `(?:…)`; `(?#…)` comments are dropped;
 *   - rejected: `(?x)` and `(?-i)` (they change meaning), `\Q…\E` and `\G` (not ORO Perl5),
 *     and the JavaScript-only `(?<name>…)` and lookbehind, which Canal could not compile.
 */
export function translatePerl5(regex: string): string {
  const reject = (what: string): never => {
    throw new CanalConfigError(`filter regex ${JSON.stringify(regex)}: ${what}`);
  };
  let out = "";
  let i = 0;
  while (i < regex.length) {
    const c = regex[i]!;
    if (c === "\\") {
      const next = regex[i + 1];
      if (next === undefined) reject("ends with a lone backslash");
      if (next === "A") out += "^";
      else if (next === "Z" || next === "z") out += "$";
      else if (next === "Q" || next === "E") reject(`\\${next} quoting is not Perl5 (Jakarta ORO) syntax; escape each character instead`);
      else if (next === "G") reject("\\G is not supported in a filter");
      else out += c + next;
      i += 2;
    } else if (c === "[") {
      i = translateClass(regex, i, (s) => (out += s), reject);
    } else if (c === "(" && regex[i + 1] === "?") {
      i = translateGroupOpening(regex, i, (s) => (out += s), reject);
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

/** Copies the class starting at `regex[start] === "["`; returns the index after its `]`. */
function translateClass(regex: string, start: number, emit: (s: string) => void, reject: (what: string) => never): number {
  let i = start + 1;
  emit("[");
  if (regex[i] === "^") {
    emit("^");
    i++;
  }
  if (regex[i] === "]") {
    emit("\\]");
    i++;
  }
  while (i < regex.length && regex[i] !== "]") {
    const c = regex[i]!;
    if (c === "\\") {
      emit(regex.slice(i, i + 2));
      i += 2;
    } else if (c === "[" && regex[i + 1] === ":") {
      const end = regex.indexOf(":]", i + 2);
      const name = end < 0 ? "" : regex.slice(i + 2, end);
      const posix = POSIX_CLASSES[name];
      if (posix === undefined) reject(`unknown POSIX class ${JSON.stringify(regex.slice(i, end < 0 ? undefined : end + 2))}`);
      emit(posix);
      i = end + 2;
    } else {
      emit(c === "[" ? "\\[" : c);
      i++;
    }
  }
  if (i >= regex.length) reject("has an unclosed character class [");
  emit("]");
  return i + 1;
}

/** Handles `(?` at `start`; returns the index after what it consumed. */
function translateGroupOpening(regex: string, start: number, emit: (s: string) => void, reject: (what: string) => never): number {
  const kind = regex[start + 2];
  if (kind === ":" || kind === "=" || kind === "!") {
    emit(regex.slice(start, start + 3));
    return start + 3;
  }
  if (kind === "#") {
    const end = regex.indexOf(")", start);
    if (end < 0) reject("has an unclosed (?# comment");
    return end + 1;
  }
  if (kind === "<") reject("named groups and lookbehind are not Perl5 (Jakarta ORO) syntax, so Canal could not use this filter");
  const flags = /^\(\?([a-zA-Z-]*)([:)])/.exec(regex.slice(start));
  if (flags === null) reject(`unknown group syntax at ${JSON.stringify(regex.slice(start, start + 4))}`);
  const [whole, letters, end] = flags as unknown as [string, string, string];
  if (!/^[ims]+$/.test(letters)) {
    reject(`inline flags (?${letters}) would change how the filter matches; only i, m and s (which it already uses) are accepted`);
  }
  if (end === ":") emit("(?:");
  return start + whole.length;
}

/**
 * Compiles a name filter. `emptyResult` is what an empty pattern or an empty target gives:
 * true for the white filter (`canal.instance.filter.regex`), false for the black one.
 * An invalid regex is a CanalConfigError naming the piece and the regex engine's complaint.
 */
export function compileNameFilter(pattern: string, emptyResult: boolean): NameFilter {
  const pieces = splitFilterPattern(pattern)
    .map((piece, order) => ({ piece, order }))
    .sort((a, b) => b.piece.length - a.piece.length || a.order - b.order)
    .map(({ piece }) => piece);
  const regex = pieces.map((p) => `^${p}$`).join("|");
  if (pieces.length === 0) return { source: pattern, regex, matches: () => emptyResult };
  const translated = pieces.map((piece) => {
    const js = translatePerl5(piece);
    try {
      new RegExp(js, "is");
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      throw new CanalConfigError(`filter regex ${JSON.stringify(piece)} in ${JSON.stringify(pattern)} is invalid: ${reason}`, { cause: err });
    }
    return `^${js}$`;
  });
  // Sticky: the match must start at 0, and the first one found must cover the whole target
  // (ORO's `matches`), so `a|ab` in one piece does not match "ab", as in Canal.
  const compiled = new RegExp(translated.join("|"), "isy");
  return {
    source: pattern,
    regex,
    matches(name: string): boolean {
      if (name.length === 0) return emptyResult;
      const target = name.toLowerCase();
      compiled.lastIndex = 0;
      const m = compiled.exec(target);
      return m !== null && m[0].length === target.length;
    },
  };
}

/** The default white filter of Canal's example instance: every table of every schema. */
export const DEFAULT_WHITE_FILTER = ".*\\..*";

/** A white and a black name filter together, with the decisions §7.2 makes with them. */
export class TableFilter {
  readonly white: NameFilter;
  readonly black: NameFilter;

  constructor(options: { white?: string; black?: string } = {}) {
    this.white = compileNameFilter(options.white ?? DEFAULT_WHITE_FILTER, true);
    this.black = compileNameFilter(options.black ?? "", false);
  }

  /** Whether rows of `schema.table` (from a table map) are kept. */
  acceptsTable(schema: string, table: string): boolean {
    const name = `${schema}.${table}`;
    return this.white.matches(name) && !this.black.matches(name);
  }

  /**
   * Whether a DDL on `schema.table` is kept. For a RENAME, `renamedFrom` is the old name: the
   * white filter keeps it if either name matches, the black filter drops it only if both do.
   */
  acceptsDdl(schema: string, table: string, renamedFrom?: { schema: string; table: string }): boolean {
    const name = `${schema}.${table}`;
    const old = renamedFrom === undefined ? undefined : `${renamedFrom.schema}.${renamedFrom.table}`;
    if (!this.white.matches(name) && (old === undefined || !this.white.matches(old))) return false;
    if (this.black.matches(name) && (old === undefined || this.black.matches(old))) return false;
    return true;
  }
}

/**
 * Column names to keep (or drop) per table, upper-cased: `schema.table:col1/col2,s2.t2:colA`
 * (`canal.instance.filter.field` / `filter.black.field`). Keys and column lists are trimmed,
 * as Canal trims them; an entry without exactly one `:` is an error here (Canal skips it).
 */
export type FieldFilter = ReadonlyMap<string, ReadonlySet<string>>;

export function parseFieldFilter(config: string): FieldFilter {
  const map = new Map<string, Set<string>>();
  for (const entry of config.split(",")) {
    if (entry.trim() === "") continue;
    const parts = entry.split(":");
    if (parts.length !== 2 || parts[0]!.trim() === "") {
      throw new CanalConfigError(`field filter entry ${JSON.stringify(entry)} in ${JSON.stringify(config)}: expected schema.table:col1/col2`);
    }
    map.set(parts[0]!.trim().toUpperCase(), new Set(parts[1]!.trim().toUpperCase().split("/")));
  }
  return map;
}

/**
 * The column-name test for one table under the field filters, or undefined when every column
 * is kept (the common case, so callers can skip the test entirely). As in Canal, a white list
 * for the table wins over a black list for it.
 */
export function columnFilterFor(schema: string, table: string, white: FieldFilter, black: FieldFilter): ((column: string) => boolean) | undefined {
  const key = `${schema}.${table}`.toUpperCase();
  const keep = white.get(key);
  if (keep !== undefined && keep.size > 0) return (column) => keep.has(column.toUpperCase());
  const drop = black.get(key);
  if (drop !== undefined && drop.size > 0) return (column) => !drop.has(column.toUpperCase());
  return undefined;
}
