// Crash safety of cloning: SIGKILL the whole process group (what systemd does to a unit) while a
// plain copy is halfway, then restart. No partial root may be in place or exported; the restart
// removes the leftover temporary tree and completes the clone.
import { execa } from "execa";
import { mkdir, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PiRootSpec } from "../../rootfs/index.ts";
import { makeFixtureRoot } from "../../rootfs/testing/fixture-root.ts";
import { seedPiSpec } from "../../rootfs/testing/seed-pi.ts";
import { treeManifest } from "../../rootfs/testing/tree-manifest.ts";
import { isRoot, waitFor } from "../support/netns.ts";

const CHILD = new URL("../support/sync-roots-child.ts", import.meta.url).pathname;

describe.skipIf(!isRoot())("kill -9 during a clone (root: owners and device nodes in the image)", () => {
  let work: string;
  let golden: string;
  let pi: PiRootSpec;
  const sysroot = () => join(work, "sysroot");
  const exportsFile = () => join(sysroot(), "etc/ganesha/pirack-exports.conf");
  const args = () => JSON.stringify({ pis: [pi], imagePath: golden, strategy: "copy", sysroot: sysroot() });

  beforeAll(async () => {
    work = await mkdtemp("/var/tmp/pirack-crash-");
    golden = join(work, "images", "golden");
    await mkdir(golden, { recursive: true });
    await makeFixtureRoot(golden, { bulkMiB: 160 });
    pi = seedPiSpec(1, join(work, "export"));
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it("leaves nothing exported after SIGKILL, and the restart completes the clone", async () => {
    const child = execa("node", ["--import", "tsx", CHILD, args()], { detached: true, reject: false, lines: true, buffer: false });
    const pid = child.pid ?? 0;
    // Wait for the copy to be under way (a checkpoint with bytes copied), then kill the whole group.
    let copied = 0;
    for await (const line of child.iterable({ from: "stdout" })) {
      const p = JSON.parse(String(line)) as { phase: string; bytesDone?: number; bytesTotal?: number };
      if (p.phase === "copy" && (p.bytesDone ?? 0) > 0 && (p.bytesDone ?? 0) < (p.bytesTotal ?? 0)) {
        copied = p.bytesDone ?? 0;
        process.kill(-pid, "SIGKILL");
        break;
      }
    }
    const killed = await child;
    expect(killed.signal).toBe("SIGKILL");
    expect(copied).toBeGreaterThan(0);
    // The group is gone: no tar is still writing into the temporary tree.
    await waitFor(async () => ((await execa("pgrep", ["-g", String(pid)], { reject: false })).stdout === "" ? true : undefined), "the killed group to exit", 5000);

    const tmpDir = join(work, "export", ".pirack", "tmp");
    expect(await readdir(tmpDir)).toHaveLength(1);
    expect(await readdir(join(work, "export"))).toEqual([".pirack"]);
    const exported = await readFile(exportsFile(), "utf8").catch(() => "");
    expect(exported).not.toContain(pi.exportPath);

    const restart = await execa("node", ["--import", "tsx", CHILD, args()], { reject: false });
    expect(restart.exitCode, restart.stderr).toBe(0);
    expect(await readdir(tmpDir)).toEqual([]);
    const perPi = (rel: string) => /^etc\/(hostname|hosts|fstab|machine-id|network\/interfaces\.d\/eth0\.131|ssh\/ssh_host_.*|ssh\/sshd_config\.d|ssh\/sshd_config\.d\/pirack-host-keys\.conf)$/.test(rel);
    expect(await treeManifest(pi.exportPath, perPi)).toEqual(await treeManifest(golden, perPi));
    expect(await readFile(exportsFile(), "utf8")).toContain(`Path = "${pi.exportPath}"`);
  });
});
