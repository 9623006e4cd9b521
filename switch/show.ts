/**
 * Rendering for `pirack switch show` and `pirack switch apply`: observed state -> one row per port
 * (VLANs, PVID, link, PoE, watts) as a table or JSON-ready objects. Pure.
 */
import { hasPort } from "./port-list.ts";
import { describeChange } from "./plan.ts";
import type { ApplyResult, Inventory, ObservedSwitch } from "./types.ts";

/** One port of `switch show`. */
export interface SwitchShowRow {
  readonly port: number;
  readonly ifIndex: number;
  readonly ifName: string;
  readonly untaggedVlans: number[];
  readonly taggedVlans: number[];
  readonly pvid: number | null;
  readonly link: "up" | "down";
  readonly poe: string | null;
  readonly powerClass: number | null;
  readonly watts: number | null;
}

/** Rows for every bridge port (or only `ports` when given). */
export function switchShowRows(inv: Inventory, obs: ObservedSwitch, ports?: readonly number[]): SwitchShowRow[] {
  const wanted = ports ? new Set(ports) : null;
  return inv.ports
    .filter((p) => !wanted || wanted.has(p.bridgePort))
    .map((p) => {
      const untagged: number[] = [];
      const tagged: number[] = [];
      for (const [vid, v] of obs.vlans) {
        if (!hasPort(v.egress, p.bridgePort)) continue;
        (hasPort(v.untagged, p.bridgePort) ? untagged : tagged).push(vid);
      }
      const poe = obs.poe.get(p.bridgePort);
      return {
        port: p.bridgePort,
        ifIndex: p.ifIndex,
        ifName: p.ifName,
        untaggedVlans: untagged,
        taggedVlans: tagged,
        pvid: obs.pvid.get(p.bridgePort) ?? null,
        link: obs.linkUp.get(p.bridgePort) ? "up" : "down",
        poe: poe ? (poe.adminOn ? poe.detection : "off") : null,
        powerClass: poe?.powerClass ?? null,
        watts: poe?.watts ?? null,
      };
    });
}

/** A fixed-width text table of `rows`, plus the PSE line when known. */
export function renderSwitchShow(rows: readonly SwitchShowRow[], obs?: ObservedSwitch): string {
  const head = ["PORT", "NAME", "UNTAGGED", "TAGGED", "PVID", "LINK", "POE", "CLASS", "WATTS"];
  const body = rows.map((r) => [
    String(r.port),
    r.ifName,
    r.untaggedVlans.join(",") || "-",
    r.taggedVlans.join(",") || "-",
    r.pvid === null ? "-" : String(r.pvid),
    r.link,
    r.poe ?? "-",
    r.powerClass === null ? "-" : String(r.powerClass),
    r.watts === null ? "-" : r.watts.toFixed(1),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] ?? "").length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join("  ").trimEnd();
  const out = [line(head), ...body.map(line)];
  const pse = obs?.pse;
  if (pse) out.push("", `PoE: ${pse.consumptionWatts ?? "?"} W of ${pse.budgetWatts ?? "?"} W used, PSE ${pse.operStatus}`);
  return out.join("\n") + "\n";
}

/** Text for `switch apply`: one line per change, or that nothing changed. */
export function renderApplyResult(r: ApplyResult): string {
  if (r.changes.length === 0) return "switch already in the desired state\n";
  const lines = r.changes.map(describeChange);
  lines.push(`${r.setRequests} SET request(s), ${r.rounds} write round(s)${r.usedStepwise ? ", stepwise order" : ""}`);
  return lines.join("\n") + "\n";
}
