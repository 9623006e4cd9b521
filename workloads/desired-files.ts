/**
 * The files the reconcile pass keeps in a role node's root (pure): the node's render, except that the CDN's
 * upstream file keeps the health controller's drains. The controller rewrites that file at run time; a pass
 * re-rendering it from the config (new weights, a web Pi added) carries over which web Pis are drained, so a pass
 * never returns a sick web Pi to the CDN and the controller never fights the pass.
 */
import { configuredMembers, renderUpstream, UPSTREAM_FILE } from "./cdn/render.ts";
import type { WorkloadsConfig } from "./config.ts";
import type { Cluster, RenderedFile, RoleNode } from "./role.ts";

/** The web Pis an upstream file marks drained, with the reason it gives: `# pi02 (drained: 503 in 4 ms)`. */
export function drainedIn(upstream: string | undefined): Map<string, string> {
  const drained = new Map<string, string>();
  for (const m of (upstream ?? "").matchAll(/^\s*server \S+ [^#\n]*# (\S+) \(drained: ([^\n]*)\)$/gm)) drained.set(m[1] ?? "", m[2] ?? "");
  return drained;
}

/** `files` (the node's render) with the upstream file re-rendered keeping the drains found in `currentUpstream`. */
export function withRuntimeState(node: RoleNode, files: readonly RenderedFile[], ctx: { cluster: Cluster; workloads: WorkloadsConfig }, currentUpstream: string | undefined): RenderedFile[] {
  if (node.role !== "cdn") return [...files];
  const drained = drainedIn(currentUpstream);
  if (drained.size === 0) return [...files];
  const members = configuredMembers(ctx).map((m) => (drained.has(m.name) ? { ...m, drained: true, reason: drained.get(m.name) ?? "unhealthy" } : m));
  return files.map((f) => (f.path === UPSTREAM_FILE.slice(1) ? { ...f, content: renderUpstream(members) } : f));
}

/** The path of the upstream file inside a root (read by the pass before it renders). */
export const UPSTREAM_PATH = UPSTREAM_FILE.slice(1);
