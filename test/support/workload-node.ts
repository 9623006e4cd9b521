/**
 * A workload node on the host for integration tests: a directory standing in for the Pi's root (the role layer's
 * package files copied from the host's own install of the same Debian packages, the layer removals applied, then
 * pirack's rendered files written by the real `applyWorkloadFiles`), and daemons started in the node's network
 * namespace inside a private mount namespace where that root's directories are bind-mounted over the host paths
 * the rendered configs name. The host's /etc and /var are never written.
 */
import { execa } from "execa";
import { cp, mkdir } from "node:fs/promises";
import { join } from "node:path";
import { applyWorkloadFiles } from "../../workloads/apply.ts";
import type { RenderedFile, Role } from "../../workloads/role.ts";
import type { TestBed } from "./netns.ts";

/** Host directories a node root shadows (relative, without the leading slash). */
const SHADOWED = ["etc/nginx", "etc/php", "etc/wordpress", "var/lib/wordpress", "var/lib/nginx", "var/log", "var/cache", "usr/local", "run"] as const;
/** Of those, the ones the layer brings from the packages (copied from the host's install). */
const FROM_LAYER = ["etc/nginx", "etc/php", "etc/wordpress", "var/lib/wordpress", "var/lib/nginx", "usr/local"] as const;

/** Builds a node root under `root`: layer files, layer removals, rendered files (and optional shared uploads). */
export async function prepareNodeRoot(root: string, role: Role, files: readonly RenderedFile[]): Promise<void> {
  for (const dir of SHADOWED) await mkdir(join(root, dir), { recursive: true });
  for (const dir of FROM_LAYER) await cp(`/${dir}`, join(root, dir), { recursive: true, verbatimSymlinks: true, force: true }).catch(() => undefined);
  await mkdir(join(root, "var/log/nginx"), { recursive: true });
  await mkdir(join(root, "run/php"), { recursive: true });
  await cp("/etc/group", join(root, "etc/group"));
  for (const path of role.layerRemovals ?? []) await execa("rm", ["-rf", "--", join(root, path)]);
  await applyWorkloadFiles(root, files);
}

/** The shell prefix that bind-mounts a node root's directories (and optionally a shared uploads dir) over the host's. */
function mountScript(root: string, uploads?: string): string {
  const binds = SHADOWED.map((d) => `mount --bind '${join(root, d)}' '/${d}'`);
  if (uploads) binds.push(`mount --bind '${uploads}' /var/lib/wordpress/wp-content/uploads`);
  return `set -e; mount --make-rprivate /; ${binds.join("; ")}; exec "$@"`;
}

/** Starts a daemon of a node: netns `ns`, private mount namespace with the node's root in place. */
export function spawnInNode(bed: TestBed, ns: string, root: string, cmd: string[], uploads?: string) {
  return bed.spawn(ns, "unshare", ["--mount", "--propagation", "private", "sh", "-c", mountScript(root, uploads), "sh", ...cmd]);
}

/** Runs a command to completion the same way (validation: `nginx -t`). */
export function execInNode(bed: TestBed, ns: string, root: string, cmd: string[], uploads?: string) {
  return bed.exec(ns, "unshare", ["--mount", "--propagation", "private", "sh", "-c", mountScript(root, uploads), "sh", ...cmd]);
}
