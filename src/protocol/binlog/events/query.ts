/**
 * QUERY_EVENT (2): BEGIN, COMMIT (non-transactional engines), DDL, and statements under
 * statement-based logging.
 *
 *   post-header: thread_id u32 | exec_time u32 | db_len u8 | error_code u16 | status_vars_len u16
 *   body:        status_vars[status_vars_len] | db[db_len] | 0x00 | SQL text (rest)
 *
 * Status variables are (code u8, value) pairs whose value length depends on the code. The
 * block's total length is known, so the database and SQL are found without understanding any
 * of them; the walk below only picks out the few values later layers use, and stops quietly at
 * the first code it does not know (a newer server's) because nothing after it can be located.
 */
import { ByteReader } from "./byte-reader.js";

export interface Query {
  threadId: number;
  /** Seconds the statement ran on the primary (Canal's executeTime comes from the header). */
  execTime: number;
  errorCode: number;
  /** The default database when the statement ran ("" when none). */
  database: string;
  sql: string;
  /** Q_CHARSET_CODE: the client's collation id, which the SQL text is written in. */
  clientCollation?: number;
  /** MySQL Q_DDL_LOGGED_WITH_XID / MariaDB Q_XID: a DDL statement's transaction id. */
  xid?: bigint;
}

const QUERY_POST_HEADER_LENGTH = 13;

/** Value lengths of the fixed-size status variables, by code. */
const FIXED_STATUS_VAR_LENGTH: Readonly<Record<number, number>> = {
  0: 4, // Q_FLAGS2_CODE
  1: 8, // Q_SQL_MODE_CODE
  3: 4, // Q_AUTO_INCREMENT: increment u16, offset u16
  4: 6, // Q_CHARSET_CODE: client, connection, server collation u16
  7: 2, // Q_LC_TIME_NAMES_CODE
  8: 2, // Q_CHARSET_DATABASE_CODE
  9: 8, // Q_TABLE_MAP_FOR_UPDATE_CODE
  10: 4, // Q_MASTER_DATA_WRITTEN_CODE
  13: 3, // Q_MICROSECONDS
  16: 1, // Q_EXPLICIT_DEFAULTS_FOR_TIMESTAMP
  17: 8, // Q_DDL_LOGGED_WITH_XID (MySQL)
  18: 2, // Q_DEFAULT_COLLATION_FOR_UTF8MB4
  19: 1, // Q_SQL_REQUIRE_PRIMARY_KEY
  20: 1, // Q_DEFAULT_TABLE_ENCRYPTION
  128: 3, // Q_HRNOW (MariaDB): microseconds of the start time
  129: 8, // Q_XID (MariaDB)
};
const Q_CATALOG_CODE = 2; // length u8 | name | 0x00 (5.0.0–5.0.3 only)
const Q_CHARSET_CODE = 4;
const Q_TIME_ZONE_CODE = 5; // length u8 | name
const Q_CATALOG_NZ_CODE = 6; // length u8 | name
const Q_INVOKER = 11; // user length u8 | user | host length u8 | host
const Q_UPDATED_DB_NAMES = 12; // count u8 | count NUL-terminated names (none when count is 254)
const Q_DDL_LOGGED_WITH_XID = 17;
const Q_XID_MARIADB = 129;
const OVER_MAX_DBS_IN_EVENT = 254;

function readStatusVars(r: ByteReader, query: Query): void {
  while (r.remaining > 0) {
    const code = r.u8();
    const fixed = FIXED_STATUS_VAR_LENGTH[code];
    if (fixed !== undefined) {
      const at = r.take(fixed);
      if (code === Q_CHARSET_CODE) query.clientCollation = r.buf.readUInt16LE(at);
      else if (code === Q_DDL_LOGGED_WITH_XID || code === Q_XID_MARIADB) query.xid = r.buf.readBigUInt64LE(at);
    } else if (code === Q_TIME_ZONE_CODE || code === Q_CATALOG_NZ_CODE) {
      r.skip(r.u8());
    } else if (code === Q_CATALOG_CODE) {
      r.skip(r.u8() + 1);
    } else if (code === Q_INVOKER) {
      r.skip(r.u8());
      r.skip(r.u8());
    } else if (code === Q_UPDATED_DB_NAMES) {
      let count = r.u8();
      if (count === OVER_MAX_DBS_IN_EVENT) count = 0;
      for (; count > 0; count--) while (r.u8() !== 0);
    } else {
      return; // unknown code: its length is unknown, so nothing after it can be read
    }
  }
}

export function decodeQuery(buf: Buffer, start: number, end: number, postHeaderLength = QUERY_POST_HEADER_LENGTH): Query {
  const r = new ByteReader(buf, start, end);
  const threadId = r.u32();
  const execTime = r.u32();
  const dbLength = r.u8();
  const errorCode = r.u16();
  const statusVarsLength = r.u16();
  r.skip(postHeaderLength - QUERY_POST_HEADER_LENGTH);
  const statusVarsStart = r.take(statusVarsLength);
  const database = r.string(dbLength);
  r.skip(1);
  const query: Query = { threadId, execTime, errorCode, database, sql: r.restString() };
  readStatusVars(new ByteReader(buf, statusVarsStart, statusVarsStart + statusVarsLength), query);
  return query;
}
