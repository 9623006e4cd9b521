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
  /** The layer the root in place was cloned from (its `etc/pirack/layer.json` role); absent: the golden image. */
  readonly layer?: string;
  /** The image the Pi's root would be cloned from is not there (a role layer not built yet). */
  readonly imageMissing?: boolean;
}

/** One step towards the desired roots; `describeRootAction` says it in words. */
export type RootAction =
  | { readonly kind: "removeStaleTemp"; readonly port: number; readonly path: string }
  | { readonly kind: "createRoot"; readonly port: number; readonly path: string }
  | { readonly kind: "writeRootFile"; readonly port: number; readonly root: string; readonly file: RootFile }
  | { readonly kind: "generateHostKeys"; readonly port: number; readonly root: string }
  | { readonly kind: "writeMachineId"; readonly port: number; readonly root: string }
  /** The root is missing and so is the image it would be cloned from: nothing to do but say so. */
  | { readonly kind: "imageMissing"; readonly port: number; readonly image: string }
  /** The root in place came from another layer than its Pi's role wants: only an explicit rebuild changes that. */
  | { readonly kind: "rebuildNeeded"; readonly port: number; readonly root: string; readonly has: string | undefined; readonly wants: string | undefined };

/** Says an action in words, for logs and `pirack plan`. */
export function describeRootAction(a: RootAction): string {
  switch (a.kind) {
    case "removeStaleTemp":
      return `port ${a.port}: remove interrupted clone ${a.path}`;
    case "createRoot":
      return `port ${a.port}: clone its image to ${a.path} and customise it`;
    case "writeRootFile":
      return `port ${a.port}: write ${a.root}/${a.file.path}`;
    case "generateHostKeys":
      return `port ${a.port}: generate SSH host keys in ${a.root}`;
    case "writeMachineId":
      return `port ${a.port}: write a machine-id in ${a.root}`;
    case "imageMissing":
      return `port ${a.port}: cannot clone a root: ${a.image} does not exist`;
    case "rebuildNeeded":
      return `port ${a.port}: ${a.root} was cloned from ${layerWords(a.has)}, its role needs ${layerWords(a.wants)}: rebuild it`;
  }
}

const layerWords = (layer: string | undefined): string => (layer === undefined ? "the golden image" : `the ${layer} layer`);

/**
 * Plans roots. Leftover temporaries go first (they hold disk and would clash with a new clone's
 * name), then missing roots are created (a new root is customised before it appears, so it needs
 * no further action), then existing roots get drifted files rewritten and missing identity made.
 * A root that exists is never replaced here: only an explicit rebuild does that, so a root cloned from
 * another layer than the Pi's role wants (a role change) is reported (`rebuildNeeded`) and otherwise kept
 * in order. A missing root whose image is missing (a layer not built yet) is reported too (`imageMissing`).
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
      if (seen?.imageMissing) actions.push({ kind: "imageMissing", port: spec.port, image: spec.imagePath ?? "the golden image" });
      else actions.push({ kind: "createRoot", port: spec.port, path: spec.exportPath });
      continue;
    }
    if (seen.layer !== spec.layer) actions.push({ kind: "rebuildNeeded", port: spec.port, root: spec.exportPath, has: seen.layer, wants: spec.layer });
    for (const file of renderRootFiles(spec)) {
      if (seen.files[file.path] !== file.text) actions.push({ kind: "writeRootFile", port: spec.port, root: spec.exportPath, file });
    }
    if (!seen.hasHostKeys) actions.push({ kind: "generateHostKeys", port: spec.port, root: spec.exportPath });
    if (!seen.hasMachineId) actions.push({ kind: "writeMachineId", port: spec.port, root: spec.exportPath });
  }
  return actions;
}
