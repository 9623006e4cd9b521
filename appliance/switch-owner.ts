/**
 * The one owner of the rack's switch: one switch object (driver + link/PoE monitor) per configured switch,
 * built by the composition root and replaced as a whole when the config's `switch:` section changes. Every
 * SET (VLAN pushes, power on/off/cycle, fencing) goes through the driver's single write queue, so a power-off
 * never interleaves with a VLAN push. Nothing else builds or closes drivers.
 */
import type { Logger } from "pino";
import type { MetricsRegistry } from "../lib/metrics.ts";
import type { Config } from "./config.ts";
import { OperationError } from "../lib/errors.ts";
import { switchConfigOf } from "./reconcile/switch-state.ts";
import { createSwitchDriver, SwitchMonitor, type PowerAction, type PowerOptions, type PowerStep, type SwitchDriver, type SwitchEvent } from "../switch/index.ts";

/** What the owner tells the appliance about the switch it holds. */
export interface SwitchWatch {
  readonly pollMs: number;
  readonly onEvent: (e: SwitchEvent) => void;
  readonly onStates: (states: ReadonlyMap<number, { linkUp: boolean; detection: string | null }>) => void;
  readonly onPollFailed: (err: Error) => void;
  /** The switch answers again after failed polls: a pass should push whatever it missed. */
  readonly onRecovered: () => void;
}

/** Dependencies of the owner. */
export interface SwitchOwnerDeps {
  readonly log: Logger;
  readonly metrics: MetricsRegistry;
  /** Watch the switch with a monitor (serve); one-shot commands do without. */
  readonly watch?: SwitchWatch;
}

interface Held {
  readonly key: string;
  readonly driver: SwitchDriver;
  readonly monitor: SwitchMonitor | undefined;
  readonly poe: boolean;
}

/** Holds the switch in force; `configure` is the only way it changes. */
export class SwitchOwner {
  private held: Held | null = null;
  private healthy: boolean | undefined;

  constructor(private readonly deps: SwitchOwnerDeps) {}

  /** Makes the held switch match `config`: kept when `switch:` is unchanged, else closed and rebuilt whole. */
  async configure(config: Config): Promise<void> {
    const wanted = switchConfigOf(config);
    const key = JSON.stringify(wanted);
    if (this.held?.key === key || (!this.held && !wanted)) return;
    await this.close();
    if (!wanted) return;
    const driver = createSwitchDriver(wanted, { log: this.deps.log, metrics: this.deps.metrics });
    if (!driver) return;
    const monitor = this.deps.watch ? this.startMonitor(driver, this.deps.watch) : undefined;
    this.held = { key, driver, monitor, poe: wanted.poe };
  }

  /** The driver in force, or null when the rack manages no switch. */
  get driver(): SwitchDriver | null {
    return this.held?.driver ?? null;
  }

  /** True when the held switch can switch PoE per the config. */
  get poe(): boolean {
    return this.held?.poe ?? false;
  }

  /** Whether the last poll reached the switch (undefined: no poll yet or no monitor). */
  get reachable(): boolean | undefined {
    return this.held?.monitor ? this.healthy : undefined;
  }

  /** PoE on/off/cycle through the write queue (`opts`: a fence polls the read-back faster than the default). */
  async power(port: number, action: PowerAction, opts?: PowerOptions): Promise<PowerStep[]> {
    const driver = this.held?.driver;
    if (!driver) throw new OperationError("SWITCH_NONE", "this rack has no switch driver (switch.driver: none)");
    if (!this.poe) throw new OperationError("SWITCH_POE_DISABLED", "PoE control is off in the config (switch.poe: false)");
    return driver.power(port, action, opts);
  }

  /** Closes the driver's sockets and stops its monitor. */
  async close(): Promise<void> {
    const held = this.held;
    this.held = null;
    this.healthy = undefined;
    if (!held) return;
    await held.monitor?.stop();
    held.driver.close();
  }

  private startMonitor(driver: SwitchDriver, watch: SwitchWatch): SwitchMonitor {
    const monitor = new SwitchMonitor(driver, { pollMs: watch.pollMs, log: this.deps.log });
    monitor.on("event", watch.onEvent);
    monitor.on("states", (states) => {
      this.healthy = true;
      watch.onStates(states);
    });
    monitor.on("pollFailed", (err) => {
      this.healthy = false;
      watch.onPollFailed(err);
    });
    monitor.on("recovered", watch.onRecovered);
    void monitor.start().catch((err: unknown) => this.deps.log.warn({ err }, "switch monitor did not start"));
    return monitor;
  }
}
