/** Roots planning (pure): (desired Pi roots, observed roots) -> ordered actions; empty when in sync. */
import { renderRootFiles, type RootFile } from "./render.ts";
import type { PiRootSpec } from "./types.ts";

/** What the roots adapter saw for one Pi. */
export interface ObservedRoot {
  readonly port: number;
  readonly exportPath: string;
  /** A finished root is in place at `exportPath`. */
  readonly exists: boolean;
  /** Current text of each file pirack keeps in sync (undefined: missing). */
  readonly files: Readonly<Record<string, string | undefined>>;
  readonly hasHostKeys: boolean;
  readonly hasMachineId: boolean;
  /** Leftover temporary trees from an interrupted clone (`.pirack/tmp/<name>.*`). */
  readonly staleTemps: readonly string[];
}

/** One step towards the desired roots; `describeRootAction` says it in words. */
export type RootAction =
  | { readonly kind: "removeStaleTemp"; readonly port: number; readonly path: string }
  | { readonly kind: "createRoot"; readonly port: number; readonly path: string }
  | { readonly kind: "writeRootFile"; readonly port: number; readonly root: string; readonly file: RootFile }
  | { readonly kind: "generateHostKeys"; readonly port: number; readonly root: string }
  | { readonly kind: "writeMachineId"; readonly port: number; readonly root: string };

/** Says an action in words, for logs and `pirack plan`. */
export function describeRootAction(a: RootAction): string {
  switch (a.kind) {
    case "removeStaleTemp":
      return `port ${a.port}: remove interrupted clone ${a.path}`;
    case "createRoot":
      return `port ${a.port}: clone golden image to ${a.path} and customise it`;
    case "writeRootFile":
      return `port ${a.port}: write ${a.root}/${a.file.path}`;
    case "generateHostKeys":
      return `port ${a.port}: generate SSH host keys in ${a.root}`;
    case "writeMachineId":
      return `port ${a.port}: write a machine-id in ${a.root}`;
  }
}

/**
 * Plans roots. Leftover temporaries go first (they hold disk and would clash with a new clone's
 * name), then missing roots are created (a new root is customised before it appears, so it needs
 * no further action), then existing roots get drifted files rewritten and missing identity made.
 * A root that exists is never replaced here: only an explicit rebuild does that.
 */
export function planRoots(desired: readonly PiRootSpec[], observed: readonly ObservedRoot[]): RootAction[] {
  const byPath = new Map(observed.map((o) => [o.exportPath, o]));
  const sorted = [...desired].sort((a, b) => a.port - b.port);
  const actions: RootAction[] = [];
  for (const spec of sorted) {
    for (const path of byPath.get(spec.exportPath)?.staleTemps ?? []) actions.push({ kind: "removeStaleTemp", port: spec.port, path });
  }
  for (const spec of sorted) {
    const seen = byPath.get(spec.exportPath);
    if (!seen?.exists) {
      actions.push({ kind: "createRoot", port: spec.port, path: spec.exportPath });
      continue;
    }
    for (const file of renderRootFiles(spec)) {
      if (seen.files[file.path] !== file.text) actions.push({ kind: "writeRootFile", port: spec.port, root: spec.exportPath, file });
    }
    if (!seen.hasHostKeys) actions.push({ kind: "generateHostKeys", port: spec.port, root: spec.exportPath });
    if (!seen.hasMachineId) actions.push({ kind: "writeMachineId", port: spec.port, root: spec.exportPath });
  }
  return actions;
}
