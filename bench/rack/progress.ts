/**
 * The bench's per-Pi progress (pure): boot stages come from pirack's API (`GET /api/v1/pis`); the bench adds only
 * `power` (PoE on, the Pi not yet heard from since) and `up` (the Pi itself reported in). A Pi whose stage has
 * not moved for `stuckMs` (six times that in the kernel and nfs stages) is marked stuck.
 */
import type { BenchPi } from "./layout.ts";
import type { RailState } from "./power-rail.ts";

/** Stages in boot order. */
export const STAGES = ["off", "power", "dhcp", "firmware", "kernel", "nfs", "up"] as const;
/** A displayed stage; `failed` ends a boot. */
export type BenchStage = (typeof STAGES)[number] | "failed";

/** The part of pirack's `/api/v1/pis` rows the bench reads. */
export interface ApiPi {
  readonly port: number;
  readonly bootStage: string;
  readonly lastSeen: string | null;
  readonly mac?: string | null;
}

/** One row of the table. */
export interface ProgressRow {
  readonly port: number;
  readonly kind: BenchPi["kind"];
  readonly model: string;
  readonly mac: string;
  readonly stage: BenchStage;
  /** Seconds since the last power-on, or undefined while off. */
  readonly seconds?: number;
  readonly stuck: boolean;
  readonly note?: string;
}

const API_STAGES: Record<string, BenchStage> = { dhcp: "dhcp", firmware: "firmware", kernel: "kernel", "nfs-root": "nfs", up: "up" };

/** The stage of one Pi from what the bench and pirack know. */
export function stageOf(rail: RailState, api: ApiPi | undefined): BenchStage {
  if (rail.poweredAt === undefined) return "off";
  if (rail.failed) return "failed";
  if (rail.upAt !== undefined) return "up";
  // Only sightings since this power-on count: after a cycle the API still shows the last boot's stage.
  const seenAt = api?.lastSeen ? Date.parse(api.lastSeen) : NaN;
  if (!api || !(seenAt >= rail.poweredAt)) return "power";
  const stage = API_STAGES[api.bootStage] ?? "power";
  // pirack cannot see the Pi's userland; "up" is the Pi's own word, never the API's alone.
  return stage === "up" ? "nfs" : stage;
}

/** Tracks when each port's stage last changed, to tell a slow Pi from a stuck one. */
export class StageClock {
  private readonly last = new Map<number, { stage: BenchStage; since: number }>();

  /** Records `stage` for `port` at `now`; returns the time it has held it since. */
  observe(port: number, stage: BenchStage, now: number): number {
    const prev = this.last.get(port);
    if (prev?.stage === stage) return prev.since;
    this.last.set(port, { stage, since: now });
    return now;
  }
}

/** Rows for every Pi. */
export function progressRows(
  pis: readonly BenchPi[],
  rails: ReadonlyMap<number, RailState>,
  api: readonly ApiPi[],
  clock: StageClock,
  now: number,
  stuckMs: number,
): ProgressRow[] {
  const byPort = new Map(api.map((a) => [a.port, a]));
  return pis.map((pi) => {
    const rail = rails.get(pi.port) ?? { powerOns: 0, attempts: 0 };
    const stage = stageOf(rail, byPort.get(pi.port));
    const since = clock.observe(pi.port, stage, now);
    // The kernel stage holds a 33 MB lock-step TFTP transfer and, for a QEMU Pi, the whole guest boot: it may
    // rightly sit still for minutes.
    const limitMs = stage === "kernel" || stage === "nfs" ? stuckMs * 6 : stuckMs;
    const stuck = stage !== "off" && stage !== "up" && stage !== "failed" && now - since > limitMs;
    return {
      port: pi.port,
      kind: pi.kind,
      model: pi.model,
      mac: pi.mac,
      stage,
      ...(rail.poweredAt === undefined ? {} : { seconds: (now - rail.poweredAt) / 1000 }),
      stuck,
      ...(rail.failed
        ? { note: rail.failed }
        : stuck
          ? { note: `no progress for ${Math.round((now - since) / 1000)} s${rail.lastFailure ? `; attempt ${rail.attempts - 1}: ${rail.lastFailure}` : ""}` }
          : {}),
    };
  });
}

/** The table, one line per Pi, with a header. */
export function renderProgress(rows: readonly ProgressRow[]): string {
  const head = ["port", "pi", "mac", "stage", "secs", "note"];
  const cells = rows.map((r) => [
    String(r.port),
    `${r.kind === "qemu" ? "qemu" : "pi"}${r.model}`,
    r.mac,
    r.stuck ? `${r.stage} (stuck)` : r.stage,
    r.seconds === undefined ? "-" : r.seconds.toFixed(1),
    r.note ?? "",
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? "").length)));
  const line = (c: readonly string[]): string => c.map((v, i) => v.padEnd(widths[i] ?? 0)).join("  ").trimEnd();
  return [line(head), ...cells.map(line)].join("\n") + "\n";
}

/** True when no Pi can still progress: each is up or failed. */
export const allSettled = (rows: readonly ProgressRow[]): boolean => rows.every((r) => r.stage === "up" || r.stage === "failed");
