/** nfs-ganesha backend: owns one file of EXPORT blocks (included by ganesha.conf) and reloads ganesha on change. */
import { readFile } from "node:fs/promises";
import { NotFoundError, OperationError } from "../../lib/errors.ts";
import { readTextIfExists, underSysroot, writeFileAtomic } from "./file-io.ts";
import { GANESHA_EXPORTS_FILE, parseGaneshaExports } from "./ganesha-config.ts";
import { planGaneshaExports } from "./plan.ts";
import type { ExportAction, ExportsDeps, ExportSpec, ExportsApplyResult, ExportsBackend, ObservedExports } from "./types.ts";
import { applyExportActions } from "./apply-actions.ts";

/** How to make ganesha re-read its exports: SIGHUP to the pid in a pid file, or a command. */
export type GaneshaReload =
  | { readonly kind: "pidFile"; readonly path: string }
  | { readonly kind: "command"; readonly file: string; readonly args: readonly string[] };

/** Where the ganesha backend writes; file paths are below `sysroot` when one is given. */
export interface GaneshaExportsOptions {
  readonly sysroot?: string;
  /** pirack's EXPORT file; default `/etc/ganesha/pirack-exports.conf`. */
  readonly file?: string;
  /** Copy of the file as of the last successful reload; default `<file>.applied`. */
  readonly appliedFile?: string;
  /** Default: `systemctl reload nfs-ganesha` (Debian's unit sends SIGHUP to the daemon). */
  readonly reload?: GaneshaReload;
}

/** Sends a signal to a process; `process.kill` in production. */
export type SignalSender = (pid: number, signal: NodeJS.Signals) => void;

/** nfs-ganesha (userspace NFS) backend. */
export class GaneshaExportsBackend implements ExportsBackend {
  readonly kind = "ganesha" as const;
  private readonly file: string;
  private readonly appliedFile: string;
  private readonly reloadHow: GaneshaReload;

  constructor(
    opts: GaneshaExportsOptions,
    private readonly deps: ExportsDeps & { readonly signal?: SignalSender },
  ) {
    this.file = underSysroot(opts.sysroot, opts.file ?? GANESHA_EXPORTS_FILE);
    this.appliedFile = opts.appliedFile ? underSysroot(opts.sysroot, opts.appliedFile) : `${this.file}.applied`;
    this.reloadHow = opts.reload ?? { kind: "command", file: "systemctl", args: ["reload", "nfs-ganesha"] };
  }

  /** Reads pirack's file and the copy taken at the last successful reload. */
  async observe(): Promise<ObservedExports> {
    const fileText = await readTextIfExists(this.file);
    const liveText = await readTextIfExists(this.appliedFile);
    return {
      fileText,
      file: fileText === undefined ? undefined : parseGaneshaExports(fileText),
      liveText,
      live: liveText === undefined ? undefined : parseGaneshaExports(liveText),
    };
  }

  /** Pure plan; see `planGaneshaExports`. */
  plan(desired: readonly ExportSpec[], observed: ObservedExports): ExportAction[] {
    return planGaneshaExports(this.file, desired, observed);
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
    const text = await readFile(this.file, "utf8");
    if (this.reloadHow.kind === "pidFile") {
      const pidText = await readTextIfExists(this.reloadHow.path);
      const pid = Number(pidText?.trim());
      if (!Number.isInteger(pid) || pid <= 1) throw new NotFoundError("GANESHA_NOT_RUNNING", `no ganesha pid in ${this.reloadHow.path}: ${JSON.stringify(pidText ?? null)}`);
      try {
        (this.deps.signal ?? process.kill)(pid, "SIGHUP");
      } catch (err) {
        throw new OperationError("GANESHA_RELOAD_FAILED", `SIGHUP to ganesha pid ${pid} failed`, { cause: err });
      }
    } else {
      const r = await this.deps.run(this.reloadHow.file, this.reloadHow.args);
      if (r.exitCode !== 0) throw new OperationError("GANESHA_RELOAD_FAILED", `${this.reloadHow.file} ${this.reloadHow.args.join(" ")} exited with ${r.exitCode}: ${r.stderr.trim()}`);
    }
    await writeFileAtomic(this.appliedFile, text);
  }
}
