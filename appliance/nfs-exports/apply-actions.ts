/** The apply loop both exports backends share: write the file or reload, keep going past failures, count them. */
import { describeExportAction } from "./plan.ts";
import type { ExportAction, ExportsApplyResult, ExportsDeps } from "./types.ts";
import { writeFileAtomic } from "./file-io.ts";

/** Carries out `actions` in order; `reload` is the backend's own (exportfs -ra, or a ganesha reload). */
export async function applyExportActions(
  backend: "kernel" | "ganesha",
  actions: readonly ExportAction[],
  reload: () => Promise<void>,
  deps: ExportsDeps,
): Promise<ExportsApplyResult> {
  const applied: ExportAction[] = [];
  const failed: { action: ExportAction; error: Error }[] = [];
  for (const action of actions) {
    try {
      if (action.kind === "writeExportsFile") await writeFileAtomic(action.path, action.text);
      else await reload();
      applied.push(action);
      deps.log.info({ action: describeExportAction(action) }, "exports action applied");
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      failed.push({ action, error });
      deps.metrics?.counter("pirack_export_action_failures_total", "Exports actions that failed (retried next pass), by backend and kind").inc({ backend, kind: action.kind });
      deps.log.warn({ action: describeExportAction(action), err: error }, "exports action failed");
    }
  }
  return { applied, failed };
}
