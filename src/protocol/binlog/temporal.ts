/**
 * Date and time columns rendered as Canal renders them (fact sheet §2.5).
 *
 * Row-image layouts:
 *   DATE        3 bytes LE: day (5 bits) | month (4 bits) << 5 | year << 9
 *   DATETIME    8 bytes LE integer YYYYMMDDhhmmss (pre-5.6 format)
 *   DATETIME2   5 bytes BE: 0x8000000000 + (((year*13+month) << 5 | day) << 17 | hour << 12 | minute << 6 | second),
 *               then the fraction (see FRACTION below)
 *   TIMESTAMP   4 bytes LE seconds since the epoch
 *   TIMESTAMP2  4 bytes BE seconds since the epoch, then the fraction
 *   TIME        3 bytes LE signed integer ±HHMMSS (pre-5.6 format)
 *   TIME2       3 bytes BE: 0x800000 + signed (hour << 12 | minute << 6 | second), then the
 *               fraction; with fsp 5-6 the 6 bytes together are 0x800000000000 + signed
 *               (that << 24 | microseconds)
 *   YEAR        1 byte, year − 1900 (0 = the zero year)
 *   FRACTION    fsp 1-2: 1 byte of 1/100 s, fsp 3-4: 2 bytes BE of 1/10000 s,
 *               fsp 5-6: 3 bytes BE of µs
 * DATETIME2 and TIME2 are what MySQL ≥ 5.6 and MariaDB ≥ 10.1 with mysql56_temporal_format=ON
 * (the default) write; MariaDB's older fractional formats are not supported.
 *
 * Field values are printed as stored, two digits each and four for the year (Canal pads like
 * that and never validates), so "2024-00-00" can appear. A fraction is "." and the first fsp
 * digits of the microseconds zero-padded to 6.
 */
import { CanalConfigError, CanalProtocolError } from "../../errors.js";
import { viewOf } from "./byte-copy.js";
import { ValueBytes } from "./value-bytes.js";

const POW10 = [1, 10, 100, 1e3, 1e4, 1e5, 1e6] as const;
const DASH = 45;
const COLON = 58;
const SPACE = 32;

/** "." and the first `fsp` digits of `micros` zero-padded to 6, or nothing for fsp 0. */
function fraction(out: ValueBytes, micros: number, fsp: number): void {
  if (fsp !== 0) out.fraction(Math.floor(micros / POW10[6 - fsp]!), fsp);
}

/** The year has at least four digits (more from 10000, which a packed DATETIME can hold). */
function date(out: ValueBytes, year: number, month: number, day: number): void {
  if (year < 10000) return out.date(year, month, day);
  out.digits(year);
  out.byte(DASH);
  out.twoDigits(month);
  out.byte(DASH);
  out.twoDigits(day);
}

/** "YYYY-MM-DD hh:mm:ss", the hours below 100 (as in every date-time). */
function dateTime(out: ValueBytes, year: number, month: number, day: number, hours: number, minutes: number, seconds: number): void {
  if (year < 10000) return out.dateTime(year, month, day, hours, minutes, seconds);
  date(out, year, month, day);
  out.byte(SPACE);
  time(out, hours, minutes, seconds);
}

/** Hours have two digits, or more from 100 (TIME2). */
function time(out: ValueBytes, hours: number, minutes: number, seconds: number): void {
  if (hours < 100) return out.threePairs(hours, COLON, minutes, seconds);
  out.digits(hours);
  out.byte(COLON);
  out.twoDigits(minutes);
  out.byte(COLON);
  out.twoDigits(seconds);
}

/** Bytes of the fractional part for a given fsp. */
export function fractionBytes(fsp: number): number {
  return (fsp + 1) >> 1;
}

/** Microseconds from the unsigned fraction bytes at `offset` (TIMESTAMP2, DATETIME2). */
function readFraction(buf: Buffer, offset: number, fsp: number, type: string): number {
  let micros: number;
  switch (fractionBytes(fsp)) {
    case 0:
      return 0;
    case 1:
      micros = buf[offset]! * 10000;
      break;
    case 2:
      micros = buf.readUInt16BE(offset) * 100;
      break;
    default:
      micros = (buf[offset]! << 16) | (buf[offset + 1]! << 8) | buf[offset + 2]!;
  }
  if (micros > 999999) throw new CanalProtocolError(`${type}(${fsp}): fraction ${micros} µs; expected at most 999999`);
  return micros;
}

export function writeDate(out: ValueBytes, buf: Buffer, offset: number): void {
  const v = buf[offset]! | (buf[offset + 1]! << 8) | (buf[offset + 2]! << 16);
  date(out, v >>> 9, (v >>> 5) & 15, v & 31);
}

export function writeDatetime(out: ValueBytes, buf: Buffer, offset: number): void {
  const v = buf.readUInt32LE(offset + 4) * 4294967296 + buf.readUInt32LE(offset);
  if (v > 99991231235959) throw new CanalProtocolError(`DATETIME: packed value ${v}; expected YYYYMMDDhhmmss`);
  const d = Math.floor(v / 1e6);
  const t = v - d * 1e6;
  dateTime(out, Math.floor(d / 10000), Math.floor(d / 100) % 100, d % 100, Math.floor(t / 10000), Math.floor(t / 100) % 100, t % 100);
}

export function writeDatetime2(out: ValueBytes, buf: Buffer, offset: number, fsp: number): void {
  // Byte by byte: Buffer#readUIntBE showed in the decode benchmark's profile as a call of its own.
  const low = ((buf[offset + 1]! << 24) | (buf[offset + 2]! << 16) | (buf[offset + 3]! << 8) | buf[offset + 4]!) >>> 0;
  const packed = buf[offset]! * 0x100000000 + low - 0x8000000000;
  if (packed < 0) throw new CanalProtocolError(`DATETIME2(${fsp}): negative packed value; expected the 0x8000000000 offset`);
  datetimeFromPacked(out, packed);
  fraction(out, readFraction(buf, offset + 5, fsp, "DATETIME2"), fsp);
}

/** "YYYY-MM-DD hh:mm:ss" from the 39-bit packed date-time (the part above the µs). */
function datetimeFromPacked(out: ValueBytes, packed: number): void {
  const ymd = Math.floor(packed / 131072); // >> 17
  const hms = packed % 131072;
  const ym = ymd >>> 5;
  dateTime(out, Math.floor(ym / 13), ym % 13, ymd & 31, hms >>> 12, (hms >>> 6) & 63, hms & 63);
}

/**
 * Pre-5.6 TIME. Canal prints hours above 100 in full but 100 itself through its two-digit
 * printer, as "00" (TIME2 uses ≥ 100); we keep that.
 */
export function writeTime(out: ValueBytes, buf: Buffer, offset: number): void {
  const v = buf.readIntLE(offset, 3);
  const abs = v < 0 ? -v : v;
  const hours = Math.floor(abs / 10000);
  if (v < 0) out.byte(DASH);
  time(out, hours > 100 ? hours : hours % 100, Math.floor(abs / 100) % 100, abs % 100);
}

export function writeTime2(out: ValueBytes, buf: Buffer, offset: number, fsp: number): void {
  let intPart: number;
  let micros: number;
  let negative: boolean;
  switch (fractionBytes(fsp)) {
    case 0:
      intPart = buf.readUIntBE(offset, 3) - 0x800000;
      micros = 0;
      negative = intPart < 0;
      break;
    case 1:
    case 2: {
      // A negative value's fraction is stored as (unit − fraction) with the integer part one
      // lower, so that the bytes sort; undo that.
      const unit = fsp <= 2 ? 0x100 : 0x10000;
      intPart = buf.readUIntBE(offset, 3) - 0x800000;
      let frac = fsp <= 2 ? buf[offset + 3]! : buf.readUInt16BE(offset + 3);
      if (intPart < 0 && frac > 0) {
        intPart++;
        frac -= unit;
      }
      negative = intPart < 0 || frac < 0;
      micros = Math.abs(frac) * (fsp <= 2 ? 10000 : 100);
      break;
    }
    default: {
      const whole = buf.readUIntBE(offset, 6) - 0x800000000000;
      negative = whole < 0;
      const abs = negative ? -whole : whole;
      micros = abs % 0x1000000;
      intPart = (abs - micros) / 0x1000000;
    }
  }
  if (micros > 999999) throw new CanalProtocolError(`TIME2(${fsp}): fraction ${micros} µs; expected at most 999999`);
  const hms = intPart < 0 ? -intPart : intPart;
  if (negative) out.byte(DASH);
  time(out, (hms >>> 12) & 1023, (hms >>> 6) & 63, hms & 63);
  fraction(out, micros, fsp);
}

export function writeYear(out: ValueBytes, byte: number): void {
  if (byte === 0) out.padded(0, 4);
  else out.digits(1900 + byte);
}

/** Old TIMESTAMP (4 bytes LE seconds). */
export function writeTimestamp(out: ValueBytes, buf: Buffer, offset: number, zone: TimestampFormatter): void {
  zone.write(out, buf.readUInt32LE(offset));
}

/** TIMESTAMP2 (4 bytes BE seconds, then the fraction). */
export function writeTimestamp2(out: ValueBytes, buf: Buffer, offset: number, fsp: number, zone: TimestampFormatter): void {
  zone.write(out, viewOf(buf).getUint32(offset)); // not Buffer#readUInt32BE: a call of its own in the profile
  fraction(out, readFraction(buf, offset + 4, fsp, "TIMESTAMP2"), fsp);
}

/**
 * A JSON opaque DATE/DATETIME/TIMESTAMP: 8 bytes LE, the packed value (date-time << 24 | µs).
 * Canal prints it with all 6 fraction digits, and 0 as "0000-00-00 00:00:00".
 */
export function renderPackedDatetime(buf: Buffer, offset: number): string {
  const lo = buf.readUInt32LE(offset);
  const hi = buf.readInt32LE(offset + 4);
  if (hi === 0 && lo === 0) return "0000-00-00 00:00:00";
  if (hi < 0) throw new CanalProtocolError("JSON opaque DATETIME: negative packed value; expected a date-time");
  return text((out) => {
    datetimeFromPacked(out, hi * 256 + (lo >>> 24));
    fraction(out, lo & 0xffffff, 6);
  });
}

/** A JSON opaque TIME: 8 bytes LE, signed packed (time << 24 | µs); "00:00:00" for 0. */
export function renderPackedTime(buf: Buffer, offset: number): string {
  let lo = buf.readUInt32LE(offset);
  let hi = buf.readInt32LE(offset + 4);
  if (hi === 0 && lo === 0) return "00:00:00";
  const negative = hi < 0;
  if (negative) {
    // two's complement negation of the 64-bit value
    lo = (~lo >>> 0) + 1;
    hi = (~hi >>> 0) + (lo === 4294967296 ? 1 : 0);
    lo >>>= 0;
  }
  const hms = hi * 256 + (lo >>> 24);
  const hours = Math.floor(hms / 4096) % 1024;
  return text((out) => {
    if (negative) out.byte(DASH);
    time(out, hours > 100 ? hours : hours % 100, (hms >>> 6) & 63, hms & 63);
    fraction(out, lo & 0xffffff, 6);
  });
}

/** The process's IANA time zone (TZ, else /etc/localtime), like the JVM's default. */
export function defaultTimeZone(): string {
  return new Intl.DateTimeFormat().resolvedOptions().timeZone;
}

const DAY = 86400;
/** Days up to the last second of an unsigned 32-bit TIMESTAMP. */
const TIMESTAMP_DAYS = Math.floor(0xffffffff / DAY) + 1;
/** No zone's offset is this many seconds. */
const NOT_CONSTANT = 0x7fffffff;

/**
 * Renders epoch seconds as Canal does for TIMESTAMP columns: `java.sql.Timestamp.toString()`
 * in the JVM's default zone, without the ".0", and "0000-00-00 00:00:00" for 0.
 *
 * Intl is slow (microseconds a call), so the zone's UTC offset is cached per UTC day: a day
 * whose first and last second have the same offset is taken as constant, and a day where they
 * differ gets its transition second found once by bisection. This assumes at most one offset
 * change per day, which holds for every zone in the tz database since 1970.
 */
export class TimestampFormatter {
  readonly timeZone: string;
  private readonly parts: Intl.DateTimeFormat;
  /** UTC day → offset in seconds, or the day's transition. */
  private readonly days = new Map<number, number | Transition>();
  private lastDay = NaN;
  private lastOffset = 0;
  /** Offsets of the days whose offset is constant, by day since 1970 (NOT_CONSTANT: not known yet, or a transition day). */
  private dayOffsets: Int32Array | undefined;

  constructor(timeZone: string = defaultTimeZone()) {
    try {
      this.parts = new Intl.DateTimeFormat("en-US", {
        timeZone,
        hourCycle: "h23",
        year: "numeric",
        month: "numeric",
        day: "numeric",
        hour: "numeric",
        minute: "numeric",
        second: "numeric",
      });
    } catch (cause) {
      throw new CanalConfigError(`time zone ${JSON.stringify(timeZone)}: expected an IANA zone name such as "Asia/Shanghai" or "UTC"`, { cause });
    }
    this.timeZone = timeZone;
  }

  /** "YYYY-MM-DD hh:mm:ss" for `seconds` since the epoch (unsigned 32-bit, as stored). */
  format(seconds: number): string {
    return text((out) => this.write(out, seconds));
  }

  /** `format` as bytes into `out`. */
  write(out: ValueBytes, seconds: number): void {
    if (seconds === 0) return out.dateTime(0, 0, 0, 0, 0, 0);
    const local = seconds + this.offsetAt(seconds);
    const days = Math.floor(local / DAY);
    const secs = local - days * DAY;
    const ymd = civilDate(days);
    out.dateTime(ymd >>> 9, (ymd >>> 5) & 15, ymd & 31, (secs / 3600) | 0, ((secs / 60) | 0) % 60, secs % 60);
  }

  /** Seconds to add to UTC to get local time at `seconds`. */
  offsetAt(seconds: number): number {
    const day = Math.floor(seconds / DAY);
    if (day === this.lastDay) return this.lastOffset;
    // Days a TIMESTAMP can hold are looked up by index, not in the Map: consecutive rows
    // seldom share a day, so most values would pay a Map lookup.
    const byIndex = day >= 0 && day < TIMESTAMP_DAYS;
    if (byIndex) {
      const known = (this.dayOffsets ??= new Int32Array(TIMESTAMP_DAYS).fill(NOT_CONSTANT))[day]!;
      if (known !== NOT_CONSTANT) return known;
    }
    let entry = this.days.get(day);
    if (entry === undefined) {
      if (this.days.size >= 100_000) this.days.clear();
      entry = this.describeDay(day);
      this.days.set(day, entry);
    }
    if (typeof entry === "number") {
      this.lastDay = day;
      this.lastOffset = entry;
      if (byIndex) this.dayOffsets![day] = entry;
      return entry;
    }
    return seconds < entry.at ? entry.before : entry.after;
  }

  private describeDay(day: number): number | Transition {
    const first = day * DAY;
    const last = first + DAY - 1;
    const before = this.intlOffset(first);
    const after = this.intlOffset(last);
    if (before === after) return before;
    // The first second with the new offset lies in (first, last].
    let lo = first;
    let hi = last;
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (this.intlOffset(mid) === before) lo = mid;
      else hi = mid;
    }
    return { at: hi, before, after };
  }

  private intlOffset(seconds: number): number {
    let y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
    for (const part of this.parts.formatToParts(seconds * 1000)) {
      const v = Number(part.value);
      switch (part.type) {
        case "year": y = v; break;
        case "month": mo = v; break;
        case "day": d = v; break;
        case "hour": h = v; break;
        case "minute": mi = v; break;
        case "second": s = v; break;
      }
    }
    return Date.UTC(y, mo - 1, d, h, mi, s) / 1000 - seconds;
  }
}

interface Transition {
  /** First second (UTC) with the new offset. */
  at: number;
  before: number;
  after: number;
}

/**
 * The date of a day count since 1970-01-01 (proleptic Gregorian, Hinnant's civil_from_days),
 * packed as DATE packs it: year << 9 | month << 5 | day. TIMESTAMP days (≥ -1, years up to
 * 2106) keep every quotient non-negative, so `| 0` is the floor here.
 */
function civilDate(days: number): number {
  const z = days + 719468;
  const era = (z / 146097) | 0;
  const doe = z - era * 146097;
  const yoe = ((doe - ((doe / 1460) | 0) + ((doe / 36524) | 0) - ((doe / 146096) | 0)) / 365) | 0;
  const doy = doe - (365 * yoe + ((yoe / 4) | 0) - ((yoe / 100) | 0));
  const mp = ((5 * doy + 2) / 153) | 0;
  const day = doy - (((153 * mp + 2) / 5) | 0) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  return ((yoe + era * 400 + (month <= 2 ? 1 : 0)) << 9) | (month << 5) | day;
}

const scratch = new ValueBytes(64);

/** What a writer above produces, as a string (ASCII). */
function text(write: (out: ValueBytes) => void): string {
  scratch.reset();
  write(scratch);
  return scratch.scratch.toString("latin1", 0, scratch.pos);
}

// String forms, for JSON and tests; the row renderer writes bytes.
export const renderDate = (buf: Buffer, offset: number): string => text((out) => writeDate(out, buf, offset));
export const renderDatetime = (buf: Buffer, offset: number): string => text((out) => writeDatetime(out, buf, offset));
export const renderDatetime2 = (buf: Buffer, offset: number, fsp: number): string => text((out) => writeDatetime2(out, buf, offset, fsp));
export const renderTime = (buf: Buffer, offset: number): string => text((out) => writeTime(out, buf, offset));
export const renderTime2 = (buf: Buffer, offset: number, fsp: number): string => text((out) => writeTime2(out, buf, offset, fsp));
export const renderYear = (byte: number): string => text((out) => writeYear(out, byte));
export const renderTimestamp2 = (buf: Buffer, offset: number, fsp: number, zone: TimestampFormatter): string =>
  text((out) => writeTimestamp2(out, buf, offset, fsp, zone));
