/**
 * Role layers: `<images>/<image>+<role>`, built once from the golden image so no Pi ever installs a package.
 * Clone the golden image (snapshot, reflink or copy, as rootfs clones roots), install the role's packages in a
 * chroot (qemu-user-static runs arm64 binaries on the fileserver through binfmt_misc), with a policy-rc.d that
 * refuses every daemon start, then disable the units the packages enabled (pirack enables them per Pi), delete
 * conflicting package defaults, record what was built, and rename the finished tree into place.
 */
import { randomBytes } from "node:crypto";
import { chmod, lstat, mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { OperationError } from "../lib/errors.ts";
import { cloneTree, removeTree } from "../rootfs/clone.ts";
import { chooseCloneStrategy } from "../rootfs/filesystem.ts";
import { ensureForeignArch } from "../rootfs/binfmt.ts";
import { LAYER_MANIFEST, oldPathFor, tempPathFor } from "../rootfs/layout.ts";
import type { CloneStrategy, CommandRunner, ProgressListener, RootfsLogger } from "../rootfs/types.ts";
import { roleImageName } from "./render.ts";
import type { Role } from "./role.ts";

/** Where a layer records what it holds; every root cloned from it carries it (the roots planner reads its role). */
export { LAYER_MANIFEST };

/** policy-rc.d(8) exit status 101: "action forbidden by policy"; invoke-rc.d then starts nothing. */
const POLICY_RC_D = "#!/bin/sh\n# pirack: no daemon starts while a role layer is built (policy-rc.d(8), 101 = forbidden)\nexit 101\n";

/** What to build. */
export interface LayerBuildOptions {
  readonly imagesDir: string;
  /** Golden image name (`image:` in rack.yaml). */
  readonly image: string;
  readonly role: Role;
  /** Replace an existing layer (the old one is kept aside under `.pirack/old`). */
  readonly replace?: boolean;
  readonly strategy?: "auto" | CloneStrategy;
}

/** What a build did. */
export interface LayerBuildResult {
  readonly path: string;
  readonly strategy: CloneStrategy;
  /** Units the packages had enabled and the builder disabled again. */
  readonly disabledUnits: readonly string[];
  readonly oldPath?: string;
  readonly seconds: number;
}

/** Dependencies: a program runner (execa in production), a logger, progress. */
export interface LayerDeps {
  readonly run: CommandRunner;
  readonly log: RootfsLogger;
  readonly onProgress?: ProgressListener;
  readonly now?: () => Date;
}

const exists = (p: string) =>
  lstat(p).then(
    () => true,
    () => false,
  );

async function mustRun(deps: LayerDeps, file: string, args: readonly string[], what: string, env?: Record<string, string>): Promise<void> {
  const r = await deps.run(file, args, { ...(env ? { env } : {}), onLine: (line) => deps.onProgress?.({ phase: what, message: line }) });
  if (r.exitCode !== 0) throw new OperationError("LAYER_BUILD_FAILED", `${what}: ${file} ${args.join(" ")} exited with ${r.exitCode}: ${r.stderr.trim().slice(-2000)}`);
}

/** The image's Debian architecture, from its dpkg database (`dpkg --print-architecture` inside would need qemu first). */
async function imageArch(root: string): Promise<string> {
  const status = await readFile(join(root, "var/lib/dpkg/status"), "utf8");
  const m = /^Package: libc6\n(?:[^\n]+\n)*?Architecture: (\S+)/m.exec(status);
  if (!m?.[1]) throw new OperationError("LAYER_IMAGE_UNKNOWN_ARCH", `cannot tell the architecture of ${root}: no libc6 in var/lib/dpkg/status`);
  return m[1];
}

/** Removes the enablement links the packages made for `units` (every `*.wants` / `*.requires` directory). */
export async function disableUnits(root: string, units: readonly string[]): Promise<string[]> {
  const dir = join(root, "etc/systemd/system");
  const removed: string[] = [];
  for (const entry of await readdir(dir).catch(() => [] as string[])) {
    if (!/\.(wants|requires)$/.test(entry)) continue;
    for (const unit of units) {
      const link = join(dir, entry, unit);
      if (await exists(link)) {
        await rm(link);
        removed.push(`${entry}/${unit}`);
      }
    }
  }
  return removed.sort();
}

/** What a layer's manifest records. */
export interface LayerManifest {
  readonly role: string;
  readonly image: string;
  readonly arch: string;
  readonly packages: readonly string[];
  readonly disabledUnits: readonly string[];
  readonly builtAt: string;
}

/** Writes `etc/pirack/layer.json` into a layer tree: the roots planner reads its `role` in every root cloned from it. */
export async function writeLayerManifest(tree: string, manifest: LayerManifest): Promise<void> {
  await mkdir(join(tree, "etc/pirack"), { recursive: true });
  await writeFile(join(tree, LAYER_MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
}

/** Builds (or with `replace`, rebuilds) the layer of one role. */
export async function buildRoleLayer(opts: LayerBuildOptions, deps: LayerDeps): Promise<LayerBuildResult> {
  const started = Date.now();
  const source = join(opts.imagesDir, opts.image);
  const final = join(opts.imagesDir, roleImageName(opts.image, opts.role.name));
  if (!(await exists(join(source, "var/lib/dpkg/status")))) throw new OperationError("LAYER_NO_IMAGE", `golden image ${source} does not exist (run pirack image build first)`);
  if ((await exists(final)) && !opts.replace) throw new OperationError("LAYER_EXISTS", `${final} exists; pass replace to rebuild it (the old one is kept aside)`);
  const hostArch = (await deps.run("dpkg", ["--print-architecture"])).stdout.trim();
  const arch = await imageArch(source);
  if (arch !== hostArch) await ensureForeignArch(arch, deps);

  const tmp = tempPathFor(final, randomBytes(4).toString("hex"));
  await mkdir(join(tmp, ".."), { recursive: true });
  const choice = opts.strategy && opts.strategy !== "auto" ? { strategy: opts.strategy } : await chooseCloneStrategy(source, join(tmp, ".."), deps.run);
  deps.onProgress?.({ phase: "clone", message: `${source} -> ${tmp} (${choice.strategy})` });
  await cloneTree(source, tmp, choice.strategy, { run: deps.run, onProgress: deps.onProgress });
  const mounted: string[] = [];
  try {
    await writeFile(join(tmp, "usr/sbin/policy-rc.d"), POLICY_RC_D);
    await chmod(join(tmp, "usr/sbin/policy-rc.d"), 0o755);
    // The image's resolv.conf is the Pi's; apt in the chroot needs the fileserver's for the mirror.
    const resolv = join(tmp, "etc/resolv.conf");
    const piResolv = await readFile(resolv, "utf8").catch(() => undefined);
    await rm(resolv, { force: true });
    await writeFile(resolv, await readFile("/etc/resolv.conf", "utf8").catch(() => ""));
    for (const [fs, where, args] of [
      ["proc", "proc", ["-t", "proc", "proc"]],
      ["dev", "dev", ["--bind", "/dev"]],
      ["devpts", "dev/pts", ["--bind", "/dev/pts"]],
    ] as const) {
      await mustRun(deps, "mount", [...args, join(tmp, where)], `mount ${fs}`);
      mounted.unshift(join(tmp, where));
    }
    const env = { DEBIAN_FRONTEND: "noninteractive", LC_ALL: "C.UTF-8" };
    deps.log.info({ role: opts.role.name, packages: opts.role.packages, arch }, "role layer install started");
    await mustRun(deps, "chroot", [tmp, "apt-get", "update", "-q"], "apt-get update", env);
    await mustRun(deps, "chroot", [tmp, "apt-get", "install", "-y", "-q", "--no-install-recommends", ...opts.role.packages], "apt-get install", env);
    await mustRun(deps, "chroot", [tmp, "apt-get", "clean"], "apt-get clean", env);
    for (const m of mounted.splice(0)) await mustRun(deps, "umount", [m], `umount ${m}`);
    await rm(join(tmp, "usr/sbin/policy-rc.d"));
    await rm(resolv, { force: true });
    if (piResolv !== undefined) await writeFile(resolv, piResolv);
    await rm(join(tmp, "var/lib/apt/lists"), { recursive: true, force: true });
    await mkdir(join(tmp, "var/lib/apt/lists/partial"), { recursive: true });
    const disabledUnits = await disableUnits(tmp, opts.role.packageUnits);
    for (const path of opts.role.layerRemovals ?? []) await rm(join(tmp, path), { recursive: true, force: true });
    const now = (deps.now ?? (() => new Date()))();
    const builtAt = now.toISOString();
    await writeLayerManifest(tmp, { role: opts.role.name, image: opts.image, arch, packages: opts.role.packages, disabledUnits, builtAt });
    let oldPath: string | undefined;
    if (await exists(final)) {
      oldPath = oldPathFor(final, now);
      await mkdir(join(oldPath, ".."), { recursive: true });
      await rename(final, oldPath);
    }
    await rename(tmp, final);
    deps.log.info({ role: opts.role.name, path: final, strategy: choice.strategy, disabledUnits }, "role layer built");
    return { path: final, strategy: choice.strategy, disabledUnits, ...(oldPath ? { oldPath } : {}), seconds: (Date.now() - started) / 1000 };
  } catch (err) {
    for (const m of mounted) await deps.run("umount", ["-l", m]).catch(() => undefined);
    await removeTree(tmp, deps.run).catch(() => undefined);
    throw err;
  }
}
