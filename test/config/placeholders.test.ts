import { suite } from "uvu";
import * as assert from "uvu/assert";
import { expandPlaceholders } from "../../src/config/placeholders.js";
import type { Raw } from "../../src/config/where.js";
import { assertNames, configError } from "./helpers.js";

const Placeholders = suite("config/placeholders");
const where = { key: "canal.file.data.dir", source: "/c/canal.properties", line: 3 };
const vars: Record<string, string> = { home: "/opt/canal", conf: "${home}/conf", self: "${self}", a: "${b}", b: "${a}", blank: " " };
const expand = (value: string, secret = false) => expandPlaceholders({ value, where, ...(secret ? { secret } : {}) } as Raw, (name) => vars[name]).value;

Placeholders("${name}, ${name:default}, nested defaults, values that are placeholders themselves, $${", () => {
  assert.is(expand("${home}/data"), "/opt/canal/data");
  assert.is(expand("${conf}/x"), "/opt/canal/conf/x");
  assert.is(expand("${missing:../conf}"), "../conf");
  assert.is(expand("${missing:${home}}/y"), "/opt/canal/y");
  assert.is(expand("${blank:fallback}"), "fallback", "a blank value counts as missing");
  assert.is(expand("$${home}"), "${home}");
  assert.is(expand("no placeholders"), "no placeholders");
});

Placeholders("errors name key, file and line: unset, unclosed, cycles; secrets stay hidden", () => {
  assertNames(configError(() => expand("${nope}")), ["canal.file.data.dir in /c/canal.properties:3", "refers to ${nope}, which is not set"]);
  assertNames(configError(() => expand("${home")), ["has an unclosed ${"]);
  assertNames(configError(() => expand("${self}")), ["placeholder cycle self → self"]);
  assertNames(configError(() => expand("${a}")), ["placeholder cycle a → b → a"]);
  assertNames(configError(() => expand("hunter2${nope}", true)), ["the value (hidden"], ["hunter2"]);
});

Placeholders.run();
