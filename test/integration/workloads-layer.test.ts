// A real role layer: a minbase golden image for this host's architecture (debootstrap), the cdn role's packages
// installed into its clone in a chroot with daemons refused by policy-rc.d; then a Pi root cloned from the layer
// gets pirack's rendered files and the layer's own nginx accepts them (`chroot <root> nginx -t`).
import { execa } from "execa";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCommandRunner, DEFAULT_MIRROR } from "../../rootfs/index.ts";
import { memoryLog } from "../../rootfs/testing/memory-log.ts";
import { applyWorkloadFiles, renderNode, ROLES, workloadsSchema, type Cluster } from "../../workloads/index.ts";
import { buildRoleLayer, LAYER_MANIFEST, type LayerBuildResult } from "../../workloads/layers.ts";
import { isRoot } from "../support/netns.ts";

async function hostMirror(): Promise<string> {
  const sources = await readFile("/etc/apt/sources.list.d/debian.sources", "utf8").catch(() => "");
  return /^URIs:\s*(\S+)/m.exec(sources)?.[1] ?? DEFAULT_MIRROR;
}

const listening80 = async () => (await execa("ss", ["-Hltn", "sport = :80"], { reject: false })).stdout.trim();

describe.skipIf(!isRoot() || !existsSync("/usr/sbin/debootstrap"))("workloads: a role layer built in a chroot (root: debootstrap, chroot)", () => {
  let work: string;
  let layer: LayerBuildResult;
  const run = createCommandRunner();
  const { log } = memoryLog();
  let before80: string;

  beforeAll(async () => {
    work = await mkdtemp("/var/tmp/pirack-layer-");
    before80 = await listening80();
    const arch = (await execa("dpkg", ["--print-architecture"])).stdout.trim();
    const mirror = await hostMirror();
    const golden = join(work, "images", "golden");
    await execa("debootstrap", ["--variant=minbase", `--arch=${arch}`, "bookworm", golden, mirror]);
    await execa("sh", ["-c", `echo 'deb ${mirror} bookworm main' > ${golden}/etc/apt/sources.list`]);
    layer = await buildRoleLayer({ imagesDir: join(work, "images"), image: "golden", role: ROLES.cdn! }, { run, log });
  }, 1_800_000);

  afterAll(async () => {
    if (!work) return;
    // A debootstrap cut short leaves its proc mount behind: unmount everything below the work dir first.
    const mounts = (await readFile("/proc/mounts", "utf8")).split("\n").map((l) => l.split(" ")[1] ?? "").filter((m) => m.startsWith(work));
    for (const m of mounts.reverse()) await execa("umount", ["-l", m], { reject: false });
    await rm(work, { recursive: true, force: true });
  }, 120_000);

  it("installs the role's packages next to the golden image, as <image>+<role>", async () => {
    expect(layer.path).toBe(join(work, "images", "golden+cdn"));
    expect(existsSync(join(layer.path, "usr/sbin/nginx"))).toBe(true);
    const manifest = JSON.parse(await readFile(join(layer.path, LAYER_MANIFEST), "utf8"));
    expect(manifest).toMatchObject({ role: "cdn", image: "golden", packages: ["nginx"] });
  });

  it("leaves the role's units disabled, no policy-rc.d, no package default site, and nothing started", async () => {
    expect(layer.disabledUnits).toEqual(["multi-user.target.wants/nginx.service"]);
    expect(existsSync(join(layer.path, "etc/systemd/system/multi-user.target.wants/nginx.service"))).toBe(false);
    expect(existsSync(join(layer.path, "usr/sbin/policy-rc.d"))).toBe(false);
    expect(existsSync(join(layer.path, "etc/nginx/sites-enabled/default"))).toBe(false);
    expect(await listening80()).toBe(before80);
    const procs = (await execa("pgrep", ["-a", "nginx"], { reject: false })).stdout.split("\n").filter((l) => l.includes(layer.path));
    expect(procs).toEqual([]);
  });

  it("a Pi root cloned from the layer takes pirack's files and its own nginx accepts them", async () => {
    const root = join(work, "export", "10.46.189.2");
    // cp -a, as the rootfs copy strategy does: device nodes, owners and xattrs of a root need it.
    await mkdir(join(work, "export"), { recursive: true });
    await execa("cp", ["-a", layer.path, root]);
    const cluster: Cluster = {
      exportsDir: join(work, "export"),
      nodes: [
        { name: "pi01", port: 1, role: "cdn", publicAddress: "fd00::2", storageAddress: "10.46.189.2", serverAddress: "10.46.189.1" },
        { name: "pi02", port: 2, role: "web", publicAddress: "fd00::3", storageAddress: "10.46.189.6", serverAddress: "10.46.189.5" },
      ],
    };
    const files = renderNode(cluster.nodes[0]!, cluster, workloadsSchema.parse({}), {}, ROLES);
    await applyWorkloadFiles(root, files);
    const t = await execa("chroot", [root, "/usr/sbin/nginx", "-t"], { reject: false });
    expect(t.stderr).toContain("test is successful");
    expect(existsSync(join(root, "etc/systemd/system/multi-user.target.wants/nginx.service"))).toBe(true);
  });
});
