/**
 * Per-Pi identity inside a root: the rendered files, a fresh machine-id and fresh SSH host keys.
 * Identity is never shared: the golden image carries none, and every clone gets its own.
 */
import { randomBytes as cryptoRandomBytes } from "node:crypto";
import { chmod, lstat, mkdir, readdir, readFile, rename, rm, symlink, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { OperationError } from "../lib/errors.ts";
import { readdirOrEmpty } from "../lib/fs-read.ts";
import { isMachineId, renderMachineId, type RootFile } from "./render.ts";
import type { CommandRunner } from "./types.ts";

/**
 * SSH host key types generated per Pi by default. RSA is left out: a 3072-bit key took 0.5-1.2 s
 * on the 2-core fileserver, more than the whole snapshot clone, and every current client speaks
 * ed25519. Add "rsa" through `hostKeyTypes` for old clients.
 */
export const DEFAULT_HOST_KEY_TYPES = ["ed25519", "ecdsa"] as const;

/** sshd drop-in naming the host keys that exist, so sshd does not look for the ones not made. */
export const HOST_KEY_CONFIG = "etc/ssh/sshd_config.d/pirack-host-keys.conf";

/** Writes the sshd drop-in listing each `ssh_host_<type>_key` present in the root. */
export async function writeHostKeyConfig(root: string): Promise<void> {
  const keys = (await readdir(await safeDir(root, "etc/ssh"))).filter((n) => /^ssh_host_\w+_key$/.test(n)).sort();
  const text = ["# Host keys made for this Pi by pirack (bookworm's sshd_config includes sshd_config.d/*.conf).", ...keys.map((k) => `HostKey /etc/ssh/${k}`), ""].join("\n");
  await writeRootFile(root, { path: HOST_KEY_CONFIG, text, mode: 0o644 });
}

/**
 * Joins a root and a relative path, refusing to leave the root. Symlinks inside a root are the
 * Pi's own business and may point anywhere on the Pi; pirack replaces them rather than following.
 */
export function inRoot(root: string, relative: string): string {
  if (relative.startsWith("/") || relative.split("/").includes("..")) {
    throw new OperationError("ROOT_PATH_ESCAPES", `path inside a root must be relative without "..", got ${JSON.stringify(relative)}`);
  }
  return join(root, relative);
}

/**
 * Returns `<root>/<relativeDir>` after checking that no component is a symlink, creating missing
 * directories (0755). A Pi's root user could otherwise point `etc` at the fileserver's `/etc` and
 * have pirack overwrite the fileserver's own hostname or fstab. (A race with a Pi changing the
 * tree between the check and the write remains; pirack writes only while creating roots or in
 * small, idempotent corrections.)
 */
export async function safeDir(root: string, relativeDir: string): Promise<string> {
  let current = root;
  for (const part of relativeDir.split("/").filter(Boolean)) {
    if (part === "..") throw new OperationError("ROOT_PATH_ESCAPES", `path inside a root must not contain "..", got ${JSON.stringify(relativeDir)}`);
    current = join(current, part);
    const st = await lstat(current).catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return undefined;
      throw err;
    });
    if (st === undefined) await mkdir(current, { mode: 0o755 });
    else if (!st.isDirectory()) throw new OperationError("ROOT_PATH_NOT_DIRECTORY", `${current} is a ${st.isSymbolicLink() ? "symlink" : "non-directory"}; refusing to write through it`);
  }
  return current;
}

/**
 * Writes one file into a root atomically (temporary sibling + rename). Renaming over the path
 * replaces a symlink instead of writing through it, so a Pi's root cannot redirect pirack's
 * writes to the fileserver's own files.
 */
export async function writeRootFile(root: string, file: RootFile): Promise<void> {
  const target = inRoot(root, file.path);
  await safeDir(root, dirname(file.path));
  const tmp = `${target}.pirack-${cryptoRandomBytes(4).toString("hex")}`;
  await writeFile(tmp, file.text, { mode: file.mode });
  await chmod(tmp, file.mode);
  await rename(tmp, target);
}

/** Reads a file inside a root, or undefined when missing (or not a regular file). */
export async function readRootFile(root: string, relative: string): Promise<string | undefined> {
  try {
    return await readFile(inRoot(root, relative), "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "EISDIR" || code === "ENOTDIR" || code === "ELOOP") return undefined;
    throw err;
  }
}

/** Writes a fresh machine-id (and replaces a stale copy at /var/lib/dbus/machine-id with a link). */
export async function writeMachineId(root: string, random: (n: number) => Buffer = cryptoRandomBytes): Promise<void> {
  await writeRootFile(root, { path: "etc/machine-id", text: renderMachineId(random(16)), mode: 0o444 });
  const existing = await readRootFile(root, "var/lib/dbus/machine-id");
  if (existing !== undefined && isMachineId(existing)) {
    const dbus = join(await safeDir(root, "var/lib/dbus"), "machine-id");
    await rm(dbus, { force: true });
    await symlink("/etc/machine-id", dbus);
  }
}

/** True when the root holds at least one host key pair (private key and its .pub). */
export async function hasHostKeys(root: string): Promise<boolean> {
  return hasHostKeyPair(await readdirOrEmpty(inRoot(root, "etc/ssh")));
}

/** True when a listing of `etc/ssh` holds at least one host key pair (private key and its .pub). */
export function hasHostKeyPair(names: readonly string[]): boolean {
  const all = new Set(names);
  return names.some((n) => /^ssh_host_\w+_key$/.test(n) && all.has(`${n}.pub`));
}

/**
 * Replaces every SSH host key in the root with freshly generated ones (host's `ssh-keygen`, so the
 * image's architecture does not matter). Only done for roots that have no keys yet.
 */
export async function generateHostKeys(root: string, comment: string, run: CommandRunner, types: readonly string[] = DEFAULT_HOST_KEY_TYPES): Promise<void> {
  const sshDir = await safeDir(root, "etc/ssh");
  for (const name of await readdir(sshDir)) {
    if (/^ssh_host_.*_key(\.pub)?$/.test(name)) await rm(join(sshDir, name), { force: true });
  }
  await Promise.all(
    types.map(async (type) => {
      const file = join(sshDir, `ssh_host_${type}_key`);
      const r = await run("ssh-keygen", ["-q", "-t", type, "-N", "", "-C", comment, "-f", file]);
      if (r.exitCode !== 0) throw new OperationError("SSH_KEYGEN_FAILED", `ssh-keygen -t ${type} for ${root} exited with ${r.exitCode}: ${r.stderr.trim()}`);
    }),
  );
  await writeHostKeyConfig(root);
}
