/**
 * The server's listening sockets. On an appliance, one socket per storage interface, bound to it with
 * SO_BINDTODEVICE: a request counts only if it arrived on the interface whose subnet holds its source address
 * (issue 9: with one socket on 0.0.0.0, a Pi on VLAN 10 sending RRQs from port 2's address took port 2's
 * slots). Missing interfaces are retried and recreated ones reopened. Without interfaces (tests, benchmarks),
 * one socket on the configured address. Also samples the kernel's receive-buffer drops of every listener.
 */
import type { RemoteInfo, Socket } from "node:dgram";
import { readFile } from "node:fs/promises";
import type { Logger } from "pino";
import { NotFoundError, PirackError } from "../../lib/errors.ts";
import { parseIpv4 } from "../../lib/net/ipv4.ts";
import { RoundRobin } from "../../lib/round-robin.ts";
import { interfaceIndex, openDeviceBoundFd, readUdpTable, socketInode, udpSocketInodesOnPort } from "../../lib/net/device-socket.ts";

/** A storage interface the server listens on, and the subnet its Pis' requests must come from. */
export interface TftpInterface {
  readonly interfaceName: string; // "eth0.10"
  readonly serverAddress: string; // the /30's .1
  readonly netmask: string; // "255.255.255.252"
}

/** An open listening socket and its kernel counters. */
export interface ListenerSocket {
  readonly socket: Socket;
  /** Kernel socket inode (for /proc/net/udp), when known. */
  readonly inode: number | undefined;
}

/** What the listeners need from the operating system; injected so tests can substitute it. */
export interface ListenerNetwork {
  /** Opens a UDP socket bound to `interfaceName` on `address:port`; NotFoundError when the interface is missing. */
  openInterfaceSocket(interfaceName: string, address: string, port: number): Promise<ListenerSocket>;
  /** The interface's ifindex, undefined when it does not exist. */
  interfaceIndex(interfaceName: string): number | undefined;
  /** Kernel receive-buffer drops so far by socket inode; undefined where the kernel cannot tell. May answer asynchronously. */
  receiveDrops(): ReadonlyMap<number, number> | undefined | Promise<ReadonlyMap<number, number> | undefined>;
  /** Inode of this process's socket on UDP `port` (the single listener), when the kernel tells. */
  inodeOnPort(port: number): number | undefined;
}

/** Sockets made by `createSocket` send to literal addresses only; see server.ts. */
type SocketFactory = () => Socket;

/** The production network: device-bound sockets through lib/net, counters from /proc/self/net/udp. */
export const linuxListenerNetwork = (createSocket: SocketFactory): ListenerNetwork => ({
  async openInterfaceSocket(interfaceName, address, port) {
    const fd = openDeviceBoundFd({ interfaceName, address, port, broadcast: false, codePrefix: "TFTP" });
    const socket = createSocket();
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.bind({ fd }, () => {
        socket.off("error", reject);
        resolve();
      });
    });
    return { socket, inode: socketInode(fd) };
  },
  interfaceIndex,
  async receiveDrops() {
    // Off the event loop: the kernel walks its whole UDP hash table for this file (one socket per transfer in a
    // storm), and a synchronous read every 2 s stalled every lockstep transfer for that long.
    try {
      return new Map([...readUdpTable(await readFile("/proc/self/net/udp", "latin1")).values()].map((row) => [row.inode, row.drops]));
    } catch {
      return undefined; // no /proc/net/udp: not Linux, or /proc not mounted
    }
  },
  inodeOnPort(port) {
    try {
      return udpSocketInodesOnPort(port)[0];
    } catch {
      return undefined;
    }
  },
});

interface Listener {
  readonly iface: TftpInterface | null;
  open: ListenerSocket | null;
  ifindex: number | undefined;
  dropsSeen: number;
  attempts: number;
  nextAttemptAt: number;
  opening: boolean;
}

/** Dependencies of `TftpListeners`. */
export interface TftpListenersDeps {
  readonly log: Logger;
  readonly address: string;
  readonly port: number;
  readonly createSocket: SocketFactory;
  readonly network: ListenerNetwork;
  readonly now: () => number;
  /** A datagram arrived; `iface` is the interface it arrived on (null for the single listener). */
  readonly onMessage: (msg: Buffer, rinfo: RemoteInfo, iface: TftpInterface | null) => void;
  /** The kernel dropped `count` datagrams on a listener since the last sample; `iface` is "all" for the single listener. */
  readonly onKernelDrops: (iface: string, count: number) => void;
}

const RETRY_INITIAL_MS = 500;
const RETRY_MAX_MS = 30_000;

/** True when `address` lies in the subnet of `iface` (its server address under its netmask). */
export function isOnInterface(iface: TftpInterface, address: string): boolean {
  const a = parseIpv4(address);
  const s = parseIpv4(iface.serverAddress);
  const m = parseIpv4(iface.netmask);
  if (a === undefined || s === undefined || m === undefined) return false;
  return ((a & m) >>> 0) === ((s & m) >>> 0);
}

/** The listening sockets of one server. */
export class TftpListeners {
  private readonly listeners = new Map<string, Listener>();
  private readonly rounds = new RoundRobin();
  private sampling: Promise<void> | null = null;

  constructor(private readonly deps: TftpListenersDeps) {}

  /**
   * Opens the single listener (`interfaces` null) or one per interface. Rejects with TFTP_BIND_FAILED when a
   * socket cannot be bound for any reason other than a missing interface (those are retried by `check`).
   */
  async start(interfaces: readonly TftpInterface[] | null): Promise<void> {
    if (interfaces === null) {
      const listener = this.add("", null);
      await this.openSingle(listener);
      return;
    }
    await this.update(interfaces, true);
  }

  /** Makes the per-interface listeners match `interfaces` (no-op for the single listener). */
  async update(interfaces: readonly TftpInterface[], rejectOnError = false): Promise<void> {
    if (this.listeners.has("")) return;
    const wanted = new Map(interfaces.map((i) => [i.interfaceName, i]));
    for (const [name, l] of this.listeners) {
      const want = wanted.get(name);
      if (want && want.serverAddress === l.iface?.serverAddress && want.netmask === l.iface.netmask) continue;
      this.listeners.delete(name);
      this.closeListener(l);
    }
    const attempts: Promise<void>[] = [];
    for (const iface of interfaces) if (!this.listeners.has(iface.interfaceName)) attempts.push(this.attempt(this.add(iface.interfaceName, iface), rejectOnError));
    await Promise.all(attempts);
  }

  /** Local address and port of the first open listener. */
  address(): { address: string; port: number } | null {
    for (const l of this.listeners.values()) if (l.open) return l.open.socket.address();
    return null;
  }

  /**
   * Periodic upkeep, one slice of listeners per call, called every `tickMs` so that a round takes `periodMs`
   * (`checkIntervalMs`; thousands at once stalled every transfer): reopen missing or recreated interfaces; at the
   * end of each round, add kernel drops to the counter.
   */
  check(periodMs: number, tickMs: number): void {
    const now = this.deps.now();
    const { slice, roundDone } = this.rounds.next([...this.listeners.values()], periodMs, tickMs);
    for (const l of slice) {
      if (!l.iface || l.opening) continue;
      if (l.open) {
        if (this.deps.network.interfaceIndex(l.iface.interfaceName) === l.ifindex) continue;
        this.deps.log.warn({ iface: l.iface.interfaceName }, "interface removed or recreated, reopening its tftp socket");
        this.closeListener(l);
        l.attempts = 0;
      } else if (now < l.nextAttemptAt) continue;
      void this.attempt(l, false);
    }
    if (roundDone) void this.sampleDrops();
  }

  /** How long between `check` calls so every listener is checked once per `periodMs`. */
  checkIntervalMs(periodMs: number, minMs: number): number {
    return this.rounds.intervalMs(this.listeners.size, periodMs, minMs);
  }

  /**
   * Reads each listener's kernel drop counter (Node cannot read SO_RXQ_OVFL ancillary data; /proc/net/udp can).
   * Returns a promise when the network answers asynchronously (one read in flight at a time).
   */
  sampleDrops(): Promise<void> | void {
    if (this.sampling) return this.sampling;
    const drops = this.deps.network.receiveDrops();
    if (!(drops instanceof Promise)) return this.applyDrops(drops);
    this.sampling = drops.then(
      (d) => this.applyDrops(d),
      () => undefined,
    ).finally(() => (this.sampling = null));
    return this.sampling;
  }

  private applyDrops(drops: ReadonlyMap<number, number> | undefined): void {
    if (!drops) return;
    for (const l of this.listeners.values()) {
      const inode = l.open?.inode;
      const total = inode === undefined ? undefined : drops.get(inode);
      if (total === undefined || total <= l.dropsSeen) continue;
      const name = l.iface?.interfaceName ?? "all";
      this.deps.onKernelDrops(name, total - l.dropsSeen);
      this.deps.log.warn({ iface: name, dropped: total - l.dropsSeen }, "kernel dropped tftp requests: receive buffer full");
      l.dropsSeen = total;
    }
  }

  /** Closes every listener. */
  async close(): Promise<void> {
    await this.sampleDrops();
    await Promise.all([...this.listeners.values()].map((l) => this.closeListener(l)));
    this.listeners.clear();
  }

  private add(name: string, iface: TftpInterface | null): Listener {
    const l: Listener = { iface, open: null, ifindex: undefined, dropsSeen: 0, attempts: 0, nextAttemptAt: 0, opening: false };
    this.listeners.set(name, l);
    return l;
  }

  private async openSingle(l: Listener): Promise<void> {
    const { address, port } = this.deps;
    const socket = this.deps.createSocket();
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => reject(new PirackError("TFTP_BIND_FAILED", `expected to bind ${address}:${port}, got ${err.message}`, { cause: err }));
      socket.once("error", onError);
      socket.bind(port, address, () => {
        socket.off("error", onError);
        resolve();
      });
    });
    this.adopt(l, { socket, inode: this.deps.network.inodeOnPort(socket.address().port) });
  }

  private async attempt(l: Listener, rejectOnError: boolean): Promise<void> {
    const iface = l.iface!;
    const { network, log, address, port } = this.deps;
    l.opening = true;
    try {
      const before = network.interfaceIndex(iface.interfaceName);
      const open = await network.openInterfaceSocket(iface.interfaceName, address, port);
      if (this.listeners.get(iface.interfaceName) !== l) {
        open.socket.close(); // removed while opening
        return;
      }
      l.ifindex = before;
      l.attempts = 0;
      this.adopt(l, open);
      log.info({ iface: iface.interfaceName, address, port }, "tftp interface socket open");
    } catch (err) {
      if (rejectOnError && !(err instanceof NotFoundError)) {
        throw new PirackError("TFTP_BIND_FAILED", `expected to bind ${address}:${port} on ${iface.interfaceName}, got ${(err as Error).message}`, { cause: err });
      }
      l.attempts += 1;
      const delayMs = Math.min(RETRY_MAX_MS, RETRY_INITIAL_MS * 2 ** (l.attempts - 1));
      l.nextAttemptAt = this.deps.now() + delayMs;
      log[l.attempts === 1 ? "warn" : "debug"]({ iface: iface.interfaceName, err, retryInMs: delayMs }, "tftp interface socket not opened, will retry");
    } finally {
      l.opening = false;
    }
  }

  private adopt(l: Listener, open: ListenerSocket): void {
    l.open = open;
    l.dropsSeen = 0; // the kernel counts a new socket's drops from zero
    open.socket.on("error", (err) => this.deps.log.warn({ err, iface: l.iface?.interfaceName }, "listening socket error"));
    open.socket.on("message", (msg, rinfo) => {
      if (l.open === open) this.deps.onMessage(msg, rinfo, l.iface);
    });
  }

  private async closeListener(l: Listener): Promise<void> {
    const open = l.open;
    l.open = null;
    l.ifindex = undefined;
    if (!open) return;
    await new Promise<void>((resolve) => {
      try {
        open.socket.close(() => resolve());
      } catch {
        resolve(); // already closed
      }
    });
  }
}
