/**
 * Rejoin's work inside a fenced db Pi's root on the fileserver (the adapters behind `RejoinDeps.setAsideDatadir`
 * and `renderAsReplica`): the datadir renamed aside, never deleted (it may hold writes nobody acknowledged), and the
 * Pi's workload files re-rendered with the new primary so its next boot clones from it.
 */
import { rename, stat } from "node:fs/promises";
import { join } from "node:path";
import { OperationError } from "../../lib/errors.ts";
import { applyWorkloadFiles } from "../apply.ts";
import type { WorkloadsConfig } from "../config.ts";
import { debianLayout } from "../db/layout.ts";
import { renderNode, type RoleRegistry } from "../render.ts";
import type { Cluster, Secrets } from "../role.ts";

/** The Debian datadir relative to a Pi root. */
const DATADIR = debianLayout.datadir.slice(1);

/**
 * Renames `<root>/var/lib/mysql` to `<root>/var/lib/mysql.fenced-<stamp>`; returns the new path relative to the root,
 * or null when the Pi has no datadir (it never initialised one). A root that does not exist is an error.
 */
export async function setAsideDatadir(root: string, stamp: Date): Promise<string | null> {
  await stat(join(root, "etc")).catch((err: NodeJS.ErrnoException) => {
    throw new OperationError("DB_REJOIN_NO_ROOT", `the Pi root ${root} does not exist (${err.code ?? String(err)})`);
  });
  const aside = `${DATADIR}.fenced-${stamp.toISOString().replace(/[:.]/g, "-")}`;
  try {
    await rename(join(root, DATADIR), join(root, aside));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new OperationError("DB_REJOIN_SET_ASIDE", `cannot move ${join(root, DATADIR)} aside (${(err as NodeJS.ErrnoException).code ?? String(err)})`, { cause: err });
  }
  return aside;
}

/** Writes every workload file of db node `name` into its root, rendered with `primary` as the primary. */
export async function renderReplicaInto(opts: {
  root: string;
  name: string;
  primary: string;
  cluster: Cluster;
  workloads: WorkloadsConfig;
  secrets: Secrets;
  roles: RoleRegistry;
}): Promise<{ written: readonly string[] }> {
  const node = opts.cluster.nodes.find((n) => n.name === opts.name);
  if (!node) throw new OperationError("DB_REJOIN_NOT_DB", `${opts.name} is not a role node of this rack`);
  const workloads: WorkloadsConfig = { ...opts.workloads, db: { ...opts.workloads.db, primary: opts.primary } };
  const files = renderNode(node, opts.cluster, workloads, opts.secrets, opts.roles);
  const report = await applyWorkloadFiles(opts.root, files);
  return { written: report.written };
}
