/**
 * `pirack serve`: the daemon's composition root. Loads and watches the config, builds every adapter, runs the
 * reconciler, the API and the servers, and shuts all of it down on SIGTERM/SIGINT.
 */
import { execa } from "execa";
import { join, resolve } from "node:path";
import pino, { type Logger } from "pino";
import { startApi } from "./api.ts";
import { Appliance } from "./appliance.ts";
import { LearnedWriter, recoverLearned } from "./learned-store.ts";
import { BootServices } from "./boot-services.ts";
import { loadConfigFile, loadConfigFileOffThread } from "./config-file.ts";
import { ConfigWatcher } from "./config-watch.ts";
import type { Config } from "./config.ts";
import { MetricsRegistry } from "../lib/metrics.ts";
import { OperationError } from "../lib/errors.ts";
import type { RackPlan } from "./plan.ts";
import { desiredInterfaceFiles } from "./reconcile/fileserver-files.ts";
import { exportsBackendFor, exportsSubsystem, piRootSpecs, rootsSubsystem, rootStoreOptions } from "./reconcile/roots.ts";
import { createCommandRunner, rebuildRoot } from "../rootfs/index.ts";
import { localFileStore, ManagedFiles } from "./reconcile/managed-files.ts";
import { bind, type BoundSubsystem } from "./reconcile/reconciler.ts";
import { desiredLinks, StorageLinks } from "./reconcile/storage-links.ts";
import { SwitchHolder, SwitchState, withPowerOverrides } from "./reconcile/switch-state.ts";
import { SwitchMonitor } from "../switch/index.ts";

/** Options of `pirack serve`. */
export interface ServeOptions {
  readonly configPath: string;
  readonly listen: string;
  readonly sysroot: string;
  /** Print the actions a pass would take, as JSON, and exit. */
  readonly dryRun?: boolean;
  /** DHCP port (67) and TFTP address (0.0.0.0:69); tests and the bench move them. */
  readonly dhcpPort?: number;
  readonly tftpListen?: string;
  readonly periodicPassMs?: number;
}

/** The root logger: JSON lines for journald, pretty only on a terminal. */
export function createRootLogger(level = process.env.PIRACK_LOG_LEVEL ?? "info"): Logger {
  if (process.stdout.isTTY) return pino({ level, transport: { target: "pino-pretty", options: { destination: 1 } } });
  return pino({ level });
}

/** Splits `host:port` (IPv6 in brackets). */
export function parseListen(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(text);
  if (!m || Number(m[3]) > 65535) throw new Error(`--listen expects host:port, got "${text}"`);
  return { host: (m[1] ?? m[2])!, port: Number(m[3]) };
}

/** The subsystems for a config, in pass order; sysroot "/" means the real system. The switch goes last, so a
 * slow or dead switch never delays a Pi's files, links or root. */
function subsystems(app: Appliance, sysroot: string, switches: SwitchHolder, log: Logger, metrics: MetricsRegistry): BoundSubsystem<RackPlan>[] {
  const real = resolve(sysroot) === "/";
  const run = async (cmd: string, args: readonly string[]) => (await execa(cmd, args)).stdout;
  const interfaceFiles = new ManagedFiles("interface-files", join(sysroot, "etc/network/interfaces.d"), localFileStore);
  const cfg = (): Config => app.config;
  const rootsDeps = {
    log: log.child({ component: "roots" }),
    metrics,
    config: cfg,
    sysroot: real ? "/" : sysroot,
    onRootCreated: (port: number) => void app.rootCreated(port),
  };
  const links = new StorageLinks({ ip: (args) => run("ip", args), parent: () => cfg().fileserver.interface });
  return [
    bind(interfaceFiles, (plan: RackPlan) => (cfg().fileserver.manageInterfaces ? desiredInterfaceFiles(plan) : undefined)),
    // Run-time links only on the real system; under a sysroot the files are the whole job.
    bind(links, (plan: RackPlan) => (real && cfg().fileserver.manageInterfaces ? desiredLinks(plan) : undefined)),
    rootsSubsystem(rootsDeps),
    exportsSubsystem(rootsDeps),
    bind(new SwitchState(() => switches.for(cfg())), (plan: RackPlan) =>
      switches.for(cfg()) ? withPowerOverrides(plan.switchState, app.poweredOff) : undefined,
    ),
  ];
}

/** Resets one enrolled Pi's root to golden (old root kept aside) with no reconcile pass in flight. */
async function rebuildPort(app: Appliance, port: number, sysroot: string, log: Logger, metrics: MetricsRegistry) {
  const config = app.config;
  const pis = piRootSpecs(app.plan, config.public.vlan);
  const real = resolve(sysroot) === "/";
  const exports = exportsBackendFor(config, real ? "/" : sysroot, { log, metrics });
  const result = await app.reconciler.exclusive(() =>
    rebuildRoot({ ...rootStoreOptions(config), pis, port, ...(exports ? { exports } : {}) }, { log, run: createCommandRunner(), metrics }),
  );
  void app.reconciler.request(`root of port ${port} rebuilt`);
  return { path: result.path, oldPath: result.oldPath, strategy: result.strategy };
}

/** Polls the switch for link and PoE changes (no trap port: 162 would need another capability). */
function startSwitchMonitor(app: Appliance, switches: SwitchHolder, log: Logger): SwitchMonitor | undefined {
  const driver = switches.for(app.config);
  if (!driver) return undefined;
  const monitor = new SwitchMonitor(driver, { pollMs: 5_000, log: log.child({ component: "switch-monitor" }) });
  monitor.on("event", (e) => {
    if (e.kind === "poe") app.setPower(e.port, e.detection === "deliveringPower" ? "on" : "off");
    log.info({ port: e.port, kind: e.kind, ...(e.kind === "link" ? { up: e.up } : { detection: e.detection }) }, "switch port changed");
  });
  monitor.on("pollFailed", (err) => log.warn({ err }, "switch poll failed"));
  void monitor.start().catch((err: unknown) => log.warn({ err }, "switch monitor did not start"));
  return monitor;
}

/** Runs the appliance until a signal stops it. Returns the process exit code. */
export async function serve(opts: ServeOptions, log: Logger = createRootLogger()): Promise<number> {
  // At start nothing is served yet, so the first config is parsed on this thread (no worker start-up to wait for).
  const first = await loadConfigFile(opts.configPath);
  if (!first.ok) {
    log.error({ config: opts.configPath, problems: first.problems }, "config rejected");
    process.stderr.write(`pirack: ${opts.configPath}: ${first.problems.length} problem(s):\n  ${first.problems.join("\n  ")}\n`);
    return 2;
  }
  const metrics = new MetricsRegistry();
  const clock = { now: () => new Date() };
  const switches = new SwitchHolder({ log, metrics });
  // Lost or damaged state never un-exports a root: previous generation, then the roots on disk (learned-store.ts).
  const { pis: learned } = await recoverLearned(first.config, log.child({ component: "state" }), { write: !opts.dryRun });
  const writer = new LearnedWriter({ stateDir: () => app.config.paths.state, log: log.child({ component: "state" }), metrics });
  const app: Appliance = new Appliance(first.config, {
    log,
    clock,
    metrics,
    learned,
    persistLearned: (pis): Promise<void> => writer.save(pis),
    powerCycle: async (port): Promise<unknown> => {
      const driver = switches.for(app.config);
      if (!driver || !app.config.switch.poe) throw new OperationError("SWITCH_NONE", "no PoE switch to power-cycle with");
      return driver.power(port, "cycle");
    },
    subsystems: (self) => subsystems(self, opts.sysroot, switches, log.child({ component: "fileserver" }), metrics),
  });

  if (opts.dryRun) {
    process.stdout.write(`${JSON.stringify(await app.reconciler.dryRun(), null, 2)}\n`);
    return 0;
  }

  const { host, port } = parseListen(opts.listen);
  const api = await startApi(
    {
      log: log.child({ component: "api" }),
      appliance: app,
      metrics,
      power: async (piPort, action) => {
        const driver = switches.for(app.config);
        if (!driver) throw new OperationError("SWITCH_NONE", "this rack has no switch driver (switch.driver: none)");
        app.holdPower(piPort, action);
        const steps = await driver.power(piPort, action);
        app.setPower(piPort, action === "off" ? "off" : "on");
        return steps;
      },
      rebuild: (piPort) => rebuildPort(app, piPort, opts.sysroot, log.child({ component: "roots" }), metrics),
    },
    host,
    port,
  );
  const monitor = startSwitchMonitor(app, switches, log);
  const tftpListen = parseListen(opts.tftpListen ?? "0.0.0.0:69");
  const boot = new BootServices({
    log,
    metrics,
    appliance: app,
    listen: { dhcpPort: opts.dhcpPort ?? 67, tftpAddress: tftpListen.host, tftpPort: tftpListen.port },
  });
  await boot.start();
  log.info({ listen: opts.listen, config: opts.configPath, sysroot: opts.sysroot }, "appliance started");

  const reloads = metrics.counter("pirack_config_reloads_total", "Config reloads by result");
  // Reloads run one at a time (watch and SIGHUP may coincide) and never wait for the pass they request.
  let reloading: Promise<void> = Promise.resolve();
  const reloadNow = async (why: string) => {
    const r = await loadConfigFileOffThread(opts.configPath);
    if (!r.ok) {
      reloads.inc({ result: "rejected" });
      log.error({ config: opts.configPath, problems: r.problems, trigger: why }, "config rejected; keeping the last good config");
      return;
    }
    reloads.inc({ result: "applied" });
    log.info({ config: opts.configPath, trigger: why }, "config loaded");
    void app.setConfig(r.config);
  };
  const reload = (why: string): Promise<void> => {
    reloading = reloading.then(() => reloadNow(why)).catch((err: unknown) => log.error({ err, trigger: why }, "config reload failed"));
    return reloading;
  };
  const watcher = new ConfigWatcher({ path: opts.configPath, log, onChange: (why) => reload(why) });
  await watcher.start();

  void app.reconciler.request("startup");
  const timer = setInterval(() => void app.reconciler.request("timer"), opts.periodicPassMs ?? 60_000);

  return new Promise<number>((done) => {
    const stop = async (signal: string) => {
      log.info({ signal }, "shutting down");
      clearInterval(timer);
      await watcher.close();
      await boot.stop();
      await writer.flush();
      monitor?.stop();
      switches.close();
      await new Promise<void>((r) => api.close(() => r()));
      api.closeAllConnections();
      log.info("stopped");
      done(0);
    };
    process.once("SIGTERM", () => void stop("SIGTERM"));
    process.once("SIGINT", () => void stop("SIGINT"));
    process.on("SIGHUP", () => void reload("SIGHUP"));
  });
}
