/**
 * State of the simulated PoE switch: VLAN static table, PVIDs, ports with link and PoE, a forwarding
 * database, and the physical dynamics between them (PoE off drops the Pi's link; PoE on detects, classifies,
 * powers, the Pi's link comes up and its MAC is learned). Timers are injected; changes are emitted as events.
 */
import { EventEmitter } from "node:events";
import { encodePortList } from "../port-list.ts";
import { Detection } from "../oids.ts";
import type { SimProfile } from "./profiles.ts";

/** A powered device (a Pi) or a plain link partner (the fileserver) attached to a port. */
export interface SimDevice {
  readonly mac: string;
  /** True for a PoE powered device; false for a self-powered link partner. */
  readonly poweredDevice: boolean;
  /** pethPsePortPowerClassifications value: class0..4 = 1..5. */
  readonly powerClass: number;
  readonly milliwatts: number;
}

/** One front-panel port. */
export interface SimPort {
  readonly bridgePort: number;
  readonly ifIndex: number;
  readonly ifName: string;
  readonly poeIndex: { group: number; port: number } | null;
  readonly mac: string;
  pvid: number;
  poeAdmin: boolean;
  detection: number;
  powerClass: number;
  milliwatts: number;
  linkUp: boolean;
  lastChangeTicks: number;
  device: SimDevice | null;
}

/** One dot1qVlanStaticTable row. */
export interface SimVlan {
  name: string;
  egress: Buffer;
  untagged: Buffer;
  forbidden: Buffer;
  rowStatus: number;
  fdbId: number;
}

/** One learned forwarding-database entry. */
export interface SimFdbEntry {
  readonly fdbId: number;
  readonly mac: string;
  readonly port: number;
  readonly status: number;
}

/** Events the model emits (the agent turns link changes into traps). */
export type SimEvent =
  | { kind: "link"; port: number; ifIndex: number; up: boolean }
  | { kind: "poe"; port: number; detection: number }
  | { kind: "fdb"; port: number; mac: string; learned: boolean }
  | { kind: "set"; oids: string[] };

/** Delays of the physical dynamics; small values keep tests fast. */
export interface SimTiming {
  /** PoE on -> deliveringPower (detection + classification). */
  detectMs: number;
  /** PoE off -> the Pi's link drops; deliveringPower -> link up (Pi PHY comes up). */
  linkMs: number;
  /** link up -> first frame learned in the FDB. */
  learnMs: number;
}

/** Injected timer functions. */
export interface SimTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Construction options. */
export interface SimModelOptions {
  profile: SimProfile;
  ports: number;
  timing?: Partial<SimTiming>;
  timers?: SimTimers;
  /** Ports with a Pi (powered device) attached; default every port but the last. */
  piPorts?: readonly number[];
  /** Port the fileserver (self-powered link partner) sits on; default the last port. */
  uplinkPort?: number;
  now?: () => number;
}

const defaultTiming: SimTiming = { detectMs: 30, linkMs: 30, learnMs: 20 };

/** MAC of the Pi on `port`: Raspberry Pi Trading OUI d8:3a:dd, port number in the last octet. */
export const simPiMac = (port: number): string => `d8:3a:dd:00:00:${port.toString(16).padStart(2, "0")}`;

/** The simulated switch's state and physics. */
export class SimSwitchModel extends EventEmitter<{ event: [SimEvent] }> {
  readonly profile: SimProfile;
  readonly ports: SimPort[] = [];
  readonly vlans = new Map<number, SimVlan>();
  readonly fdb = new Map<string, SimFdbEntry>();
  readonly octets: number;
  readonly bridgeMac = "02:00:5e:00:53:01";
  /** Bumped on every change; the OID view is cached per revision. */
  revision = 0;
  private readonly timing: SimTiming;
  private readonly timers: SimTimers;
  private readonly pending = new Map<number, Set<unknown>>();
  private readonly now: () => number;
  private readonly started: number;
  private nextFdbId = 1;

  constructor(opts: SimModelOptions) {
    super();
    this.profile = opts.profile;
    this.timing = { ...defaultTiming, ...opts.timing };
    this.timers = opts.timers ?? { setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout) };
    this.now = opts.now ?? Date.now;
    this.started = this.now();
    this.octets = this.profile.portListOctets(opts.ports);
    const uplink = opts.uplinkPort ?? opts.ports;
    const piPorts = new Set(opts.piPorts ?? Array.from({ length: opts.ports - 1 }, (_, i) => i + 1).filter((p) => p !== uplink));
    for (let p = 1; p <= opts.ports; p++) {
      const ifIndex = this.profile.ifIndexOf(p);
      const device: SimDevice | null = piPorts.has(p)
        ? { mac: simPiMac(p), poweredDevice: true, powerClass: 5, milliwatts: 5100 + 37 * p }
        : p === uplink
          ? { mac: "02:00:5e:00:53:fe", poweredDevice: false, powerClass: 1, milliwatts: 0 }
          : null;
      this.ports.push({
        bridgePort: p,
        ifIndex,
        ifName: this.profile.ifNameOf(p),
        poeIndex: this.profile.poeIndexOf(p, ifIndex),
        mac: `02:00:5e:00:54:${p.toString(16).padStart(2, "0")}`,
        pvid: 1,
        poeAdmin: true,
        detection: Detection.searching,
        powerClass: 1,
        milliwatts: 0,
        linkUp: false,
        lastChangeTicks: 0,
        device,
      });
    }
    const all = Array.from({ length: opts.ports }, (_, i) => i + 1);
    // HP 2530 walk: VLAN 1 is 000000EF FFFFFFFF FFFFFFFF F8000000 - bits past the real ports are set too.
    const filler = this.profile.defaultVlanFillerBits ? Array.from({ length: Math.min(101, this.octets * 8) - opts.ports }, (_, i) => opts.ports + 1 + i) : [];
    this.addVlan(1, "DEFAULT_VLAN", [...all, ...filler], [...all, ...filler]);
    // Initial physics: powered devices on, link partners up, their MACs learned.
    for (const port of this.ports) {
      if (port.device?.poweredDevice) {
        port.detection = Detection.deliveringPower;
        port.powerClass = port.device.powerClass;
        port.milliwatts = port.device.milliwatts;
      }
      if (port.device) {
        port.linkUp = true;
        this.learn(port, port.device.mac);
      }
    }
  }

  /** sysUpTime in hundredths of a second. */
  uptimeTicks(): number {
    return Math.floor((this.now() - this.started) / 10);
  }

  /** Port by bridge port number, or undefined. */
  port(bridgePort: number): SimPort | undefined {
    return this.ports[bridgePort - 1];
  }

  /** Adds a VLAN row directly (test set-up of "VLANs that are not ours"). */
  addVlan(vid: number, name: string, egress: number[], untagged: number[]): SimVlan {
    const vlan: SimVlan = {
      name,
      egress: encodePortList(egress, this.octets),
      untagged: encodePortList(untagged, this.octets),
      forbidden: Buffer.alloc(this.octets),
      rowStatus: 1,
      fdbId: this.profile.sequentialFdbIds ? this.nextFdbId++ : vid,
    };
    this.vlans.set(vid, vlan);
    this.touch();
    return vlan;
  }

  /** A fresh FDB id for a VLAN created over SNMP. */
  allocateFdbId(vid: number): number {
    return this.profile.sequentialFdbIds ? this.nextFdbId++ : vid;
  }

  /** Marks the state changed (invalidates the cached OID view). */
  touch(): void {
    this.revision++;
  }

  /** pethPsePortAdminEnable changed: start the physical consequences. */
  setPoeAdmin(port: SimPort, on: boolean): void {
    if (port.poeAdmin === on) return;
    port.poeAdmin = on;
    this.cancel(port.bridgePort);
    if (!on) {
      // PSE removes power at once; the PD's PHY loses power and the link drops shortly after.
      this.setDetection(port, Detection.disabled, 1, 0);
      if (port.device?.poweredDevice && port.linkUp) this.later(port, this.timing.linkMs, () => this.setLink(port, false));
      return;
    }
    this.setDetection(port, Detection.searching, 1, 0);
    const device = port.device;
    if (!device?.poweredDevice) return;
    this.later(port, this.timing.detectMs, () => {
      this.setDetection(port, Detection.deliveringPower, device.powerClass, device.milliwatts);
      this.later(port, this.timing.linkMs, () => {
        this.setLink(port, true);
        this.later(port, this.timing.learnMs, () => this.learn(port, device.mac));
      });
    });
  }

  /** Plugs a device into a port (bench/test control). */
  plug(bridgePort: number, device: SimDevice): void {
    const port = this.mustPort(bridgePort);
    this.unplug(bridgePort);
    port.device = device;
    if (!device.poweredDevice) {
      this.later(port, this.timing.linkMs, () => {
        this.setLink(port, true);
        this.learn(port, device.mac);
      });
      return;
    }
    if (!port.poeAdmin) return;
    port.poeAdmin = false;
    this.setPoeAdmin(port, true);
  }

  /** Removes whatever is plugged into a port. */
  unplug(bridgePort: number): void {
    const port = this.mustPort(bridgePort);
    this.cancel(bridgePort);
    port.device = null;
    if (port.poeAdmin) this.setDetection(port, Detection.searching, 1, 0);
    this.setLink(port, false);
  }

  /** Stops all pending physics timers. */
  close(): void {
    for (const p of this.pending.keys()) this.cancel(p);
  }

  private mustPort(bridgePort: number): SimPort {
    const port = this.port(bridgePort);
    if (!port) throw new RangeError(`port ${bridgePort} does not exist (1-${this.ports.length})`);
    return port;
  }

  private setDetection(port: SimPort, detection: number, powerClass: number, milliwatts: number): void {
    port.powerClass = powerClass;
    port.milliwatts = milliwatts;
    if (port.detection === detection) return this.touch();
    port.detection = detection;
    this.touch();
    this.emit("event", { kind: "poe", port: port.bridgePort, detection });
  }

  private setLink(port: SimPort, up: boolean): void {
    if (port.linkUp === up) return;
    port.linkUp = up;
    port.lastChangeTicks = this.uptimeTicks();
    this.touch();
    this.emit("event", { kind: "link", port: port.bridgePort, ifIndex: port.ifIndex, up });
    if (!up) {
      // A link down flushes the addresses learned on that port (IEEE 802.1Q 8.8.3 topology change).
      for (const [key, e] of this.fdb) {
        if (e.port === port.bridgePort) {
          this.fdb.delete(key);
          this.emit("event", { kind: "fdb", port: port.bridgePort, mac: e.mac, learned: false });
        }
      }
    }
  }

  private learn(port: SimPort, mac: string): void {
    const fdbId = this.vlans.get(port.pvid)?.fdbId ?? port.pvid;
    this.fdb.set(`${fdbId}/${mac}`, { fdbId, mac, port: port.bridgePort, status: 3 });
    this.touch();
    this.emit("event", { kind: "fdb", port: port.bridgePort, mac, learned: true });
  }

  private later(port: SimPort, ms: number, fn: () => void): void {
    const set = this.pending.get(port.bridgePort) ?? new Set<unknown>();
    this.pending.set(port.bridgePort, set);
    const handle: unknown = this.timers.setTimeout(() => {
      set.delete(handle);
      fn();
    }, ms);
    set.add(handle);
  }

  private cancel(bridgePort: number): void {
    for (const h of this.pending.get(bridgePort) ?? []) this.timers.clearTimeout(h);
    this.pending.delete(bridgePort);
  }
}
