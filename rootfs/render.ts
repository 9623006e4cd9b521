/**
 * Per-Pi root files (pure): hostname, hosts, the public VLAN stanza, fstab, machine-id. The roots
 * adapter writes these into a fresh clone before it is renamed into place, and keeps them in sync.
 */
import { DecodeError } from "../lib/errors.ts";
import { renderPublicInterface as renderPublicStanza } from "../lib/render.ts";
import type { PiRootSpec } from "./types.ts";

/** A file inside a Pi's root: path relative to the root (`etc/hostname`), text and mode. */
export interface RootFile {
  readonly path: string;
  readonly text: string;
  readonly mode: number;
}

const HOSTNAME = /^(?=.{1,63}$)[a-z0-9]([a-z0-9-]*[a-z0-9])?$/i;

/** Throws a `DecodeError` naming the field when a spec cannot be rendered safely. */
export function checkPiRootSpec(spec: PiRootSpec): void {
  const bad = (field: string, value: unknown, expected: string): never => {
    throw new DecodeError("ROOT_SPEC_INVALID", `pi on port ${spec.port}: ${field} must be ${expected}, got ${JSON.stringify(value)}`);
  };
  if (!HOSTNAME.test(spec.hostname)) bad("hostname", spec.hostname, "an RFC 1123 label");
  for (const f of ["piAddress", "serverAddress", "netmask"] as const) {
    if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(spec[f])) bad(f, spec[f], "a dotted IPv4 address");
  }
  if (!Number.isInteger(spec.publicVlan) || spec.publicVlan < 1 || spec.publicVlan > 4094) bad("publicVlan", spec.publicVlan, "1..4094 (IEEE 802.1Q)");
  if (!/^[0-9a-f:]+(\/\d{1,3})?$/i.test(spec.publicAddress)) bad("publicAddress", spec.publicAddress, "an IPv6 address with optional /prefix");
  if (!/^[0-9a-f:]+$/i.test(spec.publicGateway)) bad("publicGateway", spec.publicGateway, "an IPv6 address");
  if (!/^\/[^\s\0]*[^/\s\0]$/.test(spec.exportPath) || spec.exportPath.split("/").includes("..")) bad("exportPath", spec.exportPath, "an absolute path");
}

/** The public address split into address and prefix length (/64 when none is given). */
export function splitPublicAddress(spec: PiRootSpec): { address: string; prefixLength: number } {
  const [address = "", prefix] = spec.publicAddress.split("/");
  return { address, prefixLength: prefix === undefined ? 64 : Number(prefix) };
}

/** `/etc/hostname`. */
export const renderHostname = (spec: PiRootSpec): string => `${spec.hostname}\n`;

/**
 * `/etc/hosts`: loopback names as Debian writes them, the Pi's own name on its public address
 * (so `hostname -f` and sudo resolve without DNS), the fileserver, then any cluster members.
 */
export function renderHosts(spec: PiRootSpec): string {
  const { address } = splitPublicAddress(spec);
  const lines = [
    "# Written by pirack.",
    "127.0.0.1\tlocalhost",
    `${address}\t${spec.hostname}`,
    `${spec.serverAddress}\tfileserver`,
    "::1\tlocalhost ip6-localhost ip6-loopback",
    "ff02::1\tip6-allnodes",
    "ff02::2\tip6-allrouters",
    ...(spec.extraHosts ?? []).map((h) => `${h.address}\t${h.names.join(" ")}`),
  ];
  return lines.join("\n") + "\n";
}

/** Name of the public VLAN interface, `eth0.<vlan>` (ifupdown creates VLAN links named raw.vid natively). */
export const publicInterfaceName = (spec: PiRootSpec): string => `eth0.${spec.publicVlan}`;

/** `/etc/network/interfaces.d/eth0.<vlan>`: the same stanza `pirack plan` shows (appliance/render.ts). */
export function renderPublicInterface(spec: PiRootSpec): string {
  const { address, prefixLength } = splitPublicAddress(spec);
  return renderPublicStanza({ interfaceName: publicInterfaceName(spec), address, prefixLength, gateway: spec.publicGateway });
}

/**
 * `/etc/fstab` for an NFS root: no SD card entries. The kernel (or initramfs) already mounted the
 * root from `nfsroot=`; the line tells systemd what `/` is so remount-fs does not complain.
 */
export function renderFstab(spec: PiRootSpec): string {
  return [
    "# NFS root, mounted at boot from nfsroot= on the kernel command line (written by pirack).",
    `${spec.serverAddress}:${spec.exportPath}\t/\tnfs\tdefaults,noatime\t0\t0`,
    "proc\t/proc\tproc\tdefaults\t0\t0",
    "",
  ].join("\n");
}

/**
 * A machine-id (machine-id(5)): 32 lower-case hex digits from 16 random bytes, with the UUID v4
 * version and variant bits set as `systemd-id128 new` does.
 */
export function renderMachineId(random16: Buffer): string {
  if (random16.length !== 16) throw new DecodeError("MACHINE_ID_ENTROPY", `machine-id needs 16 random bytes, got ${random16.length}`);
  const b = Buffer.from(random16);
  b[6] = ((b[6] ?? 0) & 0x0f) | 0x40;
  b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
  return b.toString("hex") + "\n";
}

/** True for a well-formed machine-id file (an empty file means "generate at first boot"). */
export const isMachineId = (text: string | undefined): boolean => text !== undefined && /^[0-9a-f]{32}\n?$/.test(text) && !/^0+\n?$/.test(text);

/** The files pirack keeps in sync in every Pi's root (machine-id and SSH keys are made once, separately). */
export function renderRootFiles(spec: PiRootSpec): RootFile[] {
  checkPiRootSpec(spec);
  return [
    { path: "etc/hostname", text: renderHostname(spec), mode: 0o644 },
    { path: "etc/hosts", text: renderHosts(spec), mode: 0o644 },
    { path: `etc/network/interfaces.d/${publicInterfaceName(spec)}`, text: renderPublicInterface(spec), mode: 0o644 },
    { path: "etc/fstab", text: renderFstab(spec), mode: 0o644 },
  ];
}
