/** Kernel nfsd backend: owns /etc/exports.d/pirack.exports, applies with `exportfs -ra`, observes with `exportfs -v`. */
import { OperationError } from "../../lib/errors.ts";
import { KERNEL_EXPORTS_FILE, parseExportfsVerbose, parseExportsFile } from "./exports-file.ts";
import { readTextIfExists, underSysroot } from "./file-io.ts";
import { planKernelExports } from "./plan.ts";
import type { ExportAction, ExportsDeps, ExportSpec, ExportsApplyResult, ExportsBackend, ObservedExports } from "./types.ts";

export type { ExportsDeps } from "./types.ts";
import { applyExportActions } from "./apply-actions.ts";

/** Where the kernel backend writes; every path is below `sysroot` when one is given. */
export interface KernelExportsOptions {
  /** Prefix for system paths (tests and the bench); undefined means the real /. */
  readonly sysroot?: string;
  /** The exports file; default `/etc/exports.d/pirack.exports`. */
  readonly file?: string;
  /**
   * exportfs program; default `exportfs` (tests wrap it to see the sysroot's files). `false`: file only, for a
   * sysroot that is not the real system: the file is written, the host's export table is neither read nor changed.
   */
  readonly exportfs?: string | false;
}

/** exports(5) + exportfs(8) backend for a fileserver running the kernel NFS server. */
export class KernelExportsBackend implements ExportsBackend {
  readonly kind = "kernel" as const;
  private readonly file: string;
  private readonly exportfs: string | false;

  constructor(
    opts: KernelExportsOptions,
    private readonly deps: ExportsDeps,
  ) {
    this.file = underSysroot(opts.sysroot, opts.file ?? KERNEL_EXPORTS_FILE);
    this.exportfs = opts.exportfs ?? "exportfs";
  }

  /** Reads pirack's file and the live export table. */
  async observe(): Promise<ObservedExports> {
    const fileText = await readTextIfExists(this.file);
    const file = fileText === undefined ? undefined : parseExportsFile(fileText);
    // File only: what the file says stands in for the live table.
    if (this.exportfs === false) return { fileText, file, live: file ?? [] };
    const r = await this.deps.run(this.exportfs, ["-v"]);
    if (r.exitCode !== 0) throw new OperationError("EXPORTFS_FAILED", `exportfs -v exited with ${r.exitCode}: ${r.stderr.trim()}`);
    return { fileText, file, live: parseExportfsVerbose(r.stdout) };
  }

  /** Pure plan; see `planKernelExports`. */
  plan(desired: readonly ExportSpec[], observed: ObservedExports): ExportAction[] {
    return planKernelExports(this.file, desired, observed);
  }

  /** Observes, plans and applies; a failed step is reported and the rest still runs. */
  async apply(desired: readonly ExportSpec[]): Promise<ExportsApplyResult> {
    return this.applyActions(this.plan(desired, await this.observe()));
  }

  /** Carries out planned actions as they are (the reconciler plans once per pass). */
  applyActions(actions: readonly ExportAction[]): Promise<ExportsApplyResult> {
    return applyExportActions(this.kind, actions, () => this.reload(), this.deps);
  }

  private async reload(): Promise<void> {
    if (this.exportfs === false) return;
    const r = await this.deps.run(this.exportfs, ["-ra"]);
    // exportfs -ra exits 0 even when it skipped a line it could not parse, but says so on stderr.
    if (r.exitCode !== 0 || /exportfs: .*(error|Failed|unknown|bad)/i.test(r.stderr)) {
      throw new OperationError("EXPORTFS_FAILED", `exportfs -ra exited with ${r.exitCode}: ${r.stderr.trim()}`);
    }
  }
}
