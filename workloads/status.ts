/** Health of every role node, from each role's own probe (used by `pirack workloads status` and the API). */
import type { RoleRegistry } from "./render.ts";
import type { Cluster, Health, ProbeDeps } from "./role.ts";

/** Probes every node at once; a role without a probe reports `healthy: false` with the reason. */
export async function probeCluster(cluster: Cluster, roles: RoleRegistry, deps: Omit<ProbeDeps, "cluster">): Promise<Health[]> {
  return Promise.all(
    cluster.nodes.map(async (node): Promise<Health> => {
      const probe = roles[node.role]?.health;
      if (!probe) return { node: node.name, role: node.role, healthy: false, detail: `no health probe for role ${node.role}` };
      try {
        return await probe(node, { ...deps, cluster });
      } catch (err) {
        // Probes must not throw; if one does, the node is reported, not the command.
        return { node: node.name, role: node.role, healthy: false, detail: `probe failed: ${(err as Error).message}` };
      }
    }),
  );
}
