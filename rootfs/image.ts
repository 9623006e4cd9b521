/**
 * Golden images: `buildImage` debootstraps one (natively, or `--foreign` plus a second stage under
 * qemu-user-static), `importImage` takes an existing tree or tarball. Both build under a temporary
 * name, finalise, measure, and rename into `<images>/<name>` (a btrfs subvolume when the images
 * directory is on btrfs, so roots can be snapshots of it).
 */
import { randomBytes as cryptoRandomBytes } from "node:crypto";
import { lstat, mkdir, rename, stat } from "node:fs/promises";
import { join } from "node:path";
import { OperationError, PirackError } from "../lib/errors.ts";
import { ensureForeignArch } from "./binfmt.ts";
import { cloneTree, removeTree } from "./clone.ts";
import { chooseCloneStrategy, FsMagic, fsTypeOf } from "./filesystem.ts";
import { ETH0_TAKERS, finaliseImage, imageOsName, NETBOOT_PACKAGES } from "./image-finalise.ts";
import { oldPathFor, stampOf, tempDirFor, tempPathFor } from "./layout.ts";
import type { CloneStrategy, ProgressListener, RootfsDeps } from "./types.ts";

/** Options of `pirack image build`. */
export interface ImageBuildOptions {
  readonly imagesDir: string;
  readonly name: string;
  /** Debian architecture of the Pis: arm64 (Pi 3/4/5), armhf (Raspbian), amd64 (bench). */
  readonly arch: string;
  readonly suite?: string;
  /** Archive URL; Debian's by default. A Raspbian-style mirror needs its `keyring`. */
  readonly mirror?: string;
  readonly keyring?: string;
  /** Extra packages on top of `NETBOOT_PACKAGES`. */
  readonly include?: readonly string[];
  /** Archive components; default `main`. */
  readonly components?: readonly string[];
  /** Replace an existing image of that name (the old one is kept aside in `.pirack/old`). */
  readonly replace?: boolean;
}

/** Options of `pirack image import`. */
export interface ImageImportOptions {
  readonly imagesDir: string;
  readonly name: string;
  /** A directory holding a root tree, or a tar archive of one (gzip/xz/zstd detected by tar). */
  readonly source: string;
  readonly replace?: boolean;
}

/** What a build or import produced. */
export interface ImageResult {
  readonly path: string;
  /** Disk usage of the finished image in bytes (`du -sx`). */
  readonly sizeBytes: number;
  readonly packages: number;
  readonly os: string | undefined;
  readonly seconds: number;
}

/** Default archive: Debian's (works for arm64, armhf, amd64). */
export const DEFAULT_MIRROR = "http://deb.debian.org/debian";

type ImageDeps = RootfsDeps & { readonly onProgress?: ProgressListener };

/** Debootstraps a golden image; reports progress from debootstrap's `I:` lines. */
export async function buildImage(opts: ImageBuildOptions, deps: ImageDeps): Promise<ImageResult> {
  const started = Date.now();
  const takers = (opts.include ?? []).filter((p) => p in ETH0_TAKERS);
  if (takers.length) throw new OperationError("IMAGE_HAS_NETWORK_MANAGER", `refusing to include ${takers.join(", ")}: it would take eth0 down under an NFS root`);
  const suite = opts.suite ?? "bookworm";
  const mirror = opts.mirror ?? DEFAULT_MIRROR;
  const hostArch = (await deps.run("dpkg", ["--print-architecture"])).stdout.trim();
  const foreign = hostArch !== opts.arch;
  if (foreign) await ensureForeignArch(opts.arch, deps);
  const final = join(opts.imagesDir, opts.name);
  const tmp = await prepareTarget(final, opts.replace ?? false, deps);
  const progress = (phase: string) => (line: string) => {
    const m = /^[IWE]: (.*)$/.exec(line);
    if (m?.[1]) deps.onProgress?.({ phase, message: m[1] });
  };
  try {
    const include = [...new Set([...NETBOOT_PACKAGES, ...(opts.include ?? [])])];
    const args = [
      "--variant=minbase",
      `--arch=${opts.arch}`,
      `--include=${include.join(",")}`,
      `--components=${(opts.components ?? ["main"]).join(",")}`,
      ...(opts.keyring ? [`--keyring=${opts.keyring}`] : []),
      ...(foreign ? ["--foreign"] : []),
      suite,
      tmp,
      mirror,
    ];
    deps.log.info({ args, foreign, hostArch }, "debootstrap started");
    await mustRun(deps, "debootstrap", args, progress("debootstrap"));
    if (foreign) {
      deps.onProgress?.({ phase: "second-stage", message: `second stage under qemu-user (${opts.arch} on ${hostArch})` });
      await mustRun(deps, "chroot", [tmp, "/debootstrap/debootstrap", "--second-stage"], progress("second-stage"));
    }
    deps.onProgress?.({ phase: "finalise", message: "removing identity, apt cache; masking eth0 takers" });
    const components = (opts.components ?? ["main"]).join(" ");
    const report = await finaliseImage(tmp, { sources: `deb ${mirror} ${suite} ${components}\n`, eth0Takers: "refuse" });
    return await publish(tmp, final, report.packages, started, deps);
  } catch (err) {
    await removeTree(tmp, deps.run).catch(() => undefined);
    throw err;
  }
}

/** Imports an existing image from a directory or tarball, preserving owners, modes, xattrs and device nodes. */
export async function importImage(opts: ImageImportOptions, deps: ImageDeps): Promise<ImageResult> {
  const started = Date.now();
  const source = await stat(opts.source).catch((err: unknown) => {
    throw new PirackError("IMAGE_SOURCE_NOT_FOUND", `import source ${opts.source} cannot be read`, { cause: err });
  });
  const final = join(opts.imagesDir, opts.name);
  try {
    if (source.isDirectory()) {
      const tmp = await prepareTarget(final, opts.replace ?? false, deps);
      // Copied (reflinked where possible) into a fresh subvolume or directory, so later clones can snapshot it.
      const choice = await chooseCloneStrategy(opts.source, tempDirFor(final), deps.run);
      const strategy: CloneStrategy = choice.strategy === "snapshot" ? (choice.fallbacks[0] ?? "copy") : choice.strategy;
      try {
        await cloneTree(opts.source, tmp, strategy, { run: deps.run, onProgress: deps.onProgress, targetExists: true });
      } catch (err) {
        await removeTree(tmp, deps.run);
        throw err;
      }
      return await finishImport(tmp, final, started, deps);
    }
    const tmp = await prepareTarget(final, opts.replace ?? false, deps);
    deps.onProgress?.({ phase: "extract", message: `extracting ${opts.source}`, bytesTotal: source.size });
    const r = await deps.run("tar", ["-C", tmp, "-x", "-p", "-f", opts.source, "--xattrs", "--xattrs-include=*", "--acls", "--numeric-owner", "--same-owner"]);
    if (r.exitCode !== 0) {
      await removeTree(tmp, deps.run);
      throw new OperationError("IMAGE_EXTRACT_FAILED", `tar -x ${opts.source} exited with ${r.exitCode}: ${r.stderr.trim().slice(0, 2000)}`);
    }
    return await finishImport(tmp, final, started, deps);
  } catch (err) {
    throw err instanceof PirackError ? err : new OperationError("IMAGE_IMPORT_FAILED", `importing ${opts.source} failed`, { cause: err });
  }
}

async function finishImport(tmp: string, final: string, started: number, deps: ImageDeps): Promise<ImageResult> {
  try {
    const report = await finaliseImage(tmp, { eth0Takers: "mask" });
    if (report.masked.some((u) => /NetworkManager|dhcpcd|connman/.test(u))) deps.log.warn({ masked: report.masked }, "network manager masked in imported image");
    return await publish(tmp, final, report.packages, started, deps);
  } catch (err) {
    await removeTree(tmp, deps.run).catch(() => undefined);
    throw err;
  }
}

const parentOf = (final: string): string => join(final, "..");

const tag = (deps: ImageDeps): string => `${stampOf(deps.now?.() ?? new Date())}-${(deps.randomBytes ?? cryptoRandomBytes)(3).toString("hex")}`;

/**
 * Creates the temporary target (a subvolume on btrfs, else a directory) after checking that the
 * image name is free or may be replaced.
 */
async function prepareTarget(final: string, replace: boolean, deps: ImageDeps): Promise<string> {
  if (!replace && (await lstat(final).then(() => true, () => false))) {
    throw new OperationError("IMAGE_EXISTS", `image ${final} already exists; pass replace to keep it aside and build a new one`);
  }
  await mkdir(parentOf(final), { recursive: true, mode: 0o755 });
  await mkdir(tempDirFor(final), { recursive: true, mode: 0o700 });
  const tmp = tempPathFor(final, tag(deps));
  if ((await fsTypeOf(tempDirFor(final))) === FsMagic.Btrfs) await mustRun(deps, "btrfs", ["subvolume", "create", tmp]);
  else await mkdir(tmp, { mode: 0o755 });
  return tmp;
}

/** Measures, syncs and renames a finished image into place, keeping a replaced one aside. */
async function publish(tmp: string, final: string, packages: number, started: number, deps: ImageDeps): Promise<ImageResult> {
  const du = await deps.run("du", ["-sx", "-B1", tmp]);
  const sizeBytes = Number(du.stdout.split(/\s/)[0]) || 0;
  const os = await imageOsName(tmp);
  await mustRun(deps, "sync", ["-f", tmp]);
  if (await lstat(final).then(() => true, () => false)) {
    const old = oldPathFor(final, deps.now?.() ?? new Date());
    await mkdir(join(old, ".."), { recursive: true });
    await rename(final, old);
    deps.log.info({ image: final, oldPath: old }, "old image kept aside");
  }
  await rename(tmp, final);
  const seconds = (Date.now() - started) / 1000;
  deps.onProgress?.({ phase: "done", message: `image ${final}: ${(sizeBytes / 1e6).toFixed(0)} MB, ${packages} packages, ${seconds.toFixed(0)} s` });
  deps.log.info({ image: final, sizeBytes, packages, os, seconds }, "image ready");
  return { path: final, sizeBytes, packages, os, seconds };
}

async function mustRun(deps: ImageDeps, file: string, args: readonly string[], onLine?: (line: string) => void): Promise<void> {
  const r = await deps.run(file, args, onLine ? { onLine: (l) => onLine(l) } : {});
  if (r.exitCode !== 0) {
    const tail = (r.stderr.trim() || r.stdout.trim()).split("\n").slice(-15).join("\n");
    throw new OperationError("IMAGE_STEP_FAILED", `${file} ${args.join(" ")} exited with ${r.exitCode}: ${tail}`);
  }
}
