/**
 * Link and PoE events: a linkUp/linkDown trap receiver (RFC 2863 notifications) plus periodic polling of
 * ifOperStatus and PoE detection. Traps are UDP and lossy, so they are only hints that trigger a poll at once
 * (link events it finds carry source "trap"); polling alone is enough to see every change (reference §2.3).
 */
import { EventEmitter } from "node:events";
import snmp, { type Notification as TrapNotification, type Receiver } from "net-snmp";
import type { Logger } from "pino";
import { Notification, oidSuffix } from "./oids.ts";
import { v3User } from "./snmp-client.ts";
import type { SwitchDriver } from "./driver.ts";
import type { SnmpCredentials, SwitchEvent } from "./types.ts";

/** Where the trap receiver listens and whom it accepts. */
export interface TrapListenOptions {
  readonly address: string;
  /** 162 needs root or CAP_NET_BIND_SERVICE; a high port works when the switch is told to use it. */
  readonly port: number;
  readonly credentials: SnmpCredentials;
}

/** Options of a monitor. */
export interface SwitchMonitorOptions {
  /** Poll interval; 10-30 s is cheap over ~100 ports. */
  readonly pollMs: number;
  readonly trap?: TrapListenOptions;
  readonly log: Logger;
}

/**
 * Emits `event` for every link or PoE change and `pollFailed` when a poll fails (polling continues; not named
 * "error", so a missing listener never throws and a switch outage cannot take the daemon down).
 */
export class SwitchMonitor extends EventEmitter<{
  event: [SwitchEvent];
  pollFailed: [Error];
  /** Every successful poll's link and PoE state per port (the first one included). */
  states: [ReadonlyMap<number, { linkUp: boolean; detection: string | null }>];
  /** The first successful poll after failed ones: the switch is back. */
  recovered: [];
}> {
  private readonly log: Logger;
  private last = new Map<number, { linkUp: boolean; detection: string | null }>();
  private timer: NodeJS.Timeout | null = null;
  private receiver: Receiver | null = null;
  private polling: Promise<void> | null = null;
  private again = false;
  private stopped = false;
  private failing = false;
  /** Ports a trap named since the last poll: their link events are reported with source "trap". */
  private readonly trapHints = new Set<number>();

  constructor(
    private readonly driver: SwitchDriver,
    private readonly opts: SwitchMonitorOptions,
  ) {
    super();
    this.log = opts.log.child({ component: "switch-monitor" });
  }

  /**
   * Takes a baseline poll, starts the poll timer and the trap receiver. A switch that does not answer yet
   * does not stop the monitor: polling goes on, and `recovered` fires once it answers.
   */
  async start(): Promise<void> {
    await this.pollNow();
    try {
      if (this.opts.trap) await this.listen(this.opts.trap);
    } finally {
      this.schedule();
    }
  }

  /** Polls now (coalesces with a poll in flight). */
  pollNow(): Promise<void> {
    if (this.polling) {
      this.again = true;
      return this.polling;
    }
    this.polling = this.poll().finally(() => {
      this.polling = null;
      if (this.again && !this.stopped) {
        this.again = false;
        void this.pollNow();
      }
    });
    return this.polling;
  }

  /** Stops polling and closes the receiver. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    const rx = this.receiver;
    this.receiver = null;
    if (rx) await new Promise<void>((resolve) => rx.close(() => resolve()));
    await this.polling;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.pollNow().finally(() => this.schedule()), this.opts.pollMs);
  }

  private async poll(): Promise<void> {
    try {
      // Links are read before PoE: PoE causes link changes, so a change caught between the two reads is
      // reported PoE first, in the order it physically happened.
      const now = await this.driver.readPortStates();
      for (const [port, s] of now) {
        const before = this.last.get(port);
        if (before && before.detection !== s.detection && s.detection !== null) this.emit("event", { kind: "poe", port, detection: s.detection, source: "poll" });
        if (before && before.linkUp !== s.linkUp) this.emit("event", { kind: "link", port, up: s.linkUp, source: this.trapHints.has(port) ? "trap" : "poll" });
        this.trapHints.delete(port);
      }
      this.last = now;
      this.emit("states", now);
      if (this.failing) {
        this.failing = false;
        this.log.info("switch answers again");
        this.emit("recovered");
      }
    } catch (err) {
      this.failing = true;
      this.log.warn({ err }, "switch poll failed");
      this.emit("pollFailed", err as Error);
    }
  }

  private async listen(t: TrapListenOptions): Promise<void> {
    const inv = await this.driver.discover();
    const portOfIfIndex = new Map(inv.ports.map((p) => [p.ifIndex, p.bridgePort]));
    const rx = snmp.createReceiver({ port: t.port, address: t.address, includeAuthentication: false }, (err, n) => {
      // Bad community/user or a socket error (e.g. the port is taken): logged, never fatal.
      if (err) return this.log.warn({ err: { message: err.message } }, "trap receiver error");
      if (n) this.onTrap(n, portOfIfIndex);
    });
    const c = t.credentials;
    if (c.version === "2c") rx.getAuthorizer().addCommunity(c.community);
    else {
      rx.getAuthorizer().addUser(v3User(c));
    }
    this.receiver = rx;
  }

  private onTrap(n: TrapNotification, portOfIfIndex: ReadonlyMap<number, number>): void {
    const trapOid = n.pdu.varbinds.find((v) => v.oid === Notification.snmpTrapOid)?.value;
    const up = trapOid === Notification.linkUp ? true : trapOid === Notification.linkDown ? false : null;
    if (up === null) return;
    const ifIndexVb = n.pdu.varbinds.find((v) => oidSuffix(v.oid, Notification.ifIndex) !== null);
    const port = portOfIfIndex.get(Number(ifIndexVb?.value));
    if (port === undefined) return;
    // The trap only triggers a poll: events come from polls alone, so they are never duplicated or reordered.
    this.trapHints.add(port);
    this.log.debug({ port, up }, "link trap received");
    void this.pollNow();
  }
}
