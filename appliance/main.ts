/**
 * `pirack serve`: the daemon's composition root. Loads and watches the config, builds every adapter, runs the
 * reconciler, the API and the servers, and shuts all of it down on SIGTERM/SIGINT.
 */
import pino, { type Logger } from "pino";
import { startApi } from "./api.ts";
import type { Appliance } from "./appliance.ts";
import { BootServices } from "./boot-services.ts";
import { loadConfigFile, loadConfigFileOffThread } from "./config-file.ts";
import { ConfigWatcher } from "./config-watch.ts";
import { LearnedWriter } from "./learned-store.ts";
import { MetricsRegistry } from "../lib/metrics.ts";
import { OperationError } from "../lib/errors.ts";
import { openAppliance, rebuildPort } from "./rack.ts";
import { SwitchOwner } from "./switch-owner.ts";

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
  // State writes coalesced (at most one per 15 s); the last one is flushed on SIGTERM.
  const writer = new LearnedWriter({ stateDir: () => app!.config.paths.state, log: log.child({ component: "state" }), metrics });
  app = await openAppliance(first.config, {
    sysroot: opts.sysroot,
    log,
    metrics,
    switches,
    learnedWriter: writer,
    recoverState: !opts.dryRun,
    powerCycle: (port) => switches.power(port, "cycle"),
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
        if (!switches.driver) throw new OperationError("SWITCH_NONE", "this rack has no switch driver (switch.driver: none)");
        app.holdPower(piPort, action);
        const steps = await switches.power(piPort, action);
        app.setPower(piPort, action === "off" ? "off" : "on");
        return steps;
      },
      rebuild: (piPort) => rebuildPort(app, piPort, { log: log.child({ component: "roots" }), metrics }),
      pending: () => app.reconciler.pending({ skip: (name) => name === "switch" && switches.reachable === false, timeoutMs: 2_000 }),
      switchReachable: () => switches.reachable,
    },
    host,
    port,
  );
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
  // Reloads run one at a time (watch and SIGHUP may coincide), parsed in a worker so DHCP and TFTP never wait.
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
    // A changed `switch:` section replaces the switch object whole (driver and monitor) before the new plan runs.
    await switches.configure(r.config);
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
      await switches.close();
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
