/**
 * The world around a real canal-ts node, for replaying the instance machine's walks
 * (model-replay-instance.test.ts): who holds the running node (nobody, another node, the node
 * itself), whether the relay in front of ZooKeeper lets the node through, and whether its watch
 * is about to report (it looks by itself whenever the node enters standby, so there the walk
 * must take what ZooKeeper holds). `allowed` says which events a test can cause for real in a
 * state of the model and the world; `next` how each step changes the world.
 */
import type { AnyEventObject, AnyMachineSnapshot } from "xstate";
import { stateString } from "../../src/actors/nats/inspector.js";
import type { InstanceContext } from "../../src/machines/instance.js";
import type { Environment } from "../machines/model.js";

/** Who holds the running node, whether the node's ZooKeeper traffic gets through, and whether its watch is about to report. */
export interface World {
  holder: "none" | "other" | "node";
  relay: "open" | "refused";
  look: boolean;
}

const inStandby = (s: AnyMachineSnapshot) => s.matches("standby");
const context = (s: AnyMachineSnapshot) => s.context as InstanceContext;

/**
 * Which events the real node can be brought to take. States it leaves by itself within
 * milliseconds (contending, starting, releasing, fenced, waiting) take only what it does by
 * itself there; a stimulus would race it.
 */
function allowed(s: AnyMachineSnapshot, e: AnyEventObject, w: World): boolean {
  const state = stateString(s.value);
  const { session, sessionId } = context(s);
  const settled = /^xstate\.(done|error)\.actor\.[^.]*\.instance\.(.+)$/.exec(e.type);
  if (settled) {
    // What the node's own work ends with; failures of that work cannot be caused on purpose.
    if (settled[1] === "error") return false;
    if (settled[2] === "contending") return (e.output as { created: boolean }).created;
    return true;
  }
  if (e.type.startsWith("xstate.after.")) return !e.type.includes("RETRY_DELAY") || state === "retrying";
  if (e.type === "SERVE.READY") return state === "active.starting"; // the destination started
  if (w.look) return lookResult(e, w);
  const stable = state === "offline" || state === "standby.watching" || state === "active.serving" || state === "active.suspended";
  if (!stable) return false;
  switch (e.type) {
    case "SESSION.LIVE":
      // Healing the relay: the same session within its timeout, a new one after it expired.
      return w.relay === "refused" && (session === "suspended" ? e.sessionId === sessionId : e.sessionId === "s1");
    case "SESSION.SUSPENDED":
      return w.relay === "open" && session === "live" && state !== "offline";
    case "SESSION.GONE":
      // Serving nodes fence (FENCE_AFTER) well before their session can expire.
      return w.relay === "refused" && session === "suspended" && (state === "offline" || state === "standby.watching");
    case "RUNNING.HELD":
      if (session !== "live") return false;
      if (state === "standby.watching") return w.holder === "other" && !e.ours;
      return state === "active.serving" && (!e.ours || !e.active);
    case "RUNNING.ABSENT":
      if (session !== "live") return false;
      if (state === "standby.watching") return w.holder === "other";
      return state === "active.serving" && !e.handover;
    case "RELEASE":
    case "STOP":
      return session === "live" && (state === "active.serving" || (e.type === "STOP" && state === "standby.watching"));
    default:
      return false;
  }
}

/** What the watch reports on its own when it looks: what ZooKeeper holds. */
function lookResult(e: AnyEventObject, w: World): boolean {
  if (e.type === "RUNNING.ABSENT") return w.holder === "none" && !e.handover;
  if (e.type === "RUNNING.HELD") return e.active && (w.holder === "other" ? !e.ours : w.holder === "node" && e.ours);
  return false;
}

function next(w: World, e: AnyEventObject, before: AnyMachineSnapshot, after: AnyMachineSnapshot): World {
  let { holder, relay } = w;
  const stimulus = !w.look;
  if (e.type === "SESSION.SUSPENDED") relay = "refused";
  else if (e.type === "SESSION.LIVE") relay = "open";
  else if (e.type === "SESSION.GONE" && holder === "node") holder = "none"; // its ephemeral went with the session
  else if (e.type === "RUNNING.HELD" && stimulus && !e.ours) holder = "other";
  else if (e.type === "RUNNING.ABSENT" && stimulus) holder = "none";
  else if (/^xstate\.done\.actor\.[^.]*\.instance\.contending$/.test(e.type)) holder = "node";
  else if (/^xstate\.done\.actor\.[^.]*\.instance\.active\.releasing$/.test(e.type)) holder = "none";
  // Entering standby, or coming back to it from a suspension, the watch looks at once.
  const entersStandby = inStandby(after) && (!inStandby(before) || e.type === "SESSION.LIVE");
  const look = context(after).session === "live" && (entersStandby || (w.look && !e.type.startsWith("RUNNING.") && inStandby(after)));
  return { holder, relay, look };
}

export const environment: Environment<World> = {
  // The node starts with the relay refusing, so that its first transitions are followed too.
  initial: { holder: "none", relay: "refused", look: false },
  key: (w) => `${w.holder}/${w.relay}/${w.look}`,
  allowed,
  next,
};

/**
 * Transitions the walks cannot take for real, each with why. A transition added to the chart
 * fails the test until a walk takes it or it is listed here.
 */
export const NOT_REPLAYED: Record<string, string> = {
  "contending>standby:claimRunning done": "losing the claim needs another node to create the running node between this node's decision and its create",
  "contending>retrying:claimRunning error": "needs ZooKeeper to fail the create request itself",
  "retrying>standby:after RETRY_DELAY [sessionLive]": "only after a failed claim",
  "retrying>offline:after RETRY_DELAY": "only after a failed claim",
  "contending>offline:SESSION.GONE": "the claim takes milliseconds, a session takes seconds to expire",
  "active>fenced:SESSION.GONE": "a serving node fences itself (FENCE_AFTER) before its session can expire",
  "active.suspended>fenced:SESSION.LIVE": "a new session means the old one expired, after FENCE_AFTER has fenced",
  "active>fenced:SERVE.FAILED [fencedByStore]": "needs another node to move the cursor store's version while this one serves",
  "active>active.releasing:SERVE.FAILED": "needs the binlog source to fail for good (it reconnects on every failure a test can cause)",
  "active.starting>fenced:RUNNING.ABSENT": "the start takes milliseconds after the claim; a delete would race it",
  "active.releasing>fenced:releaseRunning error": "needs ZooKeeper to fail the release's own requests",
  "fenced>standby:awaitHalted error [sessionLive]": "needs the destination's halt to fail",
  "fenced>offline:awaitHalted error": "needs the destination's halt to fail",
};

