/**
 * Pi roots and their NFS exports as reconciler subsystems, joined here (the composition root) so that rootfs
 * never needs the exports module. Roots first: every enrolled Pi gets a copy-on-write clone of the golden
 * image, customised; then exports: exactly the roots that exist, each to its Pi only. Both plan one action per
 * Pi and carry out exactly what they planned.
 */
import { stat } from "node:fs/promises";
import { join } from "node:path";
import type { Config } from "../config.ts";
import { OperationError } from "../../lib/errors.ts";
import type { MetricsRegistry } from "../../lib/metrics.ts";
import { createExportsBackend, describeExportAction, type ExportAction, type ExportsApplyResult, type ExportsBackend, type ExportSpec, type ObservedExports } from "../nfs-exports/index.ts";
import type { RackPlan } from "../plan.ts";
import {
  createCommandRunner,
  describeRootAction,
  rebuildRoot,
  RootStore,
  syncRoots,
  type PiRootSpec,
  type ProgressListener,
  type RebuildResult,
  type RebuildRootOptions,
  type RootAction,
  type RootfsDeps,
  type RootfsLogger,
  type RootStoreOptions,
  type SyncReport,
  type SyncRootsOptions,
} from "../../rootfs/index.ts";
import type { Action, ActionOutcome, BoundSubsystem } from "./reconciler.ts";

/** The roots of enrolled Pis, as the rootfs module takes them. */
export function piRootSpecs(plan: RackPlan, publicVlan: number): PiRootSpec[] {
  return plan.ports
    .filter((p) => p.enrolled)
    .map((p) => ({
      port: p.port,
      name: p.name,
      hostname: p.name,
      piAddress: p.piAddress,
      serverAddress: p.serverAddress,
      netmask: p.netmask,
      publicVlan,
      publicAddress: `${p.publicAddress}/${p.publicPrefixLength}`,
      publicGateway: p.publicGateway,
      exportPath: p.exportPath,
    }));
}

/** Root store options from the config: golden image path; no btrfs snapshots under nfs-ganesha 4.3 (it cannot export them). */
export function rootStoreOptions(config: Config): RootStoreOptions {
  return { imagePath: join(config.paths.images, config.image), snapshots: config.nfs.server !== "ganesha" };
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

/** The Pis whose roots are in place, as exports. */
export async function readyExports(pis: readonly PiRootSpec[]): Promise<ExportSpec[]> {
  const out: ExportSpec[] = [];
  for (const pi of pis) if (await isDir(pi.exportPath)) out.push(toExportSpec(pi));
  return out;
}

/** Dependencies of the root and export subsystems. */
export interface RootsDeps {
  readonly log: RootfsLogger;
  readonly metrics: MetricsRegistry;
  readonly config: () => Config;
  /** "/" for the real system; anything else keeps exports in files below it (no exportfs, no reload). */
  readonly sysroot: string;
  /** Told about every root that was created (a Pi that booted before it existed may need a power cycle). */
  readonly onRootCreated?: (port: number) => void;
}

/** A root action as the reconciler lists it: one Pi, in words an operator reads. */
export type RootsAction = Action & { readonly kind: RootAction["kind"]; readonly port: number; readonly root: RootAction; readonly spec: PiRootSpec };

/** Says a root action for the pass report, e.g. `clone root 10.46.189.6 (port 2) from bookworm-arm64`. */
export function describeRootStep(a: RootAction, spec: PiRootSpec, image: string): string {
  const pi = `${spec.piAddress} (port ${spec.port})`;
  switch (a.kind) {
    case "createRoot":
      return `clone root ${pi} from ${image}`;
    case "removeStaleTemp":
      return `remove interrupted clone of ${pi}: ${a.path}`;
    case "writeRootFile":
      return `rewrite /${a.file.path} in root ${pi}`;
    case "generateHostKeys":
      return `generate SSH host keys in root ${pi}`;
    case "writeMachineId":
      return `write a machine-id in root ${pi}`;
  }
}

/** Roots: one action per Pi and step (clone a missing root, repair a drifted file, make a missing identity). */
export function rootsSubsystem(deps: RootsDeps): BoundSubsystem<RackPlan> {
  const run = createCommandRunner();
  const newStore = (config: Config) => ({ config, store: new RootStore(rootStoreOptions(config), { log: deps.log, run, metrics: deps.metrics }) });
  // One store per pass (made when the pass plans), so what it learns once (the clone strategy) serves every clone.
  let current: { config: Config; store: RootStore } | undefined;
  const store = (): RootStore => {
    const config = deps.config();
    if (current?.config !== config) current = newStore(config);
    return current.store;
  };
  return {
    name: "roots",
    async planFor(plan) {
      current = newStore(deps.config());
      const specs = piRootSpecs(plan, deps.config().public.vlan);
      if (specs.length === 0) return [];
      const s = store();
      const byPort = new Map(specs.map((p) => [p.port, p]));
      return s.plan(specs, await s.observe(specs)).map((root): RootsAction => {
        const spec = byPort.get(root.port)!;
        return { kind: root.kind, subject: spec.piAddress, port: root.port, description: describeRootStep(root, spec, deps.config().image), root, spec };
      });
    },
    async apply(action) {
      const { root, spec } = action as RootsAction;
      const result = await store().applyActions([spec], [root]);
      for (const a of result.applied) if (a.kind === "createRoot") deps.onRootCreated?.(a.port);
      const failure = result.failed[0];
      if (failure) throw new OperationError("ROOT_ACTION_FAILED", describeRootAction(failure.action), { cause: failure.error });
    },
  };
}

/**
 * The exports backend for the config in force; undefined for `nfs.server: none`. Under a sysroot other than "/"
 * the kernel backend only writes its file (the host's exportfs is never run) and ganesha is reloaded through the
 * pid file `<sysroot>/run/ganesha/ganesha.pid` (the bench's own ganesha).
 */
export function exportsBackendFor(config: Config, sysroot: string, deps: Pick<RootsDeps, "log" | "metrics">): ExportsBackend | undefined {
  const real = sysroot === "/";
  return createExportsBackend(
    config.nfs.server,
    real ? {} : { sysroot, exportfs: false, reload: { kind: "pidFile", path: join(sysroot, "run/ganesha/ganesha.pid") } },
    { log: deps.log, run: createCommandRunner(), metrics: deps.metrics },
  );
}

/** An exports action as the reconciler lists it: per Pi, carrying the backend's planned steps they share. */
export type ExportsAction = Action & { readonly steps: readonly ExportAction[] };

/** Per-Pi lines of what the planned exports change: `export /export/10.46.189.6 to 10.46.189.6 (port 2)`. */
export function exportChanges(desired: readonly ExportSpec[], observed: ObservedExports, portOf: (path: string) => number | undefined): { kind: string; subject: string; description: string }[] {
  const listed = observed.file ?? [];
  const key = (e: ExportSpec) => `${e.path} ${e.clientAddress}`;
  const have = new Set(listed.map(key));
  const want = new Set(desired.map(key));
  const where = (e: ExportSpec) => {
    const port = portOf(e.path);
    return port === undefined ? e.clientAddress : `${e.clientAddress} (port ${port})`;
  };
  return [
    ...desired.filter((e) => !have.has(key(e))).map((e) => ({ kind: "export", subject: e.clientAddress, description: `export ${e.path} to ${where(e)}` })),
    ...listed.filter((e) => !want.has(key(e))).map((e) => ({ kind: "unexport", subject: e.clientAddress, description: `stop exporting ${e.path} to ${where(e)}` })),
  ];
}

/** Exports of exactly the roots that exist, each to its own Pi: one action per Pi, written as one file. */
export function exportsSubsystem(deps: RootsDeps): BoundSubsystem<RackPlan> {
  const applySteps = async (steps: readonly ExportAction[]): Promise<void> => {
    const backend = exportsBackendFor(deps.config(), deps.sysroot, deps);
    if (!backend) return;
    const result = await backend.applyActions(steps);
    if (result.failed.length > 0) {
      throw new OperationError("EXPORTS_INCOMPLETE", result.failed.map((f) => `${describeExportAction(f.action)}: ${f.error.message}`).join("; "));
    }
  };
  return {
    name: "exports",
    async planFor(plan) {
      const backend = exportsBackendFor(deps.config(), deps.sysroot, deps);
      if (!backend) return [];
      const desired = await readyExports(piRootSpecs(plan, deps.config().public.vlan));
      const observed = await backend.observe();
      const steps = backend.plan(desired, observed);
      if (steps.length === 0) return [];
      const ports = new Map(plan.ports.map((p) => [p.exportPath, p.port]));
      const perPi = exportChanges(desired, observed, (path) => ports.get(path));
      // The file or the server's live table is out of line without any Pi's export changing (a reload is due).
      const lines = perPi.length > 0 ? perPi : steps.map((st) => ({ kind: st.kind, subject: backend.kind, description: describeExportAction(st) }));
      return lines.map((l): ExportsAction => ({ ...l, steps }));
    },
    apply: (action) => applySteps((action as ExportsAction).steps),
    async applyAll(actions): Promise<ActionOutcome[]> {
      // Every action of a pass shares the same planned steps: one file write and one reload for all of them.
      const steps = (actions[0] as ExportsAction | undefined)?.steps ?? [];
      try {
        await applySteps(steps);
        return actions.map((action) => ({ action }));
      } catch (error) {
        return actions.map((action) => ({ action, error }));
      }
    },
  };
}

/** Exports exactly the roots among `pis` that exist. */
export async function exportReadyRoots(backend: ExportsBackend, pis: readonly PiRootSpec[], options?: readonly string[]): Promise<ExportsApplyResult> {
  const ready: ExportSpec[] = [];
  for (const pi of pis) if (await isDir(pi.exportPath)) ready.push(toExportSpec(pi, options));
  return backend.apply(ready);
}

/** Roots then exports in one go (library use and tests; `serve` and `roots sync` run them as subsystems). */
export async function syncRootsAndExports(
  opts: SyncRootsOptions & { readonly exports?: ExportsBackend; readonly exportOptions?: readonly string[] },
  deps: RootfsDeps & { readonly onProgress?: ProgressListener },
): Promise<SyncReport & { readonly exports: ExportsApplyResult | undefined }> {
  const report = await syncRoots(opts, deps);
  return { ...report, exports: opts.exports ? await exportReadyRoots(opts.exports, opts.pis, opts.exportOptions) : undefined };
}

/** Rebuilds one Pi's root (old one kept aside), then re-applies the exports of every root in place. */
export async function rebuildRootAndExports(
  opts: RebuildRootOptions & { readonly exports?: ExportsBackend },
  deps: RootfsDeps & { readonly onProgress?: ProgressListener },
): Promise<RebuildResult & { readonly exports: ExportsApplyResult | undefined }> {
  const result = await rebuildRoot(opts, deps);
  return { ...result, exports: opts.exports ? await exportReadyRoots(opts.exports, opts.pis) : undefined };
}
