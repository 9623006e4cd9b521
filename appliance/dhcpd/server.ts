/**
 * The DHCP server: one device-bound socket per scope's interface, receive -> decode -> policy -> encode ->
 * send on the same socket. The only dhcpd code with I/O (through the injected `DhcpNetwork` and `Clock`).
 * Nothing thrown by a packet leaves `handleDatagram`.
 */
import { EventEmitter } from "node:events";
import type { Logger } from "pino";
import { DecodeError } from "../../lib/errors.ts";
import type { MetricsRegistry } from "../../lib/metrics.ts";
import { decodeDhcpPacket, encodeDhcpPacket, type DhcpPacket } from "./codec.ts";
import { DhcpOption, DhcpPort } from "./constants.ts";
import type { DhcpNetwork } from "./device-socket.ts";
import { InterfaceBindings, type Binding, type DhcpClock } from "./interface-bindings.ts";
import { ipv4Option, macOfPacket, messageTypeOf, textOption } from "./option-values.ts";
import { decideDhcpReply, isSourceOnScope, resolveDhcpSettings, type DhcpDecision, type DhcpScope, type DhcpSettings } from "./policy.ts";
import { identifyPi } from "./raspberry-pi.ts";
import type { DhcpServerEvents } from "./events.ts";
import { createDhcpMetrics, type DhcpMetrics } from "./metrics.ts";


/** The logger for one request's lines at `level`, or undefined when that level is off (nothing is built then). */
type RequestLog = (level: "trace" | "debug" | "info" | "warn" | "error") => Logger | undefined;

// Bytes of a malformed datagram shown (as hex) in its debug log line.
const MALFORMED_HEX_BYTES = 32;

/** Constructor dependencies of `DhcpServer`. */
export interface DhcpServerDeps {
  readonly log: Logger;
  readonly clock: DhcpClock;
  readonly metrics: MetricsRegistry;
  readonly network: DhcpNetwork;
  /** Initial scopes, or a provider read at `start()`; later changes go through `updateScopes`. */
  readonly scopes: readonly DhcpScope[] | (() => readonly DhcpScope[]);
  readonly settings?: Partial<DhcpSettings>;
  /** How often interfaces are checked for deletion/recreation; default 2000 ms. */
  readonly interfaceCheckMs?: number;
  /** Backoff for an interface that is missing: first retry after `initialMs`, doubling up to `maxMs`. */
  readonly retry?: { readonly initialMs: number; readonly maxMs: number };
  /** UDP port to listen on; 67 except in tests. */
  readonly port?: number;
}

/** DHCP server for Pi netboot on per-VLAN interfaces; emits `request`, `reply` and `interface` events. */
export class DhcpServer extends EventEmitter<DhcpServerEvents> {
  private readonly log: Logger;
  private readonly settings: DhcpSettings;
  private readonly counters: DhcpMetrics;
  private readonly bindings: InterfaceBindings;
  private scopes: readonly DhcpScope[] = [];
  private running = false;
  /** A drop-counter read is in flight (the real network reads /proc asynchronously). */
  private sampling = false;

  constructor(private readonly deps: DhcpServerDeps) {
    super();
    this.log = deps.log.child({ component: "dhcpd" });
    this.settings = resolveDhcpSettings(deps.settings);
    this.counters = createDhcpMetrics(deps.metrics);
    this.bindings = new InterfaceBindings({
      log: this.log,
      clock: deps.clock,
      network: deps.network,
      port: deps.port ?? DhcpPort.Server,
      checkMs: deps.interfaceCheckMs ?? 2_000,
      retry: deps.retry ?? { initialMs: 500, maxMs: 30_000 },
      onDatagram: (binding, bytes, source) => this.handleDatagram(binding, bytes, source),
      onCheck: () => this.sampleReceiveDrops(),
      onState: (binding, state, reason) => {
        this.counters.interfacesOpen.set(this.bindings.openCount());
        const { port, vlan, interfaceName } = binding.scope;
        this.safeEmit("interface", { port, vlan, interfaceName, state, ...(reason ? { reason } : {}) });
      },
    });
  }

  /** Opens a socket for every scope (missing interfaces are retried in the background). */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    const scopes = typeof this.deps.scopes === "function" ? this.deps.scopes() : this.deps.scopes;
    await this.updateScopes(scopes);
    this.bindings.startWatching();
    this.log.info({ interfaces: scopes.length, settings: this.settings }, "dhcp server started");
  }

  /** Replaces the scope set on a live server: opens sockets for new interfaces, closes removed ones. */
  async updateScopes(scopes: readonly DhcpScope[]): Promise<void> {
    this.scopes = scopes;
    if (!this.running) return;
    await this.bindings.update(scopes);
  }

  /** The scopes currently served. */
  currentScopes(): readonly DhcpScope[] {
    return this.scopes;
  }

  /** Closes every socket and cancels delayed replies. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.bindings.closeAll();
    this.counters.interfacesOpen.set(0);
    this.log.info("dhcp server stopped");
  }

  /**
   * Adds what the kernel dropped on each socket since the last sample to the per-interface counter. Node cannot
   * read SO_RXQ_OVFL ancillary data, so the per-socket `drops` column of /proc/net/udp is the source.
   */
  sampleReceiveDrops(): void {
    if (this.sampling) return;
    const drops = this.deps.network.receiveDrops?.();
    if (drops instanceof Promise) {
      this.sampling = true;
      void drops.then(
        (d) => {
          this.sampling = false;
          if (this.running) this.applyReceiveDrops(d);
        },
        () => (this.sampling = false),
      );
    } else this.applyReceiveDrops(drops);
  }

  private applyReceiveDrops(drops: ReadonlyMap<number, number> | undefined): void {
    if (!drops) return;
    for (const binding of this.bindings.all()) {
      const inode = binding.socket?.inode;
      const now = inode === undefined ? undefined : drops.get(inode);
      if (now === undefined) continue;
      if (binding.dropsSeen !== undefined && now > binding.dropsSeen) {
        this.counters.receiveBufferDrops.inc({ iface: binding.scope.interfaceName }, now - binding.dropsSeen);
        this.log.warn({ iface: binding.scope.interfaceName, dropped: now - binding.dropsSeen }, "kernel dropped datagrams: receive buffer full");
      }
      binding.dropsSeen = now;
    }
  }

  /** Handles one datagram from an interface; never throws. */
  private handleDatagram(binding: Binding, bytes: Buffer, source: string | undefined): void {
    let request: DhcpPacket;
    try {
      request = decodeDhcpPacket(bytes);
    } catch (err) {
      this.counters.malformed.inc();
      // The code, the reason and the first bytes say what was wrong; a stack trace per junk packet would not (issue 9).
      const hex = bytes.subarray(0, MALFORMED_HEX_BYTES).toString("hex");
      if (err instanceof DecodeError) this.log.debug({ iface: binding.scope.interfaceName, code: err.code, reason: err.message.slice(0, 160), bytes: bytes.length, hex }, "malformed packet dropped");
      else this.log.warn({ iface: binding.scope.interfaceName, err }, "packet decode failed unexpectedly");
      return;
    }
    const sourceOnScope = isSourceOnScope(binding.scope, source, request);
    if (!sourceOnScope) {
      this.counters.wrongSource.inc({ iface: binding.scope.interfaceName });
      this.log.debug({ iface: binding.scope.interfaceName, source, xid: request.transactionId }, "request from outside the interface's subnet: no identity event, at most a NAK");
    }
    try {
      this.handleRequest(binding, request, sourceOnScope);
    } catch (err) {
      this.counters.errors.inc();
      this.log.error({ iface: binding.scope.interfaceName, err }, "request handling failed");
    }
  }

  /** `sourceOnScope` false: spoofed or from another VLAN; it is no Pi sighting and gets no address (see `isSourceOnScope`). */
  private handleRequest(binding: Binding, request: DhcpPacket, sourceOnScope: boolean): void {
    const { scope } = binding;
    const mac = macOfPacket(request);
    const messageType = messageTypeOf(request);
    const identity = identifyPi({ mac, option97: request.options.get(DhcpOption.ClientMachineId), transactionId: request.transactionId });
    // The per-request child logger is made only when a line is written (a pino child per packet was on the hot path).
    let child: Logger | undefined;
    const log: RequestLog = (level) => (this.log.isLevelEnabled(level) ? (child ??= this.log.child({ iface: scope.interfaceName, mac, xid: request.transactionId })) : undefined);
    this.counters.requests.inc({ type: messageType ?? "none" });
    log("trace")?.trace({ hex: encodeDhcpPacket(request).toString("hex") }, "packet received");

    const knownPi = mac !== undefined && binding.knownPiMacs.has(mac);
    if (identity.isPi && mac && sourceOnScope) binding.rememberPi(mac);
    // The listeners (serve's sighting: enrolment, boot stages, state) run after the reply is on its way: the
    // Pi waits for the OFFER, not for them. The event keeps the time the request arrived.
    const arrivedAt = this.listenerCount("request") > 0 ? this.deps.clock.now() : undefined;
    const decision = decideDhcpReply({ request, scope, settings: this.settings, identity, knownPi, sourceOnScope });
    this.carryOut(binding, decision, log);
    if (messageType && request.op === 1 && sourceOnScope && arrivedAt !== undefined) {
      this.safeEmit("request", {
        port: scope.port,
        vlan: scope.vlan,
        interfaceName: scope.interfaceName,
        mac: mac ?? null,
        serial: identity.serial,
        model: identity.model,
        family: identity.family,
        isPi: identity.isPi || knownPi,
        messageType,
        transactionId: request.transactionId,
        vendorClass: textOption(request, DhcpOption.VendorClass) ?? null,
        requestedAddress: ipv4Option(request, DhcpOption.RequestedAddress) ?? null,
        at: arrivedAt,
      });
    }
  }

  private carryOut(binding: Binding, decision: DhcpDecision, log: RequestLog): void {
    switch (decision.kind) {
      case "ignore":
        this.counters.ignored.inc({ reason: decision.reason });
        log("debug")?.debug({ reason: decision.reason }, "request ignored");
        return;
      case "noted":
        if (decision.messageType === "DECLINE") log("warn")?.warn("client declined its address (address conflict on the VLAN?)");
        else log("info")?.info("client released its address");
        return;
      case "reply": {
        const bytes = encodeDhcpPacket(decision.packet);
        const send = () =>
          void this.send(binding, decision, bytes, log).catch((err: unknown) => {
            this.counters.errors.inc();
            log("error")?.error({ err }, "reply handling failed");
          });
        if (decision.delayMs > 0) {
          log("debug")?.debug({ delayMs: decision.delayMs }, "offer delayed for pi 3 rom");
          binding.schedule(send, decision.delayMs);
        } else send();
      }
    }
  }

  private async send(binding: Binding, decision: Extract<DhcpDecision, { kind: "reply" }>, bytes: Buffer, log: RequestLog): Promise<void> {
    const { destination } = decision;
    const socket = binding.socket;
    if (!socket) {
      log("debug")?.debug({ type: decision.messageType }, "reply dropped: interface closed");
      return;
    }
    let address = destination.kind === "broadcast" ? "255.255.255.255" : destination.address;
    if (destination.kind === "unicast" && destination.neighbour) {
      try {
        await binding.ensureNeighbour(destination.neighbour.address, destination.neighbour.mac);
      } catch (err) {
        // Without the neighbour entry a unicast would wait for an ARP answer the client cannot give yet;
        // a broadcast still reaches it (RFC 2131 §4.1 allows either when the broadcast flag is clear).
        this.counters.neighbourErrors.inc();
        log("warn")?.warn({ err }, "neighbour entry failed, broadcasting the reply instead");
        address = "255.255.255.255";
      }
    }
    try {
      await socket.send(bytes, destination.port, address);
    } catch (err) {
      this.counters.sendErrors.inc();
      log("warn")?.warn({ err, type: decision.messageType, to: `${address}:${destination.port}` }, "reply send failed");
      return;
    }
    this.counters.replies.inc({ type: decision.messageType });
    const { scope } = binding;
    const level = decision.messageType === "NAK" ? "warn" : "info";
    log(level)?.[level]({ type: decision.messageType, yiaddr: decision.packet.yourAddress, to: `${address}:${destination.port}`, nakReason: decision.nakReason }, "reply sent");
    if (this.listenerCount("reply") === 0) return;
    this.safeEmit("reply", {
      port: scope.port,
      vlan: scope.vlan,
      interfaceName: scope.interfaceName,
      mac: macOfPacket(decision.packet) ?? null,
      messageType: decision.messageType,
      transactionId: decision.packet.transactionId,
      yourAddress: decision.packet.yourAddress,
      destination: `${address}:${destination.port}`,
      at: this.deps.clock.now(),
    });
  }

  /** Emits without letting a listener's exception reach the socket handler. */
  private safeEmit<K extends keyof DhcpServerEvents>(event: K, ...args: DhcpServerEvents[K]): void {
    try {
      (this.emit as (e: K, ...a: DhcpServerEvents[K]) => boolean)(event, ...args);
    } catch (err) {
      this.log.error({ err, event }, "event listener failed");
    }
  }
}

