/**
 * The real network adapter: UDP sockets bound to one interface with SO_BINDTODEVICE (through koffi, so no
 * compiler at install) and adopted by `node:dgram` with the documented `bind({ fd })`. Node itself cannot
 * tell which interface a broadcast came in on (dhcp-tftp-libs.md §1.3, experiment c′).
 */
import dgram from "node:dgram";
import { execa } from "execa";
import koffi from "koffi";
import { NotFoundError, OperationError } from "../../lib/errors.ts";
import type { MacAddress } from "./option-values.ts";

/** One receive/send endpoint on one interface. */
export interface DhcpSocket {
  /** Registers the handler for every datagram that arrives on this interface. */
  onMessage(handler: (bytes: Buffer) => void): void;
  /** Registers the handler for asynchronous socket errors. */
  onError(handler: (err: Error) => void): void;
  /** Sends one datagram out of this interface. */
  send(bytes: Buffer, port: number, address: string): Promise<void>;
  /** Closes the socket; no handler runs afterwards. */
  close(): void;
}

/** Everything the server does to the outside world, injected so tests can substitute it. */
export interface DhcpNetwork {
  /** Opens a socket bound to `interfaceName`, listening on 0.0.0.0:`port`; NotFoundError when the interface is missing. */
  openSocket(interfaceName: string, port: number): Promise<DhcpSocket>;
  /** The interface's current ifindex, or undefined when it does not exist (a recreated interface gets a new one). */
  interfaceIndex(interfaceName: string): number | undefined;
  /** Pins `address` to `mac` on the interface (permanent neighbour entry), so a unicast reply needs no ARP. */
  setNeighbour(interfaceName: string, address: string, mac: MacAddress): Promise<void>;
}

// Linux socket constants (asm-generic, the same on x86-64 and arm64; <sys/socket.h>, <asm/socket.h>).
const AF_INET = 2;
const SOCK_DGRAM = 2;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SO_REUSEADDR = 2;
const SO_BROADCAST = 6;
const SO_BINDTODEVICE = 25;
const ENODEV = 19;

/** The libc calls the adapter needs, bound once per `DeviceSocketNetwork`. */
interface Libc {
  socket(domain: number, type: number, protocol: number): number;
  setsockopt(fd: number, level: number, name: number, value: Buffer, length: number): number;
  bind(fd: number, address: Buffer, length: number): number;
  close(fd: number): number;
  if_nametoindex(name: string): number;
}

function loadLibc(): Libc {
  const lib = koffi.load("libc.so.6");
  return {
    socket: lib.func("int socket(int, int, int)"),
    setsockopt: lib.func("int setsockopt(int, int, int, const void *, uint32_t)"),
    bind: lib.func("int bind(int, const void *, uint32_t)"),
    close: lib.func("int close(int)"),
    if_nametoindex: lib.func("unsigned int if_nametoindex(const char *)"),
  };
}

/** Wraps an adopted dgram socket. */
class DgramDhcpSocket implements DhcpSocket {
  constructor(private readonly socket: dgram.Socket) {}

  onMessage(handler: (bytes: Buffer) => void): void {
    this.socket.on("message", (bytes) => handler(bytes));
  }

  onError(handler: (err: Error) => void): void {
    this.socket.on("error", handler);
  }

  send(bytes: Buffer, port: number, address: string): Promise<void> {
    return new Promise((resolve, reject) => this.socket.send(bytes, port, address, (err) => (err ? reject(err) : resolve())));
  }

  close(): void {
    try {
      this.socket.close();
    } catch {
      // Already closed (ERR_SOCKET_DGRAM_NOT_RUNNING): closing twice is harmless.
    }
  }
}

/** The production `DhcpNetwork`: device-bound sockets via koffi, neighbour entries via `ip neigh`. */
export class DeviceSocketNetwork implements DhcpNetwork {
  private readonly libc: Libc = loadLibc();

  interfaceIndex(interfaceName: string): number | undefined {
    const index = this.libc.if_nametoindex(interfaceName);
    return index > 0 ? index : undefined;
  }

  async openSocket(interfaceName: string, port: number): Promise<DhcpSocket> {
    const fd = this.openDeviceFd(interfaceName, port);
    const socket = dgram.createSocket("udp4");
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.bind({ fd }, () => {
        socket.off("error", reject);
        resolve();
      });
    });
    return new DgramDhcpSocket(socket);
  }

  async setNeighbour(interfaceName: string, address: string, mac: MacAddress): Promise<void> {
    // What dnsmasq does with SIOCSARP before unicasting to a client that has no address yet (src/dhcp.c).
    const r = await execa("ip", ["neigh", "replace", address, "lladdr", mac, "dev", interfaceName, "nud", "permanent"], { reject: false });
    if (r.exitCode !== 0) throw new OperationError("DHCP_NEIGHBOUR_FAILED", `ip neigh replace ${address} lladdr ${mac} dev ${interfaceName} failed: ${r.stderr}`);
  }

  /** socket + SO_REUSEADDR + SO_BROADCAST + SO_BINDTODEVICE + bind(0.0.0.0:port); returns the fd. */
  private openDeviceFd(interfaceName: string, port: number): number {
    const { libc } = this;
    const fd = libc.socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) throw new OperationError("DHCP_SOCKET_FAILED", `socket(AF_INET, SOCK_DGRAM) failed with errno ${koffi.errno()}`);
    const fail = (what: string): never => {
      const errno = koffi.errno();
      libc.close(fd);
      if (errno === ENODEV) throw new NotFoundError("DHCP_INTERFACE_MISSING", `interface ${interfaceName} does not exist (${what}: ENODEV)`);
      throw new OperationError("DHCP_SOCKET_FAILED", `${what} on ${interfaceName} failed with errno ${errno}`);
    };
    const one = Buffer.alloc(4);
    one.writeInt32LE(1);
    if (libc.setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, one, 4) < 0) fail("SO_REUSEADDR");
    if (libc.setsockopt(fd, SOL_SOCKET, SO_BROADCAST, one, 4) < 0) fail("SO_BROADCAST");
    const device = Buffer.from(`${interfaceName}\0`, "latin1");
    if (libc.setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, device, device.length) < 0) fail("SO_BINDTODEVICE");
    // struct sockaddr_in { sa_family_t family (host order); in_port_t port (network order); in_addr addr = 0.0.0.0; zero[8] }
    const address = Buffer.alloc(16);
    address.writeUInt16LE(AF_INET, 0);
    address.writeUInt16BE(port, 2);
    if (libc.bind(fd, address, 16) < 0) fail(`bind 0.0.0.0:${port}`);
    return fd;
  }
}
