/**
 * What `serve` runs for the people looking after the rack, beside DHCP, TFTP and the reconciler: PoE readings,
 * the late boot-stage probes, the subsystems' health for the dashboard, boot gauges for /metrics, and systemd's
 * readiness and watchdog. Built by main.ts (the composition root) from the adapters it made.
 */
import type { Logger } from "pino";
import type { Appliance } from "./appliance.ts";
import { BOOT_STAGES, summarise } from "./boot-stages.ts";
import { buildOverview, type Overview, type SlotWorkload } from "./dashboard/overview.ts";
import { Health } from "./health.ts";
import type { MetricsRegistry } from "../lib/metrics.ts";
import { PiProbes } from "./pi-probes.ts";
import { PoeStatusPoller } from "./poe-status.ts";
import type { SdNotifier } from "./sd-notify.ts";
import type { PowerStep, SwitchDriver } from "../switch/index.ts";
import type { DhcpInterfaceEvent } from "./dhcpd/index.ts";

/** Dependencies of the operator services. */
export interface OperatorDeps {
  readonly log: Logger;
  readonly app: Appliance;
  readonly metrics: MetricsRegistry;
  readonly driver: () => SwitchDriver | undefined;
  readonly notifier: SdNotifier;
  readonly watchdogUsec: number;
  readonly clock: { now(): Date };
  readonly poePollMs?: number;
  readonly probePollMs?: number;
  /** The role Pis' workload state for their tiles (the workload controllers' status). */
  readonly workloads?: () => ReadonlyMap<number, SlotWorkload>;
}

/** The running operator services. */
export class OperatorServices {
  readonly health: Health;
  private readonly poe: PoeStatusPoller;
  private readonly probes: PiProbes;
  private statusTimer: NodeJS.Timeout | undefined;
  private lastStatus = "";

  constructor(private readonly deps: OperatorDeps) {
    const { app, log } = deps;
    this.health = new Health(deps.clock);
    this.poe = new PoeStatusPoller({
      driver: deps.driver,
      pollMs: deps.poePollMs ?? 5_000,
      onReport: (report) => {
        this.health.set("switch", null);
        for (const p of report.ports) {
          if (app.config.ports.includes(p.port)) app.setPower(p.port, p.detection === "deliveringPower" ? "on" : "off");
        }
      },
      onError: (err) => {
        const sw = app.config.switch;
        this.health.set("switch", { subsystem: "switch", port: null, text: `switch ${sw.host}:${sw.port} does not answer SNMP (${err.message}); check switch.host and switch.snmp in rack.yaml` });
        log.warn({ err, host: sw.host }, "switch poe poll failed");
      },
    });
    this.probes = new PiProbes(
      {
        ports: () => app.status().map((p) => ({ port: p.port, piAddress: p.piAddress, stage: p.bootStage })),
        record: (port, stage) => void app.sighting({ port, stage }),
        onError: (err) => log.warn({ err }, "boot probe failed"),
      },
      { pollMs: deps.probePollMs ?? 2_000 },
    );
  }

  /** Starts the pollers and the status loop. */
  start(): void {
    this.poe.start();
    this.probes.start();
    this.statusTimer = setInterval(() => this.refreshStatus(), 2_000);
    this.statusTimer.unref();
    const every = this.deps.notifier.startWatchdog(this.deps.watchdogUsec, (err) => this.deps.log.warn({ err }, "watchdog ping failed"));
    if (every) this.deps.log.info({ everyMs: every }, "systemd watchdog enabled");
  }

  /** Tells systemd the appliance is ready (DHCP and TFTP listen, the first pass has run). */
  ready(): void {
    this.refreshStatus();
    this.notify({ READY: "1", STATUS: this.lastStatus });
  }

  /** Records a DHCP interface's state: a missing `eth0.N` is a problem of its port until it appears. */
  dhcpInterface(e: DhcpInterfaceEvent): void {
    const key = `dhcp:${e.interfaceName}`;
    if (e.state === "waiting") {
      this.health.set(key, { subsystem: "dhcp", port: e.port, text: `${e.interfaceName} (VLAN ${e.vlan}) is missing: no DHCP for this Pi until it exists${e.reason ? ` (${e.reason})` : ""}` });
    } else this.health.set(key, null);
  }

  /** Marks the power steps of an operator's power action in the timeline at the times the switch took them. */
  powerDone(port: number, startedAt: Date, steps: readonly PowerStep[]): void {
    const at = (step: PowerStep["step"]) => {
      const s = steps.find((x) => x.step === step);
      return s ? new Date(startedAt.getTime() + s.atMs) : undefined;
    };
    const off = at("poeOff");
    const on = at("poeOn");
    if (off) this.deps.app.setPower(port, "off", off);
    if (on) this.deps.app.setPower(port, "on", on);
  }

  /** The dashboard's overview now. */
  overview(): Overview {
    const { app, metrics } = this.deps;
    const latest = this.poe.latest?.report;
    return buildOverview({
      shelf: app.config.shelf,
      now: this.deps.clock.now(),
      fileserver: { switchPort: app.config.fileserver.switchPort, interface: app.config.fileserver.interface },
      pis: app.status(),
      timeline: (port) => app.timeline(port),
      poe: latest ? new Map(latest.ports.map((p) => [p.port, p])) : null,
      pse: latest?.pse ?? null,
      switchPorts: null,
      lastPass: app.reconciler.lastReport,
      health: this.health.list(),
      workloads: this.deps.workloads?.(),
      activity: {
        dhcpRequests: metrics.sum("pirack_dhcp_requests_total"),
        dhcpReplies: metrics.sum("pirack_dhcp_replies_total"),
        tftpTransfers: metrics.sum("pirack_tftp_transfers_total"),
        tftpBytes: metrics.sum("pirack_tftp_sent_bytes_total"),
      },
    });
  }

  /** Updates the boot gauges and, when the one-line summary changed, systemd's STATUS=. */
  refreshStatus(): void {
    const pis = this.deps.app.status();
    const byStage = this.deps.metrics.gauge("pirack_pis_boot_stage", "Pis at each boot stage");
    const stuck = this.deps.metrics.gauge("pirack_pis_stuck", "Pis whose boot has not advanced within boot.stuckAfterS, by the stage they stopped at");
    for (const stage of ["unseen", ...BOOT_STAGES]) {
      byStage.set(pis.filter((p) => p.bootStage === stage).length, { stage });
      stuck.set(pis.filter((p) => p.stuck?.stage === stage).length, { stage });
    }
    const line = summarise(pis.map((p) => ({ stage: p.bootStage, since: null, lastSeen: null, stuck: p.stuck })));
    if (line !== this.lastStatus) {
      this.lastStatus = line;
      this.notify({ STATUS: line });
    }
  }

  /** Stops every loop. */
  async stop(): Promise<void> {
    clearInterval(this.statusTimer);
    this.poe.stop();
    await this.probes.stop();
    this.notify({ STOPPING: "1" });
    this.deps.notifier.close();
  }

  private notify(fields: Record<string, string>): void {
    try {
      this.deps.notifier.notify(fields);
    } catch (err) {
      this.deps.log.warn({ err }, "sd_notify failed");
    }
  }
}
