/**
 * One reconcile pass at a time per rack, across processes: `serve`'s passes and the one-shot commands
 * (`roots sync`, `roots rebuild`, `switch apply`) all take `<paths.state>/reconcile.lock` around their work,
 * so a one-shot command and the daemon never interleave their writes or undo each other. The lock is a file
 * holding the owner's pid, created with O_EXCL; a lock whose owner is dead (kill -9, power cut) is taken over.
 * Waiters poll, so the lock works between unrelated processes without a lock daemon.
 */
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { OperationError } from "./errors.ts";

/** The lock file of a state directory. */
export const passLockFile = (stateDir: string): string => join(stateDir, "reconcile.lock");

/** True when process `pid` exists (EPERM: it exists but belongs to someone else). */
export const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
};

/** How to wait for the lock. */
export interface PassLockOptions {
  /** Give up after this long (default 10 minutes: a pass that clones many roots takes a while). */
  readonly waitMs?: number;
  readonly pollMs?: number;
  /** Told once when the lock is busy, with the holder's pid. */
  readonly onWait?: (holder: number) => void;
}

/** Runs `fn` holding the state directory's pass lock; waits while another live process holds it. */
export async function withPassLock<T>(stateDir: string, fn: () => Promise<T>, opts: PassLockOptions = {}): Promise<T> {
  await mkdir(stateDir, { recursive: true, mode: 0o755 });
  const lock = passLockFile(stateDir);
  const deadline = Date.now() + (opts.waitMs ?? 600_000);
  let told = false;
  for (;;) {
    try {
      await writeFile(lock, `${process.pid}\n`, { flag: "wx", mode: 0o644 });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw new OperationError("PASS_LOCK_FAILED", `cannot create ${lock}`, { cause: err });
    }
    const holder = Number((await readFile(lock, "utf8").catch(() => "")).trim());
    if (holder === process.pid) throw new OperationError("PASS_LOCK_REENTERED", `${lock} is already held by this process`);
    if (!Number.isInteger(holder) || holder <= 0 || !isAlive(holder)) {
      // The holder died (or left an empty file while being killed): the lock is stale. Re-read first, so a lock
      // another waiter has just taken over is not removed under it.
      const again = Number((await readFile(lock, "utf8").catch(() => "")).trim());
      if (again === holder || Number.isNaN(again)) await rm(lock, { force: true });
      continue;
    }
    if (!told) {
      opts.onWait?.(holder);
      told = true;
    }
    if (Date.now() > deadline) throw new OperationError("PASS_LOCK_TIMEOUT", `${lock} is held by process ${holder}; gave up waiting`);
    await new Promise((r) => setTimeout(r, opts.pollMs ?? 100));
  }
  try {
    return await fn();
  } finally {
    await rm(lock, { force: true });
  }
}
