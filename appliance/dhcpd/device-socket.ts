/**
 * The real network adapter: UDP sockets bound to one interface with SO_BINDTODEVICE (lib/net/device-socket.ts)
 * and adopted by `node:dgram` with the documented `bind({ fd })`. Node itself cannot
 * tell which interface a broadcast came in on (dhcp-tftp-libs.md §1.3, experiment c′).
 */
import dgram from "node:dgram";
import { execa } from "execa";
import { readFile } from "node:fs/promises";
import { OperationError } from "../../lib/errors.ts";
import { literalLookup } from "../../lib/net/literal-lookup.ts";
import { interfaceIndex, openDeviceBoundFd, readUdpTable, socketInode } from "../../lib/net/device-socket.ts";
import type { MacAddress } from "./option-values.ts";

/** One receive/send endpoint on one interface. */
export interface DhcpSocket {
  /** Registers the handler for every datagram that arrives on this interface; `source` is its IP source address. */
  onMessage(handler: (bytes: Buffer, source?: string) => void): void;
  /** The kernel's socket inode, to find its receive-buffer drops in /proc/net/udp; undefined when not a kernel socket. */
  readonly inode?: number;
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
  /**
   * Kernel receive-buffer drops so far by socket inode (/proc/net/udp); undefined where the kernel cannot tell.
   * May answer asynchronously: the real adapter reads the table off the event loop.
   */
  receiveDrops?(): ReadonlyMap<number, number> | undefined | Promise<ReadonlyMap<number, number> | undefined>;
}

/** Wraps an adopted dgram socket. */
class DgramDhcpSocket implements DhcpSocket {
  constructor(
    private readonly socket: dgram.Socket,
    readonly inode: number | undefined,
  ) {}

  onMessage(handler: (bytes: Buffer, source?: string) => void): void {
    this.socket.on("message", (bytes, rinfo) => handler(bytes, rinfo.address));
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
  interfaceIndex(interfaceName: string): number | undefined {
    return interfaceIndex(interfaceName);
  }

  async openSocket(interfaceName: string, port: number): Promise<DhcpSocket> {
    const fd = openDeviceBoundFd({ interfaceName, address: "0.0.0.0", port, broadcast: true, codePrefix: "DHCP" });
    // Replies go to literals only: sent at once rather than after the rest of the handler's turn.
    const socket = dgram.createSocket({ type: "udp4", lookup: literalLookup });
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.bind({ fd }, () => {
        socket.off("error", reject);
        resolve();
      });
    });
    return new DgramDhcpSocket(socket, socketInode(fd));
  }

  async receiveDrops(): Promise<ReadonlyMap<number, number> | undefined> {
    // Read asynchronously: the kernel walks its whole UDP hash table for this file, which took several ms on
    // the event loop every 2 s with 96 sockets (bench/dhcp profile) and delayed the replies queued behind it.
    try {
      return new Map([...readUdpTable(await readFile("/proc/self/net/udp", "latin1")).values()].map((row) => [row.inode, row.drops]));
    } catch {
      return undefined; // no /proc/net/udp (not Linux, or /proc not mounted)
    }
  }

  async setNeighbour(interfaceName: string, address: string, mac: MacAddress): Promise<void> {
    // What dnsmasq does with SIOCSARP before unicasting to a client that has no address yet (src/dhcp.c).
    const r = await execa("ip", ["neigh", "replace", address, "lladdr", mac, "dev", interfaceName, "nud", "permanent"], { reject: false });
    if (r.exitCode !== 0) throw new OperationError("DHCP_NEIGHBOUR_FAILED", `ip neigh replace ${address} lladdr ${mac} dev ${interfaceName} failed: ${r.stderr}`);
  }
}
