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

async function current(root: string, path: string): Promise<{ content: string; mode: number; symlink: boolean; uid: number; gid: number } | undefined> {
  const full = inRoot(root, path);
  const st = await lstat(full).catch(() => undefined);
  if (!st) return undefined;
  if (st.isSymbolicLink()) return { content: await readlink(full), mode: 0o777, symlink: true, uid: st.uid, gid: st.gid };
  if (!st.isFile()) return undefined;
  return { content: await readFile(full, "utf8"), mode: st.mode & 0o7777, symlink: false, uid: st.uid, gid: st.gid };
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

/** What bringing a root to `files` needs (nothing is written): the files to write, pirack's old files to remove or keep. */
export interface WorkloadFilesPlan {
  readonly write: readonly RenderedFile[];
  readonly unchanged: readonly string[];
  /** Files pirack wrote earlier, no longer wants, and that still hold what it wrote. */
  readonly remove: readonly string[];
  /** Files pirack wrote earlier, no longer wants, and the Pi changed: left alone. */
  readonly kept: readonly string[];
  /** The manifest differs from the one these files give (it is rewritten even when no file changes). */
  readonly manifestStale: boolean;
}

/** True when the file in the root already is `f` (content, mode or link target, and group where one is set). */
async function inPlace(root: string, f: RenderedFile, now: Awaited<ReturnType<typeof current>>): Promise<boolean> {
  if (!now || now.symlink !== Boolean(f.symlink) || now.content !== f.content) return false;
  if (f.symlink) return true;
  if (now.mode !== f.mode) return false;
  if (f.group === undefined) return true;
  // Ownership is only ever set by root; unprivileged (unit tests) the group cannot be given, so it is not compared.
  if (process.getuid?.() !== 0) return true;
  return now.uid === 0 && now.gid === (await groupId(root, f.group));
}

const manifestText = (files: Manifest): string => `${JSON.stringify({ note: "workload files written by pirack (path -> sha256 of mode and content)", files }, null, 2)}\n`;

/** Reads the root and says what `applyWorkloadFiles(root, files)` would do. */
export async function planWorkloadFiles(root: string, files: readonly RenderedFile[]): Promise<WorkloadFilesPlan> {
  const before = await readManifest(root);
  const write: RenderedFile[] = [];
  const unchanged: string[] = [];
  const remove: string[] = [];
  const kept: string[] = [];
  const after: Manifest = {};
  for (const f of files) {
    after[f.path] = fingerprint(f);
    if (await inPlace(root, f, await current(root, f.path))) unchanged.push(f.path);
    else write.push(f);
  }
  for (const [path, hash] of Object.entries(before)) {
    if (path in after) continue;
    const now = await current(root, path);
    if (!now) continue;
    if (fingerprint(now) === hash) remove.push(path);
    else kept.push(path);
  }
  const manifestStale = (await current(root, MANIFEST_PATH))?.content !== manifestText(after);
  return { write, unchanged, remove, kept, manifestStale };
}

/** Brings the root's workload files to `files`; returns what changed. */
export async function applyWorkloadFiles(root: string, files: readonly RenderedFile[]): Promise<ApplyReport> {
  const plan = await planWorkloadFiles(root, files);
  for (const f of plan.write) await writeOne(root, f);
  const removed: string[] = [];
  const kept = [...plan.kept];
  for (const path of plan.remove) {
    // Re-checked at the last moment: a file the Pi changed since the plan is kept.
    const now = await current(root, path);
    if (!now) continue;
    const before = await readManifest(root);
    if (fingerprint(now) === before[path]) {
      await rm(inRoot(root, path));
      removed.push(path);
    } else kept.push(path);
  }
  const after: Manifest = Object.fromEntries(files.map((f) => [f.path, fingerprint(f)]));
  if (plan.manifestStale || plan.write.length > 0 || removed.length > 0) await writeOne(root, { path: MANIFEST_PATH, content: manifestText(after), mode: 0o644 });
  return { written: plan.write.map((f) => f.path), unchanged: plan.unchanged, removed, kept };
}
