/**
 * The bench's role layers: `pirack workloads build <role>` run against the cached golden image, so the layer
 * lands beside it as `<images>/bookworm-arm64+<role>` (where the bench's pirack, whose `paths.images` is that
 * directory, clones role Pis from). Each layer is recorded in `<cache>/golden/<golden key>/layers/<role>.json`
 * with a key covering what the build reads besides the golden image (the role's packages, the units it disables,
 * the files it deletes): a changed role definition rebuilds the layer, a changed golden image has another
 * directory altogether. An interrupted build leaves no record, so the next run builds again.
 */
import { createHash } from "node:crypto";
import { execa } from "execa";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { OperationError } from "../../lib/errors.ts";
import type { Role } from "../../workloads/role.ts";
import type { GoldenImage } from "./golden.ts";
import { renderBuildConfig } from "./golden.ts";

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

/** Finds the cached layer of `role` on `golden` or builds it with `pirack workloads build`. */
export async function ensureRoleLayer(golden: GoldenImage, role: Role, opts: { onLine?: (line: string) => void } = {}): Promise<RoleLayer> {
  const key = layerKey(golden, role);
  const recordDir = join(goldenDirOf(golden), "layers");
  const recordPath = join(recordDir, `${role.name}.json`);
  const path = join(golden.imagesDir, `${golden.name}+${role.name}`);
  const cached = await readFile(recordPath, "utf8").then((t) => JSON.parse(t) as RoleLayer, () => undefined);
  if (cached?.key === key) return { ...cached, cacheHit: true };

  // No record or another key: whatever layer is there is stale or half-built. Drop it (and the record) first.
  await rm(recordPath, { force: true });
  await rm(path, { recursive: true, force: true });
  await mkdir(recordDir, { recursive: true });
  const work = join(recordDir, `${role.name}.build`);
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  try {
    const config = join(work, "rack.yaml");
    await writeFile(config, renderBuildConfig(golden.imagesDir, work));
    const loadBefore = (await execa("uptime", { reject: false })).stdout.trim();
    const cli = new URL("../../bin/pirack.mjs", import.meta.url).pathname;
    const started = Date.now();
    // /usr/bin/time reports the CPU of the whole tree (apt, dpkg and every qemu-user process it started).
    const child = execa("/usr/bin/time", ["-f", "pirack-time %U %S", "node", cli, "workloads", "build", role.name, "--config", config], { reject: false, all: true });
    let tail: string[] = [];
    child.all?.on("data", (chunk: Buffer) => {
      for (const line of chunk.toString("utf8").split("\n")) {
        if (!line.trim()) continue;
        tail = [...tail.slice(-40), line];
        opts.onLine?.(line);
      }
    });
    const r = await child;
    const buildSeconds = (Date.now() - started) / 1000;
    if (r.exitCode !== 0) throw new OperationError("LAYER_BUILD_FAILED", `pirack workloads build ${role.name} exited with ${r.exitCode}: ${tail.slice(-15).join("\n")}`);
    const layer: RoleLayer = {
      role: role.name,
      key,
      goldenKey: golden.key,
      path,
      buildSeconds,
      cpuSeconds: parseTimeOutput(String(r.all ?? "")) ?? Number.NaN,
      loadBefore,
      builtAt: new Date().toISOString(),
      cacheHit: false,
    };
    await writeFile(`${recordPath}.tmp`, `${JSON.stringify(layer, null, 2)}\n`);
    await rename(`${recordPath}.tmp`, recordPath);
    return layer;
  } catch (err) {
    await rm(path, { recursive: true, force: true });
    throw err;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
