import { execa } from "execa";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { withCacheLock } from "./cache-lock.ts";

describe("withCacheLock", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(os.tmpdir(), "pirack-lock-"));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it("runs one holder at a time and releases the lock however the holder ends", async () => {
    const lock = join(dir, "entry.lock");
    const log: string[] = [];
    const holder = (name: string, fail = false) =>
      withCacheLock(lock, async () => {
        log.push(`${name} in`);
        await new Promise((r) => setTimeout(r, 50));
        log.push(`${name} out`);
        if (fail) throw new Error(`${name} failed`);
        return name;
      }, { pollMs: 10 });
    const results = await Promise.allSettled([holder("a", true), holder("b"), holder("c")]);
    expect(results.map((r) => r.status)).toEqual(["rejected", "fulfilled", "fulfilled"]);
    // Never two inside at once: every "in" is followed by its own "out".
    for (let i = 0; i < log.length; i += 2) expect(log[i + 1]).toBe(log[i]!.replace(" in", " out"));
    expect(await readdir(dir)).toEqual([]);
  });

  it("takes over a lock whose holder has exited, and one left without a pid", async () => {
    const dead = execa("true");
    await dead;
    const stale = join(dir, "stale.lock");
    await mkdir(stale);
    await writeFile(join(stale, "pid"), `${dead.pid}\n`);
    expect(await withCacheLock(stale, async () => "took it", { pollMs: 10 })).toBe("took it");
    const orphan = join(dir, "orphan.lock");
    await mkdir(orphan);
    expect(await withCacheLock(orphan, async () => "took it too", { pollMs: 10, orphanMs: 50 })).toBe("took it too");
  });

  it("waits for a live holder in another process, saying who it is", async () => {
    const lock = join(dir, "busy.lock");
    const other = execa("sleep", ["0.5"]);
    await mkdir(lock);
    await writeFile(join(lock, "pid"), `${other.pid}\n`);
    const waitedFor: number[] = [];
    const started = Date.now();
    const released = other.then(() => rm(lock, { recursive: true, force: true }));
    const r = await withCacheLock(lock, async () => Date.now() - started, { pollMs: 20, onWait: (pid) => waitedFor.push(pid) });
    await released;
    expect(waitedFor).toEqual([other.pid]);
    expect(r).toBeGreaterThanOrEqual(400);
  });
});
