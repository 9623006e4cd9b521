/**
 * The emulated Pi's network adapter: UDP sockets bound to the Pi's one interface (SO_BINDTODEVICE, SO_BROADCAST
 * through koffi, adopted by `node:dgram` with `bind({ fd })`, as appliance/dhcpd/device-socket.ts does), created
 * in the Pi's network namespace (setns on the calling thread, then back), and the `ip` commands a firmware's own
 * IP stack stands for: take the leased address, accept a unicast OFFER before having an address.
 */
import dgram from "node:dgram";
import { execa } from "execa";
import { CLONE_NEWNET, errno as lastErrno, libc, O_CLOEXEC, O_RDONLY } from "../../lib/libc.ts";
import { openDeviceBoundFd } from "../../lib/net/device-socket.ts";

/** Where the Pi lives: its interface, and its namespace when the process is not already inside it. */
export interface PiLink {
  readonly ifname: string;
  /** Name under /run/netns; undefined: the calling process's own namespace (`ip netns exec NS node ...`). */
  readonly netns?: string;
}

/** Runs `fn` with the calling thread inside namespace `netns` (sockets keep the namespace they were made in). */
function inNamespace<T>(netns: string | undefined, fn: () => T): T {
  if (!netns) return fn();
  const c = libc();
  const home = c.open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  const target = c.open(`/run/netns/${netns}`, O_RDONLY | O_CLOEXEC);
  if (home < 0 || target < 0) {
    if (home >= 0) c.close(home);
    if (target >= 0) c.close(target);
    throw new Error(`cannot open network namespace ${netns} (errno ${lastErrno()})`);
  }
  try {
    if (c.setns(target, CLONE_NEWNET) < 0) throw new Error(`setns into ${netns} failed (errno ${lastErrno()})`);
    let outcome: { value: T } | { error: unknown };
    try {
      outcome = { value: fn() };
    } catch (error) {
      outcome = { error };
    }
    if (c.setns(home, CLONE_NEWNET) < 0) throw new Error(`setns back from ${netns} failed (errno ${lastErrno()}): the process is in the wrong namespace`);
    if ("error" in outcome) throw outcome.error;
    return outcome.value;
  } finally {
    c.close(home);
    c.close(target);
  }
}

/** socket + SO_REUSEADDR + SO_BROADCAST + SO_BINDTODEVICE + bind(0.0.0.0:port) in the Pi's namespace. */
function deviceFd(link: PiLink, port: number): number {
  return inNamespace(link.netns, () => openDeviceBoundFd({ interfaceName: link.ifname, address: "0.0.0.0", port, broadcast: true, codePrefix: "PI" }));
}

/** A UDP socket on the Pi's interface. */
export interface PiSocket {
  onMessage(handler: (bytes: Buffer, from: { address: string; port: number }) => void): void;
  send(bytes: Buffer, port: number, address: string): Promise<void>;
  close(): void;
}

/** Opens a UDP socket bound to the Pi's interface on `port` (0: an ephemeral port, as each TFTP RRQ uses). */
export async function openPiSocket(link: PiLink, port: number): Promise<PiSocket> {
  const fd = deviceFd(link, port);
  const socket = dgram.createSocket("udp4");
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.bind({ fd }, () => {
      socket.off("error", reject);
      resolve();
    });
  });
  socket.on("error", () => undefined); // ICMP errors (port unreachable) surface as timeouts instead
  let closed = false;
  return {
    onMessage: (handler) => socket.on("message", (bytes, rinfo) => handler(bytes, { address: rinfo.address, port: rinfo.port })),
    send: (bytes, port, address) => new Promise((resolve, reject) => socket.send(bytes, port, address, (err) => (err ? reject(err) : resolve()))),
    close: () => {
      if (closed) return;
      closed = true;
      socket.close();
    },
  };
}

/** Runs `ip` in the Pi's namespace; throws with stderr on failure unless `tolerate` matches it. */
async function ipIn(link: PiLink, args: string[], tolerate?: RegExp): Promise<void> {
  const r = await execa("ip", [...(link.netns ? ["-n", link.netns] : []), ...args], { reject: false });
  if (r.exitCode !== 0 && !(tolerate && tolerate.test(r.stderr))) throw new Error(`ip ${args.join(" ")} failed: ${r.stderr}`);
}

// Routing table and rule priority for "every address is mine" while the Pi has no address yet.
const PRE_ADDRESS_TABLE = "68";

/**
 * A powered-on Pi has no address, but its firmware takes any frame sent to its MAC: dnsmasq unicasts the
 * OFFER to `yiaddr` (after pinning the Pi's MAC in its ARP cache, imp/dnsmasq src/dhcp.c), which a kernel
 * without that address would drop. Until the lease is taken, packets that arrive on the Pi's interface are
 * delivered locally whatever their address (a `local 0.0.0.0/0` route in a table used only for input from
 * that interface); what the Pi sends is routed normally.
 */
export async function acceptAnyAddress(link: PiLink): Promise<void> {
  await ipIn(link, ["addr", "flush", "dev", link.ifname]); // power-on: no address left from an earlier boot
  await releaseAnyAddress(link);
  await ipIn(link, ["route", "add", "local", "0.0.0.0/0", "dev", link.ifname, "table", PRE_ADDRESS_TABLE]);
  await ipIn(link, ["rule", "add", "iif", link.ifname, "lookup", PRE_ADDRESS_TABLE]);
}

/** Undoes `acceptAnyAddress` (idempotent). */
export async function releaseAnyAddress(link: PiLink): Promise<void> {
  await ipIn(link, ["rule", "del", "iif", link.ifname, "lookup", PRE_ADDRESS_TABLE], /No such file|not exist/i);
  await ipIn(link, ["route", "flush", "table", PRE_ADDRESS_TABLE], /No such|FIB table does not exist/i);
}

/** Takes the leased address (what the firmware's own IP stack does with the OFFER/ACK). */
export async function takeAddress(link: PiLink, address: string, prefixLength: number): Promise<void> {
  await ipIn(link, ["addr", "replace", `${address}/${prefixLength}`, "dev", link.ifname]);
}
