/**
 * The bundle `bin/pirack.mjs` runs (dist/, made by bin/build.mjs, as `npm ci` does through `prepare`): built in a
 * copy of the package, it prints what the sources print; a stale bundle (a source newer than its build) is not
 * run, the sources are, with one line saying so; PIRACK_FROM_SOURCE=1 runs the sources.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execa } from "execa";
import { cp, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

const repo = new URL("../..", import.meta.url).pathname;
let pkg: string;

describe("bin/pirack.mjs and its bundle", () => {
  beforeAll(async () => {
    pkg = await mkdtemp(join(tmpdir(), "pirack-bundle-"));
    // The sources by symlink (read only here), bin/ and package.json copied: the copy's dist/ is its own.
    for (const d of ["appliance", "lib", "rootfs", "switch", "workloads", "examples", "node_modules"]) await symlink(join(repo, d), join(pkg, d));
    await cp(join(repo, "bin"), join(pkg, "bin"), { recursive: true });
    await cp(join(repo, "package.json"), join(pkg, "package.json"));
    const built = await execa("node", [join(pkg, "bin/build.mjs")], { reject: false });
    expect(built.exitCode, built.stderr).toBe(0);
  }, 120_000);
  afterAll(() => rm(pkg, { recursive: true, force: true }));

  const cli = (args: string[], env: Record<string, string> = {}) => execa("node", [join(pkg, "bin/pirack.mjs"), ...args], { cwd: pkg, env, reject: false });

  it("the bundle prints what the sources print (plan of the seed rack, version, help)", async () => {
    for (const args of [["plan", "--config", join(pkg, "examples/seed-rack.yaml")], ["--version"], ["workloads", "--help"]]) {
      const bundled = await cli(args);
      const sources = await cli(args, { PIRACK_FROM_SOURCE: "1" });
      expect(bundled.exitCode, bundled.stderr).toBe(0);
      expect(bundled.stdout).toBe(sources.stdout);
      expect(bundled.stderr).toBe("");
    }
  }, 120_000);

  it("takes no path relative to its own file but its workers beside it (every module shares dist/pirack.mjs)", async () => {
    // A module's `new URL("../../x", import.meta.url)` points above the package from dist/: lib/package-root.ts
    // is the one way to a package file. Allowed: the CommonJS banner, the two workers, tsx's resolution, the root.
    const allowed = [/__pirackCreateRequire\(import\.meta\.url\)/, /new URL\("\.\/(config|transfer)-worker\.mjs", import\.meta\.url\)/, /import\.meta\.resolve\("tsx"\)/, /dirname\d*\(fileURLToPath\d*\(import\.meta\.url\)\)/];
    for (const file of ["pirack.mjs", "config-worker.mjs", "transfer-worker.mjs"]) {
      const lines = (await readFile(join(pkg, "dist", file), "utf8")).split("\n");
      const uses = lines.map((l, i) => [i + 1, l] as const).filter(([, l]) => l.includes("import.meta") && !allowed.some((a) => a.test(l)));
      expect(uses.map(([n, l]) => `${file}:${n}: ${l.trim()}`)).toEqual([]);
    }
  });

  it("a bundle older than a source is not run: the sources are, and stderr says so once", async () => {
    const stampPath = join(pkg, "dist/build.json");
    const stamp = JSON.parse(await readFile(stampPath, "utf8")) as { newestSourceMs: number };
    await writeFile(stampPath, JSON.stringify({ ...stamp, newestSourceMs: stamp.newestSourceMs - 60_000 }));
    // Marked: were the bundle run, this would throw when the bundle is imported.
    await writeFile(join(pkg, "dist/pirack.mjs"), 'throw new Error("stale bundle was run");\n');
    const r = await cli(["--version"]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    expect(r.stderr.trim()).toMatch(/^pirack: dist\/ is older than \S+\.(ts|mjs); running the sources \(npm run build to use the bundle\)$/);
  }, 60_000);
});
