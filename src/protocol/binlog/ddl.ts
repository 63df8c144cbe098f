/**
 * What a QUERY event's statement is, as Canal classifies it (LogEventConvert.parseQueryEvent
 * with DruidDdlParser; fact sheet §2.3): the EventType of the entry and the schema/table its
 * header names.
 *
 * Canal parses the whole statement with Druid and takes its first result. We read only the
 * leading keywords and names, which is all that decides the result:
 *   CREATE [OR REPLACE] [TEMPORARY] TABLE [IF NOT EXISTS] t            CREATE
 *   CREATE [UNIQUE|FULLTEXT|SPATIAL] INDEX i … ON t                    CINDEX
 *   ALTER [ONLINE] [IGNORE] TABLE t <first change>:
 *     RENAME [TO|AS] t2                                                 RENAME (names t2; t is the original)
 *     ADD {INDEX|KEY|FULLTEXT|SPATIAL|UNIQUE|PRIMARY KEY}, ADD CONSTRAINT [c] {UNIQUE|PRIMARY KEY}
 *                                                                       CINDEX
 *     ADD [CONSTRAINT [c]] FOREIGN KEY                                  none: QUERY without names
 *     DROP {INDEX|KEY|CONSTRAINT}                                       DINDEX
 *     anything else (columns, options, RENAME COLUMN…)                  ALTER
 *   DROP [TEMPORARY] TABLE [IF EXISTS] t[, …]                           ERASE (first table)
 *   DROP INDEX i ON t                                                   DINDEX
 *   TRUNCATE [TABLE] t                                                  TRUNCATE
 *   RENAME TABLE t TO t2[, …]                                           RENAME (first pair)
 *   CREATE/DROP {DATABASE|SCHEMA} [IF [NOT] EXISTS] d                   QUERY, schema d, no table
 *   INSERT [INTO] t / UPDATE t / DELETE FROM t (statement-based DML)    INSERT / UPDATE / DELETE
 *   anything else                                                       QUERY, no schema, no table
 * A name is `t`, `d.t`, or either part in backquotes; an unqualified table is in the query's
 * default database. Canal takes Druid's first result, so for an ALTER with several changes
 * the first change decides, except that Druid puts table options (ENGINE=…) first: an ALTER
 * that has any is ALTER. Statements Druid cannot parse (procedures, CREATE OR REPLACE…) are
 * QUERY without names in Canal; we classify some of them instead, by their keywords.
 */
import { EventType } from "../entry.js";

export interface QueryTarget {
  type: EventType;
  /** Header schemaName; undefined leaves it unset. */
  schema?: string;
  /** Header tableName; undefined leaves it unset. */
  table?: string;
  /** RENAME only: the table's name before the rename. */
  originalSchema?: string;
  originalTable?: string;
}

/** Whether an entry of this type is DDL (`RowChange.isDdl`): everything but statement-based DML. */
export function isDdlType(type: EventType): boolean {
  return type !== EventType.INSERT && type !== EventType.UPDATE && type !== EventType.DELETE;
}

export function classifyQuery(sql: string, defaultSchema: string): QueryTarget {
  const t = new Tokens(sql);
  const name = (): { schema: string; table: string } | undefined => t.name(defaultSchema);
  const withName = (type: EventType, n = name()): QueryTarget => (n === undefined ? { type: EventType.QUERY } : { type, ...n });
  switch (t.keyword()) {
    case "CREATE": {
      t.accept("OR", "REPLACE");
      t.accept("TEMPORARY");
      const what = t.keyword();
      if (what === "TABLE") {
        t.accept("IF", "NOT", "EXISTS");
        return withName(EventType.CREATE);
      }
      if (what === "DATABASE" || what === "SCHEMA") return database(t);
      if (what === "INDEX" || ((what === "UNIQUE" || what === "FULLTEXT" || what === "SPATIAL") && t.accept("INDEX"))) {
        return t.skipTo("ON") ? withName(EventType.CINDEX) : { type: EventType.QUERY };
      }
      return { type: EventType.QUERY };
    }
    case "ALTER": {
      t.accept("ONLINE");
      t.accept("IGNORE");
      if (t.keyword() !== "TABLE") return { type: EventType.QUERY };
      const table = name();
      if (table === undefined) return { type: EventType.QUERY };
      if (t.hasTableOption()) return { type: EventType.ALTER, ...table };
      return alterChange(t, table, defaultSchema);
    }
    case "DROP": {
      t.accept("TEMPORARY");
      const what = t.keyword();
      if (what === "TABLE" || what === "TABLES") {
        t.accept("IF", "EXISTS");
        return withName(EventType.ERASE);
      }
      if (what === "DATABASE" || what === "SCHEMA") return database(t);
      if (what === "INDEX") return t.skipTo("ON") ? withName(EventType.DINDEX) : { type: EventType.QUERY };
      return { type: EventType.QUERY };
    }
    case "TRUNCATE":
      t.accept("TABLE");
      return withName(EventType.TRUNCATE);
    case "RENAME": {
      if (t.keyword() !== "TABLE" && t.keyword() !== "TABLES") return { type: EventType.QUERY };
      const from = name();
      if (from === undefined || !t.accept("TO")) return { type: EventType.QUERY };
      return renamed(from, name());
    }
    case "INSERT":
      t.acceptAny("LOW_PRIORITY", "DELAYED", "HIGH_PRIORITY");
      t.accept("IGNORE");
      t.accept("INTO");
      return withName(EventType.INSERT);
    case "UPDATE":
      t.acceptAny("LOW_PRIORITY");
      t.accept("IGNORE");
      return withName(EventType.UPDATE);
    case "DELETE":
      return t.skipTo("FROM") ? withName(EventType.DELETE) : { type: EventType.QUERY };
    default:
      return { type: EventType.QUERY };
  }
}

function database(t: Tokens): QueryTarget {
  if (!t.accept("IF", "NOT", "EXISTS")) t.accept("IF", "EXISTS");
  const schema = t.identifier();
  return schema === undefined || schema.trim() === "" ? { type: EventType.QUERY } : { type: EventType.QUERY, schema };
}

function renamed(from: { schema: string; table: string }, to: { schema: string; table: string } | undefined): QueryTarget {
  if (to === undefined) return { type: EventType.QUERY };
  return { type: EventType.RENAME, ...to, originalSchema: from.schema, originalTable: from.table };
}

function alterChange(t: Tokens, table: { schema: string; table: string }, defaultSchema: string): QueryTarget {
  switch (t.keyword()) {
    case "RENAME": {
      const next = t.peekKeyword();
      if (next === "COLUMN" || next === "INDEX" || next === "KEY") break;
      if (!t.accept("TO")) t.accept("AS");
      return renamed(table, t.name(defaultSchema));
    }
    case "ADD": {
      if (t.accept("CONSTRAINT") && t.peekKeyword() !== "UNIQUE" && t.peekKeyword() !== "PRIMARY" && t.peekKeyword() !== "FOREIGN") {
        t.identifier(); // the constraint's name
      }
      const what = t.keyword();
      if (what === "FOREIGN") return { type: EventType.QUERY };
      if (what === "INDEX" || what === "KEY" || what === "FULLTEXT" || what === "SPATIAL" || what === "UNIQUE" || what === "PRIMARY") {
        return { type: EventType.CINDEX, ...table };
      }
      break;
    }
    case "DROP": {
      const what = t.keyword();
      if (what === "INDEX" || what === "KEY" || what === "CONSTRAINT") return { type: EventType.DINDEX, ...table };
      break;
    }
  }
  return { type: EventType.ALTER, ...table };
}

/**
 * Table options that make Druid report ALTER first, whatever the changes are. Matched as
 * `OPTION =` or `OPTION value` at the top level of the statement.
 */
const TABLE_OPTION = /(^|[\s,])(ENGINE|AUTO_INCREMENT|AVG_ROW_LENGTH|(DEFAULT\s+)?(CHARACTER\s+SET|CHARSET|COLLATE)|CHECKSUM|COMMENT|COMPRESSION|CONNECTION|DATA\s+DIRECTORY|INDEX\s+DIRECTORY|DELAY_KEY_WRITE|ENCRYPTION|INSERT_METHOD|KEY_BLOCK_SIZE|MAX_ROWS|MIN_ROWS|PACK_KEYS|PASSWORD|ROW_FORMAT|STATS_AUTO_RECALC|STATS_PERSISTENT|STATS_SAMPLE_PAGES|TABLESPACE|UNION)\s*=/i;

/** A cursor over the statement text: keywords, identifiers and names, skipping comments. */
class Tokens {
  private pos = 0;

  constructor(private readonly sql: string) {}

  /** The next bare word, upper-cased, or "" at anything else. */
  keyword(): string {
    this.skipSpace();
    const m = /^[A-Za-z_][A-Za-z0-9_$]*/.exec(this.sql.slice(this.pos));
    if (m === null) return "";
    this.pos += m[0].length;
    return m[0].toUpperCase();
  }

  peekKeyword(): string {
    const at = this.pos;
    const k = this.keyword();
    this.pos = at;
    return k;
  }

  /** Consumes the keywords if they come next, all of them; otherwise consumes nothing. */
  accept(...words: string[]): boolean {
    const at = this.pos;
    for (const w of words) {
      if (this.keyword() !== w) {
        this.pos = at;
        return false;
      }
    }
    return true;
  }

  acceptAny(...words: string[]): void {
    while (words.includes(this.peekKeyword())) this.keyword();
  }

  /** Moves past the next occurrence of keyword `word` (not inside backquotes); false if there is none. */
  skipTo(word: string): boolean {
    while (this.pos < this.sql.length) {
      const at = this.pos;
      if (this.keyword() === word) return true;
      if (this.pos === at && this.identifier() === undefined) this.pos++;
    }
    return false;
  }

  /** An identifier, bare or backquoted (Druid strips the backquotes, nothing more). */
  identifier(): string | undefined {
    this.skipSpace();
    const rest = this.sql.slice(this.pos);
    const quoted = /^`((?:[^`]|``)*)`/.exec(rest);
    if (quoted !== null) {
      this.pos += quoted[0].length;
      return quoted[1]!;
    }
    const bare = /^[A-Za-z0-9_$\u0080-\uffff]+/.exec(rest);
    if (bare === null) return undefined;
    this.pos += bare[0].length;
    return bare[0];
  }

  /** `table` or `schema.table`; an unqualified table is in `defaultSchema`. */
  name(defaultSchema: string): { schema: string; table: string } | undefined {
    const first = this.identifier();
    if (first === undefined) return undefined;
    this.skipSpace();
    if (this.sql[this.pos] !== ".") return { schema: defaultSchema, table: first };
    this.pos++;
    const second = this.identifier();
    return second === undefined ? undefined : { schema: first, table: second };
  }

  hasTableOption(): boolean {
    return TABLE_OPTION.test(this.sql.slice(this.pos));
  }

  private skipSpace(): void {
    const sql = this.sql;
    for (;;) {
      while (this.pos < sql.length && /\s/.test(sql[this.pos]!)) this.pos++;
      if (sql.startsWith("/*", this.pos)) {
        const close = sql.indexOf("*/", this.pos + 2);
        this.pos = close < 0 ? sql.length : close + 2;
      } else if (sql.startsWith("#", this.pos) || /^--(\s|$)/.test(sql.slice(this.pos, this.pos + 3))) {
        const eol = sql.indexOf("\n", this.pos);
        this.pos = eol < 0 ? sql.length : eol + 1;
      } else return;
    }
  }
}
