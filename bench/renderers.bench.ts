/**
 * Column renderers on the reference row (bench/ workload table `orders`: int, bigint, varchar,
 * text, decimal(12,2), double, datetime(6), timestamp, date, tinyint, enum, json): decodes a
 * pool of 1000 distinct synthetic row images, as MariaDB writes them, over and over and prints
 * rows/s. No reference and no assertion; this times only the value renderers.
 *
 *   node --import tsx bench/renderers.bench.ts [rows, default 3000000]
 */
import { MysqlType as M } from "../src/protocol/binlog/column-types.js";
import { createColumnValue, planColumns, readColumnValue } from "../src/protocol/binlog/row-values.js";
import { TimestampFormatter } from "../src/protocol/binlog/temporal.js";

const readers = planColumns(
  [
    { type: M.LONG, meta: 0 },
    { type: M.LONGLONG, meta: 0 },
    { type: M.VARCHAR, meta: 256 }, // VARCHAR(64) utf8mb4: 2-byte length
    { type: M.BLOB, meta: 2, binary: false }, // TEXT
    { type: M.NEWDECIMAL, meta: (12 << 8) | 2 },
    { type: M.DOUBLE, meta: 8 },
    { type: M.DATETIME2, meta: 6 },
    { type: M.TIMESTAMP2, meta: 0 },
    { type: M.DATE, meta: 0 },
    { type: M.TINY, meta: 0 },
    { type: M.ENUM, meta: 1 },
    { type: M.BLOB, meta: 4, binary: false }, // MariaDB JSON = LONGTEXT
  ],
  { charset: "utf8", timestamps: new TimestampFormatter("Asia/Shanghai") },
);

let seed = 42;
const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
const int = (n: number) => Math.floor(rand() * n);

function rowImage(id: number): Buffer {
  const parts: Buffer[] = [Buffer.from([0, 0])]; // null bitmap: nothing null
  const fixed = (n: number, write: (b: Buffer) => void) => {
    const b = Buffer.alloc(n);
    write(b);
    parts.push(b);
  };
  const sized = (prefix: number, text: string) => {
    const bytes = Buffer.from(text, "utf8");
    fixed(prefix, (b) => b.writeUIntLE(bytes.length, 0, prefix));
    parts.push(bytes);
  };
  fixed(4, (b) => b.writeInt32LE(id));
  fixed(8, (b) => b.writeBigInt64LE(BigInt(int(1e12))));
  sized(2, `SKU-${String(int(1e8)).padStart(8, "0")}-${int(2 ** 31).toString(16)}`);
  sized(2, "lorem ipsum dolor sit amet ".repeat(1 + int(11)));
  const cents = int(9999999);
  fixed(6, (b) => { // DECIMAL(12,2): 1 digit + 9 digits + 2 digits → 1 + 4 + 1 bytes, sign bit set
    b[0] = 0x80 | Math.floor(cents / 1e11);
    b.writeUInt32BE(Math.floor(cents / 100) % 1e9, 1);
    b[5] = cents % 100;
  });
  fixed(8, (b) => b.writeDoubleLE(rand() * 1000));
  const day = int(365);
  fixed(8, (b) => { // DATETIME2(6) in 2024
    const d = new Date(Date.UTC(2024, 0, 1 + day, int(24), int(60), int(60)));
    const ymd = ((d.getUTCFullYear() * 13 + d.getUTCMonth() + 1) << 5) | d.getUTCDate();
    b.writeUIntBE(0x8000000000 + ymd * 131072 + d.getUTCHours() * 4096 + d.getUTCMinutes() * 64 + d.getUTCSeconds(), 0, 5);
    b.writeUIntBE(int(1e6), 5, 3);
  });
  fixed(4, (b) => b.writeUInt32BE(1704067200 + int(31536000)));
  fixed(3, (b) => b.writeUIntLE(2024 * 512 + (1 + int(12)) * 32 + 1 + int(28), 0, 3));
  fixed(1, (b) => b.writeInt8(int(2)));
  fixed(1, (b) => (b[0] = 1 + int(5)));
  sized(4, `{"color": "${["red", "green", "blue", "black"][int(4)]}", "qty": ${int(100)}, "tags": ["a", "b", ${int(10)}], "gift": false}`);
  return Buffer.concat(parts);
}

const pool = Array.from({ length: 1000 }, (_, i) => rowImage(i + 1));
const out = createColumnValue();
let checksum = 0;

function decode(rows: number): void {
  for (let r = 0; r < rows; r++) {
    const buf = pool[r % pool.length]!;
    let pos = 2;
    for (let c = 0; c < readers.length; c++) {
      pos = readColumnValue(readers[c]!, buf, pos, buf.length, out);
      checksum += out.value!.length;
    }
  }
}

const rows = Number(process.argv[2] ?? 3_000_000);
decode(200_000); // warm up JIT and the zone cache
const start = process.hrtime.bigint();
decode(rows);
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
console.log(`renderers: ${rows} rows × ${readers.length} columns in ${seconds.toFixed(2)} s = ${Math.round(rows / seconds).toLocaleString("en-US")} rows/s (checksum ${checksum})`);
