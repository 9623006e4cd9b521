/**
 * The standard Q-BRIDGE/POWER-ETHERNET switch driver: discovery, observation, apply (one multi-varbind SET,
 * the stepwise order when that is refused, read back and verify, repeat a bounded number of rounds), PoE
 * power actions and the FDB. Writes are serialised per switch; every failure is a typed `OperationError`.
 */
import type { Logger } from "pino";
import { NotFoundError, OperationError } from "../lib/errors.ts";
import type { MetricsRegistry } from "../lib/metrics.ts";
import { readInventory } from "./discovery.ts";
import { readFdb, readLinks, readObserved, readPoe, readPse, readVlans } from "./observe.ts";
import { detectionName, Detection, IfMib, PoeMib } from "./oids.ts";
import { activateVarbind, createVarbinds, describeChange, onePduVarbinds, planSwitch, poeVarbind, stepwiseSets, vlanWorkEmpty, withoutUnmanagedPoe, type SwitchPlan } from "./plan.ts";
import { selectProfile, type VendorProfile } from "./profiles.ts";
import { createSnmpClient, SNMP_PORT, SnmpError, type SnmpClient, type Sleep } from "./snmp-client.ts";
import type { ApplyResult, DesiredSwitchState, FdbEntry, Inventory, ObservedSwitch, PoePortStatus, PowerAction, PowerStep, PsePower, SwitchChange, SwitchConfig } from "./types.ts";

/** Injected dependencies of a driver. */
export interface SwitchDriverDeps {
  readonly log: Logger;
  readonly metrics?: MetricsRegistry;
  readonly sleep?: Sleep;
  readonly now?: () => number;
  /** Replaces the UDP client (tests with a recorded walk). */
  readonly client?: SnmpClient;
}

/** Tuning of power actions. */
export interface PowerOptions {
  /** Time the port stays off in a cycle so the Pi really loses power (Mesa CI uses 3 s). Default 3000. */
  readonly offHoldMs?: number;
  /** How long to wait for each transition. Default 30000. */
  readonly timeoutMs?: number;
  readonly pollMs?: number;
  /** Also wait for the link to come up after power on. Default false. */
  readonly waitForLink?: boolean;
}

/** PoE status of all ports plus the PSE. */
export interface PoeReport {
  readonly ports: readonly PoePortStatus[];
  readonly pse: PsePower | null;
}

/** The driver surface the CLI and the reconciler use. */
export interface SwitchDriver {
  discover(refresh?: boolean): Promise<Inventory>;
  observe(): Promise<ObservedSwitch>;
  plan(desired: DesiredSwitchState): Promise<SwitchPlan>;
  apply(desired: DesiredSwitchState): Promise<ApplyResult>;
  /** Pushes a plan made from an earlier `observe` as it is (then verifies by reading back, as `apply` does). */
  applyPlanned(desired: DesiredSwitchState, plan: SwitchPlan): Promise<ApplyResult>;
  power(port: number, action: PowerAction, opts?: PowerOptions): Promise<PowerStep[]>;
  poeStatus(): Promise<PoeReport>;
  readFdb(): Promise<FdbEntry[]>;
  /** ifOperStatus and PoE detection per port, for polling. */
  readPortStates(): Promise<Map<number, { linkUp: boolean; detection: string | null }>>;
  close(): void;
}

const maxRounds = 3;

/** Q-BRIDGE-MIB + POWER-ETHERNET-MIB driver. */
export class QBridgeSwitch implements SwitchDriver {
  private readonly client: SnmpClient;
  private readonly log: Logger;
  private readonly metrics: MetricsRegistry | undefined;
  private readonly sleep: Sleep;
  private readonly now: () => number;
  private inventory: Inventory | null = null;
  private writeTail: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly config: SwitchConfig,
    deps: SwitchDriverDeps,
  ) {
    // Only host/port/profile go to the log; credentials stay out (STYLE: secrets never logged).
    this.log = deps.log.child({ component: "switch", host: config.host, port: config.port ?? SNMP_PORT });
    this.sleep = deps.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.now = deps.now ?? Date.now;
    this.metrics = deps.metrics;
    this.client =
      deps.client ??
      createSnmpClient({
        host: config.host,
        port: config.port,
        credentials: config.snmp,
        timeoutMs: config.timeoutMs,
        setTimeoutMs: config.setTimeoutMs,
        retries: config.retries,
        backoffMs: config.backoffMs,
        log: deps.log,
        metrics: deps.metrics,
        sleep: this.sleep,
      });
  }

  /** Builds (once, or again with `refresh`) the port map. */
  async discover(refresh = false): Promise<Inventory> {
    if (this.inventory && !refresh) return this.inventory;
    const inv = await readInventory(this.client, this.config.profile);
    if (inv.poeProblem && this.config.poe) this.log.warn({ problem: inv.poeProblem }, "poe map unusable, poe actions refused");
    this.log.info({ profile: inv.profile, ports: inv.ports.length, portListOctets: inv.portListOctets }, "switch discovered");
    this.inventory = inv;
    return inv;
  }

  private profile(inv: Inventory): VendorProfile {
    return selectProfile(inv.profile, inv.sysObjectId);
  }

  /** Reads the switch's actual state. */
  async observe(): Promise<ObservedSwitch> {
    const inv = await this.discover();
    const observed = await readObserved(this.client, inv, this.profile(inv), { poe: this.config.poe });
    this.record(observed);
    return observed;
  }

  /** Link, PoE power and PSE gauges for `GET /metrics`. */
  private record(o: ObservedSwitch): void {
    if (!this.metrics) return;
    const link = this.metrics.gauge("pirack_switch_port_link_up", "1 when the switch port's link is up");
    const watts = this.metrics.gauge("pirack_switch_port_poe_watts", "PoE power drawn on the port, where the switch reports it");
    const delivering = this.metrics.gauge("pirack_switch_port_poe_delivering", "1 when the port delivers PoE power");
    for (const [port, up] of o.linkUp) link.set(up ? 1 : 0, { port: String(port) });
    for (const [port, p] of o.poe) {
      delivering.set(p.detection === "deliveringPower" ? 1 : 0, { port: String(port) });
      if (p.watts !== null) watts.set(p.watts, { port: String(port) });
    }
    if (o.pse?.consumptionWatts != null) this.metrics.gauge("pirack_switch_pse_consumption_watts", "PoE power drawn from the switch's PSE").set(o.pse.consumptionWatts);
    if (o.pse?.budgetWatts != null) this.metrics.gauge("pirack_switch_pse_budget_watts", "nominal PoE budget of the switch's PSE").set(o.pse.budgetWatts);
  }

  /** Plans without writing (`pirack plan`, dry runs, the reconciler). */
  async plan(desired: DesiredSwitchState): Promise<SwitchPlan> {
    const inv = await this.discover();
    return planSwitch(withoutUnmanagedPoe(desired, this.config.poe, inv), await this.observe(), inv);
  }

  /**
   * Every SET to this switch goes through here, one after another: VLAN pushes and power actions never
   * interleave (a power-off for fencing must not land in the middle of a VLAN push, DESIGN.md §4).
   */
  private queued<T>(write: () => Promise<T>): Promise<T> {
    const run = this.writeTail.then(write);
    this.writeTail = run.catch(() => undefined);
    return run;
  }

  /** Pushes `desired` and returns what changed; a second call on an unchanged switch sends no SET. */
  apply(desired: DesiredSwitchState): Promise<ApplyResult> {
    return this.queued(() => this.applyNow(desired, undefined));
  }

  /** Pushes `plan` as planned; later rounds read back and repair only what did not stick. */
  applyPlanned(desired: DesiredSwitchState, plan: SwitchPlan): Promise<ApplyResult> {
    return this.queued(() => this.applyNow(desired, plan));
  }

  private async applyNow(wanted: DesiredSwitchState, planned: SwitchPlan | undefined): Promise<ApplyResult> {
    const inv = await this.discover();
    // An unusable PoE map refuses PoE, not the VLAN work (power() reports the problem).
    const desired = withoutUnmanagedPoe(wanted, this.config.poe, inv);
    const profile = this.profile(inv);
    let setRequests = 0;
    let usedStepwise = false;
    let changes: readonly SwitchChange[] = [];
    const set = async (varbinds: Parameters<SnmpClient["set"]>[0]): Promise<void> => {
      setRequests++;
      await this.client.set(varbinds);
    };
    for (let round = 1; round <= maxRounds + 1; round++) {
      // Round 1 writes the plan the caller made; every later round verifies by reading back.
      const plan = round === 1 && planned ? planned : planSwitch(desired, await readObserved(this.client, inv, profile, { poe: this.config.poe }), inv);
      if (round === 1) changes = plan.changes;
      if (vlanWorkEmpty(plan) && plan.poe.length === 0) return { changes, setRequests, rounds: round - 1, usedStepwise };
      if (round > maxRounds) {
        throw new OperationError("SWITCH_VERIFY_FAILED", `switch state differs after ${maxRounds} write rounds: ${plan.changes.map(describeChange).join("; ")}`);
      }
      if (round > 1) this.log.warn({ round, pending: plan.changes.map(describeChange) }, "switch state did not stick, writing again");
      if (!vlanWorkEmpty(plan)) {
        try {
          await set(onePduVarbinds(plan, profile));
        } catch (err) {
          if (!(err instanceof SnmpError) || err.code !== "SNMP_SET_REJECTED") throw err;
          this.log.info({ status: err.status, oid: err.oid }, "one-pdu set refused, using stepwise order");
          usedStepwise = true;
          // Re-plan from a fresh read: an agent may have applied part of the refused PDU.
          const fresh = planSwitch(desired, await readObserved(this.client, inv, profile, { poe: false }), inv);
          await this.applyStepwise(fresh, set);
        }
      }
      for (const [i, p] of plan.poe.entries()) {
        // Stagger power-ons so many Pis do not hit the PSE budget at once (reference §2.2).
        if (i > 0 && p.on) await this.sleep(500);
        await set([poeVarbind(p.index, p.on)]);
      }
      for (const c of plan.changes) this.log.info({ change: describeChange(c) }, "switch port changed");
    }
    throw new OperationError("SWITCH_VERIFY_FAILED", "unreachable");
  }

  private async applyStepwise(plan: SwitchPlan, set: (v: Parameters<SnmpClient["set"]>[0]) => Promise<void>): Promise<void> {
    for (const c of plan.creates) {
      try {
        for (const vbs of createVarbinds(c.vid, c.name, "createAndGo")) await set(vbs);
      } catch (err) {
        if (!(err instanceof SnmpError) || err.code !== "SNMP_SET_REJECTED") throw err;
        // createAndGo refused: either the agent only knows createAndWait, or a timed-out first try did create it.
        if ((await readVlans(this.client)).has(c.vid)) continue;
        this.log.info({ vid: c.vid }, "createAndGo refused, using createAndWait");
        for (const vbs of createVarbinds(c.vid, c.name, "createAndWait")) await set(vbs);
      }
    }
    for (const vid of plan.activations) await set([activateVarbind(vid)]);
    for (const step of stepwiseSets(plan)) await set(step);
  }

  private async poePort(port: number): Promise<{ index: string; ifIndex: number }> {
    if (!this.config.poe) throw new OperationError("SWITCH_POE_DISABLED", `port ${port}: PoE control is off in the config (switch.poe: false)`);
    const inv = await this.discover();
    const info = inv.ports.find((p) => p.bridgePort === port);
    if (!info) throw new NotFoundError("SWITCH_UNKNOWN_PORT", `port ${port} is not a bridge port of the switch`);
    if (inv.poeProblem || !info.poe) throw new OperationError("SWITCH_POE_UNAVAILABLE", `port ${port}: PoE cannot be switched: ${inv.poeProblem ?? "no PSE port maps to it"}`);
    return { index: `${info.poe.group}.${info.poe.port}`, ifIndex: info.ifIndex };
  }

  /**
   * on / off / cycle (off; wait until not delivering and link down; hold; on; wait for deliveringPower), in the
   * switch's write queue: a cycle holds the queue for its whole length.
   */
  power(port: number, action: PowerAction, opts: PowerOptions = {}): Promise<PowerStep[]> {
    return this.queued(() => this.powerNow(port, action, opts));
  }

  private async powerNow(port: number, action: PowerAction, opts: PowerOptions): Promise<PowerStep[]> {
    const { index, ifIndex } = await this.poePort(port);
    const t0 = this.now();
    const steps: PowerStep[] = [];
    const mark = (step: PowerStep["step"]): void => void steps.push({ atMs: this.now() - t0, step });
    const read = async (): Promise<{ detection: number; linkUp: boolean }> => {
      const [det, oper] = await this.client.get([`${PoeMib.pethPsePortDetectionStatus}.${index}`, `${IfMib.ifOperStatus}.${ifIndex}`]);
      return { detection: typeof det?.value === "number" ? det.value : 0, linkUp: oper?.value === 1 };
    };
    const waitUntil = async (what: string, ok: (s: { detection: number; linkUp: boolean }) => boolean): Promise<void> => {
      const deadline = this.now() + (opts.timeoutMs ?? 30_000);
      for (;;) {
        const s = await read();
        if (ok(s)) return;
        if (this.now() > deadline) throw new OperationError("SWITCH_POWER_TIMEOUT", `port ${port}: ${what} not reached (detection ${detectionName(s.detection)}, link ${s.linkUp ? "up" : "down"})`);
        await this.sleep(opts.pollMs ?? 250);
      }
    };
    const log = this.log.child({ port, action });
    if (action === "off" || action === "cycle") {
      await this.client.set([poeVarbind(index, false)]);
      mark("poeOff");
      await waitUntil("power off and link down", (s) => s.detection !== Detection.deliveringPower && !s.linkUp);
      mark("linkDown");
      log.info("poe off");
      if (action === "cycle") await this.sleep(opts.offHoldMs ?? 3000);
    }
    if (action === "on" || action === "cycle") {
      await this.client.set([poeVarbind(index, true)]);
      mark("poeOn");
      await waitUntil("deliveringPower", (s) => s.detection === Detection.deliveringPower);
      mark("deliveringPower");
      if (opts.waitForLink) {
        await waitUntil("link up", (s) => s.linkUp);
        mark("linkUp");
      }
      log.info("poe on");
    }
    return steps;
  }

  /** Per-port PoE status and the PSE budget/consumption. */
  async poeStatus(): Promise<PoeReport> {
    const inv = await this.discover();
    const profile = this.profile(inv);
    return { ports: [...(await readPoe(this.client, inv, profile)).values()], pse: await readPse(this.client, profile) };
  }

  /** Learned MAC -> port entries (enrolment confirmation). */
  async readFdb(): Promise<FdbEntry[]> {
    return readFdb(this.client, await this.discover());
  }

  /** Link and PoE detection per port. */
  async readPortStates(): Promise<Map<number, { linkUp: boolean; detection: string | null }>> {
    const inv = await this.discover();
    const links = await readLinks(this.client, inv);
    const poe = this.config.poe ? await readPoe(this.client, inv, this.profile(inv)) : new Map<number, PoePortStatus>();
    return new Map(inv.ports.map((p) => [p.bridgePort, { linkUp: links.get(p.bridgePort) ?? false, detection: poe.get(p.bridgePort)?.detection ?? null }]));
  }

  /** Closes the SNMP sessions. */
  close(): void {
    this.client.close();
  }
}
