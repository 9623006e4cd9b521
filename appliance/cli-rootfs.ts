/** `pirack image build|import` and `pirack roots sync|rebuild`: golden images and per-Pi roots from the command line. */
import { Option, type Command } from "commander";
import { arch } from "node:os";
import { resolve } from "node:path";
import { CliFailure, cliLogger, EXIT_CONFIG, requireConfig } from "./cli-support.ts";
import { MetricsRegistry } from "../lib/metrics.ts";
import { planRack } from "./plan.ts";
import { exportsBackendFor, piRootSpecs, rootStoreOptions } from "./reconcile/roots.ts";
import type { Progress } from "../rootfs/types.ts";

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
    .description("one pass: clone and customise missing roots of listed Pis, then write and apply exports")
    .addOption(configOption())
    .addOption(sysrootOption())
    .action(async (opts: { config: string; sysroot: string }) => {
      const config = await configUnder(opts.config, opts.sysroot);
      const { syncRoots, createCommandRunner, describeRootAction } = await import("../rootfs/index.ts");
      const { describeExportAction } = await import("./nfs-exports/plan.ts");
      const log = await cliLogger();
      const metrics = new MetricsRegistry();
      const sysroot = resolve(opts.sysroot);
      const exports = exportsBackendFor(config, sysroot, { log, metrics });
      const pis = piRootSpecs(planRack(config), config.public.vlan);
      if (pis.length === 0) process.stdout.write("no Pis are listed under pis: nothing to sync\n");
      const report = await syncRoots(
        { ...rootStoreOptions(config), pis, ...(exports ? { exports } : {}) },
        { log, run: createCommandRunner(), metrics, onProgress: await progressPrinter() },
      );
      for (const a of report.roots.applied) process.stdout.write(`${describeRootAction(a)}\n`);
      for (const a of report.exports?.applied ?? []) process.stdout.write(`${describeExportAction(a)}\n`);
      const failed = [...report.roots.failed.map((f) => `${describeRootAction(f.action)}: ${f.error.message}`), ...(report.exports?.failed ?? []).map((f) => `${describeExportAction(f.action)}: ${f.error.message}`)];
      process.stdout.write(`ready and exported: ports ${report.readyPorts.join(", ") || "none"}\n`);
      if (failed.length > 0) throw new CliFailure(`${failed.length} action(s) failed:\n  ${failed.join("\n  ")}`, 1);
    });

  roots
    .command("rebuild")
    .description("reset one Pi's root to the golden image; the old root is kept aside, dated")
    .argument("<port>", "switch port of the Pi")
    .addOption(configOption())
    .addOption(sysrootOption())
    .action(async (portText: string, opts: { config: string; sysroot: string }) => {
      const config = await configUnder(opts.config, opts.sysroot);
      const port = Number(portText);
      const pis = piRootSpecs(planRack(config), config.public.vlan);
      if (!pis.some((p) => p.port === port)) {
        throw new CliFailure(`port ${portText} has no listed Pi in ${opts.config} (listed: ${pis.map((p) => p.port).join(", ") || "none"})`, EXIT_CONFIG);
      }
      const { rebuildRoot, createCommandRunner } = await import("../rootfs/index.ts");
      const log = await cliLogger();
      const metrics = new MetricsRegistry();
      const exports = exportsBackendFor(config, resolve(opts.sysroot), { log, metrics });
      const r = await rebuildRoot(
        { ...rootStoreOptions(config), pis, port, ...(exports ? { exports } : {}) },
        { log, run: createCommandRunner(), metrics, onProgress: await progressPrinter() },
      );
      process.stdout.write(`port ${port}: new root at ${r.path} (${r.strategy})${r.oldPath ? `, old root kept at ${r.oldPath}` : ""}\n`);
    });
}
