import type { MetricsRegistry } from "../../lib/metrics.ts";

/** Types shared by both exports backends (kernel nfsd through exportfs, nfs-ganesha). */

/** One NFS export: a Pi's root directory, visible only to that Pi's storage address. */
export interface ExportSpec {
  /** Absolute directory on the fileserver, e.g. `/export/10.46.189.2`. */
  readonly path: string;
  /** The one IPv4 address allowed to mount it (the Pi's /30 address). */
  readonly clientAddress: string;
  /** exports(5) options; `DEFAULT_EXPORT_OPTIONS` when omitted. The ganesha backend maps rw/ro and squash. */
  readonly options?: readonly string[];
}

/** What a backend saw: the exports in its own file and the exports the server is actually serving. */
export interface ObservedExports {
  /** Exports listed in pirack's file (undefined: the file does not exist). */
  readonly file: readonly ExportSpec[] | undefined;
  /** Raw text of pirack's file, for byte-exact comparison with the rendered file. */
  readonly fileText: string | undefined;
  /** Exports the server serves now (kernel: `exportfs -v`; ganesha: the file last reloaded successfully). */
  readonly live: readonly ExportSpec[] | undefined;
  /** ganesha only: text of the file at its last successful reload (ganesha has no query without D-Bus). */
  readonly liveText?: string | undefined;
}

/** One step towards the desired exports; `describe` says it in words for logs and `pirack plan`. */
export type ExportAction =
  | { readonly kind: "writeExportsFile"; readonly path: string; readonly text: string; readonly count: number }
  | { readonly kind: "reloadExports"; readonly server: "kernel" | "ganesha"; readonly reason: string };

/** The state reached by `apply`: what ran and what failed (the reconciler retries failures next pass). */
export interface ExportsApplyResult {
  readonly applied: readonly ExportAction[];
  readonly failed: readonly { readonly action: ExportAction; readonly error: Error }[];
}

/** A backend the reconciler drives like any other adapter: observe, plan (pure), apply. */
export interface ExportsBackend {
  /** `kernel` or `ganesha`. */
  readonly kind: "kernel" | "ganesha";
  /** Reads the file and the server's live exports. */
  observe(): Promise<ObservedExports>;
  /** Pure: the ordered actions that turn `observed` into `desired`; empty when in sync. */
  plan(desired: readonly ExportSpec[], observed: ObservedExports): ExportAction[];
  /** Observes, plans and carries out the actions; keeps going past failures. */
  apply(desired: readonly ExportSpec[]): Promise<ExportsApplyResult>;
  /** Carries out already planned actions, in order, without planning again; keeps going past failures. */
  applyActions(actions: readonly ExportAction[]): Promise<ExportsApplyResult>;
}

/** Result of running one command: the adapters only need exit code and output. */
export interface CommandResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a program (an execa wrapper in production); never throws on a non-zero exit. */
export type CommandRunner = (file: string, args: readonly string[]) => Promise<CommandResult>;

/** Injected dependencies of an exports backend. */
export interface ExportsDeps {
  readonly log: ExportsLogger;
  readonly run: CommandRunner;
  readonly metrics?: MetricsRegistry;
}

/** Minimal logger shape (a pino child logger satisfies it). */
export interface ExportsLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}
