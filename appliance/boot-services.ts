/**
 * DHCP and TFTP wired to the appliance: scopes and per-Pi views come from the current plan, and what the
 * servers see (a Pi's DISCOVER, its serial folder, the files it fetches) comes back as sightings.
 */
import type { Logger } from "pino";
import type { Appliance } from "./appliance.ts";
import { DeviceSocketNetwork, DhcpServer, systemClock, type DhcpInterfaceEvent, type DhcpNetwork, type DhcpRequestEvent, type DhcpScope } from "./dhcpd/index.ts";
import type { MetricsRegistry } from "../lib/metrics.ts";
import type { RackPlan } from "./plan.ts";
import { TftpServer, type PiBootView, type TftpEvent, type TftpInterface } from "./tftpd/index.ts";
import { udpReceiveBufferErrors } from "../lib/net/device-socket.ts";

/**
 * Where the boot servers listen; production defaults are DHCP port 67 and TFTP 0.0.0.0:69, which means one
 * socket per storage interface (SO_BINDTODEVICE); any other TFTP address is one plain socket on it.
 */
export interface BootListen {
  readonly dhcpPort: number;
  readonly tftpAddress: string;
  readonly tftpPort: number;
}

/** The DHCP scopes of a plan: one per storage VLAN interface. */
export function dhcpScopes(plan: RackPlan): DhcpScope[] {
  return plan.ports.map((p) => ({
    port: p.port,
    vlan: p.vlan,
    interfaceName: p.interfaceName,
    serverAddress: p.serverAddress,
    clientAddress: p.piAddress,
    netmask: p.netmask,
  }));
}

/** The TFTP listening interfaces of a plan: one per storage VLAN interface, with the subnet its Pi sends from. */
export function tftpInterfaces(plan: RackPlan): TftpInterface[] {
  return plan.ports.map((p) => ({ interfaceName: p.interfaceName, serverAddress: p.serverAddress, netmask: p.netmask }));
}

/** The TFTP view of the Pi behind a client address, or null for an address that is not a Pi's /30 `.2`. */
export function piBootView(plan: RackPlan, clientAddress: string): PiBootView | null {
  return piBootViews(plan)(clientAddress);
}

/**
 * `piBootView` for one plan, indexed by address once: every TFTP request asks, and a scan of the plan's ports
 * per request cost O(ports) on the boot path of a rack of thousands.
 */
export function piBootViews(plan: RackPlan): (clientAddress: string) => PiBootView | null {
  const byAddress = new Map(plan.ports.map((p) => [p.piAddress, p]));
  return (clientAddress) => {
    const port = byAddress.get(clientAddress);
    if (!port) return null;
    return { port: port.port, serial: port.serial ?? null, cmdline: port.files.cmdline, config: port.files.configTxt };
  };
}

/** Boot stage a TFTP file marks: the kernel image and device trees come after the firmware has run. */
export function stageOfFile(file: string): "firmware" | "kernel" {
  const name = file.split("/").pop() ?? file;
  return /^(kernel.*\.img|vmlinuz.*|Image.*|initrd.*|initramfs.*|.*\.dtbo?)$/i.test(name) ? "kernel" : "firmware";
}

// How often the namespace-wide UDP receive-buffer error counter is read.
const UDP_ERROR_SAMPLE_MS = 5_000;

/** A serial folder as the Pi firmware names it: 8 lower-case hex digits (Pi 4/5 may use the MAC instead). */
const SERIAL_FOLDER = /^[0-9a-f]{8}$/;

/** Running DHCP and TFTP servers bound to an appliance; rebuilt when their settings change on reload. */
export class BootServices {
  private dhcp: DhcpServer | undefined;
  private tftp: TftpServer | undefined;
  /** Settings each running server was built with, to see when a reload needs a new one. */
  private dhcpKey = "";
  private tftpKey = "";
  private readonly unsubscribe: () => void;
  private udpErrorTimer: ReturnType<typeof setInterval> | undefined;
  /** The boot views of the plan they were indexed from (re-indexed when the plan in force changes). */
  private views: { plan: RackPlan; lookup: (clientAddress: string) => PiBootView | null } | undefined;

  constructor(
    private readonly deps: {
      readonly log: Logger;
      readonly metrics: MetricsRegistry;
      readonly appliance: Appliance;
      readonly listen: BootListen;
      readonly network?: DhcpNetwork;
      /** A storage interface's DHCP socket opened, is waiting for its interface, or closed. */
      readonly onDhcpInterface?: (e: DhcpInterfaceEvent) => void;
    },
  ) {
    this.unsubscribe = deps.appliance.onPlan((plan) => void this.onPlan(plan));
  }

  /** Starts both servers. */
  async start(): Promise<void> {
    await this.restartDhcp();
    await this.restartTftp();
    this.startUdpErrorSampling();
  }

  /** Stops both servers. */
  async stop(): Promise<void> {
    this.unsubscribe();
    clearInterval(this.udpErrorTimer);
    await this.dhcp?.stop();
    await this.tftp?.stop();
  }

  private async restartDhcp(): Promise<void> {
    const app = this.deps.appliance;
    await this.dhcp?.stop();
    this.dhcpKey = JSON.stringify(app.config.dhcp);
    this.dhcp = new DhcpServer({
      log: this.deps.log,
      clock: systemClock,
      metrics: this.deps.metrics,
      network: this.deps.network ?? new DeviceSocketNetwork(),
      scopes: () => dhcpScopes(app.plan),
      settings: app.config.dhcp,
      port: this.deps.listen.dhcpPort,
    });
    this.dhcp.on("request", (e) => this.onDhcpRequest(e));
    this.dhcp.on("interface", (e) => this.deps.onDhcpInterface?.(e));
    await this.dhcp.start();
  }

  private bootViews(plan: RackPlan): (clientAddress: string) => PiBootView | null {
    if (this.views?.plan !== plan) this.views = { plan, lookup: piBootViews(plan) };
    return this.views.lookup;
  }

  private async restartTftp(): Promise<void> {
    const app = this.deps.appliance;
    // The firmware cache is keyed to its root: a new root or new limits mean a new server (transfers in flight end).
    await this.tftp?.stop();
    this.tftpKey = JSON.stringify([app.config.boot.firmware, app.config.tftp]);
    this.tftp = new TftpServer(
      { ...app.config.tftp, firmwareRoot: app.config.boot.firmware, address: this.deps.listen.tftpAddress, port: this.deps.listen.tftpPort },
      {
        log: this.deps.log,
        metrics: this.deps.metrics,
        resolvePi: (address) => this.bootViews(app.plan)(address),
        // On 0.0.0.0 (production), one device-bound socket per storage interface: a request counts only from its
        // own VLAN's /30. An explicit address (`--tftp-listen`, tests and benchmarks) is one plain socket there.
        ...(this.deps.listen.tftpAddress === "0.0.0.0" ? { interfaces: tftpInterfaces(app.plan) } : {}),
      },
    );
    this.tftp.on("transfer", (e) => this.onTftp(e));
    await this.tftp.start();
  }

  /**
   * The namespace-wide `Udp: RcvbufErrors` as a counter, next to the per-socket drops of the DHCP and TFTP
   * listeners: it also covers the per-transfer sockets, and kernels that do not fill the per-socket column.
   */
  private startUdpErrorSampling(): void {
    const counter = this.deps.metrics.counter("pirack_udp_receive_buffer_errors_total", "UDP datagrams the kernel dropped for a full receive buffer, any socket of this network namespace");
    const read = () => {
      try {
        return udpReceiveBufferErrors();
      } catch {
        return undefined; // no /proc/net/snmp
      }
    };
    let last = read();
    this.udpErrorTimer = setInterval(() => {
      const now = read();
      if (now !== undefined && last !== undefined && now > last) counter.inc({}, now - last);
      last = now ?? last;
    }, UDP_ERROR_SAMPLE_MS);
    this.udpErrorTimer.unref();
  }

  private async onPlan(plan: RackPlan): Promise<void> {
    const config = this.deps.appliance.config;
    if (JSON.stringify(config.dhcp) !== this.dhcpKey) await this.restartDhcp();
    else await this.dhcp?.updateScopes(dhcpScopes(plan));
    if (JSON.stringify([config.boot.firmware, config.tftp]) !== this.tftpKey) await this.restartTftp();
    else await this.tftp?.updateInterfaces(tftpInterfaces(plan));
  }

  private onDhcpRequest(e: DhcpRequestEvent): void {
    if (!e.isPi) return;
    void this.deps.appliance.sighting({
      port: e.port,
      stage: "dhcp",
      ...(e.mac ? { mac: e.mac } : {}),
      ...(e.serial ? { serial: e.serial } : {}),
      ...(e.model ? { model: e.model } : {}),
    });
  }

  private onTftp(e: TftpEvent): void {
    if (e.kind !== "request" || e.piPort === null) return;
    const serial = e.serialFolder && SERIAL_FOLDER.test(e.serialFolder) ? e.serialFolder : undefined;
    void this.deps.appliance.sighting({ port: e.piPort, stage: stageOfFile(e.file), ...(serial ? { serial } : {}) });
  }
}
