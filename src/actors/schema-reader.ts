/**
 * Reads table schemas from the source database: the column names, the `mysqlType` Canal
 * reports (the type as SHOW CREATE TABLE prints it) and the primary key. Read once per table
 * and cached; a DDL naming a table drops its entry, so the next rows event reads it again.
 *
 * Why information_schema and not SHOW CREATE TABLE: on MariaDB 10.11 `COLUMNS.COLUMN_TYPE`
 * is the very type text SHOW CREATE TABLE prints (`int(11)`, `int(10) unsigned zerofill`,
 * `decimal(10,0)`, `enum('a','b''c')`, `year(4)`, `double(10,2)`; JSON is `longtext`, as the
 * CREATE statement shows it too), checked column by column on a table of every type, and it
 * needs no SQL parser. The key is the PRIMARY index only, as Canal's DDL-derived TableMeta
 * has it: `COLUMNS.COLUMN_KEY` would also say PRI for a UNIQUE NOT NULL column of a table
 * without a primary key.
 */
import mysql from "mysql2/promise";
import { CanalConnectionError } from "../errors.js";
import type { TableSchema } from "../protocol/binlog/table-plan.js";

/** A table's schema as read, with its name (TableSchema is what the entry writer takes). */
export interface NamedTableSchema extends TableSchema {
  schema: string;
  table: string;
}

export interface SchemaReaderOptions {
  host: string;
  port: number;
  user: string;
  password: string;
  connectTimeoutMs?: number;
}

const COLUMNS_SQL = `
  SELECT c.COLUMN_NAME AS name, c.COLUMN_TYPE AS mysqlType, k.COLUMN_NAME IS NOT NULL AS isKey
  FROM information_schema.COLUMNS c
  LEFT JOIN information_schema.STATISTICS k
    ON k.TABLE_SCHEMA = c.TABLE_SCHEMA AND k.TABLE_NAME = c.TABLE_NAME
   AND k.COLUMN_NAME = c.COLUMN_NAME AND k.INDEX_NAME = 'PRIMARY'
  WHERE c.TABLE_SCHEMA = ? AND c.TABLE_NAME = ?
  ORDER BY c.ORDINAL_POSITION`;

export class SchemaReader {
  /** Reads of the database made so far (cache misses); for stats and tests. */
  reads = 0;
  private connection: Promise<mysql.Connection> | undefined;
  private readonly cache = new Map<string, NamedTableSchema | null>();

  constructor(private readonly options: SchemaReaderOptions) {}

  /** The cached schema, or undefined when it must be read first (`read`). null: no such table. */
  cached(schema: string, table: string): NamedTableSchema | null | undefined {
    return this.cache.get(key(schema, table));
  }

  /** The table's schema, read from the database unless cached; null when the table does not exist. */
  async read(schema: string, table: string): Promise<NamedTableSchema | null> {
    const k = key(schema, table);
    const known = this.cache.get(k);
    if (known !== undefined) return known;
    this.reads++;
    const rows = await this.query(schema, table);
    const result: NamedTableSchema | null =
      rows.length === 0
        ? null
        : { schema, table, columns: rows.map((r) => ({ name: r.name, mysqlType: r.mysqlType, isKey: Number(r.isKey) === 1 })) };
    this.cache.set(k, result);
    return result;
  }

  /** Forgets one table (after a DDL on it), or every table of `schema` when `table` is omitted. */
  invalidate(schema: string, table?: string): void {
    if (table !== undefined) {
      this.cache.delete(key(schema, table));
      return;
    }
    const prefix = key(schema, "");
    for (const k of this.cache.keys()) if (k.startsWith(prefix)) this.cache.delete(k);
  }

  async close(): Promise<void> {
    const connection = this.connection;
    this.connection = undefined;
    this.cache.clear();
    if (connection !== undefined) await connection.then((c) => c.end()).catch(() => {});
  }

  private async query(schema: string, table: string): Promise<Array<{ name: string; mysqlType: string; isKey: number | string }>> {
    const o = this.options;
    this.connection ??= mysql.createConnection({ host: o.host, port: o.port, user: o.user, password: o.password, connectTimeout: o.connectTimeoutMs ?? 10_000 });
    const connection = this.connection;
    try {
      const [rows] = await (await connection).query(COLUMNS_SQL, [schema, table]);
      return rows as Array<{ name: string; mysqlType: string; isKey: number | string }>;
    } catch (err) {
      // A broken connection is dropped so the next read opens a new one.
      if (this.connection === connection) this.connection = undefined;
      void connection.then((c) => c.destroy()).catch(() => {});
      throw new CanalConnectionError(`reading the schema of ${schema}.${table}: ${(err as Error).message}`, { cause: err });
    }
  }
}

function key(schema: string, table: string): string {
  return `${schema}\u0000${table}`;
}
