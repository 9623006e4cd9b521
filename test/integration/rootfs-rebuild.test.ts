// Rebuild (reset to golden): the old root is kept aside, dated, until the new one is in place; the
// Pi keeps its SSH host keys and machine-id; only `retainOldRoots` old roots stay. Exports follow.
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KernelExportsBackend } from "../../appliance/nfs-exports/index.ts";
import { createCommandRunner, rebuildRoot, syncRoots, type PiRootSpec } from "../../rootfs/index.ts";
import { rebuildRootAndExports } from "../../appliance/reconcile/roots.ts";
import { makeFixtureRoot } from "../../rootfs/testing/fixture-root.ts";
import { memoryLog } from "../../rootfs/testing/memory-log.ts";
import { isRoot } from "../support/netns.ts";
import { seedPiSpec } from "../../rootfs/testing/seed-pi.ts";

describe.skipIf(!isRoot())("rebuild a Pi's root (root: owners and device nodes in the image)", () => {
  let work: string;
  let golden: string;
  let pis: PiRootSpec[];
  const run = createCommandRunner();
  const { log } = memoryLog();
  let clock = Date.parse("2026-11-29T14:00:00Z");
  const deps = { log, run, now: () => new Date((clock += 60_000)) };

  beforeAll(async () => {
    work = await mkdtemp("/var/tmp/pirack-rebuild-");
    golden = join(work, "images", "golden");
    await mkdir(golden, { recursive: true });
    await makeFixtureRoot(golden);
    pis = [1, 2].map((port) => seedPiSpec(port, join(work, "export")));
    const r = await syncRoots({ pis, imagePath: golden, hostKeyTypes: ["ed25519"] }, deps);
    expect(r.roots.failed).toEqual([]);
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it("resets to golden, keeps the old root aside and the Pi's identity, prunes beyond retention", async () => {
    const root = pis[0]?.exportPath ?? "";
    const key = await readFile(join(root, "etc/ssh/ssh_host_ed25519_key.pub"), "utf8");
    const machineId = await readFile(join(root, "etc/machine-id"), "utf8");
    const otherPi = await readFile(join(pis[1]?.exportPath ?? "", "etc/machine-id"), "utf8");

    const olds: string[] = [];
    for (let i = 1; i <= 3; i++) {
      await writeFile(join(root, "var-state"), `written by the Pi before rebuild ${i}\n`);
      await writeFile(join(root, "usr/bin/ping"), "broken by the Pi\n");
      const r = await rebuildRoot({ pis, port: 1, imagePath: golden, retainOldRoots: 2 }, deps);
      expect(r.oldPath).toMatch(/\.pirack\/old\/10\.46\.189\.2@2026112\dT\d{6}Z$/);
      olds.push(r.oldPath ?? "");
      // The old root holds what the Pi wrote; the new one is golden again.
      expect(await readFile(join(r.oldPath ?? "", "var-state"), "utf8")).toBe(`written by the Pi before rebuild ${i}\n`);
      await expect(readFile(join(root, "var-state"))).rejects.toThrow(/ENOENT/);
      expect(await readFile(join(root, "usr/bin/ping"), "utf8")).toBe(await readFile(join(golden, "usr/bin/ping"), "utf8"));
      expect(r.pruned).toEqual(i === 3 ? [olds[0]] : []);
    }
    expect(await readFile(join(root, "etc/ssh/ssh_host_ed25519_key.pub"), "utf8")).toBe(key);
    expect(await readFile(join(root, "etc/machine-id"), "utf8")).toBe(machineId);
    expect(await readFile(join(root, "etc/hostname"), "utf8")).toBe("pi01\n");
    expect((await readdir(join(work, "export", ".pirack", "old"))).sort()).toEqual(olds.slice(1).map((p) => p.split("/").pop()));
    // The other Pi was not touched.
    expect(await readFile(join(pis[1]?.exportPath ?? "", "etc/machine-id"), "utf8")).toBe(otherPi);
    expect(await readdir(join(work, "export", ".pirack", "tmp"))).toEqual([]);
  });

  it("refuses an unknown port without touching anything", async () => {
    await expect(rebuildRoot({ pis, port: 9, imagePath: golden }, deps)).rejects.toThrow(/no Pi on port 9/);
  });

  it("re-applies exports after a rebuild (kernel backend file)", async () => {
    const exportfs = async () => ({ exitCode: 0, stdout: "", stderr: "" });
    const backend = new KernelExportsBackend({ sysroot: join(work, "sysroot") }, { log, run: exportfs });
    const r = await rebuildRootAndExports({ pis, port: 2, imagePath: golden, exports: backend }, deps);
    expect(r.exports?.failed).toEqual([]);
    const text = await readFile(join(work, "sysroot/etc/exports.d/pirack.exports"), "utf8");
    expect(text).toContain(`${pis[1]?.exportPath} 10.46.189.6(rw,sync,no_subtree_check,no_root_squash)`);
    expect(text).toContain(`${pis[0]?.exportPath} 10.46.189.2(`);
  });
});
