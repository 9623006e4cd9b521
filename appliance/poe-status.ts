/**
 * PoE readings for the API and dashboard: every port's detection and watts and the PSE budget, read at start
 * (so `power` is known from the first poll, not only after a change) and then every few seconds.
 */
import type { PoeReport, SwitchDriver } from "../switch/index.ts";

/** Dependencies of the poller. */
export interface PoeStatusDeps {
  /** The current switch driver, or undefined when the rack has none (polling then does nothing). */
  readonly driver: () => SwitchDriver | undefined;
  readonly onReport: (report: PoeReport) => void;
  readonly onError: (err: Error) => void;
  readonly pollMs: number;
}

/** Polls `poeStatus()`; keeps the last report. */
export class PoeStatusPoller {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private last: { report: PoeReport; at: Date } | undefined;

  constructor(private readonly deps: PoeStatusDeps) {}

  /** The last good reading and when it was taken. */
  get latest(): { report: PoeReport; at: Date } | undefined {
    return this.last;
  }

  /** Reads once now. */
  async poll(): Promise<void> {
    const driver = this.deps.driver();
    if (!driver) return;
    try {
      const report = await driver.poeStatus();
      this.last = { report, at: new Date() };
      this.deps.onReport(report);
    } catch (err) {
      this.deps.onError(err as Error);
    }
  }

  /** Polls at once and then every `pollMs` until stopped. */
  start(): void {
    const tick = () =>
      void this.poll().finally(() => {
        if (!this.stopped) this.timer = setTimeout(tick, this.deps.pollMs);
      });
    tick();
  }

  /** Stops polling. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }
}
