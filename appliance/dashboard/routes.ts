/**
 * The dashboard's routes: its three static files (read from this folder, served with their content types; they
 * hold no rack data), the overview JSON it polls, and each Pi's boot timeline as SVG and JSON.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { packagePath } from "../../lib/package-root.ts";
import type { ServerResponse } from "node:http";
import type { Appliance } from "../appliance.ts";
import type { Overview } from "./overview.ts";
import { renderTimelineSvg } from "./timeline-svg.ts";

/** The dashboard's folder, from the package root (the same from the sources and from the bundle in dist/). */
const ASSET_DIR = packagePath("appliance/dashboard");

const ASSETS: Readonly<Record<string, { file: string; type: string }>> = {
  "/": { file: "index.html", type: "text/html; charset=utf-8" },
  "/dashboard/app.js": { file: "app.js", type: "text/javascript; charset=utf-8" },
  "/dashboard/style.css": { file: "style.css", type: "text/css; charset=utf-8" },
};

/** True for the paths of the static page (served to anyone who can reach the API: the data needs a token). */
export const isDashboardAsset = (pathname: string): boolean => pathname in ASSETS;

/** Serves one static file of the dashboard. */
export async function sendAsset(res: ServerResponse, pathname: string): Promise<void> {
  const asset = ASSETS[pathname]!;
  const body = await readFile(join(ASSET_DIR, asset.file));
  res.writeHead(200, {
    "content-type": asset.type,
    "cache-control": "no-cache",
    // Everything the page uses comes from this origin; nothing inline, nothing from elsewhere.
    "content-security-policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'",
    "x-content-type-options": "nosniff",
  });
  res.end(body);
}

/** Each Pi's last boots with stage times in ms from that boot's start, for `pirack status --timeline`. */
export function timelines(app: Appliance): { port: number; name: string; boots: { startedAt: string; stages: { stage: string; t: number }[] }[] }[] {
  return app.status().map((p) => ({
    port: p.port,
    name: p.name,
    boots: app.timeline(p.port).map((b) => ({
      startedAt: b.startedAt.toISOString(),
      stages: b.stages.map((s) => ({ stage: s.stage, t: s.at.getTime() - b.startedAt.getTime() })),
    })),
  }));
}

/** One Pi's last boots as a waterfall: one row per boot, labelled with its start time. */
export function timelineSvg(app: Appliance, port: number): string {
  const name = app.status().find((p) => p.port === port)?.name ?? `port ${port}`;
  return renderTimelineSvg(
    app.timeline(port).map((b) => ({
      port,
      name: `${name} ${b.startedAt.toISOString().slice(11, 19)}`,
      stages: b.stages.map((s) => ({ stage: s.stage, t: s.at.getTime() - b.startedAt.getTime() })),
    })),
  );
}

/** What the API needs to answer the dashboard. */
export interface DashboardSource {
  overview(): Overview;
}
