/**
 * One pass of roots then exports (`pirack roots sync`, and what `serve` repeats), and an explicit
 * rebuild (`pirack roots rebuild <port>`). Exports are only ever written for roots that are in place.
 */
import { stat } from "node:fs/promises";
import { NotFoundError } from "../lib/errors.ts";
import type { ExportSpec, ExportsApplyResult, ExportsBackend } from "../appliance/nfs-exports/index.ts";
import { RootStore, type RebuildResult, type RootsApplyResult, type RootStoreOptions } from "./roots.ts";
import type { PiRootSpec, ProgressListener, RootfsDeps } from "./types.ts";

/** Options of one sync pass. */
export interface SyncRootsOptions extends RootStoreOptions {
  readonly pis: readonly PiRootSpec[];
  /** Exports backend to reconcile after the roots; undefined for `nfs.server: none`. */
  readonly exports?: ExportsBackend;
  /** exports(5) options for every Pi (backend default when omitted). */
  readonly exportOptions?: readonly string[];
}

/** What a sync pass reached. */
export interface SyncReport {
  readonly roots: RootsApplyResult;
  readonly exports: ExportsApplyResult | undefined;
  /** Ports whose roots are in place and exported (or would be, without a backend). */
  readonly readyPorts: readonly number[];
}

/** The export of one Pi's root: its directory, to its address only. */
export const toExportSpec = (pi: PiRootSpec, options?: readonly string[]): ExportSpec => ({
  path: pi.exportPath,
  clientAddress: pi.piAddress,
  ...(options ? { options } : {}),
});

const isDir = (p: string) =>
  stat(p).then(
    (s) => s.isDirectory(),
    () => false,
  );

/** Creates and customises missing roots, then exports exactly the roots that exist. */
export async function syncRoots(opts: SyncRootsOptions, deps: RootfsDeps & { readonly onProgress?: ProgressListener }): Promise<SyncReport> {
  const store = new RootStore(opts, deps);
  const roots = await store.apply(opts.pis);
  const ready: PiRootSpec[] = [];
  for (const pi of opts.pis) if (await isDir(pi.exportPath)) ready.push(pi);
  const exports = opts.exports ? await opts.exports.apply(ready.map((pi) => toExportSpec(pi, opts.exportOptions))) : undefined;
  return { roots, exports, readyPorts: ready.map((p) => p.port) };
}

/** Options of an explicit rebuild. */
export interface RebuildRootOptions extends RootStoreOptions {
  readonly pis: readonly PiRootSpec[];
  readonly port: number;
  readonly exports?: ExportsBackend;
  readonly exportOptions?: readonly string[];
}

/** Resets one Pi's root to golden (old root kept aside), then re-applies exports. */
export async function rebuildRoot(
  opts: RebuildRootOptions,
  deps: RootfsDeps & { readonly onProgress?: ProgressListener },
): Promise<RebuildResult & { readonly exports: ExportsApplyResult | undefined }> {
  const pi = opts.pis.find((p) => p.port === opts.port);
  if (!pi) throw new NotFoundError("PORT_NOT_FOUND", `no Pi on port ${opts.port}; known ports: ${opts.pis.map((p) => p.port).join(", ") || "none"}`);
  const result = await new RootStore(opts, deps).rebuild(pi);
  const ready: PiRootSpec[] = [];
  for (const p of opts.pis) if (await isDir(p.exportPath)) ready.push(p);
  const exports = opts.exports ? await opts.exports.apply(ready.map((p) => toExportSpec(p, opts.exportOptions))) : undefined;
  return { ...result, exports };
}
