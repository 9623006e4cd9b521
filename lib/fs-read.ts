/** Reading helpers that tell "not there" from "cannot read". */
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
