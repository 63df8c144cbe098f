/**
 * The lifecycle of one destination on one node of a cluster (canal-facts.md §4: Canal's
 * ServerRunningMonitor), as a pure machine. Exactly one node runs a destination: the one whose
 * ZooKeeper session holds the ephemeral `/otter/canal/destinations/<d>/running` node.
 *
 *   offline ── SESSION.LIVE ──▶ standby ── running node absent ──▶ (waiting) ──▶ contending ── created ──▶ active
 *      ▲                          ▲  ▲                                              │ held by another        │
 *      │                          │  └──────────────────────────────────────────────┘                        │
 *      │                          └──────────────── active.releasing ◀── RELEASE / {"active":false} ─────────┤
 *      └──────── fenced ◀── session gone / suspended past FENCE_AFTER / node deleted or taken / cursor fenced ┘
 *
 *   active: starting ── SERVE.READY ──▶ serving ⇄ suspended (SESSION.SUSPENDED / SESSION.LIVE)
 *
 * Canal's rules kept (§4.3, §4.4): contend at once on start; when the running node goes away,
 * the previous owner retakes it at once (a glitch) and everyone else waits `contendDelay`
 * (Canal's 5 s anti-flap delay, ours a setting); an owner that released waits like everyone
 * else; writing `{"active":false,…}` into the running node makes its owner release.
 *
 * Better than Canal, on purpose (design, Decisions 3):
 *   - Self-fencing. A running instance stops serving when its session is suspended for
 *     FENCE_AFTER (shorter than the session timeout, so before the servers can expire it and
 *     another node can take over), at once when the session is gone, and at once when the
 *     running node is deleted or holds another node, or the cursor store reports a newer owner.
 *     It contends again only from a live session. Canal keeps parsing in all these cases.
 *   - Handover. An owner that releases first writes `{"active":false}` into its node, then
 *     deletes it; a standby that saw that contends without the anti-flap wait, because the owner
 *     is not coming back.
 *   - Balance. `contendDelay` is provided by the node, which adds a little per destination it
 *     already runs, so running instances spread over the nodes instead of piling on one.
 *
 * The invoked actors (provided by src/actors/instance.ts):
 *   watchRunning(sessionId)  reads the running node and re-arms a watch after every change,
 *                            sending RUNNING.ABSENT / RUNNING.HELD; restarted on every state entry,
 *                            so each state starts from what the node holds now;
 *   claimRunning(sessionId)  creates the running node with this node's JSON;
 *   serve({sessionId})       starts the destination (cursors from ZooKeeper, fenced) and serves it
 *                            until stopped; stopping it halts serving at once, without writes;
 *   releaseRunning           stops serving gracefully (acks in flight taken, cursors flushed), then
 *                            hands the node over (`{"active":false}`, then delete);
 *   awaitHalted              resolves once a halted destination has fully stopped.
 */
import { and, assign, fromCallback, fromPromise, setup, type SnapshotFrom } from "xstate";
import { notProvided } from "./not-provided.js";

/** The defaults of src/config (zookeeper.antiFlapDelayMs, zookeeper.sessionTimeoutMs). */
export const DEFAULT_ANTI_FLAP_MS = 200;
export const DEFAULT_SESSION_TIMEOUT_MS = 4000;

export type InstanceEvent =
  /** The node's ZooKeeper session, as src/machines/zk-session.ts decides it. */
  | { type: "SESSION.LIVE"; sessionId: string }
  | { type: "SESSION.SUSPENDED" }
  | { type: "SESSION.GONE" }
  /** No running node. `handover`: its owner gave it up on purpose (it said `"active":false` first). */
  | { type: "RUNNING.ABSENT"; handover: boolean }
  /** The running node exists. `ours`: created by this node's current session. */
  | { type: "RUNNING.HELD"; address: string; active: boolean; ours: boolean }
  /** The destination is started and its port serves clients. */
  | { type: "SERVE.READY" }
  /** The destination cannot go on: `fenced` when a newer owner moved its cursor store, else its source failed. */
  | { type: "SERVE.FAILED"; fenced: boolean; reason: string }
  /** Admin: give the destination up (another node takes it). */
  | { type: "RELEASE"; reason?: string }
  /** The node is stopping: hand over if running, then end. */
  | { type: "STOP" };

/** releaseRunning's input: `stopping` when the whole node stops (its server already took the acks in flight). */
export interface ReleaseInput {
  sessionId: string;
  stopping: boolean;
}

/** What claimRunning resolves with. */
export type ClaimResult = { created: true; epoch: string } | { created: false; address: string };

export type SessionState = "live" | "suspended" | "gone";

export interface InstanceContext {
  destination: string;
  /** This node's registered `ip:port`, as written into the running node. */
  address: string;
  /** The node's ZooKeeper session as last reported. */
  session: SessionState;
  sessionId: string | undefined;
  /** Who runs the destination, as the running node says; undefined when nobody does. */
  owner: string | undefined;
  /** The creation zxid of our running node while we hold it: the fencing epoch. */
  epoch: string | undefined;
  /** We held the running node last and did not give it up: retake at once (Canal's activeData == mine). */
  ownedBefore: boolean;
  /** The last owner handed the node over on purpose: contend without the anti-flap wait. */
  handover: boolean;
  /** Nothing seen yet since the session became live: contend at once, as Canal's start does. */
  firstLook: boolean;
  /** The node is stopping: after releasing, end instead of standing by. */
  stopping: boolean;
  /** Counters for status and metrics. */
  runs: number;
  fencings: number;
  /** Why the instance last left `active` (or failed to get there). */
  lastReason: string | undefined;
}

export interface InstanceInput {
  destination: string;
  address: string;
}

const sessionFrom = (event: InstanceEvent): Partial<InstanceContext> => {
  switch (event.type) {
    case "SESSION.LIVE":
      return { session: "live", sessionId: event.sessionId };
    case "SESSION.SUSPENDED":
      return { session: "suspended" };
    case "SESSION.GONE":
      return { session: "gone", sessionId: undefined };
    default:
      return {};
  }
};

export const instanceMachine = setup({
  types: {
    context: {} as InstanceContext,
    events: {} as InstanceEvent,
    input: {} as InstanceInput,
    tags: {} as "serving" | "owner",
  },
  actors: {
    watchRunning: fromCallback<InstanceEvent, { sessionId: string }>(() => notProvided("instance", "actor watchRunning")),
    claimRunning: fromPromise<ClaimResult, { sessionId: string }>(async () => notProvided("instance", "actor claimRunning")),
    serve: fromCallback<InstanceEvent, { sessionId: string; epoch: string }>(() => notProvided("instance", "actor serve")),
    releaseRunning: fromPromise<void, ReleaseInput>(async () => notProvided("instance", "actor releaseRunning")),
    awaitHalted: fromPromise<void>(async () => notProvided("instance", "actor awaitHalted")),
  },
  guards: {
    sessionLive: ({ context }) => context.session === "live",
    /** Canal's handleDataDeleted: the previous owner that did not release retakes at once. */
    retakeAtOnce: ({ context }) => context.ownedBefore || context.firstLook,
    heldByAnother: ({ event }) => event.type === "RUNNING.HELD" && !event.ours,
    heldByUs: ({ event }) => event.type === "RUNNING.HELD" && event.ours,
    releaseAsked: ({ event }) => event.type === "RUNNING.HELD" && event.ours && !event.active,
    claimed: ({ event }) => (event as unknown as { output: ClaimResult }).output.created,
    fencedByStore: ({ event }) => event.type === "SERVE.FAILED" && event.fenced,
    stopping: ({ context }) => context.stopping,
    sameSession: ({ context, event }) => event.type === "SESSION.LIVE" && event.sessionId === context.sessionId,
  },
  // Defaults are the configuration's defaults; the node provides its configured values.
  delays: {
    /**
     * Before contending for a freed node: the anti-flap delay, unless the owner handed it over;
     * the node adds its balance share (a little per destination it already runs).
     */
    contendDelay: ({ context }) => (context.handover ? 0 : DEFAULT_ANTI_FLAP_MS),
    /** How long a running instance keeps serving without ZooKeeper; shorter than the session timeout. */
    FENCE_AFTER: DEFAULT_SESSION_TIMEOUT_MS / 2,
    /** Pause after a failed claim before looking again. */
    RETRY_DELAY: 1000,
  },
  actions: {
    trackSession: assign(({ event }) => sessionFrom(event)),
    noteHeld: assign(({ event }) =>
      event.type === "RUNNING.HELD" ? { owner: event.address, handover: !event.active, firstLook: false } : {},
    ),
    noteAbsent: assign(({ event }) => (event.type === "RUNNING.ABSENT" ? { owner: undefined, handover: event.handover } : {})),
    noteReason: assign({ lastReason: (_, params: { reason: string }) => params.reason }),
  },
}).createMachine({
  id: "instance",
  context: ({ input }) => ({
    destination: input.destination,
    address: input.address,
    session: "gone",
    sessionId: undefined,
    owner: undefined,
    epoch: undefined,
    ownedBefore: false,
    handover: false,
    firstLook: true,
    stopping: false,
    runs: 0,
    fencings: 0,
    lastReason: undefined,
  }),
  initial: "offline",
  on: {
    "SESSION.LIVE": { actions: "trackSession" },
    "SESSION.SUSPENDED": { actions: "trackSession" },
    "SESSION.GONE": { actions: "trackSession" },
    STOP: { target: ".stopped", actions: assign({ stopping: true }) },
  },
  states: {
    offline: {
      on: { "SESSION.LIVE": { target: "standby", actions: "trackSession" } },
    },
    standby: {
      invoke: { src: "watchRunning", input: ({ context }) => ({ sessionId: context.sessionId! }) },
      on: {
        "SESSION.GONE": { target: "offline", actions: "trackSession" },
        // Back from a suspension: look at the running node again (its watch may have missed a change).
        "SESSION.LIVE": { target: "standby", reenter: true, actions: "trackSession" },
        "RUNNING.HELD": [
          // Our live session still holds the node (we fenced on a suspension that ended without
          // expiry): nobody else can take it, so take it back rather than wait forever.
          { guard: and(["heldByUs", "sessionLive"]), target: "#instance.contending", actions: "noteHeld" },
          { target: ".watching", actions: "noteHeld" },
        ],
      },
      initial: "watching",
      states: {
        watching: {
          on: {
            "RUNNING.ABSENT": [
              { guard: and(["retakeAtOnce", "sessionLive"]), target: "#instance.contending", actions: "noteAbsent" },
              { target: "waiting", actions: "noteAbsent" },
            ],
          },
        },
        waiting: {
          after: { contendDelay: { guard: "sessionLive", target: "#instance.contending" } },
          on: { "RUNNING.ABSENT": { actions: "noteAbsent" } },
        },
      },
    },
    contending: {
      invoke: {
        src: "claimRunning",
        input: ({ context }) => ({ sessionId: context.sessionId! }),
        onDone: [
          {
            guard: "claimed",
            target: "active",
            actions: assign(({ context, event }) => ({
              epoch: event.output.created ? event.output.epoch : undefined,
              owner: context.address,
              ownedBefore: true,
              handover: false,
              firstLook: false,
              runs: context.runs + 1,
            })),
          },
          {
            target: "standby",
            actions: assign(({ event }) => ({ owner: event.output.created ? undefined : event.output.address, ownedBefore: false, firstLook: false })),
          },
        ],
        onError: { target: "retrying", actions: assign({ lastReason: ({ event }) => `claim failed: ${String((event.error as Error)?.message ?? event.error)}` }) },
      },
      on: { "SESSION.GONE": { target: "offline", actions: "trackSession" } },
    },
    retrying: {
      after: { RETRY_DELAY: [{ guard: "sessionLive", target: "standby" }, { target: "offline" }] },
    },
    active: {
      tags: ["owner"],
      invoke: [
        { src: "serve", input: ({ context }) => ({ sessionId: context.sessionId!, epoch: context.epoch! }) },
        { src: "watchRunning", input: ({ context }) => ({ sessionId: context.sessionId! }) },
      ],
      initial: "starting",
      states: {
        starting: {
          on: {
            "SERVE.READY": "serving",
            // Losing the node before the port serves: nothing was delivered, but stop all the same.
            "RUNNING.ABSENT": { target: "#instance.fenced", actions: { type: "noteReason", params: { reason: "running node deleted" } } },
          },
        },
        serving: {
          tags: ["serving"],
          on: {
            "SESSION.SUSPENDED": { target: "suspended", actions: "trackSession" },
            "RUNNING.ABSENT": { target: "#instance.fenced", actions: { type: "noteReason", params: { reason: "running node deleted" } } },
          },
        },
        suspended: {
          // Still serving: the session may well live, and the servers keep our node until it expires.
          tags: ["serving"],
          on: {
            "SESSION.LIVE": [
              { guard: "sameSession", target: "serving", actions: "trackSession" },
              { target: "#instance.fenced", actions: ["trackSession", { type: "noteReason", params: { reason: "reconnected with a new session" } }] },
            ],
          },
          after: {
            FENCE_AFTER: { target: "#instance.fenced", actions: { type: "noteReason", params: { reason: "ZooKeeper unreachable for the fencing delay" } } },
          },
        },
        releasing: {
          invoke: {
            src: "releaseRunning",
            input: ({ context }) => ({ sessionId: context.sessionId!, stopping: context.stopping }),
            onDone: [
              { guard: "stopping", target: "#instance.stopped" },
              { target: "#instance.standby", actions: assign({ ownedBefore: false, epoch: undefined, owner: undefined }) },
            ],
            onError: {
              target: "#instance.fenced",
              actions: assign({ lastReason: ({ event }) => `release failed: ${String((event.error as Error)?.message ?? event.error)}` }),
            },
          },
          // Our own "active":false and delete come back through the watch: expected, ignored.
          on: { "RUNNING.ABSENT": {}, "RUNNING.HELD": {}, RELEASE: {}, STOP: { actions: assign({ stopping: true }) } },
        },
      },
      on: {
        "SESSION.GONE": { target: "fenced", actions: ["trackSession", { type: "noteReason", params: { reason: "ZooKeeper session lost" } }] },
        "RUNNING.HELD": [
          { guard: "heldByAnother", target: "fenced", actions: ["noteHeld", { type: "noteReason", params: { reason: "running node held by another node" } }] },
          { guard: "releaseAsked", target: ".releasing", actions: { type: "noteReason", params: { reason: "running node set inactive (switch)" } } },
        ],
        "SERVE.FAILED": [
          { guard: "fencedByStore", target: "fenced", actions: { type: "noteReason", params: ({ event }) => ({ reason: event.reason }) } },
          { target: ".releasing", actions: { type: "noteReason", params: ({ event }) => ({ reason: event.reason }) } },
        ],
        RELEASE: { target: ".releasing", actions: { type: "noteReason", params: ({ event }) => ({ reason: event.reason ?? "released by request" }) } },
        STOP: { target: ".releasing", actions: assign({ stopping: true }) },
      },
    },
    fenced: {
      // Leaving `active` stopped `serve`, which halted the destination at once; wait until it is
      // fully down before this node may contend again, so two runs never overlap here.
      // ownedBefore stays: after a glitch that cost the session, the old owner retakes a freed
      // node at once, as in Canal (§4.5).
      entry: assign(({ context }) => ({ fencings: context.fencings + 1, epoch: undefined })),
      invoke: {
        src: "awaitHalted",
        onDone: [{ guard: "sessionLive", target: "standby" }, { target: "offline" }],
        onError: [{ guard: "sessionLive", target: "standby" }, { target: "offline" }],
      },
    },
    stopped: { type: "final" },
  },
});

export type InstanceSnapshot = SnapshotFrom<typeof instanceMachine>;

/** The instance's state as one word, for status, metrics and logs. */
export type InstanceState = "offline" | "standby" | "contending" | "starting" | "running" | "releasing" | "fenced" | "stopped" | "retrying";

export function instanceState(snapshot: InstanceSnapshot): InstanceState {
  if (snapshot.matches({ active: "starting" })) return "starting";
  if (snapshot.matches({ active: "releasing" })) return "releasing";
  if (snapshot.matches("active")) return "running";
  return (typeof snapshot.value === "string" ? snapshot.value : Object.keys(snapshot.value)[0]) as InstanceState;
}

