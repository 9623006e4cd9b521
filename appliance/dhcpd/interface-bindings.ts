/**
 * One socket per scope's interface, kept open against a changing world: a missing interface is retried
 * with exponential backoff, and one deleted and recreated (new ifindex) is reopened, because a socket bound
 * to the old device silently hears nothing (dhcp-tftp-libs.md §1.4). Holds all per-interface state.
 */
import { RoundRobin } from "../../lib/round-robin.ts";

/** The interface check's ticks come no closer than this (a round of thousands takes larger slices instead). */
const CHECK_TICK_MIN_MS = 20;
import type { Logger } from "pino";
import type { DhcpNetwork, DhcpSocket } from "./device-socket.ts";
import type { MacAddress } from "./option-values.ts";
import type { DhcpScope } from "./policy.ts";
import type { Clock as FullClock } from "../../lib/clock.ts";

/** The part of the clock the DHCP server uses (timers for delayed replies and socket reopening). */
export type DhcpClock = Pick<FullClock, "now" | "setTimeout" | "clearTimeout">;

/** At most this many MACs are remembered as Pis per interface (a /30 has one client; this only bounds memory). */
const KNOWN_PI_LIMIT = 16;

/** The state of one interface: its scope, socket, retry bookkeeping, delayed replies and known Pis. */
export class Binding {
  socket: DhcpSocket | undefined;
  ifindex: number | undefined;
  state: "open" | "waiting" | "closed" | "new" = "new";
  attempts = 0;
  nextAttemptAt = 0;
  opening = false;
  /** The socket's kernel drop counter when last sampled (a new socket starts from its own zero). */
  dropsSeen: number | undefined;
  /** MACs that identified as Pis here; their later requests without option 60/97 are still Pi requests. */
  readonly knownPiMacs = new Set<MacAddress>();
  private readonly pending = new Set<unknown>();
  private neighbour: string | undefined;

  constructor(
    public scope: DhcpScope,
    private readonly clock: DhcpClock,
    private readonly network: DhcpNetwork,
  ) {}

  /** Remembers `mac` as a Pi on this interface. */
  rememberPi(mac: MacAddress): void {
    if (this.knownPiMacs.has(mac)) return;
    if (this.knownPiMacs.size >= KNOWN_PI_LIMIT) this.knownPiMacs.delete(this.knownPiMacs.values().next().value as MacAddress);
    this.knownPiMacs.add(mac);
  }

  /** Runs `fn` after `ms` unless the interface is closed first. */
  schedule(fn: () => void, ms: number): void {
    const handle = this.clock.setTimeout(() => {
      this.pending.delete(handle);
      fn();
    }, ms);
    this.pending.add(handle);
  }

  /** Installs the neighbour entry once per (address, MAC); a change of either replaces it. */
  async ensureNeighbour(address: string, mac: MacAddress): Promise<void> {
    const key = `${address}/${mac}`;
    if (this.neighbour === key) return;
    await this.network.setNeighbour(this.scope.interfaceName, address, mac);
    this.neighbour = key;
  }

  /** Closes the socket and cancels delayed replies. */
  closeSocket(): void {
    this.socket?.close();
    this.socket = undefined;
    this.ifindex = undefined;
    this.dropsSeen = undefined;
    this.neighbour = undefined;
    for (const handle of this.pending) this.clock.clearTimeout(handle);
    this.pending.clear();
  }
}

/** Dependencies of `InterfaceBindings`. */
export interface InterfaceBindingsDeps {
  readonly log: Logger;
  readonly clock: DhcpClock;
  readonly network: DhcpNetwork;
  readonly port: number;
  readonly checkMs: number;
  readonly retry: { readonly initialMs: number; readonly maxMs: number };
  readonly onDatagram: (binding: Binding, bytes: Buffer, source: string | undefined) => void;
  /** Runs after every periodic interface check (the server samples kernel drop counters then). */
  readonly onCheck?: () => void;
  readonly onState: (binding: Binding, state: "open" | "waiting" | "closed", reason?: string) => void;
}

/** The set of interface bindings, keyed by interface name. */
export class InterfaceBindings {
  private readonly bindings = new Map<string, Binding>();
  private readonly rounds = new RoundRobin();
  private timer: unknown;
  private watching = false;

  constructor(private readonly deps: InterfaceBindingsDeps) {}

  /** Makes the bindings match `scopes`; resolves after one open attempt per new interface. */
  async update(scopes: readonly DhcpScope[]): Promise<void> {
    const wanted = new Map(scopes.map((s) => [s.interfaceName, s]));
    for (const [name, binding] of this.bindings) {
      if (wanted.has(name)) continue;
      this.bindings.delete(name);
      binding.closeSocket();
      this.setState(binding, "closed", "scope removed");
    }
    const attempts: Promise<void>[] = [];
    for (const scope of scopes) {
      const existing = this.bindings.get(scope.interfaceName);
      if (existing) {
        existing.scope = scope;
        continue;
      }
      const binding = new Binding(scope, this.deps.clock, this.deps.network);
      this.bindings.set(scope.interfaceName, binding);
      attempts.push(this.attempt(binding));
    }
    await Promise.all(attempts);
  }

  /** Starts the periodic interface check. */
  startWatching(): void {
    this.watching = true;
    this.scheduleCheck();
  }

  /** Every binding, open or not. */
  all(): IterableIterator<Binding> {
    return this.bindings.values();
  }

  /** Number of interfaces with an open socket. */
  openCount(): number {
    let n = 0;
    for (const b of this.bindings.values()) if (b.socket) n++;
    return n;
  }

  /** Stops watching and closes every socket. */
  closeAll(): void {
    this.watching = false;
    if (this.timer !== undefined) this.deps.clock.clearTimeout(this.timer);
    this.timer = undefined;
    for (const binding of this.bindings.values()) {
      binding.closeSocket();
      binding.state = "closed";
    }
    this.bindings.clear();
  }

  private scheduleCheck(): void {
    if (!this.watching) return;
    // Every interface once per checkMs, in slices (lib/round-robin.ts): thousands at once stalled every packet.
    const tickMs = this.rounds.intervalMs(this.bindings.size, this.deps.checkMs, CHECK_TICK_MIN_MS);
    this.timer = this.deps.clock.setTimeout(() => {
      this.timer = undefined;
      if (this.check(tickMs)) this.deps.onCheck?.();
      this.scheduleCheck();
    }, tickMs);
  }

  /** One slice: reopen recreated or vanished interfaces, retry missing ones whose backoff ran out; true at a round's end. */
  private check(tickMs: number): boolean {
    const now = this.deps.clock.now();
    const { slice, roundDone } = this.rounds.next([...this.bindings.values()], this.deps.checkMs, tickMs);
    for (const binding of slice) {
      if (binding.opening) continue;
      if (binding.socket) {
        const index = this.deps.network.interfaceIndex(binding.scope.interfaceName);
        if (index === binding.ifindex) continue;
        binding.closeSocket();
        binding.attempts = 0;
        this.setState(binding, "waiting", index === undefined ? "interface removed" : "interface recreated");
      } else if (now < binding.nextAttemptAt) continue;
      void this.attempt(binding);
    }
    return roundDone;
  }

  private async attempt(binding: Binding): Promise<void> {
    const { network, log, clock, retry } = this.deps;
    const name = binding.scope.interfaceName;
    binding.opening = true;
    try {
      const before = network.interfaceIndex(name);
      const socket = await network.openSocket(name, this.deps.port);
      if (this.bindings.get(name) !== binding) {
        socket.close(); // the scope was removed while the socket was being opened
        return;
      }
      binding.socket = socket;
      binding.dropsSeen = 0; // the kernel counts a new socket's drops from zero
      binding.ifindex = before;
      binding.attempts = 0;
      socket.onMessage((bytes, source) => {
        if (binding.socket === socket) this.deps.onDatagram(binding, bytes, source);
      });
      socket.onError((err) => {
        log.warn({ iface: name, err }, "socket error, reopening");
        if (binding.socket !== socket) return;
        binding.closeSocket();
        this.setState(binding, "waiting", "socket error");
      });
      this.setState(binding, "open");
    } catch (err) {
      binding.attempts += 1;
      const delayMs = Math.min(retry.maxMs, retry.initialMs * 2 ** (binding.attempts - 1));
      binding.nextAttemptAt = clock.now() + delayMs;
      const level = binding.attempts === 1 ? "warn" : "debug";
      log[level]({ iface: name, err, attempt: binding.attempts, retryInMs: delayMs }, "interface socket not opened, will retry");
      if (this.bindings.get(name) === binding) this.setState(binding, "waiting", (err as Error).message);
    } finally {
      binding.opening = false;
    }
  }

  private setState(binding: Binding, state: "open" | "waiting" | "closed", reason?: string): void {
    if (binding.state === state) return;
    binding.state = state;
    if (state === "open") this.deps.log.info({ iface: binding.scope.interfaceName, vlan: binding.scope.vlan }, "interface socket open");
    else if (state === "waiting") this.deps.log.warn({ iface: binding.scope.interfaceName, reason }, "interface socket waiting");
    this.deps.onState(binding, state, reason);
  }
}
