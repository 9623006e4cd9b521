/**
 * `pirack` command line: the composition root for one-shot commands. The only place (with main.ts) that reads argv,
 * loads config, creates the root logger and calls process.exit.
 */
import { Command, Option } from "commander";
import { mkdir } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { loadConfigFile } from "./config-file.ts";
import type { Config } from "./config.ts";
import { writeFileAtomic } from "./fs-atomic.ts";
import { planFiles, planRack } from "./plan.ts";

/** The embedded default rack: the story's two-Pi seed example, shipped in the package. */
export const DEFAULT_CONFIG = resolve(dirname(fileURLToPath(import.meta.url)), "../examples/seed-rack.yaml");

/** Exit codes: 0 fine, 1 operation failed, 2 bad config or usage. */
const EXIT_CONFIG = 2;

class CliFailure extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

async function requireConfig(path: string): Promise<Config> {
  const result = await loadConfigFile(path);
  if (!result.ok) {
    throw new CliFailure(`${path}: ${result.problems.length} problem(s):\n  ${result.problems.join("\n  ")}`, EXIT_CONFIG);
  }
  return result.config;
}

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

/** Calls a running appliance's API; a refused connection is told apart from an API error. */
async function callApi(base: string, path: string, init?: RequestInit): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(new URL(path, base), init);
  } catch (err) {
    throw new CliFailure(`no appliance answers at ${base} (${(err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message})`, 1);
  }
  const body = (await res.json().catch(() => undefined)) as { error?: string } | undefined;
  if (!res.ok) throw new CliFailure(`${init?.method ?? "GET"} ${path}: ${res.status} ${body?.error ?? res.statusText}`, 1);
  return body;
}

/** Renders rows as an aligned text table. */
export function renderTable(rows: readonly Record<string, unknown>[], columns: readonly string[]): string {
  const cell = (v: unknown) => (v === null || v === undefined ? "-" : String(v));
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (values: string[]) => values.map((v, i) => v.padEnd(widths[i]!)).join("  ").trimEnd();
  return [line([...columns]), ...rows.map((r) => line(columns.map((c) => cell(r[c]))))].join("\n") + "\n";
}

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
