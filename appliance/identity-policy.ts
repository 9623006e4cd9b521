/**
 * Which Pi a port holds, when its sightings disagree (policy, no I/O). A Pi replaced on a port is real and must
 * be recorded; a storm of spoofed DHCP packets with random Pi MACs is not and must change nothing:
 * - a port's first identity is taken at once (enrolment);
 * - a sighting that only adds what was unknown (a serial, a model) refines the identity at once;
 * - a different identity (another MAC or serial) is a candidate: it replaces the recorded one once it has been
 *   seen `confirmSightings` times over at least `confirmMs`, with no other different identity seen in between
 *   (so a storm of many identities resets it each time) and no sighting of the recorded Pi (which cancels it);
 * - at most one change per port per `changeIntervalMs`; a candidate unseen for `candidateTtlMs` is forgotten.
 */

/** What identifies a Pi (the model names it only loosely, so it never contradicts). */
export interface PiIdentity {
  readonly mac?: string;
  readonly serial?: string;
  readonly model?: string;
}

/** Thresholds of the policy. */
export interface IdentityPolicyOptions {
  readonly confirmSightings: number;
  readonly confirmMs: number;
  readonly changeIntervalMs: number;
  readonly candidateTtlMs: number;
}

/** Defaults: a Pi 4/5 meets them in its first boot's TFTP fetches (serial folder), a Pi 3 by its second boot. */
export const DEFAULT_IDENTITY_POLICY: IdentityPolicyOptions = {
  confirmSightings: 3,
  confirmMs: 5_000,
  changeIntervalMs: 60_000,
  candidateTtlMs: 600_000,
};

/** The outcome for one sighting. */
export type IdentityDecision =
  | { readonly kind: "same" }
  /** First identity of the port, or fields added to the recorded one: take `identity`. */
  | { readonly kind: "refine"; readonly identity: PiIdentity }
  /** A different Pi, confirmed: take `identity` in place of `previous`. */
  | { readonly kind: "change"; readonly identity: PiIdentity; readonly previous: PiIdentity }
  /** A different identity not (yet) taken; `fresh` when this sighting started a new candidate. */
  | { readonly kind: "pending"; readonly candidate: PiIdentity; readonly sightings: number; readonly fresh: boolean; readonly limited: boolean };

interface Candidate {
  identity: PiIdentity;
  firstAtMs: number;
  lastAtMs: number;
  sightings: number;
}

const differ = (a?: string, b?: string): boolean => a !== undefined && b !== undefined && a !== b;

/** True when two identities cannot be the same Pi. */
export const contradicts = (a: PiIdentity, b: PiIdentity): boolean => differ(a.mac, b.mac) || differ(a.serial, b.serial);

/** `b`'s fields over `a`'s. */
const merge = (a: PiIdentity, b: PiIdentity): PiIdentity => {
  const mac = b.mac ?? a.mac;
  const serial = b.serial ?? a.serial;
  const model = b.model ?? a.model;
  return { ...(mac ? { mac } : {}), ...(serial ? { serial } : {}), ...(model ? { model } : {}) };
};

const same = (a: PiIdentity, b: PiIdentity): boolean => a.mac === b.mac && a.serial === b.serial && a.model === b.model;

/** Per-port candidates and change times; `decide` is a function of (recorded, sighting, time, this memory). */
export class IdentityPolicy {
  private readonly candidates = new Map<number, Candidate>();
  private readonly lastChangeAtMs = new Map<number, number>();

  constructor(private readonly opts: IdentityPolicyOptions = DEFAULT_IDENTITY_POLICY) {}

  /** Decides what a sighting on `port` means for the identity recorded there. */
  decide(port: number, recorded: PiIdentity | undefined, seen: PiIdentity, nowMs: number): IdentityDecision {
    if (seen.mac === undefined && seen.serial === undefined && seen.model === undefined) return { kind: "same" };
    if (recorded === undefined) return { kind: "refine", identity: merge({}, seen) };
    if (!contradicts(recorded, seen)) {
      // The recorded Pi is alive: whatever was building up against it was not a replacement.
      this.candidates.delete(port);
      const merged = merge(recorded, seen);
      return same(merged, recorded) ? { kind: "same" } : { kind: "refine", identity: merged };
    }
    let c = this.candidates.get(port);
    let fresh = false;
    if (!c || contradicts(c.identity, seen) || nowMs - c.lastAtMs > this.opts.candidateTtlMs) {
      c = { identity: merge({}, seen), firstAtMs: nowMs, lastAtMs: nowMs, sightings: 1 };
      this.candidates.set(port, c);
      fresh = true;
    } else {
      c.identity = merge(c.identity, seen);
      c.lastAtMs = nowMs;
      c.sightings += 1;
    }
    const confirmed = c.sightings >= this.opts.confirmSightings && nowMs - c.firstAtMs >= this.opts.confirmMs;
    const lastChange = this.lastChangeAtMs.get(port);
    const limited = lastChange !== undefined && nowMs - lastChange < this.opts.changeIntervalMs;
    if (!confirmed || limited) return { kind: "pending", candidate: c.identity, sightings: c.sightings, fresh, limited: confirmed && limited };
    this.candidates.delete(port);
    this.lastChangeAtMs.set(port, nowMs);
    return { kind: "change", identity: c.identity, previous: recorded };
  }
}
