/**
 * The QEMU Pis' golden image: built by pirack's own `pirack image build --arch arm64` (debootstrap `--foreign`,
 * second stage under qemu-user-static), which already includes what a bench Pi needs (systemd-sysv, udev,
 * openssh-server, ifupdown, iproute2: rootfs/image-finalise.ts NETBOOT_PACKAGES). ifupdown 0.8 creates
 * `eth0.131` itself (`ip link add ... type vlan`), so no `vlan` package is needed; the 8021q module comes from
 * the initramfs because the image holds no kernel modules. Cached under `<cache>/golden/<key>/`, the key
 * covering everything the build reads (architecture, suite, mirror, package set), so a bench run after the
 * first one starts in seconds.
 */
import { packagePath } from "../../lib/package-root.ts";
import { createHash, randomBytes } from "node:crypto";
import { execa } from "execa";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { OperationError } from "../../lib/errors.ts";
import { DEFAULT_MIRROR, NETBOOT_PACKAGES } from "../../rootfs/index.ts";
import { DEFAULT_CACHE_DIR } from "./artifacts.ts";
import { withCacheLock } from "./cache-lock.ts";

/** What the golden image is built from. */
export interface GoldenSpec {
  readonly arch: string;
  readonly suite: string;
  readonly mirror: string;
  /** Packages on top of pirack's NETBOOT_PACKAGES. */
  readonly include: readonly string[];
}

/** The bench's image: arm64 bookworm from Debian's archive, nothing beyond pirack's own package set. */
export const BENCH_GOLDEN: GoldenSpec = { arch: "arm64", suite: "bookworm", mirror: DEFAULT_MIRROR, include: [] };

/** Image name under the cached images directory (what `image:` in the bench's rack.yaml names). */
export const GOLDEN_NAME = "bookworm-arm64";

/** A ready golden image. */
export interface GoldenImage {
  readonly key: string;
  /** `paths.images` for pirack's config. */
  readonly imagesDir: string;
  readonly name: string;
  readonly path: string;
  /** Seconds the build took (recorded when it was built). */
  readonly buildSeconds: number;
  readonly sizeBytes: number;
  readonly cacheHit: boolean;
}

/** Cache key of a golden image spec. */
export function goldenKey(spec: GoldenSpec): string {
  const packages = [...new Set([...NETBOOT_PACKAGES, ...spec.include])].sort();
  return createHash("sha256").update(JSON.stringify({ arch: spec.arch, suite: spec.suite, mirror: spec.mirror, packages })).digest("hex").slice(0, 16);
}

/** The minimal rack.yaml that `pirack image build` reads `paths.images` from. */
export function renderBuildConfig(imagesDir: string, workDir: string): string {
  return [
    "# written by bench/qemu/golden.ts: only paths.images matters to `pirack image build`",
    "storage: { network: 10.46.189.0/24 }",
    'public: { prefix: "2a00:1098:0:84::/64", gateway: "2a00:1098:0:84::1", firstAddress: "2a00:1098:0:84:1000:1::2" }',
    "ports: 1",
    `paths: { images: ${JSON.stringify(imagesDir)}, exports: ${JSON.stringify(join(workDir, "export"))}, state: ${JSON.stringify(join(workDir, "state"))} }`,
    `image: ${GOLDEN_NAME}`,
    "",
  ].join("\n");
}

/** Finds the cached image for `spec` or builds it with `pirack image build`; `onLine` gets the build's progress. */
export async function ensureGoldenImage(opts: { cacheDir?: string; spec?: GoldenSpec; onLine?: (line: string) => void } = {}): Promise<GoldenImage> {
  const spec = opts.spec ?? BENCH_GOLDEN;
  const key = goldenKey(spec);
  const dir = join(opts.cacheDir ?? DEFAULT_CACHE_DIR, "golden", key);
  const manifestPath = join(dir, "manifest.json");
  const readCached = async (): Promise<GoldenImage | undefined> => {
    const cached = await readFile(manifestPath, "utf8").catch(() => undefined);
    return cached ? { ...(JSON.parse(cached) as GoldenImage), cacheHit: true } : undefined;
  };
  const hit = await readCached();
  if (hit) return hit;
  // One build per key: another process building it is waited for, and its image used.
  return withCacheLock(`${dir}.lock`, async () => (await readCached()) ?? buildGolden(spec, key, dir, manifestPath, opts.onLine), {
    onWait: (pid) => opts.onLine?.(`golden image ${key} is being built by pid ${pid}: waiting for it`),
  });
}

async function buildGolden(spec: GoldenSpec, key: string, dir: string, manifestPath: string, onLine?: (line: string) => void): Promise<GoldenImage> {
  // manifest.json is written last: a directory without one (an interrupted build) is removed and built again.
  const tmp = `${dir}.tmp-${randomBytes(3).toString("hex")}`;
  await mkdir(tmp, { recursive: true });
  try {
    const config = join(tmp, "rack.yaml");
    await writeFile(config, renderBuildConfig(join(dir, "images"), join(tmp, "work")));
    const started = Date.now();
    const cli = packagePath("bin/pirack.mjs");
    const args = [cli, "image", "build", "--config", config, "--name", GOLDEN_NAME, "--arch", spec.arch, "--suite", spec.suite, "--mirror", spec.mirror, "--json"];
    if (spec.include.length) args.push("--include", spec.include.join(","));
    await rm(dir, { recursive: true, force: true });
    await mkdir(join(dir, "images"), { recursive: true });
    const child = execa("node", args, { reject: false, all: true });
    child.all?.on("data", (chunk: Buffer) => {
      for (const line of chunk.toString("utf8").split("\n")) if (line.trim()) onLine?.(line);
    });
    const r = await child;
    if (r.exitCode !== 0) throw new OperationError("GOLDEN_BUILD_FAILED", `pirack image build exited with ${r.exitCode}: ${String(r.all ?? "").trim().split("\n").slice(-15).join("\n")}`);
    const result = JSON.parse(String(r.stdout).trim().split("\n").at(-1) ?? "{}") as { path?: string; sizeBytes?: number };
    const image: GoldenImage = {
      key,
      imagesDir: join(dir, "images"),
      name: GOLDEN_NAME,
      path: result.path ?? join(dir, "images", GOLDEN_NAME),
      buildSeconds: (Date.now() - started) / 1000,
      sizeBytes: result.sizeBytes ?? 0,
      cacheHit: false,
    };
    await writeFile(join(tmp, "manifest.json"), `${JSON.stringify(image, null, 2)}\n`);
    await rename(join(tmp, "manifest.json"), manifestPath);
    return image;
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
