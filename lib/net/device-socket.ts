/**
 * UDP sockets bound to one network interface with SO_BINDTODEVICE (through koffi, so no compiler at
 * install), for `node:dgram` to adopt with the documented `bind({ fd })`. Node itself cannot tell which
 * interface a datagram came in on; a device-bound socket only ever receives what arrived on its device.
 * Also reads the kernel's per-socket receive-buffer drop counters (/proc/net/udp).
 */
import { readFileSync, readdirSync, readlinkSync } from "node:fs";
import { AF_INET, ENODEV, errno as lastErrno, libc as loadLibc, SO_BINDTODEVICE, SO_BROADCAST, SO_REUSEADDR, SOCK_CLOEXEC, SOCK_DGRAM, SOCK_NONBLOCK, SOL_SOCKET } from "../libc.ts";
import { NotFoundError, OperationError } from "../errors.ts";

/** The interface's current ifindex, or undefined when it does not exist (a recreated interface gets a new one). */
export function interfaceIndex(interfaceName: string): number | undefined {
  const index = loadLibc().if_nametoindex(interfaceName);
  return index > 0 ? index : undefined;
}

/** How to open a device-bound socket; `codePrefix` names the caller in error codes (`DHCP`, `TFTP`). */
export interface DeviceSocketOptions {
  readonly interfaceName: string;
  readonly address: string;
  readonly port: number;
  readonly broadcast: boolean;
  readonly codePrefix: string;
}

/**
 * socket + SO_REUSEADDR (+ SO_BROADCAST) + SO_BINDTODEVICE + bind(address:port); returns the fd. Several
 * such sockets share one port, one per device. `<prefix>_INTERFACE_MISSING` (NotFoundError) when the
 * interface does not exist, `<prefix>_SOCKET_FAILED` otherwise.
 */
export function openDeviceBoundFd(opts: DeviceSocketOptions): number {
  const c = loadLibc();
  const { interfaceName, codePrefix } = opts;
  const fd = c.socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw new OperationError(`${codePrefix}_SOCKET_FAILED`, `socket(AF_INET, SOCK_DGRAM) failed with errno ${lastErrno()}`);
  const fail = (what: string): never => {
    const errno = lastErrno();
    c.close(fd);
    if (errno === ENODEV) throw new NotFoundError(`${codePrefix}_INTERFACE_MISSING`, `interface ${interfaceName} does not exist (${what}: ENODEV)`);
    throw new OperationError(`${codePrefix}_SOCKET_FAILED`, `${what} on ${interfaceName} failed with errno ${errno}`);
  };
  const one = Buffer.alloc(4);
  one.writeInt32LE(1);
  if (c.setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, one, 4) < 0) fail("SO_REUSEADDR");
  if (opts.broadcast && c.setsockopt(fd, SOL_SOCKET, SO_BROADCAST, one, 4) < 0) fail("SO_BROADCAST");
  const device = Buffer.from(`${interfaceName}\0`, "latin1");
  if (c.setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, device, device.length) < 0) fail("SO_BINDTODEVICE");
  // struct sockaddr_in { sa_family_t family (host order); in_port_t port (network order); in_addr addr (network order); zero[8] }
  const sockaddr = Buffer.alloc(16);
  sockaddr.writeUInt16LE(AF_INET, 0);
  sockaddr.writeUInt16BE(opts.port, 2);
  const octets = opts.address.split(".").map(Number);
  if (octets.length !== 4 || octets.some((o) => !(o >= 0 && o <= 255))) fail(`bind to a non-IPv4 address ${JSON.stringify(opts.address)}`);
  Buffer.from(octets).copy(sockaddr, 4);
  if (c.bind(fd, sockaddr, 16) < 0) fail(`bind ${opts.address}:${opts.port}`);
  return fd;
}

/** The socket inode behind one of this process's file descriptors, or undefined (closed, not a socket). */
export function socketInode(fd: number): number | undefined {
  try {
    const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Inodes of this process's UDP sockets bound to local `port` (any address), from /proc/self/fd and /proc/self/net/udp. */
export function udpSocketInodesOnPort(port: number): number[] {
  const mine = new Set<number>();
  for (const fd of readdirSync("/proc/self/fd")) {
    const inode = socketInode(Number(fd));
    if (inode !== undefined) mine.add(inode);
  }
  return [...readUdpTable().values()].filter((s) => s.localPort === port && mine.has(s.inode)).map((s) => s.inode);
}

/** One row of /proc/net/udp. */
export interface UdpSocketRow {
  readonly inode: number;
  readonly localPort: number;
  /** Datagrams the kernel dropped for this socket, mostly because its receive buffer was full. */
  readonly drops: number;
}

/**
 * /proc/self/net/udp (this process's network namespace) by inode. Columns (net/ipv4/udp.c udp4_format_sock):
 * sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ref pointer drops.
 */
export function readUdpTable(text = readFileSync("/proc/self/net/udp", "latin1")): Map<number, UdpSocketRow> {
  const rows = new Map<number, UdpSocketRow>();
  for (const line of text.split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 13) continue;
    const localPort = parseInt(f[1]!.split(":")[1] ?? "", 16);
    const inode = Number(f[9]);
    const drops = Number(f[12]);
    if (Number.isFinite(inode) && Number.isFinite(drops) && Number.isFinite(localPort)) rows.set(inode, { inode, localPort, drops });
  }
  return rows;
}

/** The system-wide `Udp: RcvbufErrors` of this network namespace (/proc/self/net/snmp), or undefined. */
export function udpReceiveBufferErrors(text = readFileSync("/proc/self/net/snmp", "latin1")): number | undefined {
  const [names, values] = text.split("\n").filter((l) => l.startsWith("Udp:")).map((l) => l.trim().split(/\s+/));
  const i = names?.indexOf("RcvbufErrors") ?? -1;
  return i > 0 && values?.[i] !== undefined ? Number(values[i]) : undefined;
}
