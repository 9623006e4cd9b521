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
}

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
    for (const p of pis) this.states.set(p.port, { powerOns: 0 });
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
    Object.assign(state, { poweredAt: at, powerOns: state.powerOns + 1, piStage: undefined, upAt: undefined, failed: undefined });
    const report = (r: PiReport): void => {
      if (state.poweredAt !== at) return; // a report from an earlier power-on
      if (r.kind === "stage") state.piStage = r.stage;
      else if (r.kind === "up") state.upAt = this.now();
      else state.failed = r.reason;
      this.onChange(pi.port, r.kind === "stage" ? `pi says ${r.stage}` : r.kind === "up" ? "up" : `failed: ${r.reason}`);
    };
    this.running.set(pi.port, this.launch(pi)(pi, report));
    this.onChange(pi.port, "power on");
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
