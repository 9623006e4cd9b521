/**
 * PoE as the Pis' power rail: a port's Pi starts when the switch delivers power on it and is killed when power
 * goes away. The rail also keeps, per port, what the bench itself knows (power-on time, the Pi's own reports);
 * boot stages in between come from pirack's API (progress.ts).
 */
import type { BenchPi } from "./layout.ts";
import type { PiInstance, PiLauncher, PiReport } from "./pi-process.ts";

/** What the bench knows about one port's Pi. */
export interface RailState {
  /** ms since epoch of the last power-on; undefined while unpowered. */
  poweredAt?: number;
  /** Times the port was powered on (1 for a plain boot, 2 after a power cycle). */
  powerOns: number;
  /** The Pi's own last stage line (bench/pi), for the log only. */
  piStage?: string;
  upAt?: number;
  failed?: string;
  /** The last failed attempt of a Pi that tries again by itself (Pi 4/5 EEPROM). */
  lastFailure?: string;
  attempts: number;
}

/**
 * Pi 4 and Pi 5 bootloaders go round their BOOT_ORDER again after a failed network boot (the `f` restart entry of
 * the default orders), so they keep trying while powered; the Pi 3 ROM gives up after one try and never retries
 * (DESIGN.md §3.5).
 */
export const retriesByItself = (pi: BenchPi): boolean => pi.model === "4" || pi.model === "5";

/** Pause before a looping bootloader tries again. */
const RETRY_MS = 3_000;

/** Starts and kills Pis as the switch's PoE says. */
export class PowerRail {
  readonly states = new Map<number, RailState>();
  private readonly running = new Map<number, PiInstance>();
  private readonly byPort: Map<number, BenchPi>;
  private queue = new Map<number, Promise<void>>();

  constructor(
    pis: readonly BenchPi[],
    private readonly launch: (pi: BenchPi) => PiLauncher,
    private readonly onChange: (port: number, what: string) => void,
    private readonly now: () => number = Date.now,
  ) {
    this.byPort = new Map(pis.map((p) => [p.port, p]));
    for (const p of pis) this.states.set(p.port, { powerOns: 0, attempts: 0 });
  }

  /** The switch reports PoE on `port` delivering power (true) or not (false). */
  set(port: number, powered: boolean): Promise<void> {
    const pi = this.byPort.get(port);
    if (!pi) return Promise.resolve();
    // One change at a time per port, in order: a quick off/on must kill the old Pi before the new one starts.
    const next = (this.queue.get(port) ?? Promise.resolve()).then(() => (powered ? this.on(pi) : this.off(pi)));
    this.queue.set(port, next.catch(() => undefined));
    return next;
  }

  /** Kills every Pi (teardown). */
  async stopAll(): Promise<void> {
    await Promise.all([...this.running.keys()].map((port) => this.set(port, false)));
  }

  private async on(pi: BenchPi): Promise<void> {
    if (this.running.has(pi.port)) return;
    const state = this.mustState(pi.port);
    const at = this.now();
    Object.assign(state, { poweredAt: at, powerOns: state.powerOns + 1, attempts: 0, piStage: undefined, upAt: undefined, failed: undefined, lastFailure: undefined });
    this.attempt(pi, state, state.powerOns);
    this.onChange(pi.port, "power on");
  }

  /** One boot attempt of a powered Pi; a looping bootloader starts the next one after a failure. */
  private attempt(pi: BenchPi, state: RailState, powerOn: number): void {
    state.attempts += 1;
    const attempt = state.attempts;
    // Counters, not times: a cycle within one millisecond must still tell the old Pi from the new one.
    const current = () => state.poweredAt !== undefined && state.powerOns === powerOn && state.attempts === attempt;
    let retrying = false;
    const report = (r: PiReport): void => {
      if (!current()) return; // a report from an earlier power-on or attempt
      if (r.kind === "stage") state.piStage = r.stage;
      else if (r.kind === "up") state.upAt = this.now();
      else if (retriesByItself(pi)) {
        if (retrying) return;
        retrying = true;
        state.lastFailure = r.reason;
        const timer = setTimeout(() => {
          if (!current() || this.running.get(pi.port) !== instance) return;
          void instance.stop().then(() => current() && this.attempt(pi, state, powerOn));
        }, RETRY_MS);
        timer.unref();
      } else state.failed = r.reason;
      this.onChange(pi.port, r.kind === "stage" ? `pi says ${r.stage}` : r.kind === "up" ? "up" : `${retriesByItself(pi) ? "boot attempt failed, the bootloader tries again" : "failed"}: ${r.reason}`);
    };
    const instance = this.launch(pi)(pi, report);
    this.running.set(pi.port, instance);
  }

  private async off(pi: BenchPi): Promise<void> {
    const instance = this.running.get(pi.port);
    const state = this.mustState(pi.port);
    state.poweredAt = undefined;
    if (!instance) return;
    this.running.delete(pi.port);
    await instance.stop();
    this.onChange(pi.port, "power off");
  }

  private mustState(port: number): RailState {
    const s = this.states.get(port);
    if (!s) throw new RangeError(`port ${port} has no pi on the bench`);
    return s;
  }
}
