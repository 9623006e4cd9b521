/**
 * Fault injection for the simulated switch: lost requests (the manager sees a timeout), slow answers,
 * SETs refused with an error status, and SETs answered noError that do not stick (Netgear, reference §3).
 * Each fault is armed for a number of matching requests and then disarms itself.
 */

/** Which requests a fault applies to. */
export interface FaultMatch {
  readonly kind?: "get" | "set";
  /** Matches when any varbind OID starts with this prefix. */
  readonly oidPrefix?: string;
  /** Matches only PDUs with at least this many varbinds. */
  readonly minVarbinds?: number;
}

/** What the agent must do with one request. */
export interface FaultDecision {
  readonly drop: boolean;
  readonly delayMs: number;
  readonly nonSticky: boolean;
  readonly reject: number | null;
}

interface Armed {
  remaining: number;
  readonly match: FaultMatch;
  readonly effect: { drop: true } | { delayMs: number } | { nonSticky: true } | { reject: number };
}

const matches = (m: FaultMatch, kind: "get" | "set", oids: readonly string[]): boolean =>
  (m.kind === undefined || m.kind === kind) &&
  (m.oidPrefix === undefined || oids.some((o) => o === m.oidPrefix || o.startsWith(m.oidPrefix + "."))) &&
  (m.minVarbinds === undefined || oids.length >= m.minVarbinds);

/** The fault table of one simulator; counters of what was injected are public for assertions. */
export class SimFaults {
  private readonly armed: Armed[] = [];
  /** How many requests were dropped, delayed, refused, or not applied so far. */
  readonly injected = { dropped: 0, delayed: 0, rejected: 0, nonSticky: 0 };
  /** Every request seen, by kind (for "a second apply writes nothing"). */
  readonly seen = { get: 0, set: 0 };

  /** Drops the next `times` matching requests without an answer. */
  drop(times: number, match: FaultMatch = {}): void {
    this.armed.push({ remaining: times, match, effect: { drop: true } });
  }

  /** Delays the answer to the next `times` matching requests. */
  delay(times: number, delayMs: number, match: FaultMatch = {}): void {
    this.armed.push({ remaining: times, match, effect: { delayMs } });
  }

  /** Refuses the next `times` matching SETs with `errorStatus` (e.g. 14 commitFailed). */
  reject(times: number, errorStatus: number, match: FaultMatch = {}): void {
    this.armed.push({ remaining: times, match: { ...match, kind: "set" }, effect: { reject: errorStatus } });
  }

  /** Answers the next `times` matching SETs with noError but does not apply them. */
  nonSticky(times: number, match: FaultMatch = {}): void {
    this.armed.push({ remaining: times, match: { ...match, kind: "set" }, effect: { nonSticky: true } });
  }

  /** Disarms every fault. */
  clear(): void {
    this.armed.length = 0;
  }

  /** Decides the fate of one request and consumes the faults it triggers. */
  onRequest(kind: "get" | "set", oids: readonly string[]): FaultDecision {
    this.seen[kind]++;
    let drop = false;
    let delayMs = 0;
    let nonSticky = false;
    let reject: number | null = null;
    for (const a of this.armed) {
      if (a.remaining <= 0 || !matches(a.match, kind, oids)) continue;
      a.remaining--;
      const e = a.effect;
      if ("drop" in e) {
        drop = true;
        this.injected.dropped++;
      } else if ("delayMs" in e) {
        delayMs = Math.max(delayMs, e.delayMs);
        this.injected.delayed++;
      } else if ("nonSticky" in e) {
        nonSticky = true;
        this.injected.nonSticky++;
      } else {
        reject = e.reject;
        this.injected.rejected++;
      }
    }
    for (let i = this.armed.length - 1; i >= 0; i--) if ((this.armed[i] as Armed).remaining <= 0) this.armed.splice(i, 1);
    return { drop, delayMs, nonSticky, reject };
  }
}
