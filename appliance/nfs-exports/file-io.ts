/** Small file helpers for the exports adapters: read-or-undefined and crash-safe replace. */
import { randomBytes } from "node:crypto";
import { mkdir, open, readFile, rename, rm } from "node:fs/promises";
import { dirname, join } from "node:path";

/** Reads a text file, or undefined when it does not exist (any other error is thrown). */
export async function readTextIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

/**
 * Replaces a file atomically: write a temporary sibling, fsync, rename over the target. A reader
 * (exportfs, ganesha on SIGHUP) sees the old or the new file, never half of one.
 */
export async function writeFileAtomic(path: string, text: string, mode = 0o644): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${randomBytes(4).toString("hex")}.pirack-tmp`);
  const fh = await open(tmp, "w", mode);
  try {
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/** Joins a sysroot prefix and an absolute system path (`/etc/exports.d/...`). */
export const underSysroot = (sysroot: string | undefined, path: string): string => (sysroot ? join(sysroot, path) : path);
