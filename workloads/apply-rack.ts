/**
 * One pass over the rack's role nodes (the adapter behind `pirack workloads apply`): load or generate the secrets,
 * render every node, write the files into each root that exists, and make the shared uploads directory. A root
 * not cloned from its role's layer is reported, not written: its packages are missing (rebuild it).
 */
import { chown, mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { applyWorkloadFiles } from "./apply.ts";
import { UPSTREAM_PATH, withRuntimeState } from "./desired-files.ts";
import { ROLES } from "./index.ts";
import type { WorkloadsConfig } from "./config.ts";
import { LAYER_MANIFEST } from "./layers.ts";
import { renderCluster, requiredSecrets, roleImageName } from "./render.ts";
import type { Cluster } from "./role.ts";
import { loadOrCreateSecrets } from "./secrets.ts";
import { uploadsSharePath, WWW_DATA_ID } from "./web/render.ts";

/** What happened on one node. */
export interface NodeApply {
  readonly node: string;
  readonly role: string;
  readonly root: string;
  /** applied | no root (not cloned yet) | wrong layer (rebuild needed) | failed: reason */
  readonly state: string;
  readonly written: readonly string[];
  readonly removed: readonly string[];
  readonly kept: readonly string[];
}

/** The rack's report; secret names created now (never values). */
export interface RackApply {
  readonly secretsCreated: readonly string[];
  readonly nodes: readonly NodeApply[];
}

/** Applies every role node's files. */
export async function applyRack(
  opts: { cluster: Cluster; workloads: WorkloadsConfig; stateDir: string; image: string; rootOf: (port: number) => string },
  deps: { log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void } },
): Promise<RackApply> {
  const { secrets, created } = await loadOrCreateSecrets(opts.stateDir, requiredSecrets(opts.cluster, ROLES));
  if (created.length) deps.log.info({ names: created }, "workload secrets generated");
  const files = renderCluster(opts.cluster, opts.workloads, secrets, ROLES);
  if (opts.cluster.nodes.some((n) => n.role === "web")) {
    const share = uploadsSharePath(opts.cluster.exportsDir, opts.workloads.site.name);
    await mkdir(share, { recursive: true, mode: 0o755 });
    await chown(share, WWW_DATA_ID, WWW_DATA_ID);
  }
  const nodes: NodeApply[] = [];
  for (const node of opts.cluster.nodes) {
    const root = opts.rootOf(node.port);
    const base = { node: node.name, role: node.role, root, written: [], removed: [], kept: [] };
    const layer = await readFile(join(root, LAYER_MANIFEST), "utf8").then(
      (t) => (JSON.parse(t) as { role?: string }).role,
      (err: NodeJS.ErrnoException) => (err.code === "ENOENT" ? null : undefined),
    );
    const hasRoot = await readFile(join(root, "etc/hostname"), "utf8").then(
      () => true,
      () => false,
    );
    if (!hasRoot) {
      nodes.push({ ...base, state: "no root" });
      continue;
    }
    if (layer !== node.role) {
      deps.log.warn({ node: node.name, role: node.role, layer }, "root not cloned from its role layer");
      nodes.push({ ...base, state: `wrong layer (${layer ?? "golden image"}; rebuild from ${roleImageName(opts.image, node.role)})` });
      continue;
    }
    try {
      const current = node.role === "cdn" ? await readFile(join(root, UPSTREAM_PATH), "utf8").catch(() => undefined) : undefined;
      const r = await applyWorkloadFiles(root, withRuntimeState(node, files.get(node.name) ?? [], { cluster: opts.cluster, workloads: opts.workloads }, current));
      deps.log.info({ node: node.name, written: r.written, removed: r.removed, kept: r.kept }, "workload files applied");
      nodes.push({ ...base, state: "applied", written: r.written, removed: r.removed, kept: r.kept });
    } catch (err) {
      nodes.push({ ...base, state: `failed: ${(err as Error).message}` });
    }
  }
  return { secretsCreated: created, nodes };
}
