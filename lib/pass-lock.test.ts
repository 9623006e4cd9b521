import { afterEach, describe, expect, it } from "vitest";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawn } from "node:child_process";
import { passLockFile, withPassLock } from "./pass-lock.ts";

let dir: string | undefined;
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

describe("pass lock", () => {
  it("runs one holder at a time and removes the lock after", async () => {
    dir = await mkdtemp(join(tmpdir(), "pirack-lock-"));
    expect(await withPassLock(dir, async () => (await readFile(passLockFile(dir!), "utf8")).trim())).toBe(String(process.pid));
    await expect(readFile(passLockFile(dir))).rejects.toThrow(/ENOENT/);
  });

  it("refuses to be taken twice by one process instead of deadlocking", async () => {
    dir = await mkdtemp(join(tmpdir(), "pirack-lock-"));
    await expect(withPassLock(dir, () => withPassLock(dir!, async () => 1))).rejects.toMatchObject({ code: "PASS_LOCK_REENTERED" });
  });

  it("takes over the lock of a dead process", async () => {
    dir = await mkdtemp(join(tmpdir(), "pirack-lock-"));
    const child = spawn("true");
    const pid = child.pid!;
    await new Promise((r) => child.on("exit", r));
    await writeFile(passLockFile(dir), `${pid}\n`);
    expect(await withPassLock(dir, async () => "ran")).toBe("ran");
  });

  it("waits for a live holder in another process, then runs", async () => {
    dir = await mkdtemp(join(tmpdir(), "pirack-lock-"));
    const sleeper = spawn("sleep", ["0.6"]);
    await writeFile(passLockFile(dir), `${sleeper.pid}\n`);
    const waitedFor: number[] = [];
    const started = Date.now();
    const exited = new Promise((r) => sleeper.on("exit", r)).then(() => rm(passLockFile(dir!), { force: true }));
    const ran = await withPassLock(dir, async () => Date.now() - started, { pollMs: 20, onWait: (h) => waitedFor.push(h) });
    await exited;
    expect(waitedFor).toEqual([sleeper.pid]);
    expect(ran).toBeGreaterThanOrEqual(500);
  });

  it("gives up after its wait", async () => {
    dir = await mkdtemp(join(tmpdir(), "pirack-lock-"));
    await writeFile(passLockFile(dir), `${process.ppid}\n`);
    await expect(withPassLock(dir, async () => 1, { waitMs: 100, pollMs: 20 })).rejects.toMatchObject({ code: "PASS_LOCK_TIMEOUT" });
  });
});
