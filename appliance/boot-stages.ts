/**
 * Boot stages per port, as a timeline of each Pi's last boots: when PoE came on, its first DHCP request, its
 * firmware and kernel fetches over TFTP, the first mount of its NFS root, and when it answered on its storage
 * address. Pure bookkeeping with an injected clock; the servers and probes report, the API and dashboard read.
 */

/** How far a Pi has got, from power to a running system; `unseen` before anything was heard from it. */
export type BootStage = "unseen" | "power" | "dhcp" | "firmware" | "kernel" | "nfs" | "up";

/** The stages of one boot, in the order a Pi goes through them. */
export const BOOT_STAGES = ["power", "dhcp", "firmware", "kernel", "nfs", "up"] as const;

/** A stage a Pi reached, and when. */
export interface StageMark {
  readonly stage: Exclude<BootStage, "unseen">;
  readonly at: Date;
}

/** One boot: its stages in order of first arrival. */
export interface BootRecord {
  readonly startedAt: Date;
  readonly stages: readonly StageMark[];
}

/** Where a port's current boot stands. */
export interface BootState {
  readonly stage: BootStage;
  /** When the current stage was first reached (null before any sighting). */
  readonly since: Date | null;
  /** Last time anything was heard of this Pi. */
  readonly lastSeen: Date | null;
  /** Set when the stage has not advanced within the stuck time: the stage it stopped at. */
  readonly stuck: { readonly stage: BootStage; readonly forSeconds: number } | null;
}

const rank = (stage: BootStage): number => (stage === "unseen" ? -1 : BOOT_STAGES.indexOf(stage));

/** Options of a tracker. */
export interface BootTrackerOptions {
  readonly clock: { now(): Date };
  /** Seconds a stage may last before the Pi counts as stuck (config `boot.stuckAfterS`). */
  readonly stuckAfterS: () => number;
  /** Boots kept per port (the current one included). */
  readonly keep?: number;
}

/** Keeps the last boots of every port. */
export class BootTracker {
  private readonly boots = new Map<number, BootRecord[]>();
  private readonly lastSeenAt = new Map<number, Date>();

  constructor(private readonly opts: BootTrackerOptions) {}

  /**
   * Records a stage. `power` starts a new boot (or heads the current one if that began after `at`); `dhcp`
   * starts a new boot when the current one has got to the kernel or beyond (a Pi 3's bootcode.bin asks for an
   * address again after the ROM did, so DHCP after firmware is still the same boot). Other stages are marked the
   * first time they occur in a boot. Returns whether the port's current stage moved.
   */
  record(port: number, stage: Exclude<BootStage, "unseen">, at: Date = this.opts.clock.now()): boolean {
    const list = this.boots.get(port) ?? [];
    const current = list.at(-1);
    const before = this.state(port).stage;
    if (stage !== "power") this.lastSeenAt.set(port, at);
    const top = current ? Math.max(...current.stages.map((s) => rank(s.stage))) : -1;
    if (stage === "power") {
      if (current && current.startedAt >= at && !current.stages.some((s) => s.stage === "power")) {
        list[list.length - 1] = { startedAt: at, stages: [{ stage, at }, ...current.stages] };
      } else this.push(port, list, { startedAt: at, stages: [{ stage, at }] });
    } else if (!current || (stage === "dhcp" && top >= rank("kernel"))) {
      this.push(port, list, { startedAt: at, stages: [{ stage, at }] });
    } else if (!current.stages.some((s) => s.stage === stage)) {
      list[list.length - 1] = { startedAt: current.startedAt, stages: [...current.stages, { stage, at }] };
    }
    this.boots.set(port, list);
    return this.state(port).stage !== before;
  }

  /** The Pi was powered off: its boot ended, so it can no longer be stuck. */
  poweredOff(port: number): void {
    const list = this.boots.get(port);
    if (list?.length) list.push({ startedAt: this.opts.clock.now(), stages: [] });
  }

  /** The port's current stage, when it began, and whether it is stuck there. */
  state(port: number): BootState {
    const current = this.boots.get(port)?.at(-1);
    const lastSeen = this.lastSeenAt.get(port) ?? null;
    if (!current || current.stages.length === 0) return { stage: "unseen", since: null, lastSeen, stuck: null };
    const best = current.stages.reduce((a, b) => (rank(b.stage) > rank(a.stage) ? b : a));
    const forSeconds = Math.floor((this.opts.clock.now().getTime() - best.at.getTime()) / 1000);
    const stuck = best.stage !== "up" && forSeconds >= this.opts.stuckAfterS() ? { stage: best.stage, forSeconds } : null;
    return { stage: best.stage, since: best.at, lastSeen, stuck };
  }

  /** The port's last boots, oldest first (empty records of power-offs left out). */
  history(port: number): BootRecord[] {
    return (this.boots.get(port) ?? []).filter((b) => b.stages.length > 0);
  }

  private push(port: number, list: BootRecord[], boot: BootRecord): void {
    list.push(boot);
    const keep = this.opts.keep ?? 3;
    while (list[0]!.stages.length === 0 || list.filter((b) => b.stages.length > 0).length > keep) list.shift();
    this.boots.set(port, list);
  }
}

/** One line summing up the rack, for systemd's STATUS=: `8 Pis: 7 up, 1 stuck at firmware`. */
export function summarise(states: readonly BootState[]): string {
  const counts = new Map<string, number>();
  for (const s of states) {
    const key = s.stuck ? `stuck at ${s.stuck.stage}` : s.stage === "up" ? "up" : s.stage === "unseen" ? "unseen" : `at ${s.stage}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const order = (k: string) => (k === "up" ? 0 : k.startsWith("at ") ? 1 : k.startsWith("stuck") ? 2 : 3);
  const parts = [...counts].sort(([a], [b]) => order(a) - order(b) || a.localeCompare(b)).map(([k, n]) => `${n} ${k}`);
  return `${states.length} Pi${states.length === 1 ? "" : "s"}${parts.length ? `: ${parts.join(", ")}` : ""}`;
}
