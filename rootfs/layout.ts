/**
 * Storage layout (pure). A Pi's root is `<exports>/<pi address>`; work in progress lives beside it
 * in `<exports>/.pirack/tmp/` and replaced roots in `<exports>/.pirack/old/`, on the same
 * filesystem so that a finished clone is renamed into place atomically and is never exported half-built.
 */
import { basename, dirname, join } from "node:path";

/** Where a role layer (and every root cloned from it) records what it holds: `{ role, image, packages, ... }`. */
export const LAYER_MANIFEST = "etc/pirack/layer.json";

/** Directory holding pirack's temporary and kept-aside trees next to the roots (or images). */
export const WORK_DIR = ".pirack";

/** Temporary path for a root (or image) being built: `<parent>/.pirack/tmp/<name>.<tag>`. */
export const tempPathFor = (finalPath: string, tag: string): string => join(dirname(finalPath), WORK_DIR, "tmp", `${basename(finalPath)}.${tag}`);

/** True when `entry` (a name inside `.pirack/tmp`) is a temporary tree for `finalPath`. */
export const isTempFor = (finalPath: string, entry: string): boolean => entry.startsWith(`${basename(finalPath)}.`);

/** Directory of temporary trees for roots (or images) next to `finalPath`. */
export const tempDirFor = (finalPath: string): string => join(dirname(finalPath), WORK_DIR, "tmp");

/** Directory of kept-aside old trees next to `finalPath`. */
export const oldDirFor = (finalPath: string): string => join(dirname(finalPath), WORK_DIR, "old");

/** UTC stamp used in old roots' names: `20261129T140501Z` (sorts as time, safe in file names). */
export const stampOf = (d: Date): string => d.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");

/** Path an old root is kept at: `<parent>/.pirack/old/<name>@<stamp>`. */
export const oldPathFor = (finalPath: string, when: Date): string => join(oldDirFor(finalPath), `${basename(finalPath)}@${stampOf(when)}`);

/** The stamp of an old-root entry belonging to `finalPath`, or undefined for other entries. */
export function oldStampOf(finalPath: string, entry: string): string | undefined {
  const prefix = `${basename(finalPath)}@`;
  if (!entry.startsWith(prefix)) return undefined;
  const stamp = entry.slice(prefix.length);
  return /^\d{8}T\d{6}Z(\.\d+)?$/.test(stamp) ? stamp : undefined;
}

/**
 * Which old roots to delete so that `retain` newest stay (pure). Entries not belonging to
 * `finalPath` are never returned.
 */
export function planOldRootPruning(finalPath: string, entries: readonly string[], retain: number): string[] {
  const mine = entries.filter((e) => oldStampOf(finalPath, e) !== undefined).sort((a, b) => (oldStampOf(finalPath, b) ?? "").localeCompare(oldStampOf(finalPath, a) ?? ""));
  return mine.slice(Math.max(0, retain));
}
