/**
 * The bench's role layers: `pirack workloads build <role>` run against the cached golden image, so the layer
 * lands beside it as `<images>/bookworm-arm64+<role>` (where the bench's pirack, whose `paths.images` is that
 * directory, clones role Pis from). Each layer is recorded in `<cache>/golden/<golden key>/layers/<role>.json`
 * with a key covering what the build reads besides the golden image (the role's packages, the units it disables,
 * the files it deletes): a changed role definition rebuilds the layer, a changed golden image has another
 * directory altogether.
 *
 * The build runs detached and outlives the bench (`cleanup: false`): killed half-way it would leave proc and a
 * bind mount of /dev inside its chroot, and a later recursive delete of that tree would reach into the host's
 * /dev. So a bench that is stopped during the build leaves it running; `<role>.pending.json` names its key and
 * pid, and the next run waits for that build, adopts the layer it finished (its times unknown), or builds again.
 * Nothing is deleted while anything is mounted below the images directory.
 */
import { packagePath } from "../../lib/package-root.ts";
import { createHash } from "node:crypto";
import { execa } from "execa";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { OperationError } from "../../lib/errors.ts";
import type { Role } from "../../workloads/role.ts";
import { DEFAULT_CACHE_DIR } from "./artifacts.ts";
import type { GoldenImage } from "./golden.ts";
import { BENCH_GOLDEN, goldenKey, renderBuildConfig } from "./golden.ts";

/** A ready role layer. */
export interface RoleLayer {
  readonly role: string;
  readonly key: string;
  readonly goldenKey: string;
  readonly path: string;
  /** Wall-clock and CPU seconds (user + system of the build and everything it ran) when it was built. */
  readonly buildSeconds: number;
  readonly cpuSeconds: number;
  /** `uptime` before the build: the machine's load matters under emulation. */
  readonly loadBefore: string;
  readonly builtAt: string;
  readonly cacheHit: boolean;
}

/** Cache key of a role's layer on top of one golden image. */
export function layerKey(golden: Pick<GoldenImage, "key">, role: Pick<Role, "name" | "packages" | "packageUnits" | "layerRemovals">): string {
  const what = { golden: golden.key, role: role.name, packages: [...role.packages].sort(), units: [...role.packageUnits].sort(), removals: [...(role.layerRemovals ?? [])].sort() };
  return createHash("sha256").update(JSON.stringify(what)).digest("hex").slice(0, 16);
}

/** `<cache>/golden/<key>` of a golden image (its images directory's parent). */
const goldenDirOf = (golden: GoldenImage) => join(golden.imagesDir, "..");

/** Reads the rusage totals (user + system seconds) of a finished `/usr/bin/time -f` run. */
export function parseTimeOutput(text: string): number | undefined {
  const m = /^pirack-time (\d+(?:\.\d+)?) (\d+(?:\.\d+)?)$/m.exec(text);
  return m ? Number(m[1]) + Number(m[2]) : undefined;
}

/** Mount points below `dir` (a chroot build in progress, or one killed half-way). */
async function mountsUnder(dir: string): Promise<string[]> {
  const mounts = await readFile("/proc/mounts", "utf8");
  return mounts.split("\n").map((l) => (l.split(" ")[1] ?? "").replace(/\\040/g, " ")).filter((m) => m.startsWith(`${dir}/`));
}

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** What a started build leaves for the next run to find. */
interface PendingBuild {
  readonly key: string;
  readonly pid: number;
  readonly startedAt: string;
  readonly loadBefore: string;
}

/**
 * The layer of `role` on the bench's golden image when both are already in the cache under their current keys;
 * undefined otherwise. Builds nothing (a test deciding whether the bench's site fits its budget asks this).
 */
export async function cachedBenchLayer(role: Role, cacheDir = DEFAULT_CACHE_DIR): Promise<RoleLayer | undefined> {
  const golden = await readFile(join(cacheDir, "golden", goldenKey(BENCH_GOLDEN), "manifest.json"), "utf8").then((t) => JSON.parse(t) as GoldenImage, () => undefined);
  if (!golden) return undefined;
  return readLayerRecord(golden, role);
}

/** The recorded layer of `role` on `golden` when its key is the current one. */
async function readLayerRecord(golden: GoldenImage, role: Role): Promise<RoleLayer | undefined> {
  const record = await readFile(join(goldenDirOf(golden), "layers", `${role.name}.json`), "utf8").then((t) => JSON.parse(t) as RoleLayer, () => undefined);
  return record?.key === layerKey(golden, role) ? { ...record, cacheHit: true } : undefined;
}

/** Finds the cached layer of `role` on `golden` or builds it with `pirack workloads build`. */
export async function ensureRoleLayer(golden: GoldenImage, role: Role, opts: { onLine?: (line: string) => void } = {}): Promise<RoleLayer> {
  const key = layerKey(golden, role);
  const recordDir = join(goldenDirOf(golden), "layers");
  const recordPath = join(recordDir, `${role.name}.json`);
  const pendingPath = join(recordDir, `${role.name}.pending.json`);
  const path = join(golden.imagesDir, `${golden.name}+${role.name}`);
  const cached = await readLayerRecord(golden, role);
  if (cached) return cached;

  const pending = await readFile(pendingPath, "utf8").then((t) => JSON.parse(t) as PendingBuild, () => undefined);
  if (pending && isAlive(pending.pid)) {
    opts.onLine?.(`an earlier run's build of the ${role.name} layer (pid ${pending.pid}, started ${pending.startedAt}) is still running: waiting for it`);
    while (isAlive(pending.pid)) await new Promise((r) => setTimeout(r, 5000));
  }
  const manifest = await readFile(join(path, "etc/pirack/layer.json"), "utf8").then((t) => JSON.parse(t) as { role?: string }, () => undefined);
  if (pending?.key === key && manifest?.role === role.name) {
    // A finished build of this key whose bench stopped waiting: the rename into place is its last step.
    const adopted: RoleLayer = { role: role.name, key, goldenKey: golden.key, path, buildSeconds: Number.NaN, cpuSeconds: Number.NaN, loadBefore: pending.loadBefore, builtAt: pending.startedAt, cacheHit: false };
    await writeRecord(recordPath, adopted);
    await rm(pendingPath, { force: true });
    return { ...adopted, cacheHit: true };
  }

  const mounted = await mountsUnder(golden.imagesDir);
  if (mounted.length > 0) throw new OperationError("LAYER_MOUNTS_LEFT", `refusing to rebuild the ${role.name} layer: ${mounted.join(", ")} still mounted (an interrupted chroot build); unmount them first`);
  // No record or another key: whatever layer is there is stale or half-built. Drop it (and the record) first.
  await rm(recordPath, { force: true });
  await rm(path, { recursive: true, force: true });
  await mkdir(recordDir, { recursive: true });
  const work = join(recordDir, `${role.name}.build`);
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  const config = join(work, "rack.yaml");
  await writeFile(config, renderBuildConfig(golden.imagesDir, work));
  const loadBefore = (await execa("uptime", { reject: false })).stdout.trim();
  const cli = packagePath("bin/pirack.mjs");
  const started = Date.now();
  const logPath = join(recordDir, `${role.name}.build.log`);
  await writeFile(logPath, "");
  // /usr/bin/time reports the CPU of the whole tree (apt, dpkg and every qemu-user process it started).
  const child = execa("/usr/bin/time", ["-f", "pirack-time %U %S", process.execPath, cli, "workloads", "build", role.name, "--config", config], {
    reject: false,
    cleanup: false,
    detached: true,
    stdin: "ignore",
    // One file for both streams, appended to, so neither overwrites the other.
    stdout: { file: logPath, append: true },
    stderr: { file: logPath, append: true },
  });
  await writeRecord(pendingPath, { key, pid: child.pid ?? 0, startedAt: new Date(started).toISOString(), loadBefore } satisfies PendingBuild);
  const follow = followLog(logPath, opts.onLine);
  const r = await child;
  const output = await follow.stop();
  const buildSeconds = (Date.now() - started) / 1000;
  await rm(pendingPath, { force: true });
  await rm(work, { recursive: true, force: true });
  if (r.exitCode !== 0) throw new OperationError("LAYER_BUILD_FAILED", `pirack workloads build ${role.name} exited with ${r.exitCode}: ${output.trim().split("\n").slice(-15).join("\n")}`);
  const layer: RoleLayer = { role: role.name, key, goldenKey: golden.key, path, buildSeconds, cpuSeconds: parseTimeOutput(output) ?? Number.NaN, loadBefore, builtAt: new Date().toISOString(), cacheHit: false };
  await writeRecord(recordPath, layer);
  return layer;
}

async function writeRecord(path: string, value: object): Promise<void> {
  await writeFile(`${path}.tmp`, `${JSON.stringify(value, null, 2)}\n`);
  await rename(`${path}.tmp`, path);
}

/** Passes each new line of a growing log to `onLine`; `stop()` returns the whole text. */
function followLog(path: string, onLine?: (line: string) => void): { stop(): Promise<string> } {
  let seen = 0;
  let partial = "";
  const poll = async (): Promise<string> => {
    const text = await readFile(path, "utf8").catch(() => "");
    const fresh = partial + text.slice(seen);
    seen = text.length;
    const lines = fresh.split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) if (line.trim()) onLine?.(line);
    return text;
  };
  const timer = setInterval(() => void poll(), 1000);
  return {
    stop: async () => {
      clearInterval(timer);
      const text = await poll();
      if (partial.trim()) onLine?.(partial);
      return text;
    },
  };
}
