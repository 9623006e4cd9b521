/**
 * `pirack serve`: the daemon's composition root. Loads and watches the config, builds every adapter, runs the
 * reconciler, the API and the servers, and shuts all of it down on SIGTERM/SIGINT.
 */
import { watch, type FSWatcher } from "chokidar";
import { execa } from "execa";
import { join, resolve } from "node:path";
import pino, { type Logger } from "pino";
import { readFile } from "node:fs/promises";
import { startApi, startUnixApi } from "./api.ts";
import { resolveApiAccess, warnIfReadableByOthers } from "./api-access.ts";
import { OperatorServices } from "./operator-services.ts";
import { notifierFromEnv } from "./sd-notify.ts";
import { withSysrootPaths } from "./sysroot-paths.ts";
import { switchAddressProblem, withoutPlaceholderSwitch } from "./switch-address.ts";
import { Appliance } from "./appliance.ts";
import { learnedFile, loadLearned, saveLearned } from "./learned-store.ts";
import { BootServices } from "./boot-services.ts";
import { loadConfigFile } from "./config-file.ts";
import type { Config } from "./config.ts";
import { MetricsRegistry } from "../lib/metrics.ts";
import { OperationError } from "../lib/errors.ts";
import type { LearnedPi, RackPlan } from "./plan.ts";
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
  /** Bearer tokens for the API (overrides api.tokenFile); required when `listen` is not loopback. */
  readonly tokenFile?: string;
}

/** Reads and validates the config, with `paths.*` it does not name moved under the sysroot. */
async function loadServeConfig(opts: ServeOptions) {
  const result = await loadConfigFile(opts.configPath);
  if (!result.ok) return result;
  const text = await readFile(opts.configPath, "utf8").catch(() => "");
  return { ok: true as const, config: withoutPlaceholderSwitch(withSysrootPaths(result.config, text, opts.sysroot)), switchProblem: switchAddressProblem(result.config) };
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
  const first = await loadServeConfig(opts);
  if (!first.ok) {
    log.error({ config: opts.configPath, problems: first.problems }, "config rejected");
    process.stderr.write(`pirack: ${opts.configPath}: ${first.problems.length} problem(s):\n  ${first.problems.join("\n  ")}\n`);
    return 2;
  }
  const { host, port } = parseListen(opts.listen);
  const access = await resolveApiAccess(host, opts.tokenFile ?? first.config.api.tokenFile, log);
  if (!access.ok) {
    log.error({ problems: access.problems }, "api access refused");
    process.stderr.write(`pirack: ${access.problems.join("\n  ")}\n`);
    return 2;
  }
  if (first.config.switch.driver !== "none") await warnIfReadableByOthers(opts.configPath, "rack.yaml (SNMP credentials)", log);
  const metrics = new MetricsRegistry();
  const clock = { now: () => new Date() };
  const switches = new SwitchHolder({ log, metrics });
  const stateDir = first.config.paths.state;
  let learned: LearnedPi[] = [];
  try {
    learned = await loadLearned(stateDir);
  } catch (err) {
    // A damaged state file must not keep the rack from booting; what it held is relearned from DHCP.
    log.error({ err, file: learnedFile(stateDir) }, "learned pis not loaded");
  }
  const app: Appliance = new Appliance(first.config, {
    log,
    clock,
    metrics,
    learned,
    persistLearned: (pis): Promise<void> => saveLearned(app.config.paths.state, pis),
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

  const { notifier, watchdogUsec } = notifierFromEnv(process.env);
  const ops = new OperatorServices({ log: log.child({ component: "operator" }), app, metrics, clock, notifier, watchdogUsec, driver: () => switches.for(app.config) ?? undefined });
  const apiDeps: Parameters<typeof startApi>[0] = {
    log: log.child({ component: "api" }),
    appliance: app,
    metrics,
    power: async (piPort, action) => {
        const driver = switches.for(app.config);
        if (!driver) throw new OperationError("SWITCH_NONE", "this rack has no switch driver (switch.driver: none)");
        app.holdPower(piPort, action);
        const startedAt = clock.now();
        const steps = await driver.power(piPort, action);
        ops.powerDone(piPort, startedAt, steps);
        return steps;
      },
      rebuild: (piPort) => rebuildPort(app, piPort, opts.sysroot, log.child({ component: "roots" }), metrics),
      dashboard: ops,
  };
  const api = await startApi(apiDeps, host, port, access.tokens);
  const socketPath = join(opts.sysroot, "run/pirack/api.sock");
  const unixApi = await startUnixApi(apiDeps, socketPath).catch((err: unknown) => {
    log.warn({ err, socket: socketPath }, "api socket not started");
    return undefined;
  });
  const monitor = startSwitchMonitor(app, switches, log);
  const tftpListen = parseListen(opts.tftpListen ?? "0.0.0.0:69");
  const boot = new BootServices({
    log,
    metrics,
    appliance: app,
    listen: { dhcpPort: opts.dhcpPort ?? 67, tftpAddress: tftpListen.host, tftpPort: tftpListen.port },
    onDhcpInterface: (e) => ops.dhcpInterface(e),
  });
  await boot.start();
  ops.start();
  const showSwitchProblem = (problem: string | undefined) => {
    if (problem) log.error({ host: first.config.switch.host }, problem);
    ops.health.set("switch-address", problem ? { subsystem: "switch", port: null, text: problem } : null);
  };
  showSwitchProblem(first.switchProblem);
  log.info({ listen: opts.listen, config: opts.configPath, sysroot: opts.sysroot }, "appliance started");

  const reloads = metrics.counter("pirack_config_reloads_total", "Config reloads by result");
  const reload = async (why: string) => {
    const r = await loadServeConfig(opts);
    if (!r.ok) {
      ops.health.set("config", { subsystem: "config", port: null, text: `${opts.configPath} rejected (${r.problems.length} problem(s): ${r.problems[0]}); the last good config keeps running` });
      reloads.inc({ result: "rejected" });
      log.error({ config: opts.configPath, problems: r.problems, trigger: why }, "config rejected; keeping the last good config");
      return;
    }
    ops.health.set("config", null);
    showSwitchProblem(r.switchProblem);
    reloads.inc({ result: "applied" });
    log.info({ config: opts.configPath, trigger: why }, "config loaded");
    await app.setConfig(r.config);
  };
  const watcher: FSWatcher = watch(opts.configPath, { ignoreInitial: true, awaitWriteFinish: { stabilityThreshold: 100, pollInterval: 25 } });
  watcher.on("all", (event) => {
    if (event === "change" || event === "add") void reload(`file ${event}`);
  });
  watcher.on("error", (err) => log.warn({ err }, "config watch failed"));

  // READY=1 once DHCP and TFTP listen (above) and the first pass has run.
  void app.reconciler.request("startup").then(() => ops.ready(), (err: unknown) => log.error({ err }, "first pass failed"));
  const timer = setInterval(() => void app.reconciler.request("timer"), opts.periodicPassMs ?? 60_000);

  return new Promise<number>((done) => {
    const stop = async (signal: string) => {
      log.info({ signal }, "shutting down");
      clearInterval(timer);
      await watcher.close();
      await boot.stop();
      await ops.stop();
      monitor?.stop();
      switches.close();
      await new Promise<void>((r) => api.close(() => r()));
      api.closeAllConnections();
      if (unixApi) {
        await new Promise<void>((r) => unixApi.close(() => r()));
        unixApi.closeAllConnections();
      }
      log.info("stopped");
      done(0);
    };
    process.once("SIGTERM", () => void stop("SIGTERM"));
    process.once("SIGINT", () => void stop("SIGINT"));
    process.on("SIGHUP", () => void reload("SIGHUP"));
  });
}
