import { suite } from "uvu";
import * as assert from "uvu/assert";
import { configFromFlags, describeConfig, parseConfigText } from "../../src/config/index.js";
import { reservedPrefixOf, streamSubjectOf, SubjectMaker, subjectCovers, subjectsOverlap, templateProblem } from "../../src/actors/sink/subject.js";
import { OPTIONS } from "./helpers.js";

const Sink = suite("config/sink");

const file = (sink: string, top = "nats: nats://127.0.0.1:4222\n") => `${top}destinations:\n  orders:\n    source: mysql://canal:canal@db1:3306\n    sink: ${sink}\n`;
const load = (text: string) => parseConfigText(text, "node.yaml", OPTIONS).config.destinations[0]!.sink;
const refused = (text: string) => {
  try {
    parseConfigText(text, "node.yaml", OPTIONS);
  } catch (err) {
    return (err as Error).message;
  }
  return "accepted";
};

Sink("sink: true takes every default, the node's NATS servers", () => {
  assert.equal(load(file("true")), {
    servers: ["nats://127.0.0.1:4222"],
    stream: "CANAL_orders",
    subject: "canal.{destination}.{database}.{table}",
    clientId: 1001,
    batchSize: 50,
    getTimeoutMs: 100,
    duplicateWindowMs: 300_000,
    publishTimeoutMs: 5000,
  });
  assert.is(load(file("false")), undefined);
  assert.is(load(file("{ enabled: false, stream: X }")), undefined);
});

Sink("a mapping sets each value; the sink may have its own servers", () => {
  const sink = load(file('{ nats: "n1:4222,n2:4222", stream: ORD, subject: "cdc.{database}.{table}", clientId: 7, batchSize: 10, getTimeoutMs: 5, duplicateWindowMs: 60000, publishTimeoutMs: 900 }', ""))!;
  assert.equal(sink.servers, ["nats://n1:4222", "nats://n2:4222"]);
  assert.is(sink.stream, "ORD");
  assert.is(sink.subject, "cdc.{database}.{table}");
  assert.equal([sink.clientId, sink.batchSize, sink.getTimeoutMs, sink.duplicateWindowMs, sink.publishTimeoutMs], [7, 10, 5, 60000, 900]);
});

Sink("bad values name the key, the value and what was expected", () => {
  assert.match(refused(file("true", "")), /destinations\.orders\.sink\.nats in node\.yaml:\d+: missing \(expected NATS servers for the JetStream sink/);
  assert.match(refused(file('{ stream: "a.b" }')), /destinations\.orders\.sink\.stream in node\.yaml:5: "a\.b" is not a JetStream stream name \(expected 1–255 letters, digits, '_' or '-'\)/);
  assert.match(refused(file('{ subject: "canal.*.{table}" }')), /sink\.subject .*"canal\.\*\.\{table\}" has the token "\*" with a wildcard or whitespace/);
  assert.match(refused(file('{ subject: "canal.{schema}.{table}" }')), /has the unknown placeholder \{schema\}/);
  assert.match(refused(file('{ subject: "canal..{table}" }')), /has an empty token/);
  assert.match(refused(file('{ subject: "canal.{database}" }')), /has no \{table\} placeholder/);
  assert.match(refused(file('{ subject: "canal.inspect.{database}.{table}" }')), /overlap canal\.inspect\.> \(inspection and control plane\)/);
  assert.match(refused(file("{ clientId: 0 }")), /sink\.clientId .*0 is not a client id \(expected an integer 1–32767\)/);
  assert.match(refused(file("{ colour: red }")), /destinations\.orders\.sink\.colour in node\.yaml:5: unknown key \(expected one of: enabled, nats, stream/);
  const zk = "zookeeper: { connect: zk1, sessionTimeoutMs: 4000 }\nnats: n1\n";
  assert.match(refused(file("{ duplicateWindowMs: 5000 }", zk)), /sink\.duplicateWindowMs .*5000 is shorter than a failover may take .* \(expected at least 8200 ms\)/);
});

Sink("quick-start flags turn the sink on; the printed config loads back the same", () => {
  const { config } = configFromFlags({ source: "mysql://canal@db1:3306", nats: "n1:4222", sink: "ORD", "sink-subject": "cdc.{destination}.{table}" }, OPTIONS);
  assert.is(config.destinations[0]!.sink!.stream, "ORD");
  assert.is(config.destinations[0]!.sink!.subject, "cdc.{destination}.{table}");
  assert.equal(parseConfigText(describeConfig(config), "printed.yaml", OPTIONS).config, config);
  assert.throws(() => configFromFlags({ source: "mysql://canal:canal@db1:3306", sink: "ORD" }, OPTIONS), /--nats.*missing \(expected NATS servers/);
});

Sink("subjects: one token per name, the stream filter, coverage and overlap", () => {
  const maker = new SubjectMaker("canal.{destination}.{database}.{table}", "orders");
  assert.is(maker.subject("shop", "item"), "canal.orders.shop.item");
  assert.is(maker.subject("", ""), "canal.orders._._");
  assert.is(maker.subject("a b", "x.y*>"), "canal.orders.a_b.x_y__");
  assert.is(streamSubjectOf("cdc.{destination}.db_{database}.{table}", "o"), "cdc.o.*.*");
  assert.ok(subjectCovers("canal.>", "canal.orders.*.*"));
  assert.ok(subjectCovers("canal.orders.*.*", "canal.orders.*.*"));
  assert.not.ok(subjectCovers("canal.orders.shop.*", "canal.orders.*.*"));
  assert.not.ok(subjectCovers("canal.*", "canal.orders.*.*"));
  assert.ok(subjectsOverlap("canal.inspect.>", "canal.*.*.*"));
  assert.not.ok(subjectsOverlap("canal.inspect.>", "canal.orders.*.*"));
  assert.is(reservedPrefixOf("canal.{destination}.{database}.{table}", "admin"), "canal.admin");
  assert.is(templateProblem("canal.{destination}.{database}.{table}"), undefined);
});

Sink.run();
