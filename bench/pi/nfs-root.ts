/**
 * The emulated Pi's NFS root stage, with a real NFS client (libnfs-utils: nfs-cat, nfs-cp) running in the Pi's
 * namespace from the Pi's address: read /etc/hostname and the public VLAN's ifupdown stanza, write the boot
 * marker into the root and read it back. libnfs finds MOUNT and NFS through the server's portmapper, as the
 * kernel's nfsroot does.
 */
import { execa } from "execa";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { NfsRoot } from "./models.ts";
import type { PiLink } from "./net.ts";

/** Where the emulated Pi records its boot in its own root (a file in /var/lib, which every Debian root has). */
export const BOOT_MARKER_PATH = "/var/lib/pirack-bench-booted";

/** What the Pi read and wrote over NFS. */
export interface NfsRootVisit {
  readonly url: string;
  readonly hostname: string;
  readonly publicStanza: string;
  readonly marker: string;
}

const url = (server: string, path: string, version: 3 | 4) => `nfs://${server}${path}?version=${version}`;

async function nfsTool(link: PiLink, tool: string, args: string[], timeoutMs: number): Promise<string> {
  const cmd = link.netns ? ["ip", ["netns", "exec", link.netns, tool, ...args]] as const : [tool, args] as const;
  const r = await execa(cmd[0], [...cmd[1]], { reject: false, timeout: timeoutMs, encoding: "utf8", stripFinalNewline: false });
  if (r.exitCode !== 0) throw new Error(`${tool} ${args.join(" ")} failed (exit ${r.exitCode ?? r.signal}): ${String(r.stderr).trim()}`);
  return String(r.stdout);
}

/** Reads the two files, writes `marker` text to BOOT_MARKER_PATH and checks it reads back the same. */
export async function visitNfsRoot(link: PiLink, root: NfsRoot & { server: string }, input: { publicVlan: number; marker: string; timeoutMs: number; mountTimeoutMs: number }): Promise<NfsRootVisit> {
  const at = (p: string) => url(root.server, `${root.path.replace(/\/$/, "")}${p}`, root.version);
  // The first read is the mount: like the kernel's nfsroot, keep trying while the server has no export yet
  // (pirack clones and exports a root only after the Pi's first DHCP request).
  const mountBy = Date.now() + input.mountTimeoutMs;
  let hostname: string;
  for (;;) {
    try {
      hostname = (await nfsTool(link, "nfs-cat", [at("/etc/hostname")], input.timeoutMs)).trim();
      break;
    } catch (err) {
      if (Date.now() > mountBy) throw err;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
  const publicStanza = await nfsTool(link, "nfs-cat", [at(`/etc/network/interfaces.d/eth0.${input.publicVlan}`)], input.timeoutMs);
  const work = await mkdtemp(join(tmpdir(), "pirack-bench-pi-"));
  try {
    const local = join(work, "booted");
    await writeFile(local, input.marker);
    await nfsTool(link, "nfs-cp", [local, at(BOOT_MARKER_PATH)], input.timeoutMs);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  const back = await nfsTool(link, "nfs-cat", [at(BOOT_MARKER_PATH)], input.timeoutMs);
  if (back !== input.marker) throw new Error(`marker read back differs: wrote ${JSON.stringify(input.marker)}, read ${JSON.stringify(back)}`);
  return { url: url(root.server, root.path, root.version), hostname, publicStanza, marker: input.marker };
}
