/**
 * Test and bench support: a manifest of a tree that two faithful copies share exactly - type,
 * mode, owner, size, content hash, symlink target, device numbers, xattrs and hardlink groups
 * (inode numbers differ between copies, so hardlinks are compared as groups of paths).
 */
import { execa } from "execa";
import { createHash } from "node:crypto";
import { lstat, readdir, readFile, readlink } from "node:fs/promises";
import { join } from "node:path";

/** One entry per path, relative to the tree's root, plus hardlink groups. */
export interface TreeManifest {
  readonly entries: Readonly<Record<string, string>>;
  readonly hardlinkGroups: readonly string[];
}

/** Builds the manifest of `root`; `skip` drops relative paths (files customised per Pi). */
export async function treeManifest(root: string, skip: (relative: string) => boolean = () => false): Promise<TreeManifest> {
  const entries: Record<string, string> = {};
  const inodes = new Map<number, string[]>();
  const walk = async (rel: string): Promise<void> => {
    const abs = rel ? join(root, rel) : root;
    const st = await lstat(abs);
    const type = st.isDirectory() ? "d" : st.isFile() ? "f" : st.isSymbolicLink() ? "l" : st.isCharacterDevice() ? "c" : st.isBlockDevice() ? "b" : st.isFIFO() ? "p" : "s";
    let detail = "";
    if (type === "f") {
      detail = createHash("sha256").update(await readFile(abs)).digest("hex").slice(0, 16);
      if (st.nlink > 1) inodes.set(st.ino, [...(inodes.get(st.ino) ?? []), rel]);
    } else if (type === "l") detail = await readlink(abs);
    else if (type === "c" || type === "b") detail = `rdev=${st.rdev}`;
    if (!skip(rel)) entries[rel || "."] = `${type} ${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid} ${type === "d" ? "" : st.size} ${detail}`;
    if (type === "d") for (const name of (await readdir(abs)).sort()) await walk(rel ? join(rel, name) : name);
  };
  await walk("");
  const xattrs = await execa("getfattr", ["-R", "-P", "-h", "-d", "-m", "-", "-e", "hex", "."], { cwd: root, reject: false });
  let current = "";
  for (const line of xattrs.stdout.split("\n")) {
    const file = /^# file: (.*)$/.exec(line);
    if (file?.[1]) current = file[1].replace(/^\.\/?/, "") || ".";
    else if (line.includes("=") && !skip(current)) entries[current] = `${entries[current] ?? ""} ${line}`;
  }
  const hardlinkGroups = [...inodes.values()].map((g) => g.sort().join("|")).filter((g) => !g.split("|").some(skip)).sort();
  return { entries, hardlinkGroups };
}
