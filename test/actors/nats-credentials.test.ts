/**
 * NATS credentials in server URLs (src/actors/nats/credentials.ts): moved into the client's
 * options, the same on every URL, and never shown in logs or messages.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { natsConnectOptions, shownNatsServer } from "../../src/actors/nats/credentials.js";
import { parseNatsServers } from "../../src/config/addresses.js";
import { CanalConfigError } from "../../src/errors.js";

test("a token, a user and password (percent-decoded), or none: moved out of the URLs into the options", () => {
  assert.equal(natsConnectOptions(["nats://s3cret@10.0.0.1:4222", "nats://s3cret@10.0.0.2:4222"]), { servers: ["nats://10.0.0.1:4222", "nats://10.0.0.2:4222"], token: "s3cret" });
  assert.equal(natsConnectOptions(["nats://canal:p%40ss@10.0.0.1:4222"]), { servers: ["nats://10.0.0.1:4222"], user: "canal", pass: "p@ss" });
  assert.equal(natsConnectOptions(["nats://10.0.0.1:4222"]), { servers: ["nats://10.0.0.1:4222"] });
  assert.equal(natsConnectOptions(["nats://a@10.0.0.1:4222", "nats://10.0.0.2:4222"]), { servers: ["nats://10.0.0.1:4222", "nats://10.0.0.2:4222"], token: "a" }, "a URL without credentials uses the others'");
});

test("different credentials on two URLs are a config error naming both, masked; parseNatsServers says it at load", () => {
  assert.throws(() => natsConnectOptions(["nats://a@10.0.0.1:4222", "nats://b@10.0.0.2:4222"]), (err: Error) => err instanceof CanalConfigError && err.message === "NATS server nats://***@10.0.0.2:4222 carries other credentials than nats://***@10.0.0.1:4222: expected the same user and password (or token) on every URL, or on none");
  assert.throws(
    () => parseNatsServers({ value: "nats://u:pw-1@10.0.0.1:4222,nats://u:pw-2@10.0.0.2:4222", where: { key: "--nats", source: "the command line" } }),
    (err: Error) => err instanceof CanalConfigError && err.message.includes("--nats") && !err.message.includes("pw-"),
  );
});

test("shown servers hide the password or token, and leave plain URLs alone", () => {
  assert.is(shownNatsServer("nats://s3cret@10.0.0.1:4222"), "nats://***@10.0.0.1:4222");
  assert.is(shownNatsServer("nats://canal:p%40ss@10.0.0.1:4222"), "nats://canal:***@10.0.0.1:4222");
  assert.is(shownNatsServer("tls://10.0.0.1:4222"), "tls://10.0.0.1:4222");
});

test.run();
