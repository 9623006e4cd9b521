// NFS isolation end to end: nfs-ganesha in a fileserver namespace exports two Pi roots, each to its
// own Pi's address only; real NFS clients (libnfs-utils) in each Pi's namespace list, read and write
// their own root, and are refused the other Pi's root. Exports come from GaneshaExportsBackend.
// The roots are reflink clones on a btrfs loop filesystem. Snapshots (subvolumes) are not used with
// ganesha: Debian's 4.3 build lacks libbtrfsutil and refuses to export a subvolume that is not a
// mount point - the last test pins that finding so a future ganesha that can is noticed.
import { execa } from "execa";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GaneshaExportsBackend, renderGaneshaMainConfig } from "../../appliance/nfs-exports/index.ts";
import { startGanesha, type GaneshaServer } from "../../appliance/nfs-exports/testing/ganesha-server.ts";
import { createCommandRunner, type PiRootSpec } from "../../rootfs/index.ts";
import { syncRootsAndExports } from "../../appliance/reconcile/roots.ts";
import { makeFixtureRoot } from "../../rootfs/testing/fixture-root.ts";
import { createLoopFilesystem, type LoopFilesystem } from "../../rootfs/testing/loop-filesystem.ts";
import { memoryLog } from "../../rootfs/testing/memory-log.ts";
import { isRoot, TestBed, waitFor } from "../support/netns.ts";

const pi = (exportsDir: string, vlan: number): PiRootSpec => ({
  port: vlan - 9,
  name: `pi-${vlan}`,
  hostname: `pi-${vlan}`,
  piAddress: `10.46.${vlan}.2`,
  serverAddress: `10.46.${vlan}.1`,
  netmask: "255.255.255.252",
  publicVlan: 131,
  publicAddress: `2a00:1098:0:84:1000:1::${vlan}`,
  publicGateway: "2a00:1098:0:84::1",
  exportPath: join(exportsDir, `10.46.${vlan}.2`),
});

describe.skipIf(!isRoot())("nfs-ganesha exports, one Pi per export (needs root for namespaces)", () => {
  const bed = new TestBed();
  let work: string;
  let fs: string, nsA: string, nsB: string;
  let a: PiRootSpec, b: PiRootSpec;
  let server: GaneshaServer | undefined;
  let backend: GaneshaExportsBackend;
  let btrfs: LoopFilesystem;
  const run = createCommandRunner();
  const { log, records } = memoryLog();

  const nfs = (ns: string, tool: string, ...args: string[]) => bed.exec(ns, tool, args, { timeoutMs: 20_000 });
  const url = (server: string, path: string, version: 3 | 4) => `nfs://${server}${path}?version=${version}`;

  beforeAll(async () => {
    work = await mkdtemp("/var/tmp/pirack-nfs-");
    bed.defer(() => rm(work, { recursive: true, force: true }));
    btrfs = await createLoopFilesystem("btrfs", work, 300);
    bed.defer(() => btrfs.release());
    const golden = join(btrfs.mountPoint, "images", "golden");
    await mkdir(join(btrfs.mountPoint, "images"));
    await execa("btrfs", ["subvolume", "create", golden]);
    await makeFixtureRoot(golden);
    a = pi(join(btrfs.mountPoint, "export"), 10);
    b = pi(join(btrfs.mountPoint, "export"), 11);

    fs = await bed.namespace("pfs");
    nsA = await bed.namespace("ppa");
    nsB = await bed.namespace("ppb");
    await bed.veth({ left: { ns: fs, name: "eth0.10", address: "10.46.10.1/30" }, right: { ns: nsA, name: "eth0", address: "10.46.10.2/30" } });
    await bed.veth({ left: { ns: fs, name: "eth0.11", address: "10.46.11.1/30" }, right: { ns: nsB, name: "eth0", address: "10.46.11.2/30" } });

    const sysroot = join(work, "sysroot");
    const exportsFile = join(sysroot, "etc/ganesha/pirack-exports.conf");
    await mkdir(join(sysroot, "etc/ganesha"), { recursive: true });
    await writeFile(join(sysroot, "etc/ganesha/ganesha.conf"), renderGaneshaMainConfig({ exportsFile }));
    backend = new GaneshaExportsBackend({ sysroot, reload: { kind: "pidFile", path: join(work, "ganesha.pid") } }, { log, run });

    // First pass before ganesha runs: roots and the file are made, the reload fails and is retried.
    const first = await syncRootsAndExports({ pis: [a, b], imagePath: golden, exports: backend, hostKeyTypes: ["ed25519"], snapshots: false }, { log, run });
    expect(first.roots.failed).toEqual([]);
    expect(records.filter((r) => r.msg === "clone started").map((r) => r.fields["strategy"])).toEqual(["reflink", "reflink"]);
    expect(first.exports?.failed.map((f) => f.action.kind)).toEqual(["reloadExports"]);
    expect(first.readyPorts).toEqual([1, 2]);

    server = await startGanesha(fs, join(sysroot, "etc/ganesha/ganesha.conf"), work);
    bed.defer(() => server?.stop());
    const second = await syncRootsAndExports({ pis: [a, b], imagePath: golden, exports: backend }, { log, run });
    expect(second.roots.applied).toEqual([]);
    expect(second.exports?.applied.map((x) => x.kind)).toEqual(["reloadExports"]);
    const third = await syncRootsAndExports({ pis: [a, b], imagePath: golden, exports: backend }, { log, run });
    expect([...third.roots.applied, ...(third.exports?.applied ?? [])]).toEqual([]);
  });

  afterAll(async () => {
    await bed.cleanup();
  });

  it.each([3, 4] as const)("Pi A lists and reads its own root over NFSv%i", async (version) => {
    const ls = await nfs(nsA, "nfs-ls", url("10.46.10.1", a.exportPath, version));
    expect(ls.exitCode, ls.stderr).toBe(0);
    expect(ls.stdout).toMatch(/\betc\b/);
    const cat = await nfs(nsA, "nfs-cat", url("10.46.10.1", `${a.exportPath}/etc/hostname`, version));
    expect(cat.exitCode, cat.stderr).toBe(0);
    expect(cat.stdout.trim()).toBe("pi-10");
  });

  it("Pi A writes into its root and the file lands in A's directory on the fileserver", async () => {
    const local = join(work, "from-pi-a.txt");
    await writeFile(local, "written by pi A over NFS\n");
    const cp = await nfs(nsA, "nfs-cp", local, url("10.46.10.1", `${a.exportPath}/root-written.txt`, 3));
    expect(cp.exitCode, cp.stderr).toBe(0);
    expect(await readFile(join(a.exportPath, "root-written.txt"), "utf8")).toBe("written by pi A over NFS\n");
  });

  it.each([3, 4] as const)("Pi B is refused Pi A's root over NFSv%i but reads its own", async (version) => {
    const denied = await nfs(nsB, "nfs-ls", url("10.46.11.1", a.exportPath, version));
    expect(denied.exitCode).not.toBe(0);
    expect(denied.stderr).toMatch(version === 3 ? /MNT3ERR_ACCES/ : /NFS4ERR_NOENT/);
    const own = await nfs(nsB, "nfs-cat", url("10.46.11.1", `${b.exportPath}/etc/hostname`, version));
    expect(own.exitCode, own.stderr).toBe(0);
    expect(own.stdout.trim()).toBe("pi-11");
  });

  it("the web uploads share: both Pis mount one directory, each over its own /30; writes land as www-data", async () => {
    // As the workloads subsystem exports it (workloads/web: one share, one CLIENT per web Pi, all_squash to 33).
    const share = join(btrfs.mountPoint, "export/shared/www-uploads");
    await mkdir(share, { recursive: true });
    await execa("chown", ["33:33", share]);
    const options = ["rw", "sync", "no_subtree_check", "all_squash", "anonuid=33", "anongid=33"];
    const roots = [a, b].map((p) => ({ path: p.exportPath, clientAddress: p.piAddress }));
    const r = await backend.apply([...roots, ...[a, b].map((p) => ({ path: share, clientAddress: p.piAddress, options }))]);
    expect(r.failed).toEqual([]);
    const local = join(work, "upload.jpg");
    await writeFile(local, "an image uploaded on web Pi A\n");
    // nfs-cp makes no directories: the year folder as WordPress makes it (as www-data) on the first upload.
    await mkdir(join(share, "2026"));
    await execa("chown", ["33:33", join(share, "2026")]);
    // The reload (SIGHUP) takes a moment to add the share.
    await waitFor(async () => ((await nfs(nsA, "nfs-cp", local, url("10.46.10.1", `${share}/2026/upload.jpg`, 3))).exitCode === 0 ? true : undefined), "web Pi A to write into the uploads share", 15_000);
    for (const version of [3, 4] as const) {
      const cat = await nfs(nsB, "nfs-cat", url("10.46.11.1", `${share}/2026/upload.jpg`, version));
      expect(cat.exitCode, cat.stderr).toBe(0);
      expect(cat.stdout).toBe("an image uploaded on web Pi A");
    }
    const st = await execa("stat", ["-c", "%u:%g", join(share, "2026/upload.jpg")]);
    expect(st.stdout).toBe("33:33");
    // Still each Pi's own root only: the share adds a directory, not access to the other Pi's root.
    expect((await nfs(nsB, "nfs-ls", url("10.46.11.1", a.exportPath, 3))).exitCode).not.toBe(0);
    expect((await backend.apply(roots)).failed).toEqual([]);
  });

  it("removing Pi B from the desired set unexports its root on reload", async () => {
    const r = await backend.apply([{ path: a.exportPath, clientAddress: a.piAddress }]);
    expect(r.failed).toEqual([]);
    await waitFor(
      async () => ((await nfs(nsB, "nfs-ls", url("10.46.11.1", b.exportPath, 3))).exitCode !== 0 ? true : undefined),
      "ganesha to drop Pi B's export after SIGHUP",
      15_000,
    );
    const stillA = await nfs(nsA, "nfs-ls", url("10.46.10.1", a.exportPath, 3));
    expect(stillA.exitCode, stillA.stderr).toBe(0);
    // The root itself stays: unexporting never deletes a Pi's root.
    expect((await execa("test", ["-d", join(b.exportPath, "etc")], { reject: false })).exitCode).toBe(0);
  });

  it("finding: Debian 12's ganesha refuses a btrfs snapshot root (why snapshots are off with ganesha)", async () => {
    const c = pi(join(btrfs.mountPoint, "export"), 12);
    await execa("btrfs", ["subvolume", "snapshot", join(btrfs.mountPoint, "images", "golden"), c.exportPath]);
    const r = await backend.apply([a, c].map((p) => ({ path: p.exportPath, clientAddress: p.piAddress })));
    expect(r.failed).toEqual([]);
    await waitFor(async () => ((await readFile(server?.logFile ?? "", "utf8")).includes(`Could not create export for (${c.exportPath})`) ? true : undefined), "ganesha to log the subvolume export failure", 15_000);
  });
});
