/**
 * One builder per bench cache entry across processes (two test files, or a test and `pirack bench`, preparing
 * the same golden image at once): the lock is a directory made with mkdir(2), which is atomic, holding the
 * holder's pid. A waiter polls; a lock whose holder is gone (killed, crashed) is taken over. Found on a fresh CI
 * machine: two suites building the golden image at once, the second removed the first's half-built tree.
 */
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
};

/** The pid recorded in a lock, or undefined while the holder is still writing it (or it is unreadable). */
async function holderOf(lock: string): Promise<number | undefined> {
  const text = await readFile(join(lock, "pid"), "utf8").catch(() => "");
  const pid = Number(text.trim());
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

export interface CacheLockOptions {
  /** Called once when the lock is held by another live process (who, for the progress line). */
  readonly onWait?: (holder: number) => void;
  readonly pollMs?: number;
  /** A lock without a readable pid this long is a crash between mkdir and writing the pid: taken over. */
  readonly orphanMs?: number;
}

/** Runs `fn` holding the lock `lockDir` (created beside the entry it guards); released however `fn` ends. */
export async function withCacheLock<T>(lockDir: string, fn: () => Promise<T>, opts: CacheLockOptions = {}): Promise<T> {
  const pollMs = opts.pollMs ?? 1000;
  const orphanMs = opts.orphanMs ?? 10_000;
  let told = false;
  let noPidSince: number | undefined;
  for (;;) {
    try {
      await mkdir(lockDir);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") {
        await mkdir(join(lockDir, ".."), { recursive: true });
        continue;
      }
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const holder = await holderOf(lockDir);
    if (holder === undefined) {
      noPidSince ??= Date.now();
      if (Date.now() - noPidSince > orphanMs) await rm(lockDir, { recursive: true, force: true });
    } else if (!alive(holder)) {
      await rm(lockDir, { recursive: true, force: true });
      noPidSince = undefined;
      continue;
    } else {
      noPidSince = undefined;
      if (!told) opts.onWait?.(holder);
      told = true;
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
  try {
    await writeFile(join(lockDir, "pid"), `${process.pid}\n`);
    return await fn();
  } finally {
    await rm(lockDir, { recursive: true, force: true });
  }
}
