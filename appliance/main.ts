/**
 * `pirack serve`: the daemon's composition root. Loads and watches the config, builds every adapter, runs the
 * reconciler, the API and the servers, and shuts all of it down on SIGTERM/SIGINT.
 */
import pino, { type Logger } from "pino";
import { join } from "node:path";
import { startApi, startUnixApi } from "./api.ts";
import { resolveApiAccess, warnIfReadableByOthers } from "./api-access.ts";
import type { Appliance } from "./appliance.ts";
import { OperatorServices } from "./operator-services.ts";
import { notifierFromEnv } from "./sd-notify.ts";
import { switchAddressProblem, withoutPlaceholderSwitch } from "./switch-address.ts";
import { withSysrootPaths } from "./sysroot-paths.ts";
import { BootServices } from "./boot-services.ts";
import { loadConfigFile, loadConfigFileOffThread, readConfigText } from "./config-file.ts";
import type { ConfigResult } from "./config.ts";
import { ConfigWatcher, signatureOf } from "./config-watch.ts";
import { LearnedWriter } from "./learned-store.ts";
import { MetricsRegistry } from "../lib/metrics.ts";
import { OperationError } from "../lib/errors.ts";
import { openAppliance, rebuildPort } from "./rack.ts";
import { SwitchOwner } from "./switch-owner.ts";
import { createWorkloads, fencedPowerRefusal, syncWorkloads, tileWorkloads, workloadsSpec } from "./workloads-wiring.ts";

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

/**
 * Reads and validates the config, with the `paths.*` it does not name moved under the sysroot and a placeholder
 * (documentation-address) switch left alone; `switchProblem` says why in words.
 */
async function loadServeConfig(opts: ServeOptions, load: (path: string) => Promise<ConfigResult> = loadConfigFile) {
  const result = await load(opts.configPath);
  if (!result.ok) return result;
  // Bounded like the first read (config-file.ts): the file may have been replaced by anything since.
  const read = await readConfigText(opts.configPath);
  const text = read.ok ? read.text : "";
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

/** Runs the appliance until a signal stops it. Returns the process exit code. */
export async function serve(opts: ServeOptions, log: Logger = createRootLogger()): Promise<number> {
  // At start nothing is served yet, so the first config is parsed on this thread (no worker start-up to wait for).
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
  // The monitor's callbacks reach the appliance, which needs the switch owner first: bound once both exist.
  // eslint-disable-next-line prefer-const -- assigned below, after the switch owner it depends on
  let app: Appliance | undefined;
  const switches = new SwitchOwner({
    log,
    metrics,
    ...(opts.dryRun
      ? {}
      : {
          watch: {
            pollMs: 5_000,
            onEvent: (e) => log.info({ port: e.port, kind: e.kind, ...(e.kind === "link" ? { up: e.up } : { detection: e.detection }) }, "switch port changed"),
            onStates: (states) => {
              for (const [port, s] of states) if (s.detection !== null) app?.setPower(port, s.detection === "deliveringPower" ? "on" : "off");
            },
            onPollFailed: (err) => log.warn({ err }, "switch poll failed"),
            onRecovered: () => void app?.reconciler.request("switch answers again"),
          },
        }),
  });
  await switches.configure(first.config);
  const workloads = opts.dryRun ? undefined : createWorkloads({ log, metrics, app: () => app!, switches });
  // State writes coalesced (at most one per 15 s); the last one is flushed on SIGTERM.
  const writer = new LearnedWriter({ stateDir: () => app!.config.paths.state, log: log.child({ component: "state" }), metrics });
  app = await openAppliance(first.config, {
    sysroot: opts.sysroot,
    log,
    metrics,
    switches,
    learnedWriter: writer,
    recoverState: !opts.dryRun,
    // The late-root power cycle never brings back a fenced old db primary.
    powerCycle: async (port) => {
      const refused = workloads && fencedPowerRefusal(workloads, port, "cycle");
      if (refused) throw new OperationError("DB_FENCED", refused);
      return switches.power(port, "cycle");
    },
  });

  if (opts.dryRun) {
    process.stdout.write(`${JSON.stringify(await app.reconciler.dryRun(), null, 2)}\n`);
    return 0;
  }

  const { notifier, watchdogUsec } = notifierFromEnv(process.env);
  const clock = { now: () => new Date() };
  const ops = new OperatorServices({
    log: log.child({ component: "operator" }),
    app,
    metrics,
    clock,
    notifier,
    watchdogUsec,
    driver: () => switches.driver ?? undefined,
    workloads: workloads ? () => tileWorkloads(workloads.status()) : undefined,
  });
  const apiDeps: Parameters<typeof startApi>[0] = {
    log: log.child({ component: "api" }),
    appliance: app,
    metrics,
    power: async (piPort, action) => {
      if (!switches.driver) throw new OperationError("SWITCH_NONE", "this rack has no switch driver (switch.driver: none)");
      const refused = fencedPowerRefusal(workloads!, piPort, action);
      if (refused) throw new OperationError("DB_FENCED", refused);
      app.holdPower(piPort, action);
      const startedAt = clock.now();
      const steps = await switches.power(piPort, action);
      ops.powerDone(piPort, startedAt, steps);
      return steps;
    },
    rebuild: (piPort) => rebuildPort(app, piPort, { log: log.child({ component: "roots" }), metrics }),
    pending: () => app.reconciler.pending({ skip: (name) => name === "switch" && switches.reachable === false, timeoutMs: 2_000 }),
    switchReachable: () => switches.reachable,
    dashboard: ops,
    workloads: { status: () => workloads!.status(), rejoin: (piPort) => workloads!.rejoin(piPort) },
  };
  const api = await startApi(apiDeps, host, port, access.tokens);
  const socketPath = join(opts.sysroot, "run/pirack/api.sock");
  const unixApi = await startUnixApi(apiDeps, socketPath).catch((err: unknown) => {
    log.warn({ err, socket: socketPath }, "api socket not started");
    return undefined;
  });
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
  // Before the first pass: the recorded fences are held off before any pass could power a port on.
  const shownProblems = new Set<string>();
  const syncWorkloadsNow = () => syncWorkloads(workloads!, app, ops.health, shownProblems);
  await workloads!.configure(workloadsSpec(app));
  syncWorkloadsNow();
  const unwatchPlan = app.onPlan(() => void workloads!.configure(workloadsSpec(app)).then(syncWorkloadsNow));
  const workloadsTimer = setInterval(syncWorkloadsNow, 1_000);
  const showSwitchProblem = (problem: string | undefined) => {
    if (problem) log.error({ host: first.config.switch.host }, problem);
    ops.health.set("switch-address", problem ? { subsystem: "switch", port: null, text: problem } : null);
  };
  showSwitchProblem(first.switchProblem);
  log.info({ listen: opts.listen, config: opts.configPath, sysroot: opts.sysroot }, "appliance started");

  const reloads = metrics.counter("pirack_config_reloads_total", "Config reloads by result");
  // Reloads run one at a time (watch and SIGHUP may coincide), parsed in a worker so DHCP and TFTP never wait.
  let reloading: Promise<void> = Promise.resolve();
  const reloadNow = async (why: string, settled?: string) => {
    const before = await signatureOf(opts.configPath);
    const r = await loadServeConfig(opts, (path) => loadConfigFileOffThread(path));
    // A file that moved since the watcher saw it settle, or while it was read, may have been read half-written
    // (created, not yet filled): neither applied nor rejected; the watcher reads the newer version once it settles.
    if ((settled !== undefined && before !== settled) || (await signatureOf(opts.configPath)) !== before) {
      log.info({ config: opts.configPath, trigger: why }, "config changed while it was read; reading it again once it settles");
      return;
    }
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
    // A changed `switch:` section replaces the switch object whole (driver and monitor) before the new plan runs.
    await switches.configure(r.config);
    void app.setConfig(r.config);
  };
  const reload = (why: string, settled?: string): Promise<void> => {
    reloading = reloading.then(() => reloadNow(why, settled)).catch((err: unknown) => log.error({ err, trigger: why }, "config reload failed"));
    return reloading;
  };
  const watcher = new ConfigWatcher({ path: opts.configPath, log, onChange: (why, settled) => reload(why, settled) });
  await watcher.start();

  // READY=1 once DHCP and TFTP listen (above) and the first pass has run.
  void app.reconciler.request("startup").then(() => ops.ready(), (err: unknown) => log.error({ err }, "first pass failed"));
  const timer = setInterval(() => void app.reconciler.request("timer"), opts.periodicPassMs ?? 60_000);

  return new Promise<number>((done) => {
    const stop = async (signal: string) => {
      log.info({ signal }, "shutting down");
      clearInterval(timer);
      clearInterval(workloadsTimer);
      unwatchPlan();
      await watcher.close();
      await workloads!.stop();
      await boot.stop();
      await writer.flush();
      await ops.stop();
      await switches.close();
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
