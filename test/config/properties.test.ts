import { suite } from "uvu";
import * as assert from "uvu/assert";
import { decodePropertiesBytes, parseProperties } from "../../src/config/properties.js";
import { compileNameFilter } from "../../src/protocol/filter.js";
import { configError } from "./helpers.js";

const Properties = suite("config/properties");
const values = (text: string) => Object.fromEntries([...parseProperties(text, "t.properties")].map(([k, v]) => [k, v.value]));

Properties("separators: =, :, blanks, and blanks around them", () => {
  assert.equal(values("a=1\nb: 2\nc 3\n  d\t=\t4\ne   :five\nf==6\ng"), { a: "1", b: "2", c: "3", d: "4", e: "five", f: "=6", g: "" });
});

Properties("comments start with # or ! as the first non-blank character; blank lines are skipped", () => {
  assert.equal(values("# one\n  ! two\n\n   \na=1 # not a comment"), { a: "1 # not a comment" });
});

Properties("a line ending in an odd number of backslashes continues, without the next line's leading blanks", () => {
  assert.equal(values("a = one,\\\n     two,\\\n\tthree\nb = ends\\\\\nc = 3"), { a: "one,two,three", b: "ends\\", c: "3" });
  assert.equal(values("# comment \\\nk = v"), { k: "v" }, "a comment line does not continue");
  assert.equal(values("last = x\\"), { last: "x" }, "a trailing lone backslash at the end of the file is dropped");
});

Properties("escapes: \\\\ \\: \\= \\  \\t \\uXXXX, and a backslash before any other character", () => {
  assert.equal(values("k\\:ey\\=x\\ y = a\\\\b\\:c\\=d\\ e\\tf\\u00e4\\q"), { "k:ey=x y": "a\\b:c=d e\tfäq" });
  assert.equal(values("a = \\  leading blank kept"), { a: "  leading blank kept" });
});

Properties("canal-facts §7.1 item 6: filter.regex=.*\\\\..* gives the regex .*\\..*", () => {
  const regex = values("canal.instance.filter.regex=.*\\\\..*")["canal.instance.filter.regex"]!;
  assert.is(regex, ".*\\..*");
  assert.ok(compileNameFilter(regex, true).matches("shop.orders"));
  assert.not.ok(compileNameFilter(regex, true).matches("shoporders"), "the dot is escaped: a literal dot is required");
});

Properties("the last of a repeated key wins; lines are the first line of an entry; CRLF and CR endings", () => {
  const parsed = parseProperties("a=1\r\nb=x\\\r\n  y\ra=2\n", "t");
  assert.equal(parsed.get("a"), { value: "2", line: 4 });
  assert.equal(parsed.get("b"), { value: "xy", line: 2 });
});

Properties("a malformed \\u escape is an error naming file, line and what was expected", () => {
  const message = configError(() => parseProperties("ok=1\nbad=\\u12g4", "/etc/canal/canal.properties"));
  assert.is(message, '/etc/canal/canal.properties:2: malformed escape "\\u12g4" (expected \\u and 4 hex digits)');
});

Properties("bytes: UTF-8 when valid, else ISO-8859-1 as Java reads them", () => {
  assert.is(decodePropertiesBytes(Buffer.from("k=cänal", "utf8")), "k=cänal");
  assert.is(decodePropertiesBytes(Buffer.from([0x6b, 0x3d, 0xe4])), "k=ä");
});

Properties.run();
