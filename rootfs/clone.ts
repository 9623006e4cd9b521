/**
 * Copying a tree with everything a root filesystem needs: owners, modes, xattrs (file
 * capabilities live there), ACLs, device nodes, hardlinks, symlinks, sparse files. Three
 * strategies: btrfs snapshot, reflink copy, plain copy with progress.
 */
import { lstat, rm } from "node:fs/promises";
import { OperationError } from "../lib/errors.ts";
import { FsMagic, fsTypeOf } from "./filesystem.ts";
import type { CloneStrategy, CommandRunner, ProgressListener } from "./types.ts";

/** GNU tar's checkpoint unit: one record is 20 blocks of 512 bytes (tar(1) --record-size default). */
const TAR_RECORD_BYTES = 10240;
/** Checkpoint every 100 records (~1 MiB) so progress moves smoothly without flooding the pipe. */
const CHECKPOINT_RECORDS = 100;
const CHECKPOINT_TAG = "pirack-checkpoint";

/**
 * tar flags shared by both ends of the copy pipe. `--xattrs-include=*` matters on extraction:
 * without it GNU tar restores only `user.*` attributes and drops `security.capability`.
 */
const TAR_FIDELITY = ["--xattrs", "--xattrs-include=*", "--acls", "--numeric-owner", "--sparse"];

/** Apparent size of a tree in bytes (`du -sb`), the denominator of copy progress. */
export async function treeBytes(path: string, run: CommandRunner): Promise<number> {
  const r = await run("du", ["-sb", "--", path]);
  const n = Number(r.stdout.split(/\s/)[0]);
  return r.exitCode === 0 && Number.isFinite(n) ? n : 0;
}

/**
 * Clones `source` to `target` with `strategy`; `target` must not exist unless `targetExists` (an
 * empty directory or subvolume made by the caller; not for snapshots). Progress is reported for the
 * plain copy; snapshot and reflink finish in about a second and report start and end only.
 */
export async function cloneTree(
  source: string,
  target: string,
  strategy: CloneStrategy,
  deps: { run: CommandRunner; onProgress?: ProgressListener | undefined; port?: number | undefined; targetExists?: boolean },
): Promise<void> {
  const port = deps.port === undefined ? {} : { port: deps.port };
  const fail = (what: string, r: { exitCode: number; stderr: string }) =>
    new OperationError("CLONE_FAILED", `${what} of ${source} to ${target} exited with ${r.exitCode}: ${r.stderr.trim().slice(0, 2000)}`);
  if (strategy === "snapshot") {
    const r = await deps.run("btrfs", ["subvolume", "snapshot", "--", source, target]);
    if (r.exitCode !== 0) throw fail("btrfs subvolume snapshot", r);
  } else if (strategy === "reflink") {
    // "src/." copies the contents (and the top directory's owner and mode) into an existing target.
    const r = await deps.run("cp", ["-a", "--reflink=always", "--", deps.targetExists ? `${source}/.` : source, target]);
    if (r.exitCode !== 0) throw fail("cp --reflink=always", r);
  } else {
    const total = await treeBytes(source, deps.run);
    const r = await deps.run(
      "bash",
      [
        "-o",
        "pipefail",
        "-c",
        // $1 source, $2 target; positional parameters so paths need no quoting.
        `${deps.targetExists ? "" : 'mkdir -- "$2" && '}tar -C "$1" -c -f - ${TAR_FIDELITY.join(" ")} --one-file-system ` +
          `--checkpoint=${CHECKPOINT_RECORDS} --checkpoint-action=echo=${CHECKPOINT_TAG}%u . ` +
          `| tar -C "$2" -x -p -f - ${TAR_FIDELITY.join(" ")} --same-owner`,
        "pirack-copy",
        source,
        target,
      ],
      {
        onLine: (line, stream) => {
          const m = stream === "stderr" ? new RegExp(`${CHECKPOINT_TAG}(\\d+)`).exec(line) : null;
          if (m && deps.onProgress) {
            const done = Number(m[1]) * TAR_RECORD_BYTES;
            deps.onProgress({ phase: "copy", message: "copying", ...port, bytesDone: Math.min(done, total), bytesTotal: total });
          }
        },
      },
    );
    const errors = r.stderr.split("\n").filter((l) => l.trim() !== "" && !l.includes(CHECKPOINT_TAG) && !/socket ignored/.test(l));
    if (r.exitCode !== 0) throw fail("tar copy", { exitCode: r.exitCode, stderr: errors.join("\n") });
    deps.onProgress?.({ phase: "copy", message: "copied", ...port, bytesDone: total, bytesTotal: total });
  }
}

/** Removes a tree made by `cloneTree` (or any root): a btrfs subvolume is deleted as one, else `rm -rf`. */
export async function removeTree(path: string, run: CommandRunner): Promise<void> {
  let st;
  try {
    st = await lstat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw err;
  }
  if (st.isDirectory() && st.ino === 256 && (await fsTypeOf(path)) === FsMagic.Btrfs) {
    const r = await run("btrfs", ["subvolume", "delete", "--", path]);
    if (r.exitCode === 0) return;
    throw new OperationError("REMOVE_FAILED", `btrfs subvolume delete ${path} exited with ${r.exitCode}: ${r.stderr.trim()}`);
  }
  // Node's rm does not cross into other mounts' special handling; roots contain no mount points.
  await rm(path, { recursive: true, force: true });
}
