/**
 * One pass of roots (what `serve`'s roots subsystem repeats) and an explicit rebuild. Exports are the
 * composition root's business (appliance/reconcile/roots.ts): rootfs knows nothing of NFS.
 */
import { stat } from "node:fs/promises";
import { NotFoundError } from "../lib/errors.ts";
import { RootStore, type RebuildResult, type RootsApplyResult, type RootStoreOptions } from "./roots.ts";
import type { PiRootSpec, ProgressListener, RootfsDeps } from "./types.ts";

/** Options of one sync pass. */
export interface SyncRootsOptions extends RootStoreOptions {
  readonly pis: readonly PiRootSpec[];
}

/** What a sync pass reached. */
export interface SyncReport {
  readonly roots: RootsApplyResult;
  /** Ports whose roots are in place. */
  readonly readyPorts: readonly number[];
}

const isDir = (p: string) =>
  stat(p).then(
    (s) => s.isDirectory(),
    () => false,
  );

/** Creates and customises missing roots and repairs drifted ones. */
export async function syncRoots(opts: SyncRootsOptions, deps: RootfsDeps & { readonly onProgress?: ProgressListener }): Promise<SyncReport> {
  const roots = await new RootStore(opts, deps).apply(opts.pis);
  const ready: number[] = [];
  for (const pi of opts.pis) if (await isDir(pi.exportPath)) ready.push(pi.port);
  return { roots, readyPorts: ready };
}

/** Options of an explicit rebuild. */
export interface RebuildRootOptions extends RootStoreOptions {
  readonly pis: readonly PiRootSpec[];
  readonly port: number;
}

/** Resets one Pi's root to golden (old root kept aside). */
export async function rebuildRoot(opts: RebuildRootOptions, deps: RootfsDeps & { readonly onProgress?: ProgressListener }): Promise<RebuildResult> {
  const pi = opts.pis.find((p) => p.port === opts.port);
  if (!pi) throw new NotFoundError("PORT_NOT_FOUND", `no Pi on port ${opts.port}; known ports: ${opts.pis.map((p) => p.port).join(", ") || "none"}`);
  return new RootStore(opts, deps).rebuild(pi);
}
