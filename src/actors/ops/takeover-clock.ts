/**
 * Times how long a destination took to come up on this node, from the instance's snapshots
 * (src/machines/instance.ts). Pure: fed (state, owner, handover flag, time), it reports a
 * takeover when the instance reaches `running`:
 *
 *   failover  the running node of another owner vanished without a handover (crash, kill -9,
 *             partition): timed from when this node saw it gone to running here;
 *   handover  the owner gave it up on purpose (`{"active":false}`, release, SIGTERM): same clock;
 *   start     nobody ran it (first start of the cluster): timed from contending to running.
 *
 * "Saw it gone" is the earliest moment this node can know: after a crash ZooKeeper removes the
 * node only when the session expires, so the time before that is in the session timeout.
 */
import type { InstanceState } from "../../machines/instance.js";

export type TakeoverCause = "failover" | "handover" | "start";
export const TAKEOVER_CAUSES: readonly TakeoverCause[] = ["failover", "handover", "start"];

export interface Takeover {
  cause: TakeoverCause;
  ms: number;
}

export class TakeoverClock {
  private since: number | undefined;
  private cause: TakeoverCause | undefined;
  private lastState: InstanceState | undefined;
  private lastOwner: string | undefined;

  constructor(private readonly self: string) {}

  /** One snapshot; returns the takeover that just completed, if this one completes it. */
  update(state: InstanceState, owner: string | undefined, handover: boolean, now: number): Takeover | undefined {
    let done: Takeover | undefined;
    if (state === "running") {
      if (this.lastState !== "running" && this.since !== undefined && this.cause !== undefined) done = { cause: this.cause, ms: now - this.since };
      this.reset();
    } else if (state === "standby" || state === "contending" || state === "starting") {
      if (this.since === undefined && this.lastOwner !== undefined && owner === undefined) {
        this.since = now;
        this.cause = handover ? "handover" : "failover";
      } else if (this.since === undefined && state === "contending") {
        this.since = now;
        this.cause = "start";
      } else if (state === "standby" && owner !== undefined && owner !== this.self) {
        // Another node won: nothing of ours to time.
        this.reset();
      }
    } else {
      // offline, fenced, releasing, stopped, retrying: whatever was being timed did not happen here.
      if (state !== "retrying") this.reset();
    }
    this.lastState = state;
    this.lastOwner = owner;
    return done;
  }

  private reset(): void {
    this.since = undefined;
    this.cause = undefined;
  }
}
