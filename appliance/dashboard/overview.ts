/**
 * The dashboard's data (`GET /api/v1/overview`): the shelf as slots, one per switch port, with each Pi's state,
 * PoE reading and last boots; the problems in words with their port; the PSE budget and DHCP/TFTP counters.
 * Pure: the API route gathers the inputs.
 */
import type { PiStatus } from "../appliance.ts";
import type { BootRecord } from "../boot-stages.ts";
import type { HealthProblem } from "../health.ts";
import type { PassReport } from "../reconcile/reconciler.ts";
import type { PoePortStatus, PsePower } from "../../switch/index.ts";
import type { TileWorkload } from "../../workloads/index.ts";

/** A role Pi's workload as its tile shows it (from the workload controllers' last probe: `tileWorkloads`). */
export type SlotWorkload = TileWorkload;

/** One switch port on the shelf. */
export type Slot =
  | { readonly port: number; readonly kind: "empty" }
  | { readonly port: number; readonly kind: "fileserver"; readonly interface: string }
  | {
      readonly port: number;
      readonly kind: "pi";
      readonly pi: PiStatus;
      readonly poe: { readonly detection: string; readonly watts: number | null; readonly powerClass: number | null } | null;
      readonly boots: readonly { readonly startedAt: string; readonly stages: readonly { readonly stage: string; readonly t: number }[] }[];
      /** null for a Pi without a role (or before the workload controllers run). */
      readonly workload: SlotWorkload | null;
    };

/** A problem for the panel. */
export interface Problem {
  readonly port: number | null;
  readonly subsystem: string;
  readonly text: string;
}

/** Everything the dashboard draws. */
export interface Overview {
  readonly shelf: string;
  readonly generatedAt: string;
  readonly slots: readonly Slot[];
  readonly problems: readonly Problem[];
  readonly pse: PsePower | null;
  readonly activity: { readonly dhcpRequests: number; readonly dhcpReplies: number; readonly tftpTransfers: number; readonly tftpBytes: number };
  readonly lastPass: { readonly at: string; readonly reason: string; readonly applied: number; readonly failed: number } | null;
}

/** Inputs of an overview. */
export interface OverviewInput {
  readonly shelf: string;
  readonly now: Date;
  readonly fileserver: { readonly switchPort: number; readonly interface: string };
  readonly pis: readonly PiStatus[];
  readonly timeline: (port: number) => readonly BootRecord[];
  readonly poe: ReadonlyMap<number, PoePortStatus> | null;
  readonly pse: PsePower | null;
  /** Switch ports the switch has (from discovery), when known. */
  readonly switchPorts: number | null;
  readonly lastPass: PassReport | undefined;
  readonly health: readonly HealthProblem[];
  readonly activity: Overview["activity"];
  /** Role Pis' workload state by port (empty when no Pi has a role). */
  readonly workloads?: ReadonlyMap<number, SlotWorkload>;
}

/** The Pi port an action or message concerns: the first port whose address, interface or root path it names. */
export function portNamed(text: string, pis: readonly PiStatus[]): number | null {
  for (const p of pis) {
    const tokens = [p.piAddress, p.interface];
    if (tokens.some((t) => new RegExp(`(^|[^\\w.])${t.replace(/\./g, "\\.")}($|[^\\w.])`).test(text))) return p.port;
  }
  return null;
}

/** Problems in words: the last pass's failures, the subsystems' standing problems, and stuck boots. */
export function problemsOf(input: Pick<OverviewInput, "pis" | "lastPass" | "health">): Problem[] {
  const out: Problem[] = [];
  for (const f of input.lastPass?.failed ?? []) {
    // Errors often repeat the action's words ("clone ... : golden image ... does not exist"): say them once.
    const text = f.error.startsWith(f.description) ? f.error : `${f.description} failed: ${f.error}`;
    out.push({ port: portNamed(`${f.subject} ${f.description}`, input.pis), subsystem: f.subsystem, text: text.replace(/^port \d+: /, "") });
  }
  for (const h of input.health) out.push({ port: h.port, subsystem: h.subsystem, text: h.text });
  for (const p of input.pis) {
    if (p.stuck) out.push({ port: p.port, subsystem: "boot", text: `${p.name} stuck at ${p.stuck.stage} for ${p.stuck.forSeconds} s` });
  }
  return out;
}

/** Builds the overview. */
export function buildOverview(input: OverviewInput): Overview {
  const byPort = new Map(input.pis.map((p) => [p.port, p]));
  const highest = Math.max(input.fileserver.switchPort, ...input.pis.map((p) => p.port), input.switchPorts ?? 0);
  const slots: Slot[] = [];
  for (let port = 1; port <= highest; port++) {
    const pi = byPort.get(port);
    if (port === input.fileserver.switchPort) slots.push({ port, kind: "fileserver", interface: input.fileserver.interface });
    else if (!pi) slots.push({ port, kind: "empty" });
    else {
      const poe = input.poe?.get(port);
      slots.push({
        port,
        kind: "pi",
        pi,
        poe: poe ? { detection: poe.detection, watts: poe.watts, powerClass: poe.powerClass } : null,
        boots: input.timeline(port).map((b) => ({
          startedAt: b.startedAt.toISOString(),
          stages: b.stages.map((s) => ({ stage: s.stage, t: s.at.getTime() - b.startedAt.getTime() })),
        })),
        workload: input.workloads?.get(port) ?? null,
      });
    }
  }
  const last = input.lastPass;
  return {
    shelf: input.shelf,
    generatedAt: input.now.toISOString(),
    slots,
    problems: problemsOf(input),
    pse: input.pse,
    activity: input.activity,
    lastPass: last ? { at: last.startedAt.toISOString(), reason: last.reason, applied: last.applied.length, failed: last.failed.length } : null,
  };
}
