/**
 * One writer per exports directory. `serve` serialises its own passes, but `pirack roots sync` or
 * `roots rebuild` may run beside it; without a lock one would take the other's clone in progress
 * for a crash leftover and delete it. The lock is a file holding the owner's pid, created with
 * O_EXCL; a lock whose pid is dead (the owner was killed) is taken over.
 */
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { OperationError } from "../lib/errors.ts";
import { isAlive } from "../lib/pass-lock.ts";
import { WORK_DIR } from "./layout.ts";

/** Takes `<dir>/.pirack/lock` for the duration of `fn`; throws `ROOTS_BUSY` if a live process holds it. */
export async function withDirectoryLock<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const work = join(dir, WORK_DIR);
  await mkdir(dir, { recursive: true, mode: 0o755 });
  await mkdir(work, { recursive: true, mode: 0o700 });
  const lock = join(work, "lock");
  for (let attempt = 0; ; attempt++) {
    try {
      await writeFile(lock, `${process.pid}\n`, { flag: "wx" });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST" || attempt > 0) {
        throw new OperationError("ROOTS_BUSY", `cannot lock ${lock}`, { cause: err });
      }
      const holder = Number((await readFile(lock, "utf8").catch(() => "")).trim());
      if (holder === process.pid || (Number.isInteger(holder) && holder > 0 && isAlive(holder))) {
        throw new OperationError("ROOTS_BUSY", `${dir} is being changed by process ${holder}; try again when it is done`);
      }
      // The holder died (kill -9, power cut): its lock is stale.
      await rm(lock, { force: true });
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lock, { force: true });
  }
}

/** Takes the locks of several directories in a fixed order (sorted), so two callers cannot deadlock. */
export async function withDirectoryLocks<T>(dirs: readonly string[], fn: () => Promise<T>): Promise<T> {
  const sorted = [...new Set(dirs)].sort();
  const step = (i: number): Promise<T> => {
    const dir = sorted[i];
    return dir === undefined ? fn() : withDirectoryLock(dir, () => step(i + 1));
  };
  return step(0);
}
