/** `pirack image build|import` and `pirack roots sync|rebuild`: golden images and per-Pi roots from the command line. */
import { Option, type Command } from "commander";
import { arch } from "node:os";
import { resolve } from "node:path";
import { CliFailure, cliLogger, EXIT_CONFIG, requireConfig } from "./cli-support.ts";
import { MetricsRegistry } from "../lib/metrics.ts";
import { piRootSpecs, readyExports } from "./reconcile/roots.ts";
import type { Progress } from "../rootfs/index.ts";

/** Debian's name for the machine's own architecture. */
const hostDebianArch = (): string => ({ x64: "amd64", arm64: "arm64", arm: "armhf" })[arch()] ?? arch();

/** The architecture an image name implies (`bookworm-arm64` -> arm64), else the host's. */
export const archOfImageName = (name: string): string => /(arm64|armhf|amd64|i386|riscv64)$/.exec(name)?.[1] ?? hostDebianArch();

/** Progress on stderr: redrawn in place on a terminal, one line per phase change otherwise. */
async function progressPrinter(): Promise<(p: Progress) => void> {
  const { renderProgressLine } = await import("../rootfs/index.ts");
  const tty = process.stderr.isTTY;
  let lastPhase = "";
  return (p) => {
    const line = renderProgressLine(p);
    if (tty) process.stderr.write(`\r\x1b[K${line}`);
    else if (p.bytesTotal === undefined || p.phase !== lastPhase) process.stderr.write(`${line}\n`);
    lastPhase = p.phase;
    if (tty && p.phase === "done") process.stderr.write("\n");
  };
}

const configOption = () => new Option("--config <file>", "rack.yaml").default("/etc/pirack/rack.yaml");
/** The config with the `paths.*` it does not name moved under `--sysroot` (README "Commands"). */
async function configUnder(path: string, sysroot: string) {
  const { withSysrootPaths } = await import("./sysroot-paths.ts");
  const { readFile } = await import("node:fs/promises");
  return withSysrootPaths(await requireConfig(path), await readFile(path, "utf8").catch(() => ""), resolve(sysroot));
}

const sysrootOption = () => new Option("--sysroot <dir>", "prefix for the fileserver's system files (tests, bench)").default("/");

/** Adds the image and roots commands to `program`. */
export function registerRootfsCommands(program: Command): void {
  const image = program.command("image").description("golden images that Pi roots are cloned from");

  image
    .command("build")
    .description("debootstrap a golden image (second stage under qemu-user-static for a foreign arch)")
    .addOption(configOption())
    .option("--name <name>", "image name under paths.images (default: the config's image)")
    .option("--arch <arch>", "arm64 | armhf | amd64 (default: from the image name, else this machine's)")
    .option("--suite <suite>", "Debian suite", "bookworm")
    .option("--mirror <url>", "archive URL (default: Debian's); a Raspbian-style mirror needs --keyring")
    .option("--keyring <file>", "keyring for the mirror")
    .option("--include <pkgs>", "extra packages, comma-separated")
    .option("--replace", "replace an image of the same name (the old one is kept aside)")
    .option("--json", "print the result as JSON")
    .action(async (opts: { config: string; name?: string; arch?: string; suite: string; mirror?: string; keyring?: string; include?: string; replace?: boolean; json?: boolean }) => {
      const config = await requireConfig(opts.config);
      const { buildImage, createCommandRunner } = await import("../rootfs/index.ts");
      const name = opts.name ?? config.image;
      const result = await buildImage(
        {
          imagesDir: config.paths.images,
          name,
          arch: opts.arch ?? archOfImageName(name),
          suite: opts.suite,
          ...(opts.mirror ? { mirror: opts.mirror } : {}),
          ...(opts.keyring ? { keyring: resolve(opts.keyring) } : {}),
          ...(opts.include ? { include: opts.include.split(",").map((p) => p.trim()).filter(Boolean) } : {}),
          ...(opts.replace ? { replace: true } : {}),
        },
        { log: await cliLogger(), run: createCommandRunner(), onProgress: await progressPrinter() },
      );
      if (opts.json) process.stdout.write(`${JSON.stringify(result)}\n`);
      else process.stdout.write(`image ${name} ready at ${result.path}: ${(result.sizeBytes / 1e6).toFixed(0)} MB, ${result.packages} packages, ${result.os ?? "unknown OS"}, ${result.seconds.toFixed(0)} s\n`);
    });

  image
    .command("import")
    .description("import an existing root tree or tar archive as a golden image (owners, modes, xattrs, devices kept)")
    .argument("<source>", "a directory or a tar archive (gzip, xz, zstd)")
    .addOption(configOption())
    .option("--name <name>", "image name under paths.images (default: the config's image)")
    .option("--replace", "replace an image of the same name (the old one is kept aside)")
    .action(async (source: string, opts: { config: string; name?: string; replace?: boolean }) => {
      const config = await requireConfig(opts.config);
      const { importImage, createCommandRunner } = await import("../rootfs/index.ts");
      const name = opts.name ?? config.image;
      const result = await importImage(
        { imagesDir: config.paths.images, name, source: resolve(source), ...(opts.replace ? { replace: true } : {}) },
        { log: await cliLogger(), run: createCommandRunner(), onProgress: await progressPrinter() },
      );
      process.stdout.write(`image ${name} imported at ${result.path}: ${(result.sizeBytes / 1e6).toFixed(0)} MB, ${result.packages} packages\n`);
    });

  const roots = program.command("roots").description("per-Pi NFS roots and their exports");

  roots
    .command("sync")
    .description("one pass of roots, workload files and exports, as serve runs them: clone and customise missing roots of enrolled Pis (listed or learned; a Pi with a role from its role layer), write their workload files, then write and apply exports")
    .addOption(configOption())
    .addOption(sysrootOption())
    .action(async (opts: { config: string; sysroot: string }) => {
      const config = await configUnder(opts.config, opts.sysroot);
      const { withOneShotRack } = await import("./rack.ts");
      const log = await cliLogger();
      const metrics = new MetricsRegistry();
      await withOneShotRack(config, { sysroot: resolve(opts.sysroot), log, metrics, only: ["roots", "workloads", "exports"] }, async (app) => {
        const pis = piRootSpecs(app.plan, config);
        if (pis.length === 0) process.stdout.write(`no enrolled Pis (none listed under pis:, none learned in ${config.paths.state}): nothing to sync\n`);
        const report = await app.reconciler.request("roots sync");
        for (const a of report.applied) process.stdout.write(`${a.description}\n`);
        const ready = (await readyExports(pis)).map((e) => pis.find((p) => p.exportPath === e.path)?.port);
        process.stdout.write(`ready and exported: ports ${ready.join(", ") || "none"}\n`);
        if (report.failed.length > 0) throw new CliFailure(`${report.failed.length} action(s) failed:\n  ${report.failed.map((f) => `${f.description}: ${f.error}`).join("\n  ")}`, 1);
      });
    });

  roots
    .command("rebuild")
    .description("reset one Pi's root to its image (its role's layer, or the golden image); the old root is kept aside, dated")
    .argument("<port>", "switch port of the Pi")
    .addOption(configOption())
    .addOption(sysrootOption())
    .action(async (portText: string, opts: { config: string; sysroot: string }) => {
      const config = await configUnder(opts.config, opts.sysroot);
      const port = Number(portText);
      const { withOneShotRack, rebuildPort } = await import("./rack.ts");
      const log = await cliLogger();
      const metrics = new MetricsRegistry();
      await withOneShotRack(config, { sysroot: resolve(opts.sysroot), log, metrics, only: ["roots", "workloads", "exports"] }, async (app) => {
        const pis = piRootSpecs(app.plan, config);
        if (!pis.some((p) => p.port === port)) {
          throw new CliFailure(`port ${portText} has no enrolled Pi in ${opts.config} (listed or learned: ${pis.map((p) => p.port).join(", ") || "none"})`, EXIT_CONFIG);
        }
        const r = await rebuildPort(app, port, { log, metrics });
        const failed = app.reconciler.lastReport?.failed ?? [];
        process.stdout.write(`port ${port}: new root at ${r.path} (${r.strategy})${r.oldPath ? `, old root kept at ${r.oldPath}` : ""}\n`);
        if (failed.length > 0) throw new CliFailure(`root rebuilt, but ${failed.length} action(s) failed after it:\n  ${failed.map((f) => `${f.description}: ${f.error}`).join("\n  ")}`, 1);
      });
    });
}
