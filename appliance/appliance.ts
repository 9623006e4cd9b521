/**
 * The appliance's live state: the running config and plan, what has been learned about each Pi, boot stages,
 * and the reconciler that keeps the world in line. Servers (DHCP, TFTP, API) read from here and report to it.
 */
import type { Logger } from "pino";
import type { Clock } from "../lib/clock.ts";
import type { Config } from "./config.ts";
import type { MetricsRegistry } from "../lib/metrics.ts";
import { planRack, type LearnedPi, type PiModel, type RackPlan } from "./plan.ts";
import { IdentityPolicy, type IdentityPolicyOptions } from "./identity-policy.ts";
import { Reconciler, type BoundSubsystem, type PassReport } from "./reconcile/reconciler.ts";
import { BootTracker, type BootRecord, type BootStage } from "./boot-stages.ts";

export type { BootStage } from "./boot-stages.ts";

/** A sighting of a Pi by a server (DHCP request, TFTP file, NFS mount, health check). */
export interface PiSighting {
  readonly port: number;
  readonly stage: Exclude<BootStage, "unseen" | "power">;
  readonly mac?: string;
  readonly serial?: string;
  readonly model?: PiModel;
}

/** What the API reports per port. */
export interface PiStatus {
  readonly port: number;
  readonly name: string;
  readonly vlan: number;
  readonly interface: string;
  readonly piAddress: string;
  readonly serverAddress: string;
  readonly publicAddress: string;
  readonly mac: string | null;
  readonly serial: string | null;
  readonly model: string | null;
  readonly enrolled: boolean;
  readonly role: string;
  readonly power: "on" | "off" | "unknown";
  readonly bootStage: BootStage;
  /** Set when the boot has not advanced within `boot.stuckAfterS`: the stage it stopped at, and for how long. */
  readonly stuck: { readonly stage: BootStage; readonly forSeconds: number } | null;
  /** When the Pi's last boot began (PoE on, or its first DHCP request). */
  readonly lastBoot: string | null;
  readonly lastSeen: string | null;
}

/** Dependencies of the appliance state. */
export interface ApplianceDeps {
  readonly log: Logger;
  readonly clock: Pick<Clock, "now">;
  readonly metrics: MetricsRegistry;
  readonly subsystems: (appliance: Appliance) => readonly BoundSubsystem<RackPlan>[];
  /** Pis learned in an earlier run (from the state file). */
  readonly learned?: readonly LearnedPi[];
  /** Keeps what was learned (the state file); called after every change of identity. */
  readonly persistLearned?: (pis: readonly LearnedPi[]) => Promise<void>;
  /** Thresholds for replacing a port's Pi identity (default DEFAULT_IDENTITY_POLICY). */
  readonly identityPolicy?: IdentityPolicyOptions;
  /** Power-cycles a Pi over PoE; absent when the rack has no switch driver. */
  readonly powerCycle?: (port: number) => Promise<unknown>;
  /** Ports an operator powered off in an earlier run (or another pirack process). */
  readonly heldOff?: readonly number[];
  /** Keeps the held-off ports; called after every operator power decision that changes them. */
  readonly persistHeldOff?: (ports: readonly number[]) => Promise<void>;
  /** The rack's cross-process pass lock, held around every pass (see lib/pass-lock.ts). */
  readonly passLock?: <T>(fn: () => Promise<T>) => Promise<T>;
}

/**
 * How long after a Pi's DHCP request its root may appear and the boot still succeed. A Pi 3 fetches its
 * firmware and kernel over TFTP in roughly 10-20 s and the kernel then mounts the root once; the Pi 3 ROM never
 * retries a boot by itself (DESIGN.md §3.5), so a root that appears later than this gets the Pi power-cycled.
 */
export const LATE_ROOT_MS = 15_000;

/** The state every server shares; one per process, built by the composition root. */
export class Appliance {
  private currentConfig: Config;
  private currentPlan: RackPlan;
  /** Identities changed since `currentPlan` was made: the plan is remade when next read (see `sighting`). */
  private planStale = false;
  /** The one deferred replan a burst of sightings shares, with the pass it requests. */
  private pendingReplan: { promise: Promise<PassReport>; ports: number[] } | undefined;
  private readonly learned = new Map<number, LearnedPi>();
  /** Decides when a port's Pi identity may change (identity-policy.ts). */
  private readonly identities: IdentityPolicy;
  /** Every port's last boots, stage by stage. */
  readonly boots: BootTracker;
  /** When each port's Pi last started a boot (its first DHCP request after another stage). */
  private readonly bootStarted = new Map<number, Date>();
  private readonly power = new Map<number, "on" | "off">();
  private readonly heldOff = new Set<number>();
  readonly reconciler: Reconciler<RackPlan>;
  private readonly listeners = new Set<(plan: RackPlan) => void>();

  constructor(
    config: Config,
    private readonly deps: ApplianceDeps,
  ) {
    this.currentConfig = config;
    this.identities = new IdentityPolicy(deps.identityPolicy);
    this.boots = new BootTracker({ clock: { now: () => new Date(deps.clock.now()) }, stuckAfterS: () => this.currentConfig.boot.stuckAfterS });
    for (const pi of deps.learned ?? []) this.learned.set(pi.port, pi);
    for (const port of deps.heldOff ?? []) this.heldOff.add(port);
    this.currentPlan = planRack(config, this.learned);
    this.reconciler = new Reconciler<RackPlan>({
      log: deps.log.child({ component: "reconciler" }),
      clock: deps.clock,
      state: () => this.plan,
      subsystems: deps.subsystems(this),
      ...(deps.passLock ? { lock: deps.passLock } : {}),
    });
    this.updateGauges();
  }

  /** The config in force. */
  get config(): Config {
    return this.currentConfig;
  }

  /** The plan in force (remade here first when identities were learned since it was made). */
  get plan(): RackPlan {
    if (this.planStale) {
      this.planStale = false;
      this.currentPlan = planRack(this.currentConfig, this.learned);
      this.updateGauges();
    }
    return this.currentPlan;
  }

  /** Subscribes to plan changes (servers re-read their scopes); returns an unsubscribe function. */
  onPlan(listener: (plan: RackPlan) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Switches to a new, already validated config and requests a pass. */
  setConfig(config: Config): Promise<PassReport> {
    this.currentConfig = config;
    return this.replan("config changed");
  }

  /** Records a Pi's identity and boot progress; a new identity on a port replans (enrolment). */
  sighting(s: PiSighting): Promise<PassReport> | undefined {
    const now = new Date(this.deps.clock.now());
    if (s.stage === "dhcp" && this.boots.state(s.port).stage !== "dhcp") this.bootStarted.set(s.port, now);
    if (this.boots.record(s.port, s.stage, now)) this.deps.log.info({ port: s.port, stage: s.stage }, "boot stage reached");
    if (!this.currentConfig.ports.includes(s.port)) return undefined;
    const before = this.learned.get(s.port);
    const recorded = before && { ...(before.mac ? { mac: before.mac } : {}), ...(before.serial ? { serial: before.serial } : {}), ...(before.model ? { model: before.model } : {}) };
    const seen = { ...(s.mac ? { mac: s.mac } : {}), ...(s.serial ? { serial: s.serial } : {}), ...(s.model ? { model: s.model } : {}) };
    // A port seen with no identity at all (a TFTP request from its address) is enrolled with none yet.
    const decision = before ? this.identities.decide(s.port, recorded, seen, now.getTime()) : { kind: "refine" as const, identity: seen };
    if (decision.kind === "same") return undefined;
    if (decision.kind === "pending") {
      if (decision.fresh) this.deps.metrics.counter("pirack_identity_candidates_total", "Different Pi identities seen on a port that already had one").inc();
      this.deps.log.debug({ port: s.port, ...decision.candidate, sightings: decision.sightings, limited: decision.limited }, "pi identity change pending");
      return undefined;
    }
    const merged: LearnedPi = { port: s.port, ...decision.identity };
    this.learned.set(s.port, merged);
    if (decision.kind === "change") {
      this.deps.metrics.counter("pirack_identity_changes_total", "Pi identities replaced on a port (a Pi swapped)").inc();
      this.deps.log.warn({ port: s.port, from: decision.previous, to: decision.identity }, "pi identity changed");
    } else this.deps.log.info({ port: s.port, mac: merged.mac, serial: merged.serial, model: merged.model }, "pi identified");
    this.deps.persistLearned?.([...this.learned.values()]).catch((err: unknown) => this.deps.log.error({ err }, "learned pis not saved"));
    return this.replanSoon(s.port);
  }

  /**
   * A Pi's root was just created. If the Pi began booting longer than LATE_ROOT_MS ago it has most likely
   * failed to mount it (or its ROM gave up), so it is power-cycled to boot again onto the new root.
   * Returns whether a cycle was started.
   */
  rootCreated(port: number): boolean {
    const started = this.bootStarted.get(port);
    if (!started || !this.deps.powerCycle) return false;
    const lateMs = this.deps.clock.now() - started.getTime();
    if (lateMs <= LATE_ROOT_MS) return false;
    this.bootStarted.delete(port);
    this.deps.log.warn({ port, lateMs }, "root ready after the pi's boot; power-cycling it");
    this.deps.powerCycle(port).catch((err: unknown) => this.deps.log.error({ port, err }, "power cycle after late root failed"));
    return true;
  }

  /**
   * Records the PoE state last set or observed for a port. Power coming on (after off) starts a boot in the
   * timeline at `at` (when the switch turned it on); going off ends the boot, so it is never counted as stuck.
   */
  setPower(port: number, state: "on" | "off", at: Date = new Date(this.deps.clock.now())): void {
    const before = this.power.get(port);
    this.power.set(port, state);
    if (state === "on" && before === "off") this.boots.record(port, "power", at);
    if (state === "off" && before !== "off") this.boots.poweredOff(port);
  }

  /** A port's last boots, oldest first. */
  timeline(port: number): BootRecord[] {
    return this.boots.history(port);
  }

  /** An operator's power decision: a port turned off stays off across passes until turned on or cycled. */
  holdPower(port: number, action: "on" | "off" | "cycle"): void {
    const was = this.heldOff.has(port);
    if (action === "off") this.heldOff.add(port);
    else this.heldOff.delete(port);
    if (was === this.heldOff.has(port)) return;
    this.deps.persistHeldOff?.([...this.heldOff]).catch((err: unknown) => this.deps.log.error({ err }, "held-off ports not saved"));
  }

  /** Ports an operator has powered off. */
  get poweredOff(): ReadonlySet<number> {
    return this.heldOff;
  }

  /** Per-port status for the API and dashboard. */
  status(): PiStatus[] {
    return this.plan.ports.map((p) => {
      const boot = this.boots.state(p.port);
      return {
        port: p.port,
        name: p.name,
        vlan: p.vlan,
        interface: p.interfaceName,
        piAddress: p.piAddress,
        serverAddress: p.serverAddress,
        publicAddress: p.publicAddress,
        mac: p.mac ?? null,
        serial: p.serial ?? null,
        model: p.model ?? null,
        enrolled: p.enrolled,
        role: p.role,
        power: this.power.get(p.port) ?? "unknown",
        bootStage: boot.stage,
        stuck: boot.stuck,
        lastBoot: this.boots.history(p.port).at(-1)?.startedAt.toISOString() ?? null,
        lastSeen: boot.lastSeen?.toISOString() ?? null,
      };
    });
  }

  private replan(reason: string): Promise<PassReport> {
    this.planStale = true;
    const plan = this.plan;
    for (const l of this.listeners) l(plan);
    return this.reconciler.request(reason);
  }

  /**
   * A new identity: the plan is marked stale (remade when next read) and the servers' update and the pass are
   * requested once, on the next turn of the event loop, for every sighting until then. A shelf powering up is
   * thousands of sightings; replanning the whole rack for each made enrolment quadratic in the rack's size
   * (bench/scale: 13 s of replanning for 480 Pis).
   */
  private replanSoon(port: number): Promise<PassReport> {
    this.planStale = true;
    if (this.pendingReplan) {
      this.pendingReplan.ports.push(port);
      return this.pendingReplan.promise;
    }
    const ports = [port];
    const promise = new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
      this.pendingReplan = undefined;
      const reason = ports.length === 1 ? `pi seen on port ${ports[0]}` : `${ports.length} pis seen (ports ${ports.slice(0, 5).join(", ")}${ports.length > 5 ? ", ..." : ""})`;
      return this.replan(reason);
    });
    this.pendingReplan = { promise, ports };
    return promise;
  }

  private updateGauges(): void {
    this.deps.metrics.gauge("pirack_ports", "Switch ports planned for Pis").set(this.currentPlan.ports.length);
    this.deps.metrics.gauge("pirack_pis_enrolled", "Pis with a root and an export").set(this.currentPlan.ports.filter((p) => p.enrolled).length);
  }
}
