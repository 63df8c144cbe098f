import { test } from "uvu";
import * as assert from "uvu/assert";
import { CanalConfigError } from "../../../src/errors.js";
import {
  TimestampFormatter,
  renderDate,
  renderDatetime,
  renderDatetime2,
  renderTime,
  renderTime2,
  renderTimestamp2,
  renderYear,
} from "../../../src/protocol/binlog/temporal.js";

/** The fraction bytes for fsp: 1/100 s, 1/10000 s or µs, big-endian. */
function fraction(micros: number, fsp: number): number[] {
  if (fsp === 0) return [];
  const n = (fsp + 1) >> 1;
  let v = Math.floor(micros / 10 ** (6 - 2 * n));
  if (v < 0) v += 256 ** n;
  return Array.from({ length: n }, (_, i) => Math.floor(v / 256 ** (n - 1 - i)) % 256);
}
const be = (v: number, n: number) => Array.from({ length: n }, (_, i) => Math.floor(v / 256 ** (n - 1 - i)) % 256);

function datetime2(y: number, mo: number, d: number, h: number, mi: number, s: number, micros: number, fsp: number): Buffer {
  const packed = ((y * 13 + mo) * 32 + d) * 131072 + h * 4096 + mi * 64 + s;
  return Buffer.from([...be(packed + 0x8000000000, 5), ...fraction(micros, fsp)]);
}

/** TIME2 as MySQL packs it: sign applies to the whole (hms << 24 | µs) value. */
function time2(negative: boolean, h: number, mi: number, s: number, micros: number, fsp: number): Buffer {
  const hms = h * 4096 + mi * 64 + s;
  const whole = (negative ? -1 : 1) * (hms * 2 ** 24 + micros);
  if (fsp >= 5) return Buffer.from(be(whole + 0x800000000000, 6));
  const intPart = Math.floor(whole / 2 ** 24); // arithmetic shift
  const frac = negative ? -micros : micros; // C-style remainder
  return Buffer.from([...be(intPart + 0x800000, 3), ...fraction(frac, fsp)]);
}

test("DATETIME2 with fsp 0, 3 and 6, and the zero date", () => {
  assert.is(renderDatetime2(datetime2(2024, 2, 29, 13, 14, 15, 0, 0), 0, 0), "2024-02-29 13:14:15");
  assert.is(renderDatetime2(datetime2(2024, 2, 29, 13, 14, 15, 123000, 3), 0, 3), "2024-02-29 13:14:15.123");
  assert.is(renderDatetime2(datetime2(2024, 2, 29, 13, 14, 15, 5, 6), 0, 6), "2024-02-29 13:14:15.000005");
  assert.is(renderDatetime2(datetime2(9999, 12, 31, 23, 59, 59, 990000, 2), 0, 2), "9999-12-31 23:59:59.99");
  assert.is(renderDatetime2(datetime2(0, 0, 0, 0, 0, 0, 0, 3), 0, 3), "0000-00-00 00:00:00.000");
  assert.is(renderDatetime2(datetime2(2024, 0, 0, 0, 0, 0, 0, 0), 0, 0), "2024-00-00 00:00:00");
  // The packed form holds years up to 10082: printed in full, as Canal's padding does.
  assert.is(renderDatetime2(datetime2(10000, 1, 2, 3, 4, 5, 0, 0), 0, 0), "10000-01-02 03:04:05");
  assert.is(renderDatetime2(datetime2(5, 6, 7, 8, 9, 10, 0, 0), 0, 0), "0005-06-07 08:09:10");
});

test("DATE, old DATETIME, YEAR", () => {
  const date = (y: number, m: number, d: number) => Buffer.from(be(y * 512 + m * 32 + d, 3).reverse());
  assert.is(renderDate(date(2024, 2, 29), 0), "2024-02-29");
  assert.is(renderDate(date(0, 0, 0), 0), "0000-00-00");
  assert.is(renderDate(date(999, 1, 2), 0), "0999-01-02");
  const old = Buffer.alloc(8);
  old.writeBigUInt64LE(20240229131415n);
  assert.is(renderDatetime(old, 0), "2024-02-29 13:14:15");
  assert.is(renderDatetime(Buffer.alloc(8), 0), "0000-00-00 00:00:00");
  assert.is(renderYear(0), "0000");
  assert.is(renderYear(124), "2024");
  assert.is(renderYear(1), "1901");
});

test("TIME2: negative values, fractions, hours of 100 and more", () => {
  assert.is(renderTime2(time2(false, 12, 34, 56, 0, 0), 0, 0), "12:34:56");
  assert.is(renderTime2(time2(true, 838, 59, 59, 0, 0), 0, 0), "-838:59:59");
  assert.is(renderTime2(time2(false, 100, 0, 0, 500000, 6), 0, 6), "100:00:00.500000");
  assert.is(renderTime2(time2(true, 12, 34, 56, 780000, 2), 0, 2), "-12:34:56.78");
  assert.is(renderTime2(time2(true, 0, 0, 0, 10000, 2), 0, 2), "-00:00:00.01");
  assert.is(renderTime2(time2(true, 0, 0, 1, 100, 4), 0, 4), "-00:00:01.0001");
  assert.is(renderTime2(time2(true, 0, 0, 1, 1, 6), 0, 6), "-00:00:01.000001");
  assert.is(renderTime2(time2(false, 0, 0, 0, 0, 2), 0, 2), "00:00:00.00");
  assert.is(renderTime2(time2(false, 838, 59, 59, 1, 5), 0, 5), "838:59:59.00000");
});

test("old TIME keeps Canal's two-digit printing of hour 100", () => {
  const time = (v: number) => {
    const b = Buffer.alloc(3);
    b.writeIntLE(v, 0, 3);
    return b;
  };
  assert.is(renderTime(time(123456), 0), "12:34:56");
  assert.is(renderTime(time(-83859_59), 0), "-838:59:59");
  assert.is(renderTime(time(1000000), 0), "00:00:00"); // 100:00:00 through appendNumber2
  assert.is(renderTime(time(0), 0), "00:00:00");
});

test("TIMESTAMP2 in UTC and across New York's DST changes", () => {
  const ts2 = (sec: number, micros: number, fsp: number) => Buffer.from([...be(sec, 4), ...fraction(micros, fsp)]);
  const utc = new TimestampFormatter("UTC");
  const ny = new TimestampFormatter("America/New_York");
  const at = (iso: string) => Date.parse(iso) / 1000;
  assert.is(renderTimestamp2(ts2(at("2024-02-29T13:14:15Z"), 0, 0), 0, 0, utc), "2024-02-29 13:14:15");
  assert.is(renderTimestamp2(ts2(0, 0, 3), 0, 3, utc), "0000-00-00 00:00:00.000");
  assert.is(renderTimestamp2(ts2(1, 0, 0), 0, 0, ny), "1969-12-31 19:00:01");
  // spring forward: 01:59:59 EST is followed by 03:00:00 EDT
  assert.is(renderTimestamp2(ts2(at("2024-03-10T06:59:59Z"), 0, 0), 0, 0, ny), "2024-03-10 01:59:59");
  assert.is(renderTimestamp2(ts2(at("2024-03-10T07:00:00Z"), 500000, 1), 0, 1, ny), "2024-03-10 03:00:00.5");
  // fall back: 01:30 happens twice
  assert.is(ny.format(at("2024-11-03T05:30:00Z")), "2024-11-03 01:30:00");
  assert.is(ny.format(at("2024-11-03T06:30:00Z")), "2024-11-03 01:30:00");
  assert.is(ny.format(at("2024-11-03T05:59:59Z")), "2024-11-03 01:59:59");
  assert.is(ny.format(at("2024-11-03T06:00:00Z")), "2024-11-03 01:00:00");
  assert.is(ny.format(4294967295), "2106-02-07 01:28:15");
});

test("cached offsets agree with Intl for every hour of a year, in zones with odd offsets", () => {
  for (const zone of ["America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu", "Europe/London"]) {
    const formatter = new TimestampFormatter(zone);
    const intl = new Intl.DateTimeFormat("sv-SE", { timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });
    for (let t = Date.UTC(2023, 0, 1) / 1000 + 1799; t < Date.UTC(2024, 0, 1) / 1000; t += 3600) {
      assert.is(formatter.format(t), intl.format(t * 1000), `${zone} ${t}`);
    }
  }
});

test("an unknown zone is a configuration error naming it", () => {
  assert.throws(() => new TimestampFormatter("Mars/Olympus"), (e: unknown) => e instanceof CanalConfigError && e.message.includes('"Mars/Olympus"'));
});

test.run();
