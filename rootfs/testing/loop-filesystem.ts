/**
 * Test and bench support: a real btrfs, XFS or ext4 filesystem on a loop device backed by a sparse
 * file. `mount -o loop` sets the loop device's autoclear flag, so unmounting also frees the device;
 * `release()` still detaches any leftover device for the image and removes the file.
 */
import { execa } from "execa";
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";

/** Filesystems the clone strategies are tested on. */
export type LoopFsKind = "btrfs" | "xfs" | "ext4";

/** A mounted loop filesystem; call `release()` in teardown. */
export interface LoopFilesystem {
  readonly kind: LoopFsKind;
  readonly mountPoint: string;
  readonly image: string;
  release(): Promise<void>;
}

const MKFS: Record<LoopFsKind, (img: string) => [string, string[]]> = {
  btrfs: (img) => ["mkfs.btrfs", ["-q", "-f", img]],
  // reflink=1 is xfsprogs' default since 5.1; spelled out because reflink clones depend on it.
  xfs: (img) => ["mkfs.xfs", ["-q", "-f", "-m", "reflink=1", img]],
  ext4: (img) => ["mkfs.ext4", ["-q", "-F", img]],
};

/** Creates `<dir>/<kind>.img` of `sizeMiB` (sparse), makes the filesystem and mounts it at `<dir>/<kind>`. */
export async function createLoopFilesystem(kind: LoopFsKind, dir: string, sizeMiB: number): Promise<LoopFilesystem> {
  const image = join(dir, `${kind}.img`);
  const mountPoint = join(dir, kind);
  await mkdir(mountPoint, { recursive: true });
  await execa("truncate", ["-s", `${sizeMiB}M`, image]);
  const [mkfs, args] = MKFS[kind](image);
  await execa(mkfs, args);
  await execa("mount", ["-o", "loop", image, mountPoint]);
  const release = async (): Promise<void> => {
    const um = await execa("umount", [mountPoint], { reject: false });
    // A still-busy mount is detached lazily so the loop device is freed once its users exit.
    if (um.exitCode !== 0) await execa("umount", ["-l", mountPoint], { reject: false });
    const left = await execa("losetup", ["-j", image], { reject: false });
    for (const line of left.stdout.split("\n").filter(Boolean)) {
      const dev = line.split(":")[0];
      if (dev) await execa("losetup", ["-d", dev], { reject: false });
    }
    await rm(image, { force: true });
    await rm(mountPoint, { recursive: true, force: true });
  };
  return { kind, mountPoint, image, release };
}
