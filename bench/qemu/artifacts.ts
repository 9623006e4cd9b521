/**
 * Boot artifacts of the bench's QEMU Pis, from Debian's archive only: the arm64 kernel (linux-image-arm64),
 * Debian's raspi-firmware set, the kernel's Pi DTBs, and a busybox NFS-root initramfs, laid out as the
 * `boot.firmware` directory pirack serves over TFTP (appliance/tftpd/firmware-store.ts): the firmware files
 * and DTBs at the top, `overlays/`, and the kernel and initrd under the names a 64-bit Pi fetches
 * (`kernel8.img` with `arm_64bit=1`, `initrd.img`). Kept in a cache directory keyed by the package versions
 * and the initramfs recipe, so a second run with the same archive state reuses everything.
 */
import { createHash, randomBytes } from "node:crypto";
import { execa } from "execa";
import { copyFile, mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { OperationError } from "../../lib/errors.ts";
import { withCacheLock } from "./cache-lock.ts";
import { Arm64Apt, type PackageVersion } from "./apt.ts";
import { buildInitramfs, INITRAMFS_MODULES, renderInit } from "./initramfs.ts";

/** Default cache directory, shared by every bench run on the machine. */
export const DEFAULT_CACHE_DIR = "/var/cache/pirack-bench";

/** Name of the kernel in the firmware directory: what a Pi loads with `arm_64bit=1` (Pi 3, 4; Pi 5 falls back to it). */
export const KERNEL_NAME = "kernel8.img";
/** Name of the initramfs in the firmware directory. */
export const INITRD_NAME = "initrd.img";

// Boot files of raspi-firmware: GPU bootcode (Pi 3 and older), start*.elf firmware and their fixup*.dat tables.
const FIRMWARE_FILE = /^(bootcode\.bin|start.*\.elf|fixup.*\.dat)$/;

/** What `prepareArtifacts` produced; every path is absolute. */
export interface BenchArtifacts {
  readonly key: string;
  readonly dir: string;
  readonly packages: readonly PackageVersion[];
  readonly kernelVersion: string;
  /** The `boot.firmware` directory to configure pirack with. */
  readonly firmwareDir: string;
  readonly kernel: string;
  readonly initrd: string;
  readonly initrdModules: readonly string[];
  readonly files: number;
  /** Seconds the preparation took when it was built (0 on a cache hit is not recorded: this is the build's). */
  readonly buildSeconds: number;
  readonly cacheHit: boolean;
}

/** Options of `prepareArtifacts`. */
export interface ArtifactOptions {
  readonly cacheDir?: string;
  /** Called with a short phrase per step (`apt update`, `download`, ...). */
  readonly onStep?: (step: string) => void;
  /** Reuse package lists younger than this instead of `apt-get update` (default one day). */
  readonly listsMaxAgeMs?: number;
}

/** Cache key: the exact package versions plus the initramfs recipe (its /init and module list). */
export function artifactKey(packages: readonly PackageVersion[]): string {
  const h = createHash("sha256");
  h.update(JSON.stringify({ packages: packages.map((p) => `${p.name}=${p.version}`).sort(), init: renderInit(), modules: INITRAMFS_MODULES, layout: 2 }));
  return h.digest("hex").slice(0, 16);
}

/** Fetches (or finds in the cache) the kernel, firmware and initramfs; see the module comment. */
export async function prepareArtifacts(opts: ArtifactOptions = {}): Promise<BenchArtifacts> {
  const cacheDir = opts.cacheDir ?? DEFAULT_CACHE_DIR;
  // The private apt state and the artifact directories are shared by every process preparing the bench.
  return withCacheLock(join(cacheDir, "artifacts.lock"), () => prepareLocked(cacheDir, opts), {
    onWait: (pid) => opts.onStep?.(`bench artifacts are being prepared by pid ${pid}: waiting for it`),
  });
}

async function prepareLocked(cacheDir: string, opts: ArtifactOptions): Promise<BenchArtifacts> {
  const step = opts.onStep ?? (() => undefined);
  const started = Date.now();
  const apt = new Arm64Apt(join(cacheDir, "apt"));
  const lists = await stat(join(cacheDir, "apt/state/lists")).catch(() => undefined);
  const listsFresh = lists !== undefined && (await readdir(join(cacheDir, "apt/state/lists"))).some((f) => /_Packages(\.\w+)?$/.test(f)) && Date.now() - lists.mtimeMs < (opts.listsMaxAgeMs ?? 86_400_000);
  if (!listsFresh) {
    step("apt-get update (private arm64 configuration)");
    await apt.update();
  }
  const wanted = await resolvePackages(apt, cacheDir);
  const kernelPackage = wanted[0]!.name;
  const key = artifactKey(wanted);
  const dir = join(cacheDir, "artifacts", key);
  const manifestPath = join(dir, "manifest.json");
  const cached = await readFile(manifestPath, "utf8").catch(() => undefined);
  if (cached) return { ...(JSON.parse(cached) as BenchArtifacts), cacheHit: true };

  step(`download ${wanted.map((p) => `${p.name}=${p.version}`).join(" ")}`);
  const debs = await apt.download(wanted, join(cacheDir, "debs"));
  const tmp = join(cacheDir, "artifacts", `.tmp-${key}-${randomBytes(3).toString("hex")}`);
  await mkdir(tmp, { recursive: true });
  try {
    const kernelVersion = kernelPackage.replace(/^linux-image-/, "");
    const kernelRoot = join(tmp, "kernel-deb");
    step(`unpack ${kernelPackage}, depmod`);
    await mustRun("dpkg-deb", ["-x", debs.get(kernelPackage)!, kernelRoot]);
    await mustRun("depmod", ["-b", kernelRoot, kernelVersion]);
    const firmwareDeb = join(tmp, "firmware-deb");
    await mustRun("dpkg-deb", ["-x", debs.get("raspi-firmware")!, firmwareDeb]);

    step("firmware directory");
    const fw = join(tmp, "firmware");
    await mkdir(join(fw, "overlays"), { recursive: true });
    let files = 0;
    const fwSource = join(firmwareDeb, "usr/lib/raspi-firmware");
    for (const f of await readdir(fwSource)) if (FIRMWARE_FILE.test(f)) files += await copy(join(fwSource, f), join(fw, f));
    // raspi-firmware ships no DTBs: its postinst copies them from the kernel package, as done here.
    const dtbSource = join(kernelRoot, "usr/lib", `linux-image-${kernelVersion}`, "broadcom");
    for (const f of await readdir(dtbSource)) if (/^bcm2\d+-rpi-.*\.dtb$/.test(f)) files += await copy(join(dtbSource, f), join(fw, f));
    const overlaySource = join(kernelRoot, "usr/lib", `linux-image-${kernelVersion}`, "overlays");
    for (const f of await readdir(overlaySource).catch(() => [] as string[])) files += await copy(join(overlaySource, f), join(fw, "overlays", f));
    files += await copy(join(kernelRoot, "boot", `vmlinuz-${kernelVersion}`), join(fw, KERNEL_NAME));

    step("busybox initramfs");
    const initrdModules = await buildInitramfs({ kernelRoot, kernelVersion, busyboxDeb: debs.get("busybox-static")!, out: join(fw, INITRD_NAME) });
    files += 1;
    // The unpacked kernel (~400 MB of modules) was only needed for depmod and the initramfs.
    await rm(kernelRoot, { recursive: true, force: true });
    await rm(firmwareDeb, { recursive: true, force: true });

    const artifacts: BenchArtifacts = {
      key,
      dir,
      packages: wanted,
      kernelVersion,
      firmwareDir: join(dir, "firmware"),
      kernel: join(dir, "firmware", KERNEL_NAME),
      initrd: join(dir, "firmware", INITRD_NAME),
      initrdModules,
      files,
      buildSeconds: (Date.now() - started) / 1000,
      cacheHit: false,
    };
    await writeFile(join(tmp, "manifest.json"), `${JSON.stringify(artifacts, null, 2)}\n`);
    await rm(dir, { recursive: true, force: true });
    await rename(tmp, dir);
    return artifacts;
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}

/**
 * The exact packages to use: the kernel linux-image-arm64 points at, busybox-static, raspi-firmware. Resolved
 * once per state of the package lists (apt-cache reads every list, tens of seconds on a loaded host).
 */
async function resolvePackages(apt: Arm64Apt, cacheDir: string): Promise<PackageVersion[]> {
  const listsDir = join(cacheDir, "apt/state/lists");
  const stamp = (await Promise.all((await readdir(listsDir)).filter((f) => f.endsWith("InRelease")).map(async (f) => `${f}@${(await stat(join(listsDir, f))).mtimeMs}`))).join(",");
  const resolvedPath = join(cacheDir, "apt/resolved.json");
  const saved = JSON.parse((await readFile(resolvedPath, "utf8").catch(() => "{}")) || "{}") as { stamp?: string; packages?: PackageVersion[] };
  if (saved.stamp === stamp && saved.packages) return saved.packages;
  const [meta, busybox, firmware] = await apt.showAll(["linux-image-arm64", "busybox-static", "raspi-firmware"]);
  const kernelPackage = meta!.depends.find((d) => /^linux-image-\d/.test(d));
  if (!kernelPackage) throw new OperationError("ARTIFACTS_NO_KERNEL", `expected linux-image-arm64 to depend on linux-image-<version>-arm64, got ${meta!.depends.join(", ")}`);
  const packages = [await apt.show(kernelPackage), busybox!, firmware!].map((p) => ({ name: p.name, version: p.version }));
  await writeFile(resolvedPath, `${JSON.stringify({ stamp, packages }, null, 2)}\n`);
  return packages;
}

async function copy(from: string, to: string): Promise<number> {
  await copyFile(from, to);
  return 1;
}

async function mustRun(file: string, args: string[]): Promise<void> {
  const r = await execa(file, args, { reject: false });
  if (r.exitCode !== 0) throw new OperationError("ARTIFACTS_STEP_FAILED", `${file} ${args.join(" ")} exited with ${r.exitCode}: ${r.stderr.trim().slice(-2000)}`);
}
