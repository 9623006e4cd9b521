/**
 * Pi roots and their NFS exports as reconciler subsystems. Roots first: every enrolled Pi gets a copy-on-write
 * clone of the golden image, customised; then exports: exactly the roots that exist, each to its Pi only.
 */
import { stat } from "node:fs/promises";
import { join } from "node:path";
import type { Config } from "../config.ts";
import { OperationError } from "../../lib/errors.ts";
import type { MetricsRegistry } from "../../lib/metrics.ts";
import { createExportsBackend, type ExportsBackend } from "../nfs-exports/index.ts";
import { describeExportAction } from "../nfs-exports/plan.ts";
import type { ExportSpec } from "../nfs-exports/types.ts";
import type { RackPlan } from "../plan.ts";
import { createCommandRunner, describeRootAction, RootStore, toExportSpec, type PiRootSpec, type RootfsLogger, type RootStoreOptions } from "../../rootfs/index.ts";
import type { Action, BoundSubsystem } from "./reconciler.ts";

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

const isDir = (p: string) =>
  stat(p).then(
    (s) => s.isDirectory(),
    () => false,
  );

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

/** Roots: one aggregated action per pass that clones missing roots and repairs drifted files. */
export function rootsSubsystem(deps: RootsDeps): BoundSubsystem<RackPlan> {
  const run = createCommandRunner();
  const store = () => new RootStore(rootStoreOptions(deps.config()), { log: deps.log, run, metrics: deps.metrics });
  return {
    name: "roots",
    async planFor(plan) {
      const specs = piRootSpecs(plan, deps.config().public.vlan);
      if (specs.length === 0) return [];
      const s = store();
      const actions = s.plan(specs, await s.observe(specs));
      if (actions.length === 0) return [];
      return [{ kind: "syncRoots", subject: "roots", description: actions.map(describeRootAction).join("; "), specs } as Action];
    },
    async apply(action) {
      const { specs } = action as Action & { specs: PiRootSpec[] };
      const result = await store().apply(specs);
      for (const a of result.applied) if (a.kind === "createRoot") deps.onRootCreated?.(a.port);
      if (result.failed.length > 0) {
        throw new OperationError("ROOTS_INCOMPLETE", result.failed.map((f) => `${describeRootAction(f.action)}: ${f.error.message}`).join("; "));
      }
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

/** Exports of exactly the roots that exist, each to its own Pi. */
export function exportsSubsystem(deps: RootsDeps): BoundSubsystem<RackPlan> {
  const ready = async (plan: RackPlan): Promise<ExportSpec[]> => {
    const out: ExportSpec[] = [];
    for (const spec of piRootSpecs(plan, deps.config().public.vlan)) if (await isDir(spec.exportPath)) out.push(toExportSpec(spec));
    return out;
  };
  return {
    name: "exports",
    async planFor(plan) {
      const backend = exportsBackendFor(deps.config(), deps.sysroot, deps);
      if (!backend) return [];
      const desired = await ready(plan);
      const actions = backend.plan(desired, await backend.observe());
      if (actions.length === 0) return [];
      return [{ kind: "syncExports", subject: backend.kind, description: actions.map(describeExportAction).join("; "), desired } as Action];
    },
    async apply(action) {
      const backend = exportsBackendFor(deps.config(), deps.sysroot, deps);
      if (!backend) return;
      const result = await backend.apply((action as Action & { desired: ExportSpec[] }).desired);
      if (result.failed.length > 0) {
        throw new OperationError("EXPORTS_INCOMPLETE", result.failed.map((f) => `${describeExportAction(f.action)}: ${f.error.message}`).join("; "));
      }
    },
  };
}
