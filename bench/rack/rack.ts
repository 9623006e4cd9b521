/**
 * Builds the bench rack and takes it down again (adapter): namespaces for the fileserver, the switch, the public
 * network and every Pi; Open vSwitch as the wiring, following the simulated switch's VLANs; nfs-ganesha; `pirack
 * serve` on a generated rack config; the API forwarder. Every step registers its undo before the next runs, so
 * a failure part-way (or Ctrl-C) still removes everything that was made.
 */
import { copyFile, mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { renderGaneshaMainConfig } from "../../appliance/nfs-exports/index.ts";
import { startGanesha } from "../../appliance/nfs-exports/testing/ganesha-server.ts";
import type { BenchLayout } from "./layout.ts";
import { ApiLink } from "./api-link.ts";
import { createNamespace, deleteNamespace, spawnIn, unmountUnder, veth, type Child } from "./netns.ts";
import { nodeTs } from "./node-ts.ts";
import { OpenVswitch } from "./ovs.ts";
import { ovsPortName, wiringSettings } from "./ovs-ports.ts";
import { renderBenchRackYaml, type BenchPaths } from "./rack-config.ts";
import { SiteStandIns } from "./site.ts";
import { SwitchLink } from "./switch-link.ts";

/** Where the rack's inputs are and where logs go. */
export interface RackInputs {
  /** The run directory (removed at teardown). */
  readonly runDir: string;
  /** Logs: serve.log, switch.log, pi<port>.console.log, ovs and ganesha logs. */
  readonly logsDir: string;
  readonly firmwareDir: string;
  /** The golden image directory Pi roots are cloned from. */
  readonly imageDir: string;
  /** Reports what is happening (one line per step). */
  readonly say: (line: string) => void;
}

/** pirack serve's API address inside the fileserver namespace. */
const API_IN_NAMESPACE = "127.0.0.1:8067";

/** A built bench rack. */
export class BenchRack {
  readonly switch = new SwitchLink();
  readonly api: ApiLink;
  readonly paths: BenchPaths;
  readonly sysroot: string;
  private readonly undo: (() => Promise<void>)[] = [];
  private ovs: OpenVswitch | undefined;
  private serveChild: Child | undefined;
  /** `--site`: the db and cdn stand-ins (started by `startSite` once serve runs). */
  site: SiteStandIns | undefined;

  constructor(
    readonly layout: BenchLayout,
    readonly inputs: RackInputs,
  ) {
    this.api = new ApiLink(layout.namespaces.fileserver, join(inputs.runDir, "api.sock"));
    const slash = inputs.imageDir.replace(/\/+$/, "").lastIndexOf("/");
    this.paths = {
      firmware: inputs.firmwareDir,
      exports: join(inputs.runDir, "export"),
      images: inputs.imageDir.slice(0, slash) || "/",
      image: inputs.imageDir.replace(/\/+$/, "").slice(slash + 1),
      state: join(inputs.runDir, "state"),
    };
    this.sysroot = join(inputs.runDir, "sysroot");
  }

  /** Builds everything up to a running `pirack serve` whose API answers. */
  async build(): Promise<void> {
    const { layout, inputs } = this;
    const ns = layout.namespaces;
    await mkdir(inputs.logsDir, { recursive: true });
    for (const d of [this.paths.exports, this.paths.state, join(this.sysroot, "etc/ganesha"), join(this.sysroot, "run/ganesha")]) await mkdir(d, { recursive: true });

    const standIns = layout.site ? [layout.site.db, layout.site.cdn] : [];
    inputs.say(`namespaces: ${ns.fileserver}, ${ns.switch}, ${ns.public}, ${layout.pis.length} Pi namespaces${standIns.length ? ` and the site's ${standIns.map((s) => s.namespace).join(", ")}` : ""}`);
    for (const [name, ipv6] of [[ns.switch, false], [ns.fileserver, false], [ns.public, true], ...layout.pis.map((p) => [p.namespace, false] as const), ...standIns.map((s) => [s.namespace, true] as const)] as const) {
      this.undo.push(() => deleteNamespace(name));
      await createNamespace(name, { ipv6 });
    }

    inputs.say("open vswitch (userspace datapath) in the switch namespace");
    this.undo.push(async () => {
      await this.ovs?.stop();
      for (const log of ["ovs-vswitchd.log", "ovsdb-server.log"]) await copyFile(join(inputs.runDir, "ovs", log), join(inputs.logsDir, log)).catch(() => undefined);
    });
    this.ovs = await OpenVswitch.start(ns.switch, join(inputs.runDir, "ovs"));

    // The switch's management port to the fileserver's eth0 (untagged; not through the VLAN wiring).
    await veth({ ns: ns.switch, name: "mgmt", addresses: [`${layout.management.switchAddress}/30`] }, { ns: ns.fileserver, name: "eth0", addresses: [layout.management.fileserverCidr] });
    await veth({ ns: ns.switch, name: ovsPortName.public }, { ns: ns.public, name: "eth0", addresses: [`${layout.public.gateway}/64`] });
    for (const pi of layout.pis) {
      await veth({ ns: ns.switch, name: ovsPortName.fileserver(pi.port) }, { ns: ns.fileserver, name: `eth0.${pi.vlan}`, addresses: [`${pi.serverAddress}/30`] });
      await veth({ ns: ns.switch, name: ovsPortName.pi(pi.port) }, { ns: pi.namespace, name: "eth0", mac: pi.mac });
    }
    for (const s of standIns) {
      await veth({ ns: ns.switch, name: ovsPortName.standIn(s.role) }, { ns: s.namespace, name: "eth0", addresses: [`${s.publicAddress}/64`] });
      await veth({ ns: ns.switch, name: ovsPortName.fileserver(s.port) }, { ns: ns.fileserver, name: `eth0.${s.vlan}`, addresses: [`${s.serverAddress}/30`] });
    }

    inputs.say(`simulated PoE switch (SNMP agent ${layout.management.switchAddress}:161, ${layout.switch.ports} ports, fileserver on ${layout.switch.fileserverPort})`);
    this.undo.push(() => this.switch.stop());
    const ovs = this.ovs;
    const settings = () => wiringSettings(layout.pis, layout.switch.fileserverPort, layout.public.vlan, this.switch.vlans, standIns);
    await this.switch.start(layout, join(inputs.logsDir, "switch.log"));
    await ovs.addPorts(settings());
    this.switch.on("vlans", () => {
      void ovs.apply(settings()).then(
        (changed) => changed.length > 0 && inputs.say(`wiring follows the switch: ${changed.join(", ")}`),
        (err: unknown) => inputs.say(`wiring not updated: ${(err as Error).message}`),
      );
    });

    inputs.say("nfs-ganesha + rpcbind in the fileserver namespace");
    const exportsFile = join(this.sysroot, "etc/ganesha/pirack-exports.conf");
    await writeFile(exportsFile, "# pirack writes the EXPORT blocks here\n");
    const conf = join(this.sysroot, "etc/ganesha/ganesha.conf");
    await writeFile(conf, renderGaneshaMainConfig({ exportsFile }));
    // A busy machine can take well over ganesha's usual second to register with rpcbind.
    const ganesha = await startGanesha(ns.fileserver, conf, join(this.sysroot, "run/ganesha"), 180_000);
    this.undo.push(async () => {
      await ganesha.stop();
      await copyFile(ganesha.logFile, join(inputs.logsDir, "ganesha.log")).catch(() => undefined);
    });

    const config = join(inputs.runDir, "rack.yaml");
    const rackYaml = renderBenchRackYaml(layout, this.paths);
    await writeFile(config, rackYaml);
    if (layout.site) {
      const site = new SiteStandIns({ site: layout.site, rackYaml, stateDir: this.paths.state, dir: join(inputs.runDir, "site"), logsDir: inputs.logsDir, say: inputs.say });
      this.site = site;
      this.undo.push(() => site.stop());
      // pirack's secret store, filled before serve starts: serve renders the web Pis' files with the same ones.
      await site.secrets();
    }
    inputs.say(`pirack serve --config ${config} (log: ${join(inputs.logsDir, "serve.log")})`);
    const serve = nodeTs("bin/pirack.mjs", ["serve", "--config", config, "--sysroot", this.sysroot, "--listen", API_IN_NAMESPACE]);
    // One file for both streams: truncated once, then both append, so neither overwrites the other.
    const serveLog = { file: join(inputs.logsDir, "serve.log"), append: true };
    await writeFile(serveLog.file, "");
    this.serveChild = spawnIn(ns.fileserver, serve.cmd, serve.args, { stdout: serveLog, stderr: serveLog, env: { PIRACK_LOG_LEVEL: "info" } });
    const child = this.serveChild;
    this.undo.push(async () => {
      child.kill("SIGTERM");
      await Promise.race([child.exited, new Promise((r) => setTimeout(r, 5000))]);
      child.kill("SIGKILL");
      await child.exited;
    });

    this.undo.push(() => this.api.stop());
    await this.api.start(API_IN_NAMESPACE);
    await this.waitForApi(child);
  }

  /** True while `pirack serve` runs. */
  get serveRunning(): boolean {
    return this.serveChild !== undefined && this.serveChild.process.exitCode === null;
  }

  private async waitForApi(child: Child, timeoutMs = 120_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (child.process.exitCode !== null) throw new Error(`pirack serve exited with ${child.process.exitCode} (see ${join(this.inputs.logsDir, "serve.log")})`);
      try {
        await this.api.pis();
        return;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`pirack's API did not answer within ${timeoutMs} ms`, { cause: err });
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /** Removes everything, last made first; each step runs even when an earlier one failed. */
  async teardown(): Promise<void> {
    for (const step of this.undo.splice(0).reverse()) {
      try {
        await step();
      } catch (err) {
        this.inputs.say(`teardown step failed (continuing): ${(err as Error).message}`);
      }
    }
    await unmountUnder(this.inputs.runDir);
    await rm(this.inputs.runDir, { recursive: true, force: true });
  }
}
