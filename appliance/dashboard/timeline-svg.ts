/**
 * The boot waterfall as a standalone SVG: one row per Pi, one bar per stage from the moment it was reached to the
 * next stage (the last one as a tick). Pure: the dashboard's timeline view and the bench's storm benchmark both
 * draw with it.
 */

/** A Pi's row: its stages with `t` in milliseconds from an origin common to every row (the left edge is the smallest t). */
export interface TimelineRow {
  readonly port: number;
  readonly name: string;
  readonly stages: readonly { readonly stage: string; readonly t: number }[];
}

/** Stage colours, shared with the dashboard's stylesheet. */
export const STAGE_COLOURS: Readonly<Record<string, string>> = {
  power: "#8e8e93",
  dhcp: "#f5a623",
  firmware: "#e8c547",
  kernel: "#4a90e2",
  nfs: "#7b61ff",
  up: "#2fb344",
};

const ROW_PX = 22;
const LABEL_PX = 150;
const PLOT_PX = 640;
const AXIS_PX = 28;
const LEGEND_PX = 24;

const escapeXml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** A tick step (1, 2 or 5 times a power of ten, in ms) giving about six ticks over `spanMs`. */
function tickStep(spanMs: number): number {
  const raw = spanMs / 6;
  const base = 10 ** Math.floor(Math.log10(Math.max(raw, 1)));
  return [1, 2, 5, 10].map((m) => m * base).find((s) => s >= raw) ?? base * 10;
}

const seconds = (ms: number): string => `${Number((ms / 1000).toFixed(ms % 1000 === 0 ? 0 : 1))} s`;

/** Renders the waterfall of every Pi's stages as an SVG document. */
export function renderTimelineSvg(pis: readonly TimelineRow[]): string {
  const marks = pis.flatMap((p) => p.stages.map((s) => s.t));
  const origin = marks.length ? Math.min(...marks) : 0;
  const spanMs = Math.max((marks.length ? Math.max(...marks) : 0) - origin, 1000);
  const step = tickStep(spanMs);
  const endMs = Math.ceil(spanMs / step) * step;
  const x = (t: number) => LABEL_PX + ((t - origin) / endMs) * PLOT_PX;
  const height = LEGEND_PX + pis.length * ROW_PX + AXIS_PX;
  const width = LABEL_PX + PLOT_PX + 20;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
  ];
  Object.entries(STAGE_COLOURS).forEach(([stage, colour], i) => {
    out.push(`<rect x="${LABEL_PX + i * 90}" y="6" width="12" height="12" fill="${colour}"/><text x="${LABEL_PX + i * 90 + 16}" y="16">${stage}</text>`);
  });
  for (let t = 0; t <= endMs; t += step) {
    const tx = x(origin + t).toFixed(1);
    out.push(`<line x1="${tx}" y1="${LEGEND_PX}" x2="${tx}" y2="${height - AXIS_PX + 4}" stroke="#e0e0e0"/>`);
    out.push(`<text x="${tx}" y="${height - 8}" text-anchor="middle" fill="#555">${seconds(t)}</text>`);
  }
  pis.forEach((pi, row) => {
    const y = LEGEND_PX + row * ROW_PX;
    out.push(`<text x="4" y="${y + 15}">${escapeXml(`${pi.port} ${pi.name}`)}</text>`);
    const stages = [...pi.stages].sort((a, b) => a.t - b.t);
    stages.forEach((s, i) => {
      const colour = STAGE_COLOURS[s.stage] ?? "#999999";
      const next = stages[i + 1];
      const x0 = x(s.t);
      const w = next ? Math.max(x(next.t) - x0, 2) : 3;
      const title = `${pi.name} ${s.stage} at +${seconds(s.t - (stages[0]?.t ?? 0))}`;
      out.push(
        `<rect x="${x0.toFixed(1)}" y="${y + 4}" width="${w.toFixed(1)}" height="${ROW_PX - 8}" fill="${colour}" data-stage="${escapeXml(s.stage)}"><title>${escapeXml(title)}</title></rect>`,
      );
    });
  });
  out.push("</svg>");
  return out.join("\n") + "\n";
}
