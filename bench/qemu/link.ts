/**
 * Handing a Pi's link from the protocol fetch to QEMU, inside the Pi's namespace. During the fetch the uplink
 * (the veth towards the switch or fileserver) carries the Pi's MAC and its DHCP address. For QEMU the uplink
 * gives up both (the guest owns the MAC and sets the address from `ip=` itself) and joins a plain bridge with
 * a tap that QEMU opens. A plain (non-VLAN-aware) Linux bridge forwards 802.1Q-tagged frames untouched, so the
 * guest's `eth0.131` traffic reaches whatever is past the uplink: OVS in the bench decodes the tags there.
 */
import { execa } from "execa";
import { randomBytes } from "node:crypto";
import { OperationError } from "../../lib/errors.ts";

/** Names of the devices `attachTap` made. */
export interface TapLink {
  readonly netns: string;
  readonly uplink: string;
  readonly bridge: string;
  readonly tap: string;
}

/** A locally administered unicast MAC (bit 1 of the first octet set, bit 0 clear) for the uplink. */
export function localMac(bytes: Buffer = randomBytes(6)): string {
  const b = Buffer.from(bytes.subarray(0, 6));
  b[0] = (b[0]! & 0xfc) | 0x02;
  return [...b].map((x) => x.toString(16).padStart(2, "0")).join(":");
}

async function ipIn(netns: string, ...args: string[]): Promise<void> {
  const r = await execa("ip", ["-n", netns, ...args], { reject: false });
  if (r.exitCode !== 0) throw new OperationError("QEMU_LINK_FAILED", `ip -n ${netns} ${args.join(" ")} exited with ${r.exitCode}: ${r.stderr.trim()}`);
}

/**
 * Moves `uplink` under a new bridge with a new tap, both up; the uplink loses its addresses and gets a random
 * MAC (a bridge port holding the guest's MAC would swallow the guest's frames as its own). IPv6 is off on the
 * three devices so the namespace itself sends nothing onto the Pi's link.
 */
export async function attachTap(opts: { netns: string; uplink: string; bridge?: string; tap?: string }): Promise<TapLink> {
  const link: TapLink = { netns: opts.netns, uplink: opts.uplink, bridge: opts.bridge ?? "br0", tap: opts.tap ?? "tap0" };
  const { netns, uplink, bridge, tap } = link;
  await ipIn(netns, "addr", "flush", "dev", uplink);
  await ipIn(netns, "link", "set", uplink, "down");
  await ipIn(netns, "link", "set", uplink, "address", localMac());
  await ipIn(netns, "link", "add", bridge, "address", localMac(), "type", "bridge", "forward_delay", "0", "stp_state", "0", "mcast_snooping", "0");
  await ipIn(netns, "tuntap", "add", "dev", tap, "mode", "tap");
  for (const dev of [bridge, tap, uplink]) {
    await execa("ip", ["netns", "exec", netns, "sysctl", "-q", "-w", `net.ipv6.conf.${dev}.disable_ipv6=1`], { reject: false });
  }
  await ipIn(netns, "link", "set", uplink, "master", bridge);
  await ipIn(netns, "link", "set", tap, "master", bridge);
  for (const dev of [bridge, tap, uplink]) await ipIn(netns, "link", "set", dev, "up");
  return link;
}

/** Undoes `attachTap` (the bench reuses a Pi's namespace across power cycles): bridge and tap go, the uplink stays. */
export async function detachTap(link: TapLink): Promise<void> {
  await execa("ip", ["-n", link.netns, "link", "del", link.tap], { reject: false });
  await execa("ip", ["-n", link.netns, "link", "del", link.bridge], { reject: false });
}
