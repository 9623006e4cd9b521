// Clone strategies on real filesystems (loop devices): btrfs snapshot, reflink on btrfs and XFS,
// plain copy on ext4. Every clone must be a faithful copy of the golden image apart from the
// per-Pi files, and writing in a clone must leave the golden image untouched.
import { execa } from "execa";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCommandRunner, RootStore, type PiRootSpec } from "../../rootfs/index.ts";
import { createLoopFilesystem, type LoopFilesystem, type LoopFsKind } from "../../rootfs/testing/loop-filesystem.ts";
import { makeFixtureRoot } from "../../rootfs/testing/fixture-root.ts";
import { memoryLog } from "../../rootfs/testing/memory-log.ts";
import { treeManifest } from "../../rootfs/testing/tree-manifest.ts";
import { isRoot } from "../support/netns.ts";

const PER_PI = /^etc\/(hostname|hosts|fstab|machine-id|network\/interfaces\.d\/eth0\.131|ssh\/ssh_host_.*|ssh\/sshd_config\.d|ssh\/sshd_config\.d\/pirack-host-keys\.conf)$/;
const skipPerPi = (rel: string) => PER_PI.test(rel);

const spec = (exportsDir: string, port: number): PiRootSpec => ({
  port,
  name: `pi0${port}`,
  hostname: `pi0${port}`,
  piAddress: `10.46.189.${4 * port - 2}`,
  serverAddress: `10.46.189.${4 * port - 3}`,
  netmask: "255.255.255.252",
  publicVlan: 131,
  publicAddress: `2a00:1098:0:84:1000:1::${port + 1}/64`,
  publicGateway: "2a00:1098:0:84::1",
  exportPath: join(exportsDir, `10.46.189.${4 * port - 2}`),
});

const cases: { name: string; fs: LoopFsKind; goldenAsSubvolume: boolean; expected: string }[] = [
  { name: "btrfs, golden subvolume -> snapshot", fs: "btrfs", goldenAsSubvolume: true, expected: "snapshot" },
  { name: "btrfs, golden plain directory -> reflink", fs: "btrfs", goldenAsSubvolume: false, expected: "reflink" },
  { name: "xfs -> reflink", fs: "xfs", goldenAsSubvolume: false, expected: "reflink" },
  { name: "ext4 -> copy", fs: "ext4", goldenAsSubvolume: false, expected: "copy" },
];

describe.skipIf(!isRoot())("clone strategies on loop filesystems (needs root for mount, mknod)", () => {
  let work: string;
  const filesystems = new Map<LoopFsKind, LoopFilesystem>();

  beforeAll(async () => {
    work = await mkdtemp("/var/tmp/pirack-clone-");
    for (const kind of ["btrfs", "xfs", "ext4"] as const) filesystems.set(kind, await createLoopFilesystem(kind, work, 512));
  });
  afterAll(async () => {
    for (const fs of filesystems.values()) await fs.release();
    await rm(work, { recursive: true, force: true });
  });

  it.each(cases)("$name", async ({ fs, goldenAsSubvolume, expected, name }) => {
    const mp = filesystems.get(fs)?.mountPoint ?? "";
    const base = join(mp, name.replace(/\W+/g, "-"));
    await mkdir(join(base, "images"), { recursive: true });
    const golden = join(base, "images", "golden");
    if (goldenAsSubvolume) await execa("btrfs", ["subvolume", "create", golden]);
    else await mkdir(golden);
    await makeFixtureRoot(golden, { bulkMiB: 4 });
    const before = await treeManifest(golden);

    const { log, records } = memoryLog();
    const store = new RootStore({ imagePath: golden, hostKeyTypes: ["ed25519"] }, { log, run: createCommandRunner() });
    const pis = [spec(join(base, "export"), 1), spec(join(base, "export"), 2)];
    const result = await store.apply(pis);
    expect(result.failed).toEqual([]);
    expect(records.filter((r) => r.msg === "clone started").map((r) => r.fields["strategy"])).toEqual([expected, expected]);

    for (const pi of pis) {
      const clone = await treeManifest(pi.exportPath, skipPerPi);
      expect(clone).toEqual(await treeManifest(golden, skipPerPi));
      expect(await readFile(join(pi.exportPath, "etc/hostname"), "utf8")).toBe(`${pi.hostname}\n`);
      const key = await readFile(join(pi.exportPath, "etc/ssh/ssh_host_ed25519_key"), "utf8");
      expect(key).toContain("OPENSSH PRIVATE KEY");
    }
    // Identity is per Pi: no two roots share a host key or a machine-id.
    const ids = await Promise.all(pis.map((pi) => readFile(join(pi.exportPath, "etc/machine-id"), "utf8")));
    expect(new Set(ids).size).toBe(2);
    const keys = await Promise.all(pis.map((pi) => readFile(join(pi.exportPath, "etc/ssh/ssh_host_ed25519_key.pub"), "utf8")));
    expect(new Set(keys).size).toBe(2);

    // Writes in a clone (including through a hardlink, a mode and an xattr) never reach golden.
    const c = pis[0]?.exportPath ?? "";
    await writeFile(join(c, "usr/bin/tool-b"), "changed in the clone\n", { flag: "a" });
    await execa("chmod", ["0700", join(c, "usr/bin/ping")]);
    await execa("setfattr", ["-n", "user.pirack", "-v", "clone", join(c, "usr/bin/ping")]);
    await writeFile(join(c, "srv/bulk/f0000"), "overwritten");
    await writeFile(join(c, "new-file"), "new");
    expect(await treeManifest(golden)).toEqual(before);

    // A second pass plans nothing.
    expect(store.plan(pis, await store.observe(pis))).toEqual([]);
  });
});
