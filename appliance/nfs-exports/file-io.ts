/** Small file helpers for the exports adapters: read-or-undefined and crash-safe replace. */
import { readFile } from "node:fs/promises";
import { join } from "node:path";

/** Reads a text file, or undefined when it does not exist (any other error is thrown). */
export async function readTextIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

/** Crash-safe replace (temporary sibling, fsync, rename): one implementation for the whole appliance. */
export { writeFileAtomic } from "../../lib/fs-atomic.ts";

/** Joins a sysroot prefix and an absolute system path (`/etc/exports.d/...`). */
export const underSysroot = (sysroot: string | undefined, path: string): string => (sysroot ? join(sysroot, path) : path);
