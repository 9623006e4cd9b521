/**
 * Writes a Pi's rendered workload files into its root (the adapter). Every write is atomic (temporary sibling +
 * rename, so a symlink in the way is replaced, never followed) and recorded in the root's manifest with its
 * sha256. On a re-render (role change, new config) a file pirack wrote earlier and no longer wants is removed only
 * when it still holds what pirack wrote; a file the Pi changed is kept. Nothing else in the root is touched.
 */
import { createHash, randomBytes } from "node:crypto";
import { chmod, chown, lstat, readFile, readlink, rename, rm, symlink, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { OperationError } from "../lib/errors.ts";
import { inRoot, safeDir } from "../rootfs/customise.ts";
import type { RenderedFile } from "./role.ts";
import { MANIFEST_PATH } from "./render.ts";

/** What one apply did, by path (relative to the root). Secrets are never in here, only paths. */
export interface ApplyReport {
  readonly written: readonly string[];
  readonly unchanged: readonly string[];
  readonly removed: readonly string[];
  /** Files pirack wrote earlier, no longer wants, and left because the Pi changed them. */
  readonly kept: readonly string[];
}

type Manifest = Record<string, string>;

const sha = (text: string): string => createHash("sha256").update(text).digest("hex");
/** Hash recorded for a file: content and mode (a symlink's target). */
const fingerprint = (f: Pick<RenderedFile, "content" | "mode" | "symlink">): string => sha(`${f.symlink ? "link" : f.mode.toString(8)}\0${f.content}`);

async function current(root: string, path: string): Promise<{ content: string; mode: number; symlink: boolean } | undefined> {
  const full = inRoot(root, path);
  const st = await lstat(full).catch(() => undefined);
  if (!st) return undefined;
  if (st.isSymbolicLink()) return { content: await readlink(full), mode: 0o777, symlink: true };
  if (!st.isFile()) return undefined;
  return { content: await readFile(full, "utf8"), mode: st.mode & 0o7777, symlink: false };
}

/** gid of `group` in the root's own /etc/group (the Pi's numbering, not the fileserver's). */
async function groupId(root: string, group: string): Promise<number> {
  const text = await readFile(inRoot(root, "etc/group"), "utf8").catch(() => "");
  const line = text.split("\n").find((l) => l.split(":")[0] === group);
  const gid = line === undefined ? NaN : Number(line.split(":")[2]);
  if (!Number.isInteger(gid)) throw new OperationError("ROOT_GROUP_MISSING", `group ${group} is not in ${inRoot(root, "etc/group")}; is the root cloned from the role layer?`);
  return gid;
}

async function writeOne(root: string, f: RenderedFile): Promise<void> {
  const target = inRoot(root, f.path);
  await safeDir(root, dirname(f.path));
  const tmp = `${target}.pirack-${randomBytes(4).toString("hex")}`;
  try {
    if (f.symlink) await symlink(f.content, tmp);
    else {
      await writeFile(tmp, f.content, { mode: 0o600 });
      if (f.group !== undefined) await chown(tmp, 0, await groupId(root, f.group));
      await chmod(tmp, f.mode);
    }
    await rename(tmp, target);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

async function readManifest(root: string): Promise<Manifest> {
  const text = await readFile(inRoot(root, MANIFEST_PATH), "utf8").catch(() => undefined);
  if (text === undefined) return {};
  try {
    const m = JSON.parse(text) as { files?: Manifest };
    return m.files ?? {};
  } catch {
    // A damaged manifest forgets pirack's old files (they are then kept, never deleted by mistake).
    return {};
  }
}

/** Brings the root's workload files to `files`; returns what changed. */
export async function applyWorkloadFiles(root: string, files: readonly RenderedFile[]): Promise<ApplyReport> {
  const before = await readManifest(root);
  const written: string[] = [];
  const unchanged: string[] = [];
  const removed: string[] = [];
  const kept: string[] = [];
  const after: Manifest = {};
  for (const f of files) {
    const now = await current(root, f.path);
    after[f.path] = fingerprint(f);
    if (now && now.symlink === Boolean(f.symlink) && now.content === f.content && (f.symlink || now.mode === f.mode) && f.group === undefined) {
      unchanged.push(f.path);
      continue;
    }
    await writeOne(root, f);
    written.push(f.path);
  }
  for (const [path, hash] of Object.entries(before)) {
    if (path in after) continue;
    const now = await current(root, path);
    if (!now) continue;
    if (fingerprint(now) === hash) {
      await rm(inRoot(root, path));
      removed.push(path);
    } else kept.push(path);
  }
  await writeOne(root, { path: MANIFEST_PATH, content: `${JSON.stringify({ note: "workload files written by pirack (path -> sha256 of mode and content)", files: after }, null, 2)}\n`, mode: 0o644 });
  return { written, unchanged, removed, kept };
}
