/**
 * The model of each machine for the walks: sample payloads of its events, outputs and errors of
 * its invoked actors, and the part of its context that decides behaviour. Shared by the pure
 * coverage walks (coverage.test.ts) and the replays against real servers (test/integration/model-replay-*).
 */
import type { AnyStateMachine } from "xstate";
import { instanceMachine } from "../../src/machines/instance.js";
import { sessionMachine } from "../../src/machines/session.js";
import { zkSessionMachine } from "../../src/machines/zk-session.js";
import { clientMachine } from "../../src/machines/client.js";
import { CanalConnectionError, CanalError } from "../../src/errors.js";
import type { ModelSpec } from "./model.js";

const ADDRESS = "127.0.0.1:11111";

export const specs: ModelSpec[] = [
  {
    name: "instance",
    machine: instanceMachine,
    input: { destination: "example", address: ADDRESS },
    samples: {
      "SESSION.LIVE": [
        { type: "SESSION.LIVE", sessionId: "s1" },
        { type: "SESSION.LIVE", sessionId: "s2" },
      ],
      "RUNNING.ABSENT": [
        { type: "RUNNING.ABSENT", handover: false },
        { type: "RUNNING.ABSENT", handover: true },
      ],
      "RUNNING.HELD": [
        { type: "RUNNING.HELD", address: "10.0.0.2:11111", active: true, ours: false },
        { type: "RUNNING.HELD", address: ADDRESS, active: true, ours: true },
        { type: "RUNNING.HELD", address: ADDRESS, active: false, ours: true },
      ],
      "SERVE.FAILED": [
        { type: "SERVE.FAILED", fenced: true, reason: "cursor fenced" },
        { type: "SERVE.FAILED", fenced: false, reason: "source failed" },
      ],
    },
    outputs: { claimRunning: [{ created: true, epoch: "0x1" }, { created: false, address: "10.0.0.2:11111" }] },
    contextKey: ({ session, sessionId, ownedBefore, handover, firstLook, stopping }) => [session, sessionId, ownedBefore, handover, firstLook, stopping],
  },
  {
    name: "zk-session",
    machine: zkSessionMachine,
    samples: {
      CONNECTED: [
        { type: "CONNECTED", sessionId: "a1" },
      ],
      FAILED: [{ type: "FAILED", reason: "unreachable" }],
    },
    contextKey: ({ sessionId }) => [sessionId],
  },
  {
    name: "session",
    machine: sessionMachine.provide({ guards: { authOk: ({ event }) => event.type === "AUTH" && event.password === "right" } }) as AnyStateMachine,
    samples: {
      AUTH: [
        { type: "AUTH", username: "canal", password: "right", destination: "", clientId: "", filter: "" },
        { type: "AUTH", username: "canal", password: "wrong", destination: "", clientId: "", filter: "" },
        { type: "AUTH", username: "canal", password: "right", destination: "example", clientId: "1001", filter: "" },
        { type: "AUTH", username: "canal", password: "right", destination: "example", clientId: "x", filter: "" },
      ],
      SUB: [
        { type: "SUB", destination: "example", clientId: "1001", filter: "" },
        { type: "SUB", destination: "", clientId: "1001", filter: "" },
        { type: "SUB", destination: "example", clientId: "99999", filter: "" },
      ],
      UNSUB: [{ type: "UNSUB", destination: "example", clientId: "1001" }],
      GET: [{ type: "GET", destination: "example", clientId: "1001", fetchSize: 100, timeout: -1 }],
      CLIENTACK: [
        { type: "CLIENTACK", destination: "example", clientId: "1001", batchId: 5 },
        { type: "CLIENTACK", destination: "example", clientId: "1001", batchId: 0 },
        { type: "CLIENTACK", destination: "example", clientId: "1001", batchId: -1 },
      ],
      ROLLBACK: [{ type: "ROLLBACK", destination: "example", clientId: "1001", batchId: 0 }],
      UNSUPPORTED: [{ type: "UNSUPPORTED", packetType: "HEARTBEAT" }],
      BAD_REQUEST: [{ type: "BAD_REQUEST", packetType: "GET", reason: "cannot decode Get" }],
      MALFORMED: [{ type: "MALFORMED", reason: "bad frame" }],
      IDLE_TIMEOUT: [{ type: "IDLE_TIMEOUT", reason: "idle" }],
      SOCKET_CLOSED: [{ type: "SOCKET_CLOSED" }],
    },
    contextKey: ({ subscriptions, pending, close }) => [subscriptions, pending, close === undefined],
  },
];

const CLIENT_ID = { destination: "example", clientId: 1001, identity: "host-a" };
const failures = [new CanalConnectionError("connection refused"), new CanalError("auth failed")];
specs.push({
  name: "client",
  machine: clientMachine,
  input: CLIENT_ID,
  samples: {
    "ZK.LIVE": [
      { type: "ZK.LIVE", sessionId: "s1" },
      { type: "ZK.LIVE", sessionId: "s2" },
    ],
    "CLIENT.HELD": [
      { type: "CLIENT.HELD", address: "10.0.0.5:5001", ours: true, active: true },
      { type: "CLIENT.HELD", address: "10.0.0.5:5001", ours: true, active: false },
      { type: "CLIENT.HELD", address: "10.0.0.6:5002", ours: false, active: true },
    ],
    "SERVER.MOVED": [{ type: "SERVER.MOVED", address: "10.0.0.9:11111" }],
    "CONNECTION.LOST": [{ type: "CONNECTION.LOST", connection: 1, error: failures[0] }],
    "BATCH.ACK": [{ type: "BATCH.ACK", batchId: 5, connection: 1 }],
    "BATCH.ROLLBACK": [{ type: "BATCH.ROLLBACK", batchId: 5, connection: 1 }],
  },
  outputs: {
    claimClient: [
      { won: true },
      { won: false, address: "10.0.0.6", identity: "host-b", owner: "s9", version: 0 },
      { won: false, address: "10.0.0.5", identity: "host-a", owner: "s0", version: 1 },
    ],
    discover: [{ address: "127.0.0.1:11111" }],
    connect: [{ connection: 1, local: "127.0.0.1:5001" }],
    fetch: [
      { batchId: 5, empty: false },
      { batchId: -1, empty: true },
    ],
  },
  errors: { discover: failures, connect: failures, subscribe: failures, fetch: failures, announce: failures, claimClient: failures },
  contextKey: ({ session, sessionId, firstElection, batch, wanted, pastSessions }) => [
    session, sessionId, firstElection, batch !== undefined, wanted, (pastSessions as string[]).length > 0,
  ],
});

/** The spec of one machine, by name. */
export function specOf(name: string): ModelSpec {
  const spec = specs.find((s) => s.name === name);
  if (!spec) throw new Error(`no model spec named ${name}; expected one of ${specs.map((s) => s.name).join(", ")}`);
  return spec;
}
