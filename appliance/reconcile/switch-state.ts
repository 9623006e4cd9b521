/**
 * The managed switch as a reconciler subsystem: observe through the switch's driver, plan with the switch
 * module's pure planner into one action per VLAN row and per port (`switch port 2: untagged 11, PVID 11, PoE
 * on`), and push the plan as planned in one queued, verified write.
 */
import type { Config } from "../config.ts";
import { describeChange, planSwitch, withoutUnmanagedPoe, type ApplyResult, type DesiredSwitchState, type SwitchChange, type SwitchConfig, type SwitchDriver, type SwitchPlan } from "../../switch/index.ts";
import type { Action, ActionOutcome, BoundSubsystem } from "./reconciler.ts";

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

/** Applies a desired-state override of PoE: ports the operator powered off stay off. */
export function withPowerOverrides(desired: DesiredSwitchState, poweredOff: ReadonlySet<number>): DesiredSwitchState {
  if (poweredOff.size === 0) return desired;
  return { ...desired, ports: desired.ports.map((p) => (poweredOff.has(p.port) && p.poe !== undefined ? { ...p, poe: false } : p)) };
}

/** One switch action: a VLAN row or one port's changes, all sharing the pass's one plan. */
export type SwitchAction = Action & {
  readonly changes: readonly SwitchChange[];
  readonly desired: DesiredSwitchState;
  readonly plan: SwitchPlan;
};

/** A port's changes in a few words: `untagged 11, tagged 131, leave VLAN 12, PVID 11, PoE on`. */
export function describePortChanges(changes: readonly SwitchChange[]): string {
  return changes
    .map((c) => {
      switch (c.kind) {
        case "join":
          return `${c.tagged ? "tagged" : "untagged"} ${c.vid}`;
        case "leave":
          return `leave VLAN ${c.vid}`;
        case "pvid":
          return `PVID ${c.to}`;
        case "poe":
          return `PoE ${c.on ? "on" : "off"}`;
        default:
          return describeChange(c);
      }
    })
    .join(", ");
}

/** Groups a plan's changes into actions: VLAN rows first (in plan order), then one action per port. */
export function switchActions(plan: SwitchPlan, desired: DesiredSwitchState): SwitchAction[] {
  const rows: SwitchAction[] = [];
  const ports = new Map<number, SwitchChange[]>();
  for (const c of plan.changes) {
    if (c.kind === "createVlan" || c.kind === "activateVlan") {
      rows.push({ kind: c.kind, subject: `VLAN ${c.vid}`, description: `switch: ${describeChange(c)}`, changes: [c], desired, plan });
    } else {
      const list = ports.get(c.port) ?? [];
      list.push(c);
      ports.set(c.port, list);
    }
  }
  const perPort = [...ports.entries()]
    .sort(([a], [b]) => a - b)
    .map(([port, changes]): SwitchAction => ({ kind: "switchPort", subject: `port ${port}`, description: `switch port ${port}: ${describePortChanges(changes)}`, changes, desired, plan }));
  return [...rows, ...perPort];
}

/** The switch subsystem over whichever switch is in force at the time of the pass. */
export class SwitchState implements BoundSubsystem<DesiredSwitchState> {
  readonly name = "switch";
  /** What the last write did (SET count, rounds): `pirack switch apply` prints it. */
  lastApply: ApplyResult | undefined;

  constructor(
    private readonly driver: () => SwitchDriver | null,
    private readonly poeEnabled: () => boolean,
  ) {}

  async planFor(desired: DesiredSwitchState): Promise<SwitchAction[]> {
    const d = this.requireDriver();
    const inventory = await d.discover();
    const effective = withoutUnmanagedPoe(desired, this.poeEnabled(), inventory);
    return switchActions(planSwitch(effective, await d.observe(), inventory), effective);
  }

  apply(action: Action): Promise<void> {
    return this.applyAll([action]).then((outcomes) => {
      const error = outcomes.find((o) => o.error !== undefined)?.error;
      if (error !== undefined) throw error;
    });
  }

  /** One write for the whole pass: the plan its actions share, as planned, then verified by reading back. */
  async applyAll(actions: readonly Action[]): Promise<ActionOutcome[]> {
    const first = actions[0] as SwitchAction | undefined;
    if (!first) return [];
    this.lastApply = await this.requireDriver().applyPlanned(first.desired, first.plan);
    return actions.map((action) => ({ action }));
  }

  private requireDriver(): SwitchDriver {
    const d = this.driver();
    if (!d) throw new Error("switch subsystem used without a switch");
    return d;
  }
}
