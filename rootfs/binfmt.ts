/**
 * Foreign-architecture builds: debootstrap's second stage runs the image's own binaries, which on
 * an x86 fileserver needs qemu-user-static registered with binfmt_misc. The `F` (fix binary) flag
 * in Debian's qemu-user-static entries means nothing has to be copied into the chroot.
 */
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { NotFoundError, OperationError } from "../lib/errors.ts";
import type { CommandRunner, RootfsLogger } from "./types.ts";

/** Debian architecture -> qemu-user name (the binfmt entry is `qemu-<name>`). */
export const QEMU_NAME: Readonly<Record<string, string>> = { arm64: "aarch64", armhf: "arm", armel: "arm", amd64: "x86_64", i386: "i386", riscv64: "riscv64" };

/** Where binfmt_misc and qemu's binfmt.d entries live; prefixable for tests. */
export interface BinfmtPaths {
  readonly binfmtDir?: string;
  readonly binfmtConfDir?: string;
}

/** Parses a binfmt.d(5) file: the first non-comment line is the registration string. */
export function binfmtRegistration(conf: string): string | undefined {
  return conf.split("\n").find((l) => l.trim() !== "" && !/^[#;]/.test(l.trim()));
}

/** Makes sure `arch` binaries can run here: mounts binfmt_misc and registers qemu if missing. */
export async function ensureForeignArch(arch: string, deps: { run: CommandRunner; log: RootfsLogger }, paths: BinfmtPaths = {}): Promise<void> {
  const qemu = QEMU_NAME[arch];
  if (!qemu) throw new NotFoundError("ARCH_UNKNOWN", `no qemu-user emulator known for architecture ${JSON.stringify(arch)}; known: ${Object.keys(QEMU_NAME).join(", ")}`);
  const dir = paths.binfmtDir ?? "/proc/sys/fs/binfmt_misc";
  const registered = await readFile(join(dir, "register")).then(
    () => true,
    (err: NodeJS.ErrnoException) => err.code !== "ENOENT",
  );
  if (!registered) {
    const r = await deps.run("mount", ["-t", "binfmt_misc", "binfmt_misc", dir]);
    if (r.exitCode !== 0) throw new OperationError("BINFMT_MOUNT_FAILED", `mounting binfmt_misc on ${dir} exited with ${r.exitCode}: ${r.stderr.trim()}`);
  }
  const entry = await readFile(join(dir, `qemu-${qemu}`), "utf8").catch(() => undefined);
  if (entry?.startsWith("enabled")) return;
  if (entry !== undefined) throw new OperationError("BINFMT_DISABLED", `binfmt entry qemu-${qemu} exists but is disabled; enable it with: echo 1 > ${join(dir, `qemu-${qemu}`)}`);
  const confPath = join(paths.binfmtConfDir ?? "/usr/lib/binfmt.d", `qemu-${qemu}.conf`);
  const conf = await readFile(confPath, "utf8").catch(() => undefined);
  const line = conf === undefined ? undefined : binfmtRegistration(conf);
  if (!line) throw new NotFoundError("QEMU_USER_MISSING", `${confPath} not found: install qemu-user-static to build ${arch} images`);
  await writeFile(join(dir, "register"), line);
  deps.log.info({ arch, entry: `qemu-${qemu}` }, "binfmt entry registered");
}
