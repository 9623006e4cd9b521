/** Atomic file writes: a temporary file beside the target, fsynced, then linked or renamed into place. */
import { randomBytes } from "node:crypto";
import { link, mkdir, open, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/** Writes `content` to a new temporary file in the target's directory and returns its path. */
async function writeTempBeside(path: string, content: string | Uint8Array, mode: number): Promise<string> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, `.${basename(path)}.${randomBytes(4).toString("hex")}.tmp`);
  const handle = await open(tmp, "wx", mode);
  try {
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
  return tmp;
}

/** Replaces (or creates) `path` so that readers see the old or the new file, never a part. */
export async function writeFileAtomic(path: string, content: string | Uint8Array, mode = 0o644): Promise<void> {
  const tmp = await writeTempBeside(path, content, mode);
  try {
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/** Creates `path` atomically; fails with EEXIST when it exists (link() refuses where rename() would replace). */
export async function createFileAtomic(path: string, content: string | Uint8Array, mode = 0o644): Promise<void> {
  const tmp = await writeTempBeside(path, content, mode);
  try {
    await link(tmp, path);
  } finally {
    await rm(tmp, { force: true });
  }
}
