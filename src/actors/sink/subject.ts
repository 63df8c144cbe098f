/**
 * Subjects of the JetStream sink: a template such as `canal.{destination}.{database}.{table}`
 * gives each message its subject, and the stream's subject filter (`canal.orders.*.*`) that
 * captures every subject the template can produce. Pure: no IO.
 *
 * A NATS subject is dot-separated tokens, none empty, with `*` and `>` as wildcards and no
 * whitespace. Database and table names may hold any of those, so each value is made a single
 * safe token: dots, wildcards and whitespace become `_`, and an empty name (a statement without
 * a schema) becomes `_`. Two tables differing only there share a subject, never a message.
 */
import { CanalConfigError } from "../../errors.js";

export const DEFAULT_SUBJECT_TEMPLATE = "canal.{destination}.{database}.{table}";

const PLACEHOLDERS = ["destination", "database", "table"] as const;
type Placeholder = (typeof PLACEHOLDERS)[number];

/** Subject prefixes other parts of canal-ts publish on (inspection, control plane): a sink must not capture them. */
const RESERVED_PREFIXES = ["canal.inspect", "canal.admin"] as const;

/**
 * Checks a template and returns why it is unusable, or undefined. Every token must be literal
 * text, placeholders, or both (`db_{database}`); wildcards and whitespace are refused, since
 * the stream's filter is derived from the template.
 */
export function templateProblem(template: string): string | undefined {
  if (template.trim() === "") return "is empty";
  const tokens = template.split(".");
  if (tokens.some((t) => t === "")) return "has an empty token (two dots in a row, or a leading or trailing dot)";
  for (const token of tokens) {
    if (/[\s*>]/.test(token)) return `has the token ${JSON.stringify(token)} with a wildcard or whitespace`;
    for (const m of token.matchAll(/\{([^}]*)\}/g)) {
      if (!(PLACEHOLDERS as readonly string[]).includes(m[1]!)) return `has the unknown placeholder {${m[1]}}`;
    }
    if (/[{}]/.test(token.replace(/\{(destination|database|table)\}/g, ""))) return `has an unmatched brace in ${JSON.stringify(token)}`;
  }
  if (!template.includes("{table}")) return "has no {table} placeholder (subjects are per table)";
  return undefined;
}

/** The template with `{destination}` filled in: the part fixed for one destination. */
export function destinationTemplate(template: string, destination: string): string {
  return template.replaceAll("{destination}", destination);
}

/** The stream subject filter that matches every subject of the template for this destination. */
export function streamSubjectOf(template: string, destination: string): string {
  return destinationTemplate(template, destination)
    .split(".")
    .map((token) => (/\{(database|table)\}/.test(token) ? "*" : token))
    .join(".");
}

/** A reserved prefix (inspection, control plane) the destination's subjects would fall under, if any. */
export function reservedPrefixOf(template: string, destination: string): string | undefined {
  const filter = streamSubjectOf(template, destination);
  return RESERVED_PREFIXES.find((prefix) => subjectsOverlap(`${prefix}.>`, filter));
}

/** One subject token from a database or table name. */
export function subjectToken(name: string): string {
  return name === "" ? "_" : name.replace(/[\s.*>]/g, "_");
}

/** Builds subjects for one destination, caching per database and table. */
export class SubjectMaker {
  private readonly fixed: string;
  private readonly cache = new Map<string, string>();

  constructor(template: string, destination: string) {
    if (templateProblem(template) !== undefined) throw new CanalConfigError(`sink subject template ${JSON.stringify(template)} ${templateProblem(template)} (expected tokens such as canal.{destination}.{database}.{table})`);
    this.fixed = destinationTemplate(template, destination);
  }

  subject(database: string, table: string): string {
    const key = `${database}\u0000${table}`;
    let subject = this.cache.get(key);
    if (subject === undefined) {
      const values: Record<Exclude<Placeholder, "destination">, string> = { database: subjectToken(database), table: subjectToken(table) };
      subject = this.fixed.replace(/\{(database|table)\}/g, (_, name: "database" | "table") => values[name]);
      // Bounded: a destination has a bounded number of tables, but be safe against churn.
      if (this.cache.size > 10_000) this.cache.clear();
      this.cache.set(key, subject);
    }
    return subject;
  }
}

/**
 * Whether every subject matching `inner` also matches `filter` (NATS subject semantics:
 * `*` one token, `>` one or more trailing tokens).
 */
export function subjectCovers(filter: string, inner: string): boolean {
  const f = filter.split(".");
  const s = inner.split(".");
  for (let i = 0; i < f.length; i++) {
    const ft = f[i]!;
    if (ft === ">") return s.length > i;
    if (i >= s.length) return false;
    const st = s[i]!;
    if (st === ">") return false;
    if (ft !== "*" && ft !== st) return false;
  }
  return f.length === s.length;
}

/** Whether some subject matches both patterns. */
export function subjectsOverlap(a: string, b: string): boolean {
  const x = a.split(".");
  const y = b.split(".");
  for (let i = 0; ; i++) {
    if (x[i] === ">" || y[i] === ">") return i < x.length && i < y.length;
    if (i >= x.length || i >= y.length) return x.length === y.length;
    if (x[i] !== "*" && y[i] !== "*" && x[i] !== y[i]) return false;
  }
}
