import { mkdtemp, rm, utimes, writeFile } from "node:fs/promises";
import os from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { GENERATED_HEADER, localFileStore, ManagedFiles, type FileStore } from "./managed-files.ts";
import { stableVersion } from "../../lib/file-versions.ts";

describe("ManagedFiles on the local filesystem: a file is read again only when it changed", () => {
  let dir: string;
  let reads: string[];
  let files: ManagedFiles;
  // A clock ten minutes ahead: the files written here are old enough for their versions to be trusted.
  const counting: FileStore = { ...localFileStore, read: (p) => (reads.push(p), localFileStore.read(p)), version: (p) => stableVersion(p, 1000, () => Date.now() + 600_000) };
  beforeEach(async () => {
    dir = await mkdtemp(join(os.tmpdir(), "pirack-managed-"));
    reads = [];
    files = new ManagedFiles("test", dir, counting);
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it("reads each file once, then again after any write to it, an operator's same-size edit included", async () => {
    for (let i = 1; i <= 20; i++) await writeFile(join(dir, `eth0.${i}`), `${GENERATED_HEADER}: eth0.${i}\nauto eth0.${i}\n`);
    await writeFile(join(dir, "operator"), "iface lo inet loopback\n");
    const first = await files.observe();
    expect(first.ours.size).toBe(20);
    expect([...first.foreign]).toEqual(["operator"]);
    expect(reads).toHaveLength(21);

    reads = [];
    expect(await files.observe()).toEqual(first);
    expect(reads).toEqual([]);

    // Same length, same mtime put back: the ctime (and the inode, for an atomic replace) still moves.
    const path = join(dir, "eth0.7");
    await writeFile(path, `${GENERATED_HEADER}: eth0.7\nauto eth0.X\n`);
    await utimes(path, new Date(0), new Date(0));
    await rm(join(dir, "eth0.9"));
    const third = await files.observe();
    expect(reads).toEqual([path]);
    expect(third.ours.get("eth0.7")).toContain("auto eth0.X");
    expect(third.ours.has("eth0.9")).toBe(false);
    const plan = files.plan(new Map([...first.ours].filter(([n]) => n !== "eth0.3")), third);
    expect(plan.map((a) => a.description)).toEqual([`rewrite ${path}`, `create ${join(dir, "eth0.9")}`, `remove ${join(dir, "eth0.3")}`]);
  });

  it("with the real clock, a file changed within the last second is read on every pass (its version is not yet trusted)", async () => {
    const real = new ManagedFiles("test", dir, { ...localFileStore, read: (p) => (reads.push(p), localFileStore.read(p)) });
    await writeFile(join(dir, "eth0.1"), `${GENERATED_HEADER}: eth0.1\n`);
    await real.observe();
    await real.observe();
    expect(reads).toHaveLength(2);
  });
});

describe("ManagedFiles.applyAll", () => {
  let dir: string;
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it("writes a pass's files together, says how each went, and runs the after-change hook once", async () => {
    dir = await mkdtemp(join(os.tmpdir(), "pirack-managed-"));
    let hooks = 0;
    const files = new ManagedFiles("test", dir, localFileStore, async () => void hooks++);
    const desired = new Map(Array.from({ length: 40 }, (_, i) => [`eth0.${i + 1}`, `${GENERATED_HEADER}: eth0.${i + 1}\n`] as const));
    const actions = files.plan(desired, await files.observe());
    // Someone else makes one of the files between the plan and the write: that create fails, the others land.
    await writeFile(join(dir, "eth0.7"), "iface eth0.7 inet manual\n");
    const outcomes = await files.applyAll(actions);
    expect(outcomes.map((o) => o.action)).toEqual(actions);
    expect(outcomes.filter((o) => o.error !== undefined).map((o) => o.action.subject)).toEqual([join(dir, "eth0.7")]);
    expect(hooks).toBe(1);
    const after = await files.observe();
    expect(after.ours.size).toBe(39);
    expect([...after.foreign]).toEqual(["eth0.7"]);
  });
});
