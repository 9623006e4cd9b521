/**
 * Turning a debootstrapped or imported tree into a golden image: no identity (host keys,
 * machine-id), nothing that could take `eth0` down under an NFS root, no SD-card fstab, no apt cache.
 */
import { mkdir, readFile, rm, symlink } from "node:fs/promises";
import { dirname, join } from "node:path";
import { OperationError } from "../lib/errors.ts";
import { readdirOrEmpty } from "../lib/fs-read.ts";
import { inRoot, readRootFile, writeRootFile } from "./customise.ts";
import { installedPackageNames, parseDpkgStatus } from "./dpkg-status.ts";

/** Packages a netbooted Pi needs on top of minbase. */
export const NETBOOT_PACKAGES = ["systemd-sysv", "udev", "openssh-server", "ifupdown", "iproute2", "netbase"] as const;

/** Packages an image must contain to be a usable NFS-root Pi image. */
export const REQUIRED_PACKAGES = ["openssh-server", "ifupdown"] as const;

/**
 * Network managers that would reconfigure or take down `eth0` and so cut off the NFS root
 * (Raspberry Pi OS ships dhcpcd; its docs for netboot say to keep it off the boot interface).
 * They are masked in imported images and refused in built ones.
 */
export const ETH0_TAKERS: Readonly<Record<string, readonly string[]>> = {
  "network-manager": ["NetworkManager.service", "NetworkManager-wait-online.service"],
  dhcpcd5: ["dhcpcd.service"],
  "dhcpcd-base": ["dhcpcd.service"],
  dhcpcd: ["dhcpcd.service"],
  connman: ["connman.service"],
};

/** Units masked in every image: timers that only cost NFS I/O on a diskless Pi. */
const MASKED_UNITS = ["e2scrub_reap.service", "e2scrub_all.timer", "apt-daily.timer", "apt-daily-upgrade.timer"];

/** `/etc/network/interfaces` of the golden image: loopback only, eth0 deliberately absent. */
const INTERFACES = [
  "# interfaces(5), written by pirack. eth0 is configured by the kernel (ip= on the command line)",
  "# and is deliberately absent here: ifdown at shutdown would cut off the NFS root.",
  "auto lo",
  "iface lo inet loopback",
  "",
  "source /etc/network/interfaces.d/*",
  "",
].join("\n");

/** What finalising found and did. */
export interface FinaliseReport {
  readonly packages: number;
  readonly masked: readonly string[];
  readonly removedHostKeys: number;
}

/** Masks a systemd unit by linking it to /dev/null (what `systemctl mask` does, without running it). */
async function maskUnit(root: string, unit: string): Promise<void> {
  const link = inRoot(root, `etc/systemd/system/${unit}`);
  await rm(link, { force: true });
  await mkdir(dirname(link), { recursive: true });
  await symlink("/dev/null", link);
}

/**
 * Finalises an image tree in place. `eth0Takers: "refuse"` throws when a network manager is
 * installed (a build asked for it); `"mask"` masks its units (an imported image came with it).
 */
export async function finaliseImage(root: string, opts: { hostname?: string; sources?: string; eth0Takers: "refuse" | "mask" }): Promise<FinaliseReport> {
  const status = await readRootFile(root, "var/lib/dpkg/status");
  if (status === undefined) throw new OperationError("IMAGE_INVALID", `${root} has no var/lib/dpkg/status: not a Debian-style root`);
  const installed = installedPackageNames(parseDpkgStatus(status));
  const missing = REQUIRED_PACKAGES.filter((p) => !installed.has(p));
  if (missing.length) throw new OperationError("IMAGE_MISSING_PACKAGES", `image ${root} lacks ${missing.join(", ")}, which an NFS-root Pi needs`);
  const takers = Object.keys(ETH0_TAKERS).filter((p) => installed.has(p));
  if (takers.length && opts.eth0Takers === "refuse") {
    throw new OperationError("IMAGE_HAS_NETWORK_MANAGER", `image ${root} contains ${takers.join(", ")}, which would take eth0 down under an NFS root`);
  }
  const masked = [...MASKED_UNITS, ...takers.flatMap((p) => ETH0_TAKERS[p] ?? [])];
  for (const unit of masked) await maskUnit(root, unit);

  await writeRootFile(root, { path: "etc/fstab", text: "# NFS root: each Pi's fstab is written by pirack. No SD card entries.\n", mode: 0o644 });
  await writeRootFile(root, { path: "etc/network/interfaces", text: INTERFACES, mode: 0o644 });
  await writeRootFile(root, { path: "etc/hostname", text: `${opts.hostname ?? "pirack-golden"}\n`, mode: 0o644 });
  // An empty machine-id: every clone gets its own from pirack (machine-id(5)).
  await writeRootFile(root, { path: "etc/machine-id", text: "", mode: 0o444 });
  await rm(inRoot(root, "var/lib/dbus/machine-id"), { force: true });
  if (opts.sources) await writeRootFile(root, { path: "etc/apt/sources.list", text: opts.sources, mode: 0o644 });

  const sshDir = inRoot(root, "etc/ssh");
  const hostKeys = (await readdirOrEmpty(sshDir)).filter((n) => /^ssh_host_.*_key(\.pub)?$/.test(n));
  for (const n of hostKeys) await rm(join(sshDir, n), { force: true });

  // apt's cache and lists are re-fetchable and were a third of the story's image (reference/testbed.md §4).
  for (const dir of ["var/cache/apt/archives", "var/lib/apt/lists"]) {
    const abs = inRoot(root, dir);
    for (const n of await readdirOrEmpty(abs)) {
      if (n !== "partial" && n !== "lock") await rm(join(abs, n), { recursive: true, force: true });
    }
  }
  for (const n of ["var/cache/apt/pkgcache.bin", "var/cache/apt/srcpkgcache.bin"]) await rm(inRoot(root, n), { force: true });
  return { packages: installed.size, masked, removedHostKeys: hostKeys.length };
}

/** Reads the image's OS name from os-release, for the build/import summary. */
export async function imageOsName(root: string): Promise<string | undefined> {
  const text = (await readFile(inRoot(root, "etc/os-release"), "utf8").catch(() => undefined)) ?? (await readRootFile(root, "usr/lib/os-release"));
  return text ? /^PRETTY_NAME="?([^"\n]*)"?/m.exec(text)?.[1] : undefined;
}
