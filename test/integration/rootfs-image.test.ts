// A small real golden-image build: debootstrap --variant=minbase for this host's architecture with
// the netboot packages, finalised for NFS roots; then a Pi root cloned from it is checked with the
// image's own ifupdown and sshd, and the image survives a tarball import unchanged.
import { execa } from "execa";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCommandRunner, DEFAULT_MIRROR, importImage, parseDpkgStatus, RootStore, type ImageResult, type PiRootSpec, type Progress } from "../../rootfs/index.ts";
import { seedPiSpec } from "../../rootfs/testing/seed-pi.ts";
import { memoryLog } from "../../rootfs/testing/memory-log.ts";
import { treeManifest } from "../../rootfs/testing/tree-manifest.ts";
import { isRoot } from "../support/netns.ts";

const pirack = new URL("../../bin/pirack.mjs", import.meta.url).pathname;

/** The host's own Debian mirror (CI can reach it), else Debian's default. */
async function hostMirror(): Promise<string> {
  const sources = await readFile("/etc/apt/sources.list.d/debian.sources", "utf8").catch(() => "");
  return /^URIs:\s*(\S+)/m.exec(sources)?.[1] ?? DEFAULT_MIRROR;
}

describe.skipIf(!isRoot())("golden image build with debootstrap (root: debootstrap, chroot)", () => {
  let work: string;
  let image: ImageResult;
  const progress: Progress[] = [];
  const run = createCommandRunner();
  const { log } = memoryLog();

  beforeAll(async () => {
    work = await mkdtemp("/var/tmp/pirack-image-");
    const arch = (await execa("dpkg", ["--print-architecture"])).stdout.trim();
    const started = Date.now();
    // Built through the real CLI (`pirack image build`), as an operator would; progress arrives on stderr.
    const config = join(work, "rack.yaml");
    await writeFile(
      config,
      `storage: { network: 10.46.189.0/24 }\npublic: { prefix: "2a00:1098:0:84::/64", gateway: "2a00:1098:0:84::1", firstAddress: "2a00:1098:0:84:1000:1::2" }\nports: 1\npaths: { images: ${join(work, "images")}, exports: ${join(work, "export")} }\n`,
    );
    const cli = await execa("node", [pirack, "image", "build", "--config", config, "--name", "golden", "--arch", arch, "--mirror", await hostMirror(), "--json"], { reject: false });
    expect(cli.exitCode, cli.stderr.slice(-2000)).toBe(0);
    image = JSON.parse(cli.stdout) as ImageResult;
    for (const line of cli.stderr.split("\n")) {
      const m = /^([a-z][\w-]*): (.*)$/.exec(line);
      if (m) progress.push({ phase: m[1]!, message: m[2]! });
    }
    // Recorded for docs/rootfs.md: how long the CI build takes and how big the image is.
    console.info(`image build: ${((Date.now() - started) / 1000).toFixed(0)} s, ${(image.sizeBytes / 1e6).toFixed(0)} MB, ${image.packages} packages`);
  }, 600_000);
  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("reports progress and the image's size", () => {
    expect(progress.some((p) => p.phase === "debootstrap" && /Retrieving|Extracting/.test(p.message))).toBe(true);
    expect(progress.at(-1)?.phase).toBe("done");
    expect(progress.at(-1)?.message).toMatch(/\d+ MB/);
    expect(image.sizeBytes).toBeGreaterThan(100e6);
    expect(image.sizeBytes).toBeLessThan(381e6); // the story's minimal Raspbian was 381 MB
    expect(image.os).toMatch(/Debian/);
  });

  it("holds what an NFS-root Pi needs and nothing that takes eth0 down", async () => {
    const installed = parseDpkgStatus(await readFile(join(image.path, "var/lib/dpkg/status"), "utf8")).map((p) => p.name);
    expect(installed).toEqual(expect.arrayContaining(["openssh-server", "ifupdown", "systemd-sysv", "iproute2"]));
    expect(installed.filter((n) => /network-manager|dhcpcd|connman/.test(n))).toEqual([]);
    expect(await readFile(join(image.path, "etc/fstab"), "utf8")).not.toMatch(/UUID|mmcblk|\/boot/);
    expect(await readFile(join(image.path, "etc/network/interfaces"), "utf8")).not.toMatch(/^\s*(auto|iface|allow-hotplug)\s+eth0/m);
    expect((await readdir(join(image.path, "etc/ssh"))).filter((n) => n.startsWith("ssh_host_"))).toEqual([]);
    expect(await readFile(join(image.path, "etc/machine-id"), "utf8")).toBe("");
    expect(await readdir(join(image.path, "var/cache/apt/archives"))).not.toContain(expect.stringMatching(/\.deb$/));
  });

  it("gives a cloned Pi root an ifupdown stanza and sshd setup that the image's own tools accept", async () => {
    const pi: PiRootSpec = seedPiSpec(1, join(work, "export"));
    const store = new RootStore({ imagePath: image.path }, { log, run });
    expect((await store.apply([pi])).failed).toEqual([]);
    const query = await execa("chroot", [pi.exportPath, "ifquery", "eth0.131"], { reject: false });
    expect(query.exitCode, query.stderr).toBe(0);
    expect(query.stdout.split("\n")).toEqual(expect.arrayContaining(["address: 2a00:1098:0:84:1000:1::2", "netmask: 64", "accept_ra: 0"]));
    expect(query.stdout).toContain("gateway: 2a00:1098:0:84::1");
    const listed = await execa("chroot", [pi.exportPath, "ifquery", "--list", "--allow=auto"]);
    expect(listed.stdout.split("\n")).not.toContain("eth0");
    const sshd = await execa("chroot", [pi.exportPath, "sh", "-c", "mkdir -p /run/sshd && /usr/sbin/sshd -t"], { reject: false });
    expect(sshd.exitCode, sshd.stderr).toBe(0);
  });

  it("imports a tarball of the image with owners, modes, xattrs and device nodes intact", async () => {
    const tarball = join(work, "golden.tar.zst");
    await execa("tar", ["-C", image.path, "--xattrs", "--xattrs-include=*", "--acls", "--numeric-owner", "--zstd", "-cf", tarball, "."]);
    const imported = await importImage({ imagesDir: join(work, "images"), name: "imported", source: tarball }, { log, run });
    expect(await treeManifest(imported.path)).toEqual(await treeManifest(image.path));
  });
});
