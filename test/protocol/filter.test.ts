import { test } from "uvu";
import * as assert from "uvu/assert";
import { CanalConfigError } from "../../src/errors.js";
import {
  TableFilter,
  columnFilterFor,
  compileNameFilter,
  parseFieldFilter,
  splitFilterPattern,
  translatePerl5,
} from "../../src/protocol/filter.js";

const white = (pattern: string) => compileNameFilter(pattern, true);
const black = (pattern: string) => compileNameFilter(pattern, false);

test("AviaterFilterTest: s1\\..*,s2\\..* (canal-facts §7.1)", () => {
  const f = white("s1\\..*,s2\\..*");
  assert.is(f.matches("s1.t1"), true);
  assert.is(f.matches(""), true, "an empty target gives the white filter's default");
  assert.is(f.matches("s12.t1"), false, "anchored");
  assert.is(f.matches("S1.S2"), true, "the target is lower-cased");
});

test("AviaterFilterTest (HEAD): commas inside {} are not separators", () => {
  const f = white("test\\.order_\\d{1,2}");
  assert.is(f.matches("test.order_42"), true);
  assert.is(f.matches("test.order_123"), false);
});

test("pieces are sorted longest first and wrapped as ^…$, so foo|foot matches foot", () => {
  const f = white("foo,foot");
  assert.is(f.regex, "^foot$|^foo$");
  assert.is(f.matches("foot"), true);
  assert.is(f.matches("foo"), true);
  assert.is(f.matches("fo"), false);
  assert.is(white("b,a,cc").regex, "^cc$|^b$|^a$", "a stable sort keeps equal lengths in order");
});

test("the first match from the start must span the target, as ORO's matches() does", () => {
  // Canal builds ^a|ab$ from this one piece; "ab" matches ^a first and is then too long.
  const f = white("a|ab");
  assert.is(f.matches("a"), true);
  assert.is(f.matches("ab"), false);
});

test("splitting: top-level commas only, backslash protects, no trimming, empty pieces dropped", () => {
  assert.equal(splitFilterPattern("a\\..*, b\\..*"), ["a\\..*", " b\\..*"]);
  assert.equal(splitFilterPattern("x\\.t_(a,b),y\\.[,;]z,,"), ["x\\.t_(a,b)", "y\\.[,;]z"]);
  assert.equal(splitFilterPattern("a\\,b,c"), ["a\\,b", "c"]);
  assert.equal(splitFilterPattern(""), []);
  assert.is(white("a\\..*, b\\..*").matches("b.t"), false, "the second piece starts with a space");
  assert.is(white("a\\..*, b\\..*").matches(" b.t"), true);
});

test("empty patterns give the default: true for white, false for black", () => {
  assert.is(white("").matches("any.thing"), true);
  assert.is(black("").matches("any.thing"), false);
  assert.is(black("mysql\\.slave_.*").matches(""), false);
  assert.is(black("mysql\\.slave_.*").matches("mysql.slave_master_info"), true);
});

test("dot matches a newline (SINGLELINE) and case is ignored both ways", () => {
  assert.is(white("A\\..*").matches("a.x\ny"), true);
  assert.is(white("SHOP\\.Orders").matches("shop.orders"), true);
});

test("Perl5 forms JavaScript reads differently are translated", () => {
  assert.is(translatePerl5("\\Ashop\\..*\\z"), "^shop\\..*$");
  assert.is(translatePerl5("[]a]"), "[\\]a]");
  assert.is(translatePerl5("[^]a]"), "[^\\]a]");
  assert.is(translatePerl5("[[:digit:]_]+"), "[0-9_]+");
  assert.is(translatePerl5("(?i)a(?s:b)(?#note)c"), "a(?:b)c");
  assert.is(white("db\\.t[[:digit:]]").matches("db.t7"), true);
  assert.is(white("db\\.[]x]").matches("db.]"), true);
  assert.is(white("(?i)db\\.(?:a|b)").matches("DB.B"), true);
});

test("an invalid or untranslatable regex is a CanalConfigError naming it", () => {
  const fails = (pattern: string, message: RegExp) => {
    try {
      white(pattern);
    } catch (err) {
      assert.instance(err, CanalConfigError);
      assert.match((err as Error).message, message);
      return;
    }
    assert.unreachable(`${pattern} should be rejected`);
  };
  fails("good\\..*,bad\\.(unclosed", /"bad\\\\\.\(unclosed".*invalid/);
  fails("a\\.*+*", /"a\\\\\.\*\+\*".*invalid/);
  fails("db\\.[abc", /unclosed character class/);
  fails("db\\.(?<name>x)", /named groups and lookbehind/);
  fails("db\\.(?<=x)y", /named groups and lookbehind/);
  fails("(?x)db", /inline flags \(\?x\)/);
  fails("(?-i)DB", /inline flags \(\?-i\)/);
  fails("\\Qa.b\\E", /quoting/);
  fails("db\\.[[:nope:]]", /unknown POSIX class/);
  fails("db\\", /lone backslash/);
});

test("TableFilter: rows need white and not black", () => {
  const f = new TableFilter({ white: "shop\\..*", black: "shop\\.tmp_.*" });
  assert.is(f.acceptsTable("shop", "orders"), true);
  assert.is(f.acceptsTable("shop", "tmp_x"), false);
  assert.is(f.acceptsTable("other", "orders"), false);
  const all = new TableFilter();
  assert.is(all.acceptsTable("any", "table"), true, "default white .*\\..* and empty black");
});

test("TableFilter: a RENAME is kept if either name passes white, dropped by black only if both match", () => {
  const f = new TableFilter({ white: "shop\\..*", black: "shop\\.tmp_.*" });
  assert.is(f.acceptsDdl("shop", "orders"), true);
  assert.is(f.acceptsDdl("other", "x"), false);
  assert.is(f.acceptsDdl("other", "x", { schema: "shop", table: "orders" }), true, "renamed out of the filter");
  assert.is(f.acceptsDdl("shop", "tmp_1"), false);
  assert.is(f.acceptsDdl("shop", "tmp_1", { schema: "shop", table: "orders" }), true, "old name not black");
  assert.is(f.acceptsDdl("shop", "tmp_1", { schema: "shop", table: "tmp_0" }), false, "both black");
});

test("field filters: schema.table:col1/col2, upper-cased, white wins over black", () => {
  const w = parseFieldFilter("shop.orders:id/Total , shop.items:sku");
  assert.equal([...w.keys()], ["SHOP.ORDERS", "SHOP.ITEMS"]);
  assert.equal([...w.get("SHOP.ORDERS")!], ["ID", "TOTAL"]);
  const b = parseFieldFilter("shop.orders:secret,shop.users:password");
  const orders = columnFilterFor("Shop", "Orders", w, b)!;
  assert.equal(["id", "total", "secret", "note"].map(orders), [true, true, false, false]);
  const users = columnFilterFor("shop", "users", w, b)!;
  assert.equal(["id", "PASSWORD"].map(users), [true, false]);
  assert.is(columnFilterFor("shop", "other", w, b), undefined);
  assert.equal(parseFieldFilter(""), new Map());
  try {
    parseFieldFilter("shop.orders");
    assert.unreachable();
  } catch (err) {
    assert.instance(err, CanalConfigError);
    assert.match((err as Error).message, /"shop\.orders".*expected schema\.table:col1\/col2/);
  }
});

test.run();
