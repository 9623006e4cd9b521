/** The db role: MariaDB primary/replica with GTID semi-synchronous replication and a health endpoint. */
import { packageUnit, pirackUnit, type Health, type ProbeDeps, type Role, type RoleNode } from "../role.ts";
import { decodeDbHealth, describeDbHealth } from "./health.ts";
import { renderDbFiles } from "./render.ts";
import { DbSecret, dbValues } from "./values.ts";

/** The db role as the workloads framework registers it. */
export const dbRole: Role = {
  name: "db",
  packages: ["mariadb-server", "mariadb-client"],
  packageUnits: ["mariadb.service"],
  secrets: Object.values(DbSecret).map((name) => ({ name, bytes: 24 })),
  renderPiFiles: (ctx) => renderDbFiles(dbValues(ctx)),
  units: () => [packageUnit("mariadb.service"), pirackUnit("pirack-db-prepare.service"), pirackUnit("pirack-db-init.service"), pirackUnit("pirack-db-health.socket", "sockets.target")],
  health: (node, deps) => probeDb(node, deps),
};

/** Polls a db Pi's health endpoint (`GET /` on its storage address); never throws. */
export async function probeDb(node: RoleNode, deps: ProbeDeps): Promise<Health> {
  const url = `http://${node.storageAddress}:${deps.workloads.db.healthPort}/`;
  try {
    const res = await deps.fetch(url, { signal: AbortSignal.timeout(deps.timeoutMs) });
    const health = decodeDbHealth(await res.text());
    return { node: node.name, role: "db", healthy: health.up, detail: describeDbHealth(health), data: { ...health } };
  } catch (err) {
    return { node: node.name, role: "db", healthy: false, detail: `health endpoint unreachable: ${(err as Error).message}` };
  }
}
