/**
 * Filesystem facts for choosing a clone strategy: filesystem type (statfs), btrfs subvolumes and
 * filesystem identity, and a one-file reflink probe. Adapter code: it only reads and probes.
 */
import { randomBytes as cryptoRandomBytes } from "node:crypto";
import { lstat, opendir, rm, stat, statfs } from "node:fs/promises";
import { join } from "node:path";
import type { CloneStrategy, CommandRunner } from "./types.ts";

/** statfs(2) `f_type` magic numbers (linux/magic.h) of the filesystems pirack tells apart. */
export const FsMagic = {
  Btrfs: 0x9123683e, // BTRFS_SUPER_MAGIC
  Xfs: 0x58465342, // XFS_SUPER_MAGIC, "XFSB"
  Ext4: 0xef53, // EXT4_SUPER_MAGIC (ext2/3 share it)
  Tmpfs: 0x01021994, // TMPFS_MAGIC
  Overlay: 0x794c7630, // OVERLAYFS_SUPER_MAGIC
} as const;

/** Readable name of a filesystem type, for logs and `docs/rootfs.md`'s table. */
export function fsTypeName(magic: number): string {
  const hit = Object.entries(FsMagic).find(([, v]) => v === magic);
  return hit ? hit[0].toLowerCase() : `0x${magic.toString(16)}`;
}

/** The filesystem type of the filesystem holding `path`. */
export async function fsTypeOf(path: string): Promise<number> {
  return (await statfs(path)).type;
}

/** btrfs gives every subvolume root inode number 256 (BTRFS_FIRST_FREE_OBJECTID). */
const BTRFS_SUBVOLUME_ROOT_INODE = 256;

/** True when `path` is the root of a btrfs subvolume. */
export async function isBtrfsSubvolume(path: string): Promise<boolean> {
  const [st, type] = await Promise.all([stat(path), fsTypeOf(path)]);
  return type === FsMagic.Btrfs && st.ino === BTRFS_SUBVOLUME_ROOT_INODE;
}

/** Finds one small regular file under `root` to probe reflink support with (depth-first, bounded). */
async function findProbeFile(root: string, budget = { left: 2000 }): Promise<string | undefined> {
  const dir = await opendir(root);
  const subdirs: string[] = [];
  for await (const entry of dir) {
    if (--budget.left < 0) break;
    const p = join(root, entry.name);
    if (entry.isFile()) {
      const st = await lstat(p);
      if (st.size > 0 && st.size < 1 << 20) return p;
    } else if (entry.isDirectory()) subdirs.push(p);
  }
  for (const sub of subdirs) {
    const hit = await findProbeFile(sub, budget);
    if (hit) return hit;
  }
  return undefined;
}

/** The chosen strategy and why, for the log line every clone writes. */
export interface StrategyChoice {
  readonly strategy: CloneStrategy;
  /** Strategies to fall back to, in order, if `strategy` fails (a snapshot across filesystems). */
  readonly fallbacks: readonly CloneStrategy[];
  readonly reason: string;
  readonly sourceFs: string;
  readonly targetFs: string;
}

/**
 * Picks the cheapest strategy that works from `source` into directory `targetDir`:
 * a btrfs snapshot when the golden image is a subvolume and the target is on btrfs (whether both
 * are on the same filesystem is only known by trying: btrfs folds the subvolume id into st_dev
 * and f_fsid; a cross-filesystem snapshot fails at once with EXDEV, leaving nothing behind);
 * else a reflink copy when a one-file `cp --reflink=always` probe succeeds (XFS with reflink=1,
 * btrfs); else a plain copy.
 */
export async function chooseCloneStrategy(source: string, targetDir: string, run: CommandRunner, opts: { snapshots?: boolean } = {}): Promise<StrategyChoice> {
  const [sourceType, targetType] = await Promise.all([fsTypeOf(source), fsTypeOf(targetDir)]);
  const base = { sourceFs: fsTypeName(sourceType), targetFs: fsTypeName(targetType) };
  const snapshot = (opts.snapshots ?? true) && targetType === FsMagic.Btrfs && (await isBtrfsSubvolume(source));
  const reflink = await probeReflink(source, targetDir, run);
  const fallbacks: CloneStrategy[] = reflink.ok ? ["reflink", "copy"] : ["copy"];
  if (snapshot) return { ...base, strategy: "snapshot", fallbacks, reason: "golden image is a btrfs subvolume and the target is on btrfs" };
  if (reflink.ok) return { ...base, strategy: "reflink", fallbacks: ["copy"], reason: reflink.reason };
  return { ...base, strategy: "copy", fallbacks: [], reason: reflink.reason };
}

/** Tries `cp --reflink=always` of one small file of `source` into `targetDir`. */
async function probeReflink(source: string, targetDir: string, run: CommandRunner): Promise<{ ok: boolean; reason: string }> {
  const probeSource = await findProbeFile(source);
  if (probeSource) {
    const probe = join(targetDir, `.reflink-probe.${cryptoRandomBytes(4).toString("hex")}`);
    try {
      const r = await run("cp", ["--reflink=always", "--", probeSource, probe]);
      if (r.exitCode === 0) return { ok: true, reason: "reflink probe succeeded" };
      return { ok: false, reason: `reflink probe failed: ${r.stderr.trim() || `exit ${r.exitCode}`}` };
    } finally {
      await rm(probe, { force: true });
    }
  }
  return { ok: false, reason: "no regular file in the image to probe reflink with" };
}
