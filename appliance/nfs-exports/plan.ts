/** Pure planning for both exports backends: (desired, observed) -> ordered actions, empty when in sync. */
import { dirname } from "node:path";
import { exportSatisfies, renderExportsFile } from "./exports-file.ts";
import { renderGaneshaExportsFile } from "./ganesha-config.ts";
import type { ExportAction, ExportSpec, ObservedExports } from "./types.ts";

/** Says an action in words, for logs and `pirack plan`. */
export function describeExportAction(action: ExportAction): string {
  switch (action.kind) {
    case "writeExportsFile":
      return `write ${action.path} with ${action.count} export(s)`;
    case "reloadExports":
      return `reload ${action.server} exports (${action.reason})`;
  }
}

/** One export's identity: its path and its client (options aside). */
const exportKey = (e: ExportSpec): string => `${e.path} ${e.clientAddress}`;

/**
 * Kernel nfsd: write the file when its bytes differ, then `exportfs -ra` when the file changed or
 * the live table (exportfs -v) lacks a desired export or still holds one pirack no longer wants.
 * pirack owns the live exports in its file and those in the directories its exports live in
 * (`paths.exports`), so a Pi dropped from the file before a crash is still unexported next pass;
 * exports elsewhere (the operator's own /etc/exports) are left alone.
 */
export function planKernelExports(filePath: string, desired: readonly ExportSpec[], observed: ObservedExports): ExportAction[] {
  const text = renderExportsFile(desired);
  const actions: ExportAction[] = [];
  if (observed.fileText !== text) actions.push({ kind: "writeExportsFile", path: filePath, text, count: desired.length });
  const live = observed.live ?? [];
  // Indexed by path and client, so a rack of thousands of Pis is planned in linear time (was desired x live).
  const liveByKey = new Map<string, ExportSpec[]>();
  for (const l of live) {
    const same = liveByKey.get(exportKey(l));
    if (same) same.push(l);
    else liveByKey.set(exportKey(l), [l]);
  }
  const missing = desired.filter((d) => !(liveByKey.get(exportKey(d)) ?? []).some((l) => exportSatisfies(l, d)));
  const known = [...(observed.file ?? []), ...desired];
  const paths = new Set(known.map((s) => s.path));
  const dirs = new Set(known.map((s) => dirname(s.path)));
  const ours = (path: string) => paths.has(path) || dirs.has(dirname(path));
  const wanted = new Set(desired.map(exportKey));
  const stale = live.filter((l) => ours(l.path) && !wanted.has(exportKey(l)));
  const reasons = [
    ...(actions.length ? ["file changed"] : []),
    ...(missing.length ? [`${missing.length} not exported`] : []),
    ...(stale.length ? [`${stale.length} stale`] : []),
  ];
  if (reasons.length) actions.push({ kind: "reloadExports", server: "kernel", reason: reasons.join(", ") });
  return actions;
}

/**
 * nfs-ganesha: write the file when its bytes differ, then reload (SIGHUP) when the file differs
 * from the text of the last successful reload. Without D-Bus ganesha cannot be asked what it
 * serves, so the last reloaded text stands in for the live table.
 */
export function planGaneshaExports(filePath: string, desired: readonly ExportSpec[], observed: ObservedExports): ExportAction[] {
  const text = renderGaneshaExportsFile(desired);
  const actions: ExportAction[] = [];
  if (observed.fileText !== text) actions.push({ kind: "writeExportsFile", path: filePath, text, count: desired.length });
  if (observed.liveText !== text) {
    actions.push({ kind: "reloadExports", server: "ganesha", reason: observed.liveText === undefined ? "never reloaded by pirack" : "file changed since last reload" });
  }
  return actions;
}
