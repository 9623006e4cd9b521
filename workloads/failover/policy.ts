/**
 * Failover decisions as a pure function of what pirack knows (its recorded cluster state) and what the last poll
 * saw. The controller carries decisions out; nothing here does I/O, reads a clock or logs.
 */
import { isReplicating, type DbHealth, type DbHealthUp } from "../db/health.ts";

/** What pirack records about the db pair (persisted under paths.state). */
export interface DbClusterState {
  /** The node pirack made (or will make) writable; null before the first decision. */
  readonly primary: string | null;
  /** Old primaries powered off by a fence, kept off until they rejoin as fresh replicas. */
  readonly fenced: readonly string[];
  /**
   * True while the primary may acknowledge a write the replica does not have (semi-sync off: at first boot, after
   * a failover, or after pirack let the primary run alone). No failover is safe then.
   */
  readonly unprotected: boolean;
}

/** One node's last poll: its answer, or null when the endpoint did not answer in time. */
export interface NodePoll {
  readonly name: string;
  readonly health: DbHealth | null;
  /** Consecutive polls without a usable answer (0 after a good one). */
  readonly failures: number;
}

/** Failover tuning (workloads.db.failover). */
export interface FailoverPolicy {
  readonly enabled: boolean;
  readonly fails: number;
  readonly replicaFails: number;
}

/** What the controller should do after this poll. */
export type DbDecision =
  | { kind: "none" }
  | { kind: "activate"; node: string }
  | { kind: "failover"; from: string; to: string }
  | { kind: "refuse"; from: string; reason: string }
  | { kind: "protect"; primary: string; replica: string }
  | { kind: "unprotect"; primary: string; replica: string };

const isUp = (p: NodePoll | undefined): p is NodePoll & { health: DbHealthUp } => p?.health?.up === true;

/** The domain-0 sequence number of a GTID position ("0-1-42,1-3-7" -> 42); 0 when empty. */
export function gtidSequence(pos: string, domain = 0): number {
  for (const part of pos.split(",")) {
    const [d, , seq] = part.split("-");
    if (Number(d) === domain && seq !== undefined) return Number(seq);
  }
  return 0;
}

/** A replica that may take over: answering, replicating from the primary, its SQL thread running. */
function canTakeOver(p: NodePoll | undefined): boolean {
  return isUp(p) && p.health.role === "replica" && p.health.replica?.sql === "Yes";
}

/** Decides the next step for the pair. `polls` holds every db node that is not fenced. */
export function decideDb(state: DbClusterState, polls: readonly NodePoll[], policy: FailoverPolicy): DbDecision {
  // A fenced primary stays in view: a failover that fenced it but failed later is carried on next poll.
  const live = polls.filter((p) => p.name === state.primary || !state.fenced.includes(p.name));
  const primary = live.find((p) => p.name === state.primary);
  const others = live.filter((p) => p.name !== state.primary);
  if (!primary) return { kind: "none" };
  const replica = others[0];

  if (isUp(primary)) {
    const h = primary.health;
    if (h.role === "standby") {
      // A primary that (re)booted read-only is made writable only if it holds everything the replica applied.
      if (isUp(replica) && gtidSequence(replica.health.gtidCurrentPos) > gtidSequence(h.gtidCurrentPos)) {
        return { kind: "refuse", from: primary.name, reason: `read-only primary is behind ${replica.name} (${h.gtidCurrentPos || "empty"} < ${replica.health.gtidCurrentPos})` };
      }
      return { kind: "activate", node: primary.name };
    }
    if (h.role !== "primary" || !replica) return { kind: "none" };
    if (state.unprotected && isUp(replica) && isReplicating(replica.health) && replica.health.replica?.secondsBehind === 0) {
      return { kind: "protect", primary: primary.name, replica: replica.name };
    }
    if (!state.unprotected && replica.failures >= policy.replicaFails) return { kind: "unprotect", primary: primary.name, replica: replica.name };
    return { kind: "none" };
  }

  if (primary.failures < policy.fails) return { kind: "none" };
  if (!replica || !canTakeOver(replica)) return { kind: "refuse", from: primary.name, reason: replica ? `replica ${replica.name} cannot take over (${describe(replica)})` : "no replica" };
  if (state.unprotected) return { kind: "refuse", from: primary.name, reason: "the primary was running without a synchronous replica: promoting could lose acknowledged writes" };
  if (!policy.enabled) return { kind: "refuse", from: primary.name, reason: "automatic failover is disabled (workloads.db.failover.enabled: false)" };
  return { kind: "failover", from: primary.name, to: replica.name };
}

function describe(p: NodePoll): string {
  if (!p.health) return "no answer";
  if (!p.health.up) return "mariadb down";
  return `role ${p.health.role}, sql thread ${p.health.replica?.sql ?? "none"}`;
}
