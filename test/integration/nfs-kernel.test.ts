// Kernel backend against the real exportfs(8). This kernel has no nfsd, but exportfs still parses
// /etc/exports.d, rejects bad lines and maintains its export table (etab), which `exportfs -v`
// reports. exportfs only reads fixed paths, so it runs in a private mount namespace where /etc is
// an overlay showing the test's sysroot and /var/lib/nfs is the test's own directory.
import { access, chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KernelExportsBackend, type ExportSpec } from "../../appliance/nfs-exports/index.ts";
import { createCommandRunner } from "../../rootfs/index.ts";
import { memoryLog } from "../../rootfs/testing/memory-log.ts";
import { isRoot } from "../support/netns.ts";

const WRAPPER = `#!/bin/sh
# exportfs with /etc and /var/lib/nfs redirected to the test's sysroot (private mount namespace).
S=$(dirname "$0")
exec unshare --mount sh -c '
  S=$1; shift
  mount --make-rprivate /
  mount -t overlay overlay -o "lowerdir=/etc,upperdir=$S/etc,workdir=$S/overlay-work" /etc
  mount --bind "$S/var/lib/nfs" /var/lib/nfs
  exec exportfs "$@"' exportfs-wrapper "$S" "$@"
`;

const hasKernelNfsd = () =>
  access("/proc/fs/nfsd/exports").then(
    () => true,
    () => false,
  );

describe.skipIf(!isRoot())("kernel backend with the real exportfs (root: mount namespace)", () => {
  let work: string;
  let backend: KernelExportsBackend;
  let desired: ExportSpec[];
  const { log } = memoryLog();

  beforeAll(async () => {
    // With a real nfsd, exportfs -ra would change the host's live exports: refuse to run there.
    if (await hasKernelNfsd()) throw new Error("this host runs kernel nfsd; the exportfs test would touch its exports");
    work = await mkdtemp("/var/tmp/pirack-exportfs-");
    const sysroot = join(work, "sysroot");
    for (const d of ["etc", "overlay-work", "var/lib/nfs"]) await mkdir(join(sysroot, d), { recursive: true });
    await writeFile(join(sysroot, "exportfs"), WRAPPER);
    await chmod(join(sysroot, "exportfs"), 0o755);
    desired = [];
    for (const ip of ["10.46.189.2", "10.46.189.6"]) {
      await mkdir(join(work, "export", ip), { recursive: true });
      desired.push({ path: join(work, "export", ip), clientAddress: ip });
    }
    backend = new KernelExportsBackend({ sysroot, exportfs: join(sysroot, "exportfs") }, { log, run: createCommandRunner() });
  });
  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("writes pirack.exports, applies it with exportfs -ra, observes it with exportfs -v, then plans nothing", async () => {
    const r = await backend.apply(desired);
    expect(r.failed).toEqual([]);
    expect(r.applied.map((a) => a.kind)).toEqual(["writeExportsFile", "reloadExports"]);
    const seen = await backend.observe();
    expect(seen.live?.map((e) => [e.path, e.clientAddress])).toEqual(desired.map((d) => [d.path, d.clientAddress]));
    for (const e of seen.live ?? []) expect(e.options).toEqual(expect.arrayContaining(["rw", "sync", "no_subtree_check", "no_root_squash"]));
    expect(backend.plan(desired, seen)).toEqual([]);
  });

  it("drops a Pi's export from the live table when it leaves the desired set", async () => {
    const r = await backend.apply(desired.slice(0, 1));
    expect(r.failed).toEqual([]);
    expect((await backend.observe()).live?.map((e) => e.clientAddress)).toEqual(["10.46.189.2"]);
  });

  it("reports exportfs's complaint when a root is missing (exports are only for roots in place)", async () => {
    const missing = { path: join(work, "export", "10.46.189.10"), clientAddress: "10.46.189.10" };
    const r = await backend.apply([...desired, missing]);
    expect(r.failed.map((f) => (f.error as { code?: string }).code)).toEqual(["EXPORTFS_FAILED"]);
    expect(r.failed[0]?.error.message).toContain("10.46.189.10");
    expect(await readFile(join(work, "sysroot/etc/exports.d/pirack.exports"), "utf8")).toContain(missing.path);
  });
});
