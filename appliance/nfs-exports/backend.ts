/** Picks the exports backend named by the config's `nfs.server`. */
import { GaneshaExportsBackend, type GaneshaExportsOptions, type SignalSender } from "./ganesha-backend.ts";
import { KernelExportsBackend, type ExportsDeps, type KernelExportsOptions } from "./kernel-backend.ts";
import type { ExportsBackend } from "./types.ts";

/** `nfs.server` values: the kernel's nfsd, nfs-ganesha, or no exports at all. */
export type NfsServerKind = "kernel" | "ganesha" | "none";

/** Creates the backend for `kind`; undefined for `none` (roots are made, nothing is exported). */
export function createExportsBackend(
  kind: NfsServerKind,
  opts: KernelExportsOptions & GaneshaExportsOptions,
  deps: ExportsDeps & { readonly signal?: SignalSender },
): ExportsBackend | undefined {
  switch (kind) {
    case "kernel":
      return new KernelExportsBackend(opts, deps);
    case "ganesha":
      return new GaneshaExportsBackend(opts, deps);
    case "none":
      return undefined;
  }
}
