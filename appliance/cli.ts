/**
 * `pirack` command line: the composition root for one-shot commands. The only place (with main.ts) that reads argv,
 * loads config, creates the root logger and calls process.exit.
 */
import { Command, Option } from "commander";
import { mkdir } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { callApi, CliFailure, cliLogger, EXIT_CONFIG, renderTable, requireConfig } from "./cli-support.ts";
import { registerRootfsCommands } from "./cli-rootfs.ts";
import { writeFileAtomic } from "../lib/fs-atomic.ts";
import { planFiles, planRack } from "./plan.ts";

/** The embedded default rack: the story's two-Pi seed example, shipped in the package. */
export const DEFAULT_CONFIG = resolve(dirname(fileURLToPath(import.meta.url)), "../examples/seed-rack.yaml");

const program = new Command("pirack")
  .description("netboot appliance for shelves of Raspberry Pis")
  .showHelpAfterError()
  .exitOverride();

program
  .command("plan")
  .description("render every generated file for a rack without touching the system")
  .addOption(new Option("--config <file>", "rack.yaml (default: the embedded seed rack)").default(DEFAULT_CONFIG, "embedded seed rack"))
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
  .addOption(new Option("--config <file>", "rack.yaml").default("/etc/pirack/rack.yaml"))
  .option("--listen <host:port>", "API address", "127.0.0.1:8067")
  .option("--sysroot <dir>", "prefix for the fileserver's system files (tests, bench)", "/")
  .option("--dry-run", "print the actions one pass would take, as JSON, and exit")
  .option("--dhcp-port <port>", "DHCP server port (tests, bench)", "67")
  .option("--tftp-listen <host:port>", "TFTP server address (tests, bench)", "0.0.0.0:69")
  .action(async (opts: { config: string; listen: string; sysroot: string; dryRun?: boolean; dhcpPort: string; tftpListen: string }) => {
    const { serve } = await import("./main.ts");
    const code = await serve({
      configPath: resolve(opts.config),
      listen: opts.listen,
      sysroot: resolve(opts.sysroot),
      dryRun: opts.dryRun ?? false,
      dhcpPort: Number(opts.dhcpPort),
      tftpListen: opts.tftpListen,
    });
    process.exit(code);
  });

const apiOption = () => new Option("--api <url>", "a running appliance's API").default("http://127.0.0.1:8067");

program
  .command("status")
  .description("show every Pi port of a running appliance")
  .addOption(apiOption())
  .option("--json", "print JSON")
  .action(async (opts: { api: string; json?: boolean }) => {
    const pis = (await callApi(opts.api, "/api/v1/pis")) as Record<string, unknown>[];
    if (opts.json) process.stdout.write(`${JSON.stringify(pis, null, 2)}\n`);
    else process.stdout.write(renderTable(pis, ["port", "name", "vlan", "piAddress", "mac", "serial", "model", "power", "bootStage", "lastSeen"]));
  });

/** The switch for a config file; fails when the rack manages no switch. */
async function switchFor(configPath: string) {
  const config = await requireConfig(configPath);
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
  .requiredOption("--config <file>", "rack.yaml")
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
  .requiredOption("--config <file>", "rack.yaml")
  .option("--sysroot <dir>", "prefix for the fileserver's system files (tests, bench)", "/")
  .action(async (opts: { config: string; sysroot: string }) => {
    // One pass of the switch subsystem, as serve runs it: same plan, learned Pis, held-off ports and pass lock.
    const config = await requireConfig(opts.config);
    if (config.switch.driver === "none") throw new CliFailure(`${opts.config}: switch.driver is none: there is no switch to talk to`, EXIT_CONFIG);
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
  .option("--config <file>", "rack.yaml: talk to the switch directly when no appliance answers")
  .action(async (action: string, portText: string, opts: { api: string; config?: string }) => {
    if (action !== "on" && action !== "off" && action !== "cycle") throw new CliFailure(`action must be on, off or cycle, got "${action}"`, EXIT_CONFIG);
    const port = Number(portText);
    if (!Number.isInteger(port) || port < 1) throw new CliFailure(`port must be a switch port number, got "${portText}"`, EXIT_CONFIG);
    try {
      const r = await callApi(opts.api, `/api/v1/pis/${port}/power`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ action }),
      });
      process.stdout.write(`${JSON.stringify(r)}\n`);
      return;
    } catch (err) {
      if (!(err instanceof CliFailure) || !err.message.startsWith("no appliance answers") || !opts.config) throw err;
    }
    const { config, driver, holder } = await switchFor(opts.config);
    try {
      if (!config.ports.includes(port)) throw new CliFailure(`port ${port} is not a Pi port of ${opts.config} (ports: ${config.ports.join(",")})`, EXIT_CONFIG);
      for (const step of await driver.power(port, action)) process.stdout.write(`${String(step.atMs).padStart(6)} ms  ${step.step}\n`);
    } finally {
      await holder.close();
    }
  });

registerRootfsCommands(program);

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
