import { mkdtemp, readFile, rm, writeFile, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { withDirectoryLock, withDirectoryLocks } from "./lock.ts";

describe("exports directory lock", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "pirack-lock-"));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it("holds the lock with this pid while running and releases it after", async () => {
    const inside = await withDirectoryLock(dir, () => readFile(join(dir, ".pirack/lock"), "utf8"));
    expect(inside).toBe(`${process.pid}\n`);
    await expect(readFile(join(dir, ".pirack/lock"))).rejects.toThrow(/ENOENT/);
  });

  it("refuses a second writer while the first runs (same process counts too)", async () => {
    await withDirectoryLock(dir, async () => {
      await expect(withDirectoryLock(dir, async () => "no")).rejects.toThrow(/being changed by process/);
    });
  });

  it("releases the lock when the work throws", async () => {
    await expect(withDirectoryLock(dir, async () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    expect(await withDirectoryLock(dir, async () => "again")).toBe("again");
  });

  it("takes over a lock left by a dead process", async () => {
    await mkdir(join(dir, ".pirack"), { recursive: true });
    // pid_max on Linux is at most 4194304, so this pid cannot exist.
    await writeFile(join(dir, ".pirack/lock"), "4194305\n");
    expect(await withDirectoryLock(dir, async () => "taken over")).toBe("taken over");
  });

  it("locks several directories once each", async () => {
    const b = join(dir, "b");
    const order: string[] = [];
    await withDirectoryLocks([b, dir, b], async () => {
      order.push(await readFile(join(dir, ".pirack/lock"), "utf8"), await readFile(join(b, ".pirack/lock"), "utf8"));
    });
    expect(order).toEqual([`${process.pid}\n`, `${process.pid}\n`]);
  });
});
