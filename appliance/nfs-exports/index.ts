/** Public surface of the NFS exports module: renderers, parsers, planners and the two backends. */
export { DEFAULT_EXPORT_OPTIONS, KERNEL_EXPORTS_FILE, exportSatisfies, parseExportfsVerbose, parseExportsFile, renderExportsFile, renderExportsLine } from "./exports-file.ts";
export { GANESHA_EXPORTS_FILE, ganeshaExportId, parseGaneshaConfig, parseGaneshaExports, renderGaneshaExport, renderGaneshaExportsFile, renderGaneshaMainConfig } from "./ganesha-config.ts";
export type { GaneshaBlock, GaneshaMainConfigOptions } from "./ganesha-config.ts";
export { describeExportAction, planGaneshaExports, planKernelExports } from "./plan.ts";
export { KernelExportsBackend } from "./kernel-backend.ts";
export type { ExportsDeps, KernelExportsOptions } from "./kernel-backend.ts";
export { GaneshaExportsBackend } from "./ganesha-backend.ts";
export type { GaneshaExportsOptions, GaneshaReload, SignalSender } from "./ganesha-backend.ts";
export type { CommandResult, CommandRunner, ExportAction, ExportSpec, ExportsApplyResult, ExportsBackend, ExportsLogger, ObservedExports } from "./types.ts";
export { createExportsBackend } from "./backend.ts";
export type { NfsServerKind } from "./backend.ts";
