import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { mkdir, mkdtemp, readdir, readFile, rename, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stableVersion, VersionedReads } from "./file-versions.ts";

describe("VersionedReads", () => {
  let dir: string;
  let reads: string[];
  const reader = (path: string) => {
    reads.push(path);
    return readFile(path, "utf8").catch(() => undefined);
  };
  /** A clock ten minutes ahead: every file on disk is old enough to trust. */
  const later = () => Date.now() + 600_000;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "pirack-versions-"));
    reads = [];
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it("reads an unchanged file once, and again after it is replaced", async () => {
    const v = new VersionedReads(1000, later);
    const p = join(dir, "hostname");
    await writeFile(p, "pi-01\n");
    expect(await v.read(p, reader)).toBe("pi-01\n");
    expect(await v.read(p, reader)).toBe("pi-01\n");
    expect(reads).toHaveLength(1);
    await writeFile(`${p}.new`, "pi-02\n");
    await rename(`${p}.new`, p);
    expect(await v.read(p, reader)).toBe("pi-02\n");
    expect(reads).toHaveLength(2);
  });

  it("does not trust a version changed within racyMs: a same-size rewrite in the same clock tick is still seen", async () => {
    const v = new VersionedReads(60_000);
    const p = join(dir, "hosts");
    await writeFile(p, "aaaa");
    expect(await v.read(p, reader)).toBe("aaaa");
    await writeFile(p, "bbbb");
    expect(await v.read(p, reader)).toBe("bbbb");
    expect(reads).toHaveLength(2);
    expect(await stableVersion(p, 60_000)).toBeUndefined();
    expect(await stableVersion(p, 1000, later)).toMatch(/^\d+:\d+:4:\d+:\d+$/);
  });

  it("a missing path is not read; a symlink is read every time", async () => {
    const v = new VersionedReads(1000, later);
    expect(await v.read(join(dir, "nothing"), reader)).toBeUndefined();
    expect(await v.read(join(dir, "nothing", "below"), reader)).toBeUndefined();
    expect(reads).toEqual([]);
    await writeFile(join(dir, "a"), "a");
    await symlink(join(dir, "a"), join(dir, "link"));
    await v.read(join(dir, "link"), reader);
    await v.read(join(dir, "link"), reader);
    expect(reads).toHaveLength(2);
    expect(v.size).toBe(0);
  });

  it("forgets the groups no longer kept", async () => {
    const v = new VersionedReads(1000, later);
    await writeFile(join(dir, "a"), "a");
    await writeFile(join(dir, "b"), "b");
    await v.read(join(dir, "a"), reader, "root-a");
    await v.read(join(dir, "b"), reader, "root-b");
    v.retainGroups((g) => g === "root-b");
    expect(v.size).toBe(1);
    await v.read(join(dir, "a"), reader, "root-a");
    await v.read(join(dir, "b"), reader, "root-b");
    expect(reads.map((r) => r.slice(-1))).toEqual(["a", "b", "a"]);
  });

  it("derives from a directory once, and again after an entry is added", async () => {
    const v = new VersionedReads(1000, later);
    const ssh = join(dir, "ssh");
    const list = async (p: string) => (reads.push(p), (await readdir(p)).sort());
    expect(await v.ofDirectory(ssh, list, ["(none)"])).toEqual(["(none)"]);
    await mkdir(ssh);
    await writeFile(join(ssh, "ssh_host_ed25519_key"), "k");
    expect(await v.ofDirectory(ssh, list, [])).toEqual(["ssh_host_ed25519_key"]);
    expect(await v.ofDirectory(ssh, list, [])).toEqual(["ssh_host_ed25519_key"]);
    expect(reads).toHaveLength(1);
    await writeFile(join(ssh, "ssh_host_ed25519_key.pub"), "k");
    expect(await v.ofDirectory(ssh, list, [])).toEqual(["ssh_host_ed25519_key", "ssh_host_ed25519_key.pub"]);
    expect(reads).toHaveLength(2);
  });
});
