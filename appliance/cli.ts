/**
 * `pirack` command line: the composition root for one-shot commands. The only place (with main.ts) that reads argv,
 * loads config, creates the root logger and calls process.exit.
 */
import { Command, Option } from "commander";
import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { readFileSync } from "node:fs";
import { packagePath } from "../lib/package-root.ts";
import { callApi, CliFailure, cliLogger, defaultApi, EXIT_CONFIG, renderTable, requireConfig } from "./cli-support.ts";
import { registerRootfsCommands } from "./cli-rootfs.ts";
import { registerWorkloadsCommands } from "./cli-workloads.ts";
import { writeFileAtomic } from "../lib/fs-atomic.ts";
import { planFiles, planRack } from "./plan.ts";

/** The embedded default rack: the story's two-Pi seed example, shipped in the package. */
export const DEFAULT_CONFIG = packagePath("examples/seed-rack.yaml");

const packageVersion = (JSON.parse(readFileSync(packagePath("package.json"), "utf8")) as { version: string }).version;

/** Where every command that reads the rack config looks by default. */
const SYSTEM_CONFIG = "/etc/pirack/rack.yaml";

const program = new Command("pirack")
  .description("netboot appliance for shelves of Raspberry Pis")
  .version(packageVersion, "-V, --version", "print the pirack version")
  .showHelpAfterError()
  .exitOverride();

program
  .command("plan")
  .description("render every generated file for a rack without touching the system")
  .addOption(new Option("--config <file>", "rack.yaml").default(DEFAULT_CONFIG, "the embedded seed rack"))
  .option("--out <dir>", "write the generated tree here (default: print it)")
  .option("--json", "print the plan as JSON")
  .action(async (opts: { config: string; out?: string; json?: boolean }) => {
    const config = await requireConfig(opts.config);
    const plan = planRack(config);
    const files = planFiles(plan);
    if (opts.out) {
      const out = resolve(opts.out);
      await mkdir(out, { recursive: true });
      for (const [rel, content] of files) await writeFileAtomic(join(out, rel), content);
      if (!opts.json) process.stdout.write(`wrote ${files.size} files to ${out}\n`);
    }
    if (opts.json) process.stdout.write(files.get("plan.json") ?? "");
    else if (!opts.out) {
      for (const [rel, content] of files) {
        if (rel.endsWith(".json")) continue;
        process.stdout.write(`==> ${rel} <==\n${content}\n`);
      }
    }
  });

program
  .command("serve")
  .description("run the appliance: reconciler, API (and DHCP, TFTP) for the rack")
  .addOption(new Option("--config <file>", "rack.yaml").default(SYSTEM_CONFIG))
  .option("--listen <host:port>", "API address (off loopback it needs --token-file or api.tokenFile)", "127.0.0.1:8067")
  .option("--token-file <file>", "API tokens, lines \"read <token>\" / \"write <token>\" (overrides api.tokenFile)")
  .option("--sysroot <dir>", "prefix for the fileserver's system files (tests, bench)", "/")
  .option("--dry-run", "print the actions one pass would take, as JSON, and exit")
  .option("--dhcp-port <port>", "DHCP server port (tests, bench)", "67")
  .option("--tftp-listen <host:port>", "TFTP server address (tests, bench)", "0.0.0.0:69")
  .action(async (opts: { config: string; listen: string; sysroot: string; dryRun?: boolean; dhcpPort: string; tftpListen: string; tokenFile?: string }) => {
    const { serve } = await import("./main.ts");
    const code = await serve({
      configPath: resolve(opts.config),
      listen: opts.listen,
      sysroot: resolve(opts.sysroot),
      dryRun: opts.dryRun ?? false,
      dhcpPort: Number(opts.dhcpPort),
      tftpListen: opts.tftpListen,
      ...(opts.tokenFile ? { tokenFile: resolve(opts.tokenFile) } : {}),
    });
    process.exit(code);
  });

const apiOption = () =>
  new Option("--api <url>", "a running appliance's API: http://host:port or unix:/path/to/api.sock (default: unix:/run/pirack/api.sock when it exists, else http://127.0.0.1:8067)");
const tokenOption = () => new Option("--token-file <file>", "API token file (lines \"read <token>\" / \"write <token>\")");

program
  .command("status")
  .description("show every Pi port of a running appliance")
  .addOption(apiOption())
  .addOption(tokenOption())
  .option("--json", "print JSON")
  .option("--timeline", "each Pi's last boot: the time of every stage (power, dhcp, firmware, kernel, nfs, up)")
  .action(async (opts: { api?: string; tokenFile?: string; json?: boolean; timeline?: boolean }) => {
    const api = opts.api ?? defaultApi();
    const auth = opts.tokenFile ? { tokenFile: opts.tokenFile } : {};
    if (opts.timeline) {
      const entries = (await callApi(api, "/api/v1/timeline", auth)) as import("./dashboard/timeline-text.ts").TimelineEntry[];
      const { renderTimelineText } = await import("./dashboard/timeline-text.ts");
      process.stdout.write(opts.json ? `${JSON.stringify(entries, null, 2)}\n` : renderTimelineText(entries));
      return;
    }
    const pis = (await callApi(api, "/api/v1/pis", auth)) as Record<string, unknown>[];
    if (opts.json) process.stdout.write(`${JSON.stringify(pis, null, 2)}\n`);
    else {
      const rows = pis.map((p) => ({ ...p, bootStage: p.stuck ? `stuck at ${(p.stuck as { stage: string }).stage}` : p.bootStage }));
      process.stdout.write(renderTable(rows, ["port", "name", "vlan", "piAddress", "mac", "serial", "model", "power", "bootStage", "lastSeen"]));
    }
  });

/** The switch for a config file; fails when the rack manages no switch. */
async function switchFor(configPath: string) {
  const config = await requireConfig(configPath);
  const { switchAddressProblem } = await import("./switch-address.ts");
  const placeholder = switchAddressProblem(config);
  if (placeholder) throw new CliFailure(`${configPath}: ${placeholder}`, EXIT_CONFIG);
  const { SwitchOwner } = await import("./switch-owner.ts");
  const { MetricsRegistry } = await import("../lib/metrics.ts");
  const holder = new SwitchOwner({ log: await cliLogger(), metrics: new MetricsRegistry() });
  await holder.configure(config);
  const driver = holder.driver;
  if (!driver) throw new CliFailure(`${configPath}: switch.driver is none: there is no switch to talk to`, EXIT_CONFIG);
  return { config, driver, holder };
}

const switchCommand = program.command("switch").description("the managed PoE switch over SNMP");

switchCommand
  .command("show")
  .description("per port: VLANs, PVID, link, PoE, watts")
  .addOption(new Option("--config <file>", "rack.yaml").default(SYSTEM_CONFIG))
  .option("--json", "print JSON")
  .option("--all", "every switch port, not only the rack's")
  .action(async (opts: { config: string; json?: boolean; all?: boolean }) => {
    const { config, driver, holder } = await switchFor(opts.config);
    try {
      const { switchShowRows, renderSwitchShow } = await import("../switch/index.ts");
      const inventory = await driver.discover();
      const observed = await driver.observe();
      const rows = switchShowRows(inventory, observed, opts.all ? undefined : [...config.ports, config.fileserver.switchPort]);
      process.stdout.write(opts.json ? `${JSON.stringify({ ports: rows, pse: observed.pse ?? null }, null, 2)}\n` : renderSwitchShow(rows, observed));
    } finally {
      await holder.close();
    }
  });

switchCommand
  .command("apply")
  .description("push the plan's VLANs, PVIDs and PoE to the switch; print what changed")
  .addOption(new Option("--config <file>", "rack.yaml").default(SYSTEM_CONFIG))
  .option("--sysroot <dir>", "prefix for the fileserver's system files (tests, bench)", "/")
  .action(async (opts: { config: string; sysroot: string }) => {
    // One pass of the switch subsystem, as serve runs it: same plan, learned Pis, held-off ports and pass lock.
    const config = await requireConfig(opts.config);
    if (config.switch.driver === "none") throw new CliFailure(`${opts.config}: switch.driver is none: there is no switch to talk to`, EXIT_CONFIG);
    const { switchAddressProblem } = await import("./switch-address.ts");
    const placeholder = switchAddressProblem(config);
    if (placeholder) throw new CliFailure(`${opts.config}: ${placeholder}`, EXIT_CONFIG);
    const { withOneShotRack } = await import("./rack.ts");
    const { MetricsRegistry } = await import("../lib/metrics.ts");
    const { renderApplyResult } = await import("../switch/index.ts");
    const log = await cliLogger();
    await withOneShotRack(config, { sysroot: resolve(opts.sysroot), log, metrics: new MetricsRegistry(), only: ["switch"] }, async (app, switchState) => {
      const report = await app.reconciler.request("switch apply");
      if (report.failed.length > 0) throw new CliFailure(`${report.failed.length} switch action(s) failed:\n  ${report.failed.map((f) => `${f.description}: ${f.error}`).join("\n  ")}`, 1);
      process.stdout.write(renderApplyResult(switchState.lastApply ?? { changes: [], setRequests: 0, rounds: 0, usedStepwise: false }));
    });
  });

program
  .command("power")
  .description("PoE on, off or cycle for a Pi's port: through a running appliance, or straight on the switch with --config")
  .argument("<action>", "on | off | cycle")
  .argument("<port>", "switch port of the Pi")
  .addOption(apiOption())
  .addOption(tokenOption())
  .option("--config <file>", "rack.yaml: talk to the switch directly when no appliance answers")
  .option("--json", "print the API's answer as JSON")
  .action(async (action: string, portText: string, opts: { api?: string; tokenFile?: string; config?: string; json?: boolean }) => {
    if (action !== "on" && action !== "off" && action !== "cycle") throw new CliFailure(`action must be on, off or cycle, got "${action}"`, EXIT_CONFIG);
    const port = Number(portText);
    if (!Number.isInteger(port) || port < 1) throw new CliFailure(`port must be a switch port number, got "${portText}"`, EXIT_CONFIG);
    const printSteps = (steps: readonly { step: string; atMs: number }[]) => {
      for (const step of steps) process.stdout.write(`${String(step.atMs).padStart(6)} ms  ${step.step}\n`);
    };
    try {
      const r = (await callApi(opts.api ?? defaultApi(), `/api/v1/pis/${port}/power`, {
        method: "POST",
        body: { action },
        ...(opts.tokenFile ? { tokenFile: opts.tokenFile } : {}),
      })) as { result?: { step: string; atMs: number }[] | null };
      if (opts.json) process.stdout.write(`${JSON.stringify(r)}\n`);
      else printSteps(r.result ?? []);
      return;
    } catch (err) {
      if (!(err instanceof CliFailure) || !err.message.startsWith("no appliance answers") || !opts.config) throw err;
    }
    const { config, driver, holder } = await switchFor(opts.config);
    try {
      if (!config.ports.includes(port)) throw new CliFailure(`port ${port} is not a Pi port of ${opts.config} (ports: ${config.ports.join(",")})`, EXIT_CONFIG);
      const { fencedPortsOnDisk } = await import("../workloads/index.ts");
      const fenced = (await fencedPortsOnDisk(config.paths.state)).find((f) => f.port === port);
      if (fenced && action !== "off") throw new CliFailure(`port ${port} (${fenced.name}) is a fenced old db primary: powering it ${action} as it is could bring back a second writable primary; use \`pirack workloads rejoin ${port}\``, 1);
      const steps = await driver.power(port, action);
      if (opts.json) process.stdout.write(`${JSON.stringify({ ok: true, result: steps })}\n`);
      else printSteps(steps);
    } finally {
      await holder.close();
    }
  });

program
  .command("bench")
  .description("build the bench rack in network namespaces (simulated PoE switch, Open vSwitch wiring, ganesha, emulated Pis) and run the appliance on it")
  .option("--pis <n>", "Pis on the shelf", "8")
  .option("--qemu <k>", "of them, QEMU Pis (on the first ports); the rest are protocol Pis", "1")
  .option("--models <list>", "models of the protocol Pis, cycled over their ports: 3b, 3b+, 4, 5", "3b,3b+,4,5")
  .option("--exit", "tear down once every Pi is up (or failed), print the status table; exit 0 only if all came up")
  .option("--logs <dir>", "keep serve.log, pi<port>.console.log, switch.log (and the OVS and ganesha logs) here")
  .option("--listen <host:port>", "loopback address of the dashboard and API", "127.0.0.1:8067")
  .option("--firmware <dir>", "boot files pirack serves (default: prepared by the bench from Debian packages)")
  .option("--image <dir>", "golden image the Pi roots are cloned from (default: the bench's arm64 image)")
  .option("--timeout <seconds>", "Pis not up after this long are reported failed", "900")
  .option("--site", "serve the site: the QEMU Pis are web Pis (root from the web layer), a db and a cdn stand-in run on the public VLAN")
  .action(async (opts: { pis: string; qemu: string; models: string; exit?: boolean; logs?: string; listen: string; firmware?: string; image?: string; timeout: string; site?: boolean }) => {
    const bench = await import("../bench/rack/index.ts");
    const m = /^(127\.\d+\.\d+\.\d+|localhost|\[::1\]):(\d{1,5})$/.exec(opts.listen);
    if (!m) throw new CliFailure(`--listen must be a loopback host:port (the bench adds nothing outside its namespaces), got "${opts.listen}"`, EXIT_CONFIG);
    let models;
    try {
      models = bench.parseModels(opts.models);
    } catch (err) {
      throw new CliFailure((err as Error).message, EXIT_CONFIG);
    }
    const controller = new AbortController();
    // `on`, not `once`: execa's signal-exit re-raises a signal that finds no other listener left, which would
    // kill the bench before its teardown ran.
    const stop = () => controller.abort();
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
    try {
      const code = await bench.runBench({
        pis: Number(opts.pis),
        qemu: Number(opts.qemu),
        models,
        exit: opts.exit ?? false,
        ...(opts.logs ? { logsDir: resolve(opts.logs) } : {}),
        listen: { host: m[1]!.replace(/^\[|\]$/g, ""), port: Number(m[2]) },
        ...(opts.firmware ? { firmwareDir: resolve(opts.firmware) } : {}),
        ...(opts.image ? { imageDir: resolve(opts.image) } : {}),
        timeoutMs: Number(opts.timeout) * 1000,
        stuckMs: 20_000,
        site: opts.site ?? false,
        tmpDir: "/var/tmp",
        out: process.stdout,
        signal: controller.signal,
      });
      process.exit(code);
    } catch (err) {
      if (err instanceof bench.BenchUsageError) throw new CliFailure(`bench: ${err.problems.length} problem(s):\n  ${err.problems.join("\n  ")}`, EXIT_CONFIG);
      if (err instanceof bench.BenchInterrupted) process.exit(130);
      throw err;
    }
  });

registerRootfsCommands(program);
registerWorkloadsCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CliFailure) {
    process.stderr.write(`pirack: ${err.message}\n`);
    process.exit(err.exitCode);
  }
  const code = (err as { code?: string; exitCode?: number }).code;
  if (typeof code === "string" && code.startsWith("commander.")) {
    process.exit(code === "commander.helpDisplayed" || code === "commander.version" ? 0 : EXIT_CONFIG);
  }
  process.stderr.write(`pirack: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
}
