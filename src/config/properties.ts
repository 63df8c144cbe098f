/**
 * Java `.properties` syntax, as `java.util.Properties.load` reads it (Canal loads its files
 * that way):
 *   - `#` or `!` as the first non-blank character starts a comment line;
 *   - a line ending in an odd number of backslashes continues on the next line, whose
 *     leading blanks are dropped (comment lines do not continue);
 *   - the key ends at the first unescaped `=`, `:` or blank; blanks and one `=` or `:`
 *     after it are skipped; the rest of the line is the value;
 *   - escapes `\t \n \r \f \uXXXX`, and a backslash before any other character stands for
 *     that character (`\\` `\:` `\=` `\ `). So `canal.instance.filter.regex=.*\\..*` is `.*\..*`;
 *   - a key given twice keeps the last value.
 *
 * Java reads the bytes as ISO-8859-1; here a file that is valid UTF-8 is read as UTF-8
 * (what people who write non-ASCII into these files mean), anything else as ISO-8859-1.
 */
import { CanalConfigError } from "../errors.js";

export interface PropertyValue {
  value: string;
  /** 1-based line the entry starts on. */
  line: number;
}

export function decodePropertiesBytes(bytes: Uint8Array): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return Buffer.from(bytes).toString("latin1");
  }
}

const BLANK = new Set([" ", "\t", "\f"]);

/** Parses properties text; `source` names the file in messages. */
export function parseProperties(text: string, source: string): Map<string, PropertyValue> {
  const result = new Map<string, PropertyValue>();
  const lines = text.split(/\r\n|\r|\n/);
  for (let i = 0; i < lines.length; i++) {
    const startLine = i + 1;
    let logical = stripLeadingBlanks(lines[i]!);
    if (logical === "" || logical[0] === "#" || logical[0] === "!") continue;
    while (endsWithOddBackslashes(logical) && i + 1 < lines.length) {
      i++;
      logical = logical.slice(0, -1) + stripLeadingBlanks(lines[i]!);
    }
    if (endsWithOddBackslashes(logical)) logical = logical.slice(0, -1); // a last line's lone "\" is dropped, as Java does
    const { key, value } = splitEntry(logical);
    result.set(unescape(key, source, startLine), { value: unescape(value, source, startLine), line: startLine });
  }
  return result;
}

function stripLeadingBlanks(s: string): string {
  let i = 0;
  while (i < s.length && BLANK.has(s[i]!)) i++;
  return s.slice(i);
}

function endsWithOddBackslashes(s: string): boolean {
  let n = 0;
  for (let i = s.length - 1; i >= 0 && s[i] === "\\"; i--) n++;
  return n % 2 === 1;
}

/** Splits a logical line (escapes still in place) into key and value text. */
function splitEntry(line: string): { key: string; value: string } {
  let i = 0;
  while (i < line.length) {
    const c = line[i]!;
    if (c === "\\") i += 2;
    else if (c === "=" || c === ":" || BLANK.has(c)) break;
    else i++;
  }
  const key = line.slice(0, Math.min(i, line.length));
  let j = i;
  while (j < line.length && BLANK.has(line[j]!)) j++;
  if (j < line.length && (line[j] === "=" || line[j] === ":")) j++;
  while (j < line.length && BLANK.has(line[j]!)) j++;
  return { key, value: line.slice(j) };
}

const SIMPLE_ESCAPES: Readonly<Record<string, string>> = { t: "\t", n: "\n", r: "\r", f: "\f" };

function unescape(s: string, source: string, line: number): string {
  if (!s.includes("\\")) return s;
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c !== "\\") {
      out += c;
      continue;
    }
    const next = s[++i];
    if (next === undefined) break;
    if (next === "u") {
      const hex = s.slice(i + 1, i + 5);
      if (!/^[0-9a-fA-F]{4}$/.test(hex)) {
        throw new CanalConfigError(`${source}:${line}: malformed escape "\\u${hex}" (expected \\u and 4 hex digits)`);
      }
      out += String.fromCharCode(parseInt(hex, 16));
      i += 4;
    } else {
      out += SIMPLE_ESCAPES[next] ?? next;
    }
  }
  return out;
}
