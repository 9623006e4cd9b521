/**
 * Workload files as a reconciler subsystem, between roots and exports: every role node whose root is in place and
 * was cloned from its role's layer gets its rendered files (role config, unit links), so a new root is complete
 * before it is exported, and a config change (weights, site, db settings) re-renders on the next pass. Writes go
 * through `workloads/apply.ts` and its manifest: only files pirack wrote and the Pi did not change are ever
 * removed. A root from another layer (a role change) is left to the roots subsystem, which reports it.
 */
import { stat } from "node:fs/promises";
import type { Logger } from "pino";
import type { Config } from "../config.ts";
import type { RackPlan } from "../plan.ts";
import { readRootFile } from "../../rootfs/customise.ts";
import { readRootLayer } from "../../rootfs/index.ts";
import {
  applyWorkloadFiles,
  loadOrCreateSecrets,
  placeholderSecrets,
  planWorkloadFiles,
  readSecrets,
  renderNode,
  requiredSecrets,
  readFailoverFile,
  ROLES,
  secretsPath,
  UPSTREAM_PATH,
  withRuntimeState,
  type RenderedFile,
  type RoleNode,
  type SecretSpec,
  type Secrets,
  type WorkloadsConfig,
} from "../../workloads/index.ts";
import { OperationError } from "../../lib/errors.ts";
import type { Action, BoundSubsystem } from "./reconciler.ts";

/** Dependencies of the workloads subsystem. */
export interface WorkloadsDeps {
  readonly log: Pick<Logger, "info" | "warn">;
  readonly config: () => Config;
}

/** One action: make the secrets, or bring one node's root to its files (carried as planned; never logged). */
export type WorkloadsAction = Action &
  (
    | { readonly kind: "generateSecrets"; readonly specs: readonly SecretSpec[] }
    | {
        readonly kind: "writeWorkloadFiles";
        readonly node: RoleNode;
        readonly root: string;
        /** The files to bring the root to; absent when the secrets did not exist yet at plan time (rendered at apply). */
        readonly files: readonly RenderedFile[] | undefined;
        readonly plan: RackPlan;
      }
  );

const isDir = (p: string) =>
  stat(p).then(
    (s) => s.isDirectory(),
    () => false,
  );

/**
 * The workloads settings the pass renders with: the db primary is the one failover recorded
 * (`<paths.state>/workloads/failover.json`), not the config's first choice, or a pass after a failover would
 * render the old primary's files as primary again and a rejoining Pi would boot an empty datadir writable. When
 * that file cannot be read, `dbUnknown`: db nodes are left as they are (the failover controller reports the file).
 */
async function workloadsAsRecorded(config: Config, plan: RackPlan): Promise<{ workloads: WorkloadsConfig; dbUnknown: boolean }> {
  let recorded: string | null = null;
  try {
    recorded = (await readFailoverFile(config.paths.state))?.primary ?? null;
  } catch {
    return { workloads: config.workloads, dbUnknown: true };
  }
  const isDbNode = plan.workloads.cluster.nodes.some((n) => n.role === "db" && n.name === recorded);
  if (recorded === null || !isDbNode) return { workloads: config.workloads, dbUnknown: false };
  return { workloads: { ...config.workloads, db: { ...config.workloads.db, primary: recorded } }, dbUnknown: false };
}

/** The node's files as the pass keeps them (the CDN upstream keeps the controller's drains). */
async function desiredFiles(root: string, node: RoleNode, plan: RackPlan, workloads: WorkloadsConfig, secrets: Secrets): Promise<RenderedFile[]> {
  const cluster = plan.workloads.cluster;
  const rendered = renderNode(node, cluster, workloads, secrets, ROLES);
  return withRuntimeState(node, rendered, { cluster, workloads }, node.role === "cdn" ? await readRootFile(root, UPSTREAM_PATH) : undefined);
}

async function renderWithStoredSecrets(a: WorkloadsAction & { kind: "writeWorkloadFiles" }, config: Config): Promise<RenderedFile[]> {
  const { secrets, missing } = await readSecrets(config.paths.state, requiredSecrets(a.plan.workloads.cluster, ROLES));
  if (missing.length > 0) throw new OperationError("WORKLOAD_SECRETS_MISSING", `workload secrets ${missing.join(", ")} are not generated yet; nothing written to ${a.root}`);
  const { workloads, dbUnknown } = await workloadsAsRecorded(config, a.plan);
  if (dbUnknown && a.node.role === "db") throw new OperationError("FAILOVER_STATE_UNREADABLE", `the recorded db primary cannot be read; nothing written to ${a.root}`);
  return desiredFiles(a.root, a.node, a.plan, workloads, secrets);
}

/** `write 7 workload files, remove 1 in root 10.46.189.6 (port 2, web)`. */
export function describeWorkloadFiles(node: RoleNode, write: number, remove: number, where: string): string {
  const parts = [write > 0 ? `write ${write} workload file${write === 1 ? "" : "s"}` : "", remove > 0 ? `remove ${remove} old one${remove === 1 ? "" : "s"}` : ""].filter(Boolean);
  return `${parts.join(", ") || "update the workload manifest"} in root ${where} (port ${node.port}, ${node.role})`;
}

/** The workloads subsystem: secrets once, then one action per role node whose files differ. */
export function workloadsSubsystem(deps: WorkloadsDeps): BoundSubsystem<RackPlan> {
  return {
    name: "workloads",
    async planFor(state) {
      const config = deps.config();
      const cluster = state.workloads.cluster;
      if (cluster.nodes.length === 0) return [];
      const specs = requiredSecrets(cluster, ROLES);
      const { secrets, missing } = await readSecrets(config.paths.state, specs);
      const actions: WorkloadsAction[] = [];
      const { workloads, dbUnknown } = await workloadsAsRecorded(config, state);
      if (missing.length > 0) {
        actions.push({ kind: "generateSecrets", specs, subject: "workloads", description: `generate ${missing.length} workload secret(s) into ${secretsPath(config.paths.state)}` });
      }
      for (const node of cluster.nodes) {
        const port = state.ports.find((p) => p.port === node.port);
        if (!port?.enrolled || !(await isDir(port.exportPath))) continue; // the roots subsystem clones it, or says why not
        if ((await readRootLayer(port.exportPath)) !== node.role) continue; // the roots subsystem reports "rebuild needed"
        if (dbUnknown && node.role === "db") continue; // who is primary is unknown: never guess on a db Pi
        const base = { subject: port.piAddress, node, root: port.exportPath, plan: state };
        // Without the secrets yet, placeholders tell how many files change; the real render happens at apply.
        const files = await desiredFiles(port.exportPath, node, state, workloads, missing.length > 0 ? { ...placeholderSecrets(specs), ...secrets } : secrets);
        const p = await planWorkloadFiles(port.exportPath, files);
        if (p.write.length === 0 && p.remove.length === 0 && !p.manifestStale) continue;
        const description = describeWorkloadFiles(node, p.write.length, p.remove.length, port.piAddress);
        actions.push({ kind: "writeWorkloadFiles", ...base, files: missing.length > 0 ? undefined : files, description });
      }
      return actions;
    },
    async apply(action) {
      const a = action as WorkloadsAction;
      const config = deps.config();
      if (a.kind === "generateSecrets") {
        const { created } = await loadOrCreateSecrets(config.paths.state, a.specs);
        if (created.length > 0) deps.log.info({ names: created }, "workload secrets generated");
        return;
      }
      // Planned before the secrets existed: rendered now, with the secrets this pass generated (never generated here).
      const files = a.files ?? (await renderWithStoredSecrets(a, config));
      const r = await applyWorkloadFiles(a.root, files);
      deps.log.info({ node: a.node.name, port: a.node.port, written: r.written, removed: r.removed }, "workload files applied");
      if (r.kept.length > 0) deps.log.warn({ node: a.node.name, port: a.node.port, kept: r.kept }, "old workload files kept: the Pi changed them");
    },
  };
}
