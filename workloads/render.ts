/**
 * The per-Pi render framework (pure): from the role nodes, the `workloads:` config and the secrets, every file each
 * Pi's root gets for its role: the role's own files, unit enablement symlinks, and the manifest of what pirack
 * wrote. `/etc/hosts` naming the cluster is rootfs's file; `clusterHosts` gives it the entries.
 */
import type { WorkloadsConfig } from "./config.ts";
import type { Cluster, RenderContext, RenderedFile, Role, RoleName, RoleNode, SecretSpec, Secrets, UnitLink } from "./role.ts";

/** Registered roles by name (see index.ts). A role without a module renders nothing but its manifest. */
export type RoleRegistry = Readonly<Partial<Record<RoleName, Role>>>;

/** The manifest of workload files pirack wrote into a root: path -> sha256 (see apply.ts). */
export const MANIFEST_PATH = "etc/pirack/workload-files.json";

/** Role of the Pi as `pis[].role` gives it. */
export type PiRole = RoleName | "none";

/** Every secret the registered roles of the cluster need, each name once. */
export function requiredSecrets(cluster: Cluster, roles: RoleRegistry): SecretSpec[] {
  const seen = new Map<string, SecretSpec>();
  for (const node of cluster.nodes) for (const s of roles[node.role]?.secrets ?? []) if (!seen.has(s.name)) seen.set(s.name, s);
  return [...seen.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/** Stand-in secrets for `pirack plan` (which never generates or reads the real ones): `<secret db.sitePassword>`. */
export const placeholderSecrets = (specs: readonly SecretSpec[]): Secrets => Object.fromEntries(specs.map((s) => [s.name, `<secret ${s.name}>`]));

/** The symlink enabling one unit. */
export const unitSymlink = (u: UnitLink): RenderedFile => ({ path: `etc/systemd/system/${u.wantedBy}.wants/${u.unit}`, content: u.source, mode: 0o777, symlink: true });

/** Every workload file of one role node (role files, then unit links), sorted by path; throws on a duplicate path. */
export function renderNode(node: RoleNode, cluster: Cluster, workloads: WorkloadsConfig, secrets: Secrets, roles: RoleRegistry): RenderedFile[] {
  const role = roles[node.role];
  if (!role) return [];
  const ctx: RenderContext = { node, cluster, workloads, secrets };
  const files = [...role.renderPiFiles(ctx), ...role.units(ctx).map(unitSymlink)];
  const seen = new Set<string>();
  for (const f of files) {
    if (f.path.startsWith("/") || f.path.split("/").includes("..")) throw new Error(`role ${role.name} rendered a path outside the root: ${f.path}`);
    if (seen.has(f.path)) throw new Error(`role ${role.name} rendered ${f.path} twice for ${node.name}`);
    seen.add(f.path);
  }
  return files.sort((a, b) => a.path.localeCompare(b.path));
}

/** Every role node's files, by node name. */
export function renderCluster(cluster: Cluster, workloads: WorkloadsConfig, secrets: Secrets, roles: RoleRegistry): Map<string, RenderedFile[]> {
  return new Map(cluster.nodes.map((n) => [n.name, renderNode(n, cluster, workloads, secrets, roles)]));
}

/** `/etc/hosts` entries naming every role node on the public VLAN (the rootfs renderer's `extraHosts`). */
export function clusterHosts(cluster: Cluster, self?: string): { address: string; names: string[] }[] {
  return cluster.nodes.filter((n) => n.name !== self).map((n) => ({ address: n.publicAddress, names: [n.name] }));
}

/** Name of the golden image variant a role's Pis are cloned from: `<image>+<role>`. */
export const roleImageName = (image: string, role: PiRole): string => (role === "none" ? image : `${image}+${role}`);

/** The text `pirack plan` shows for a rendered file: content, or the link for a symlink. */
export const describeRendered = (f: RenderedFile): string => (f.symlink ? `symlink -> ${f.content}\n` : f.content);
