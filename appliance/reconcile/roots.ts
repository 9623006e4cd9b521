/**
 * Pi roots and their NFS exports as reconciler subsystems, joined here (the composition root) so that rootfs
 * never needs the exports module. Roots first: every enrolled Pi gets a copy-on-write clone of its image (the
 * role layer `<image>+<role>`, or the golden image for role none), customised; then exports: exactly the roots that exist, each to its Pi only. Both plan one action per
 * Pi and carry out exactly what they planned.
 */
import { chown, mkdir, stat } from "node:fs/promises";
import { basename, join } from "node:path";
import { setImmediate } from "node:timers/promises";
import type { Config } from "../config.ts";
import { OperationError } from "../../lib/errors.ts";
import { VersionedReads } from "../../lib/file-versions.ts";
import { isDirectorySync } from "../../lib/fs-read.ts";
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
import { clusterHosts, roleImageName, WWW_DATA_ID } from "../../workloads/index.ts";
import type { Action, ActionOutcome, BoundSubsystem } from "./reconciler.ts";

/** The roots of enrolled Pis, as the rootfs module takes them: each cloned from its role's layer (golden for none). */
export function piRootSpecs(plan: RackPlan, config: Pick<Config, "public" | "paths" | "image">): PiRootSpec[] {
  const cluster = plan.workloads.cluster;
  return plan.ports
    .filter((p) => p.enrolled)
    .map((p) => {
      const roleNode = cluster.nodes.some((n) => n.port === p.port);
      return {
        port: p.port,
        name: p.name,
        hostname: p.name,
        piAddress: p.piAddress,
        serverAddress: p.serverAddress,
        netmask: p.netmask,
        publicVlan: config.public.vlan,
        publicAddress: `${p.publicAddress}/${p.publicPrefixLength}`,
        publicGateway: p.publicGateway,
        exportPath: p.exportPath,
        // A role node's /etc/hosts names every other role node on the public VLAN (workloads/render.ts).
        ...(roleNode ? { extraHosts: clusterHosts(cluster, p.name) } : {}),
        ...(p.role !== "none" ? { imagePath: join(config.paths.images, roleImageName(config.image, p.role)), layer: p.role } : {}),
      };
    });
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

/** The Pis whose roots are in place (one stat each, made synchronously, the event loop run every 64). */
async function readyRoots(pis: readonly PiRootSpec[]): Promise<PiRootSpec[]> {
  const out: PiRootSpec[] = [];
  for (let i = 0; i < pis.length; i++) {
    if (isDirectorySync(pis[i]!.exportPath)) out.push(pis[i]!);
    if (i % 64 === 63) await setImmediate();
  }
  return out;
}

/** The Pis whose roots are in place, as exports. */
export async function readyExports(pis: readonly PiRootSpec[]): Promise<ExportSpec[]> {
  return (await readyRoots(pis)).map((pi) => toExportSpec(pi));
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

/** The image name a Pi's root is cloned from: `bookworm-arm64+web`, or the golden image's name. */
export const imageNameOf = (spec: PiRootSpec, golden: string): string => (spec.imagePath ? basename(spec.imagePath) : golden);

/** Says a root action for the pass report, e.g. `clone root 10.46.189.6 (port 2) from bookworm-arm64+web`. */
export function describeRootStep(a: RootAction, spec: PiRootSpec, golden: string): string {
  const pi = `${spec.piAddress} (port ${spec.port})`;
  const image = imageNameOf(spec, golden);
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
    // Problems, listed as such among the pending actions too (`GET /api/v1/reconcile`): nothing is done about them.
    case "imageMissing":
      return `clone root ${pi} from ${image} (${spec.layer ? "layer" : "image"} not built)`;
    case "rebuildNeeded":
      return `root ${pi} needs a rebuild from ${image}`;
  }
}

/**
 * Why a root cannot be made or kept as its Pi's role wants, in words an operator acts on; these actions are
 * problems the pass reports as failed (every pass, until the operator acts), never carried out silently.
 */
export function rootProblem(a: RootAction & { kind: "imageMissing" | "rebuildNeeded" }, spec: PiRootSpec, golden: string): OperationError {
  const image = imageNameOf(spec, golden);
  if (a.kind === "imageMissing") {
    return spec.layer
      ? new OperationError("LAYER_NOT_BUILT", `layer ${image} not built: pirack workloads build ${spec.layer}`)
      : new OperationError("IMAGE_NOT_FOUND", `golden image ${image} not built: pirack image build`);
  }
  const has = a.has === undefined ? `the golden image (role none)` : `the ${a.has} layer`;
  const wants = a.wants === undefined ? "role none" : `role ${a.wants}`;
  return new OperationError(
    "ROOT_REBUILD_NEEDED",
    `rebuild needed: root of port ${spec.port} was cloned from ${has}; ${wants} needs ${image} (its packages differ): pirack roots rebuild ${spec.port} (the old root is kept aside)`,
  );
}

/** Roots: one action per Pi and step (clone a missing root, repair a drifted file, make a missing identity). */
export function rootsSubsystem(deps: RootsDeps): BoundSubsystem<RackPlan> {
  const run = createCommandRunner();
  // Across passes: a pass with nothing to do costs an lstat per root file instead of four operations reading it.
  const reads = new VersionedReads();
  const newStore = (config: Config) => ({ config, store: new RootStore(rootStoreOptions(config), { log: deps.log, run, metrics: deps.metrics, reads }) });
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
      const specs = piRootSpecs(plan, deps.config());
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
      if (root.kind === "imageMissing" || root.kind === "rebuildNeeded") throw rootProblem(root, spec, deps.config().image);
      const result = await store().applyActions([spec], [root]);
      for (const a of result.applied) if (a.kind === "createRoot") deps.onRootCreated?.(a.port);
      const failure = result.failed[0];
      if (failure) throw new OperationError("ROOT_ACTION_FAILED", `${describeRootAction(failure.action)}: ${failure.error.message}`, { cause: failure.error });
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

/** An exports action as the reconciler lists it: per Pi, carrying the backend's planned steps (and share directories to make) they share. */
export type ExportsAction = Action & { readonly steps: readonly ExportAction[]; readonly shares: readonly string[] };

/** Per-Pi lines of what the planned exports change: `export /export/10.46.189.6 to 10.46.189.6 (port 2)`. */
export function exportChanges(desired: readonly ExportSpec[], observed: ObservedExports, portOf: (e: ExportSpec) => number | undefined): { kind: string; subject: string; description: string }[] {
  const listed = observed.file ?? [];
  const key = (e: ExportSpec) => `${e.path} ${e.clientAddress}`;
  const have = new Set(listed.map(key));
  const want = new Set(desired.map(key));
  const where = (e: ExportSpec) => {
    const port = portOf(e);
    return port === undefined ? e.clientAddress : `${e.clientAddress} (port ${port})`;
  };
  return [
    ...desired.filter((e) => !have.has(key(e))).map((e) => ({ kind: "export", subject: e.clientAddress, description: `export ${e.path} to ${where(e)}` })),
    ...listed.filter((e) => !want.has(key(e))).map((e) => ({ kind: "unexport", subject: e.clientAddress, description: `stop exporting ${e.path} to ${where(e)}` })),
  ];
}

/** Shared directories the roles mount (the web uploads), each exported to its clients only. */
export type ShareSpec = ExportSpec & { readonly options: readonly string[] };

/** Owner of a share directory: www-data (uid/gid 33, fixed by Debian's base-passwd), as the export squashes to. */
export const SHARE_OWNER = { uid: WWW_DATA_ID, gid: WWW_DATA_ID } as const;

/** Share directories that are missing or not owned by www-data. */
async function sharesToMake(shares: readonly ShareSpec[]): Promise<string[]> {
  const out: string[] = [];
  for (const path of [...new Set(shares.map((s) => s.path))]) {
    const st = await stat(path).catch(() => undefined);
    if (!st?.isDirectory() || st.uid !== SHARE_OWNER.uid || st.gid !== SHARE_OWNER.gid) out.push(path);
  }
  return out;
}

/** Makes a share directory (0755, www-data); an existing one keeps its contents, only its owner is set. */
async function makeShare(path: string): Promise<void> {
  await mkdir(path, { recursive: true, mode: 0o755 });
  await chown(path, SHARE_OWNER.uid, SHARE_OWNER.gid);
}

/**
 * Exports of exactly the roots that exist, each to its own Pi, and the roles' shares (the web uploads, to each
 * web Pi's storage address, squashed to www-data): one action per change, written as one file. A share's
 * directory is made (owner www-data 33:33) before the file that exports it is applied.
 */
export function exportsSubsystem(deps: RootsDeps): BoundSubsystem<RackPlan> {
  const applySteps = async (steps: readonly ExportAction[], shares: readonly string[]): Promise<void> => {
    const backend = exportsBackendFor(deps.config(), deps.sysroot, deps);
    if (!backend) return;
    for (const path of shares) {
      await makeShare(path);
      deps.log.info({ path, owner: "www-data" }, "share directory made");
    }
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
      const shares: ShareSpec[] = [...plan.workloads.shares];
      const desired = [...(await readyExports(piRootSpecs(plan, deps.config()))), ...shares];
      const observed = await backend.observe();
      const steps = backend.plan(desired, observed);
      const make = await sharesToMake(shares);
      if (steps.length === 0 && make.length === 0) return [];
      const roots = new Map(plan.ports.map((p) => [p.exportPath, p.port]));
      const clients = new Map(plan.ports.map((p) => [p.piAddress, p.port]));
      const perPi = exportChanges(desired, observed, (e) => roots.get(e.path) ?? clients.get(e.clientAddress));
      // The file or the server's live table is out of line without any Pi's export changing (a reload is due).
      const lines = perPi.length > 0 || steps.length === 0 ? perPi : steps.map((st) => ({ kind: st.kind, subject: backend.kind, description: describeExportAction(st) }));
      const dirs = make.map((path) => ({ kind: "makeShare", subject: path, description: `make share ${path} (owner www-data 33:33)` }));
      return [...dirs, ...lines].map((l): ExportsAction => ({ ...l, steps, shares: make }));
    },
    apply: (action) => applySteps((action as ExportsAction).steps, (action as ExportsAction).shares),
    async applyAll(actions): Promise<ActionOutcome[]> {
      // Every action of a pass shares the same planned steps: one file write and one reload for all of them.
      const first = actions[0] as ExportsAction | undefined;
      try {
        await applySteps(first?.steps ?? [], first?.shares ?? []);
        return actions.map((action) => ({ action }));
      } catch (error) {
        return actions.map((action) => ({ action, error }));
      }
    },
  };
}

/** Exports exactly the roots among `pis` that exist. */
export async function exportReadyRoots(backend: ExportsBackend, pis: readonly PiRootSpec[], options?: readonly string[]): Promise<ExportsApplyResult> {
  return backend.apply((await readyRoots(pis)).map((pi) => toExportSpec(pi, options)));
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
