/**
 * `pirack status --timeline`: each Pi's last boot as a text waterfall, one row per Pi with the time of every
 * stage after the boot began and a bar drawn with each stage's initial (p d f k n u).
 */

/** A Pi's boots as the API's `GET /api/v1/timeline` returns them (stage times in ms from the boot's start). */
export interface TimelineEntry {
  readonly port: number;
  readonly name: string;
  readonly boots: readonly { readonly startedAt: string; readonly stages: readonly { readonly stage: string; readonly t: number }[] }[];
}

const STAGES = ["power", "dhcp", "firmware", "kernel", "nfs", "up"] as const;
const BAR_COLUMNS = 40;
const secs = (ms: number) => `${(ms / 1000).toFixed(1)}s`;

/** Renders the last boot of every Pi; Pis with no boot get a dash row. */
export function renderTimelineText(entries: readonly TimelineEntry[]): string {
  const last = entries.map((e) => ({ e, boot: e.boots.at(-1) }));
  const spanMs = Math.max(1000, ...last.flatMap(({ boot }) => boot?.stages.map((s) => s.t) ?? []));
  const header = ["port", "name", "boot started", ...STAGES];
  const rows = last.map(({ e, boot }) => {
    const at = (stage: string) => boot?.stages.find((s) => s.stage === stage);
    return [String(e.port), e.name, boot ? boot.startedAt.replace("T", " ").slice(0, 19) : "-", ...STAGES.map((s) => (at(s) ? secs(at(s)!.t) : "-"))];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join("  ");
  const bars = last.map(({ boot }) => {
    const cells = Array<string>(BAR_COLUMNS).fill(" ");
    const stages = [...(boot?.stages ?? [])].sort((a, b) => a.t - b.t);
    stages.forEach((s, i) => {
      const from = Math.min(BAR_COLUMNS - 1, Math.floor((s.t / spanMs) * (BAR_COLUMNS - 1)));
      const to = i + 1 < stages.length ? Math.floor((stages[i + 1]!.t / spanMs) * (BAR_COLUMNS - 1)) : from + 1;
      for (let c = from; c < Math.max(to, from + 1) && c < BAR_COLUMNS; c++) cells[c] = s.stage[0]!;
    });
    return `|${cells.join("")}|`;
  });
  const out = [`${line(header)}  0${" ".repeat(BAR_COLUMNS - 1)}${secs(spanMs)}`];
  rows.forEach((r, i) => out.push(`${line(r)}  ${bars[i]}`));
  return out.map((l) => l.trimEnd()).join("\n") + "\n";
}
