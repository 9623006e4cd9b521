/**
 * The managed switch as a reconciler subsystem: observe through the driver, plan with the switch module's
 * pure planner, and push the whole desired state in one driver apply (one queued, verified write per switch).
 */
import type { Config } from "../config.ts";
import { createSwitchDriver, describeChange, planSwitch, type SwitchDriver, type SwitchDriverDeps } from "../../switch/index.ts";
import type { DesiredSwitchState, Inventory, ObservedSwitch, SwitchConfig } from "../../switch/types.ts";
import type { Action, Subsystem } from "./reconciler.ts";

/** The one switch action: push `desired`; `changes` says in words what it will change. */
export type SwitchAction = Action & { kind: "applySwitch"; desired: DesiredSwitchState; changes: readonly string[] };

/** The driver's view of the config's `switch:` section; null for `driver: none`. */
export function switchConfigOf(config: Config): SwitchConfig | null {
  const s = config.switch;
  if (s.driver === "none" || !s.host || !s.snmp) return null;
  return {
    driver: s.driver,
    host: s.host,
    port: s.port,
    snmp: s.snmp,
    poe: s.poe,
    profile: s.profile,
    timeoutMs: s.timeoutMs,
    setTimeoutMs: s.setTimeoutMs,
    retries: s.retries,
    backoffMs: s.backoffMs,
  };
}

/**
 * Holds the driver for the config in force and rebuilds it when the `switch:` section changes on reload.
 */
export class SwitchHolder {
  private key = "";
  private driver: SwitchDriver | null = null;

  constructor(private readonly deps: SwitchDriverDeps) {}

  /** The driver for `config`, or null when the rack manages no switch. */
  for(config: Config): SwitchDriver | null {
    const wanted = switchConfigOf(config);
    const key = JSON.stringify(wanted);
    if (key !== this.key) {
      this.driver?.close();
      this.driver = wanted ? createSwitchDriver(wanted, this.deps) : null;
      this.key = key;
    }
    return this.driver;
  }

  /** Closes the current driver's sockets. */
  close(): void {
    this.driver?.close();
    this.driver = null;
    this.key = "";
  }
}

/** Applies a desired-state override of PoE: ports the operator powered off stay off. */
export function withPowerOverrides(desired: DesiredSwitchState, poweredOff: ReadonlySet<number>): DesiredSwitchState {
  if (poweredOff.size === 0) return desired;
  return { ...desired, ports: desired.ports.map((p) => (poweredOff.has(p.port) && p.poe !== undefined ? { ...p, poe: false } : p)) };
}

/** Subsystem over whichever driver `driver()` returns at the time of the pass. */
export class SwitchState implements Subsystem<DesiredSwitchState, { inventory: Inventory; observed: ObservedSwitch }, SwitchAction> {
  readonly name = "switch";

  constructor(private readonly driver: () => SwitchDriver | null) {}

  async observe() {
    const d = this.requireDriver();
    const inventory = await d.discover();
    return { inventory, observed: await d.observe() };
  }

  plan(desired: DesiredSwitchState, seen: { inventory: Inventory; observed: ObservedSwitch }): SwitchAction[] {
    const effective = seen.inventory.poeProblem ? { ...desired, ports: desired.ports.map((p) => ({ ...p, poe: undefined })) } : desired;
    const changes = planSwitch(effective, seen.observed, seen.inventory).changes.map(describeChange);
    if (changes.length === 0) return [];
    return [{ kind: "applySwitch", subject: "switch", desired, changes, description: `switch: ${changes.join("; ")}` }];
  }

  async apply(action: SwitchAction): Promise<void> {
    await this.requireDriver().apply(action.desired);
  }

  private requireDriver(): SwitchDriver {
    const d = this.driver();
    if (!d) throw new Error("switch subsystem used without a driver");
    return d;
  }
}
