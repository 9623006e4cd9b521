/** Reading helpers that tell "not there" from "cannot read". */
import { statSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { OperationError } from "./errors.ts";

const missing = (err: unknown): boolean => (err as NodeJS.ErrnoException)?.code === "ENOENT";

/** A directory's entries; a missing directory is empty, any other failure (EACCES, EIO, ENOTDIR) is an error. */
export async function readdirOrEmpty(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    if (missing(err)) return [];
    throw new OperationError("DIR_UNREADABLE", `cannot read directory ${dir}: ${(err as Error).message}`, { cause: err });
  }
}

/** A file's text, or undefined when it does not exist; any other failure is an error. */
export async function readTextOrUndefined(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (err) {
    if (missing(err)) return undefined;
    throw new OperationError("FILE_UNREADABLE", `cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Whether a path is a directory (following symlinks), by one stat made synchronously: its cost does not depend on
 * what the directory holds, and it is cheaper for the event loop than a thread-pool round trip (lib/file-versions.ts).
 */
export function isDirectorySync(path: string): boolean {
  try {
    return statSync(path, { throwIfNoEntry: false })?.isDirectory() ?? false;
  } catch {
    return false;
  }
}
