import { mkdir, mkdtemp, readdir, readFile, readlink, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createCommandRunner } from "./command.ts";
import { buildImage, importImage } from "./image.ts";
import { makeFixtureRoot } from "./testing/fixture-root.ts";
import { memoryLog } from "./testing/memory-log.ts";

describe("image import from a directory (no root needed for these fixtures' checks)", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "pirack-import-"));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it.skipIf(process.getuid?.() !== 0)("masks dhcpcd in an imported Raspberry Pi OS-like image and strips identity", async () => {
    const src = join(dir, "src");
    await mkdir(src);
    await makeFixtureRoot(src, { extraPackages: ["dhcpcd5"] });
    const { log, records } = memoryLog();
    const r = await importImage({ imagesDir: join(dir, "images"), name: "raspios", source: src }, { log, run: createCommandRunner() });
    expect(await readlink(join(r.path, "etc/systemd/system/dhcpcd.service"))).toBe("/dev/null");
    expect(records.some((x) => x.msg === "network manager masked in imported image")).toBe(true);
    expect((await readdir(join(r.path, "etc/ssh"))).filter((n) => n.startsWith("ssh_host_"))).toEqual([]);
    expect(await readFile(join(r.path, "etc/machine-id"), "utf8")).toBe("");
    expect(r.os).toBe("Fixture GNU/Linux");
    await expect(importImage({ imagesDir: join(dir, "images"), name: "raspios", source: src }, { log, run: createCommandRunner() })).rejects.toThrow(/already exists/);
  });

  it("refuses an image without the packages an NFS-root Pi needs", async () => {
    const src = join(dir, "bare");
    await mkdir(join(src, "var/lib/dpkg"), { recursive: true });
    await writeFile(join(src, "var/lib/dpkg/status"), "Package: bash\nStatus: install ok installed\n");
    await expect(importImage({ imagesDir: join(dir, "images"), name: "bare", source: src }, { log: memoryLog().log, run: createCommandRunner() })).rejects.toThrow(/lacks openssh-server, ifupdown/);
    expect(await readdir(join(dir, "images", ".pirack", "tmp"))).toEqual([]);
  });

  it("refuses to build with a network manager before downloading anything", async () => {
    const calls: string[] = [];
    const run = async (file: string) => (calls.push(file), { exitCode: 0, stdout: "amd64\n", stderr: "" });
    await expect(buildImage({ imagesDir: dir, name: "x", arch: "amd64", include: ["network-manager"] }, { log: memoryLog().log, run })).rejects.toThrow(/take eth0 down/);
    expect(calls).toEqual([]);
  });
});
