/**
 * Test and bench support: a small root tree exercising everything a clone must preserve -
 * owners, modes (setuid, sticky), xattrs in the user and trusted namespaces, a character device,
 * a FIFO, hardlinks, absolute/relative/dangling symlinks, a sparse file - plus optional bulk data.
 * It carries a dpkg status listing the packages a golden image must have.
 */
import { execa } from "execa";
import { randomBytes } from "node:crypto";
import { chmod, chown, link, mkdir, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";

const DPKG_STATUS = ["openssh-server", "ifupdown", "systemd-sysv"]
  .map((p) => `Package: ${p}\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.0\nDescription: fixture\n continuation line\n`)
  .join("\n");

/** Creates the fixture tree at `root` (which must exist, e.g. a fresh subvolume). */
export async function makeFixtureRoot(root: string, opts: { bulkMiB?: number; extraPackages?: readonly string[] } = {}): Promise<void> {
  const p = (rel: string) => join(root, rel);
  for (const d of ["etc/ssh", "etc/network/interfaces.d", "usr/bin", "usr/lib", "var/lib/dpkg", "dev", "tmp", "home/pi", "srv/bulk"]) await mkdir(p(d), { recursive: true });
  const extra = (opts.extraPackages ?? []).map((n) => `Package: ${n}\nStatus: install ok installed\nVersion: 1\n`).join("\n");
  await writeFile(p("var/lib/dpkg/status"), DPKG_STATUS + (extra ? "\n" + extra : ""));
  await writeFile(p("etc/hostname"), "golden\n");
  await writeFile(p("etc/os-release"), 'PRETTY_NAME="Fixture GNU/Linux"\n');
  await writeFile(p("etc/ssh/sshd_config"), "# fixture\n");
  await writeFile(p("etc/ssh/ssh_host_ed25519_key"), "golden private key: must never reach a Pi\n", { mode: 0o600 });
  await writeFile(p("usr/bin/ping"), "#!/bin/sh\necho ping\n");
  await chmod(p("usr/bin/ping"), 0o4755);
  await writeFile(p("usr/bin/tool-a"), "shared inode\n");
  await link(p("usr/bin/tool-a"), p("usr/bin/tool-b"));
  await link(p("usr/bin/tool-a"), p("usr/lib/tool-c"));
  await symlink("/usr/bin/tool-a", p("usr/bin/abs-link"));
  await symlink("../lib/tool-c", p("usr/bin/rel-link"));
  await symlink("/nonexistent/target", p("usr/bin/dangling"));
  await chmod(p("tmp"), 0o1777);
  await writeFile(p("home/pi/secret"), "pi's file\n", { mode: 0o640 });
  await chown(p("home/pi/secret"), 1000, 1000);
  await chown(p("home/pi"), 1000, 1000);
  await execa("mknod", ["-m", "666", p("dev/null"), "c", "1", "3"]);
  await execa("mkfifo", ["-m", "600", p("dev/initctl")]);
  await execa("setfattr", ["-n", "user.pirack", "-v", "golden", p("usr/bin/ping")]);
  await execa("setfattr", ["-n", "trusted.pirack", "-v", "0x0102", p("usr/bin/tool-a")]);
  await execa("setfattr", ["-n", "user.dir", "-v", "yes", p("etc")]);
  await writeFile(p("srv/sparse"), "head");
  await execa("truncate", ["-s", "16M", p("srv/sparse")]);
  const bulkMiB = opts.bulkMiB ?? 0;
  const chunk = randomBytes(1 << 20);
  for (let i = 0; i < bulkMiB; i++) {
    chunk.writeUInt32LE(i, 0); // distinct content per file, so no filesystem can dedupe them
    await writeFile(p(`srv/bulk/f${String(i).padStart(4, "0")}`), chunk);
  }
}
