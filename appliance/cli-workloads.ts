/** `pirack workloads status|build`: the roles' health and their root layers from the command line. */
import { Option, type Command } from "commander";
import { CliFailure, cliLogger, EXIT_CONFIG, renderTable, requireConfig } from "./cli-support.ts";
import { planRack } from "./plan.ts";

/** Adds the `workloads` command group. */
export function registerWorkloadsCommands(program: Command): Command {
  const workloads = program.command("workloads").description("the site on the Pis: web, db and cdn roles");

  workloads
    .command("status")
    .description("probe every role node's health (the fileserver must reach the public VLAN)")
    .addOption(new Option("--config <file>", "rack.yaml").default("/etc/pirack/rack.yaml"))
    .option("--json", "print JSON")
    .option("--timeout-ms <ms>", "per-probe time limit", "2000")
    .action(async (opts: { config: string; json?: boolean; timeoutMs: string }) => {
      const config = await requireConfig(opts.config);
      const { probeCluster, ROLES } = await import("../workloads/index.ts");
      const plan = planRack(config);
      const health = await probeCluster(plan.workloads.cluster, ROLES, { fetch, timeoutMs: Number(opts.timeoutMs), workloads: config.workloads });
      const rows = health.map((h) => {
        const node = plan.workloads.cluster.nodes.find((n) => n.name === h.node)!;
        return { node: h.node, port: node.port, role: h.role, address: node.publicAddress, healthy: h.healthy, detail: h.detail, ...(h.data ? { data: h.data } : {}) };
      });
      if (opts.json) process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
      else if (rows.length === 0) process.stdout.write("no Pi has a role (pis[].role)\n");
      else process.stdout.write(renderTable(rows.map((r) => ({ ...r, healthy: r.healthy ? "yes" : "NO" })), ["node", "port", "role", "address", "healthy", "detail"]));
      if (rows.some((r) => !r.healthy)) process.exitCode = 1;
    });

  workloads
    .command("build")
    .description("build the root layer <image>+<role> of one role (or every role in use) from the golden image")
    .argument("[role]", "web | db | cdn (default: every role a Pi has)")
    .addOption(new Option("--config <file>", "rack.yaml").default("/etc/pirack/rack.yaml"))
    .option("--replace", "rebuild an existing layer (the old one is kept aside)")
    .action(async (roleName: string | undefined, opts: { config: string; replace?: boolean }) => {
      const config = await requireConfig(opts.config);
      const { ROLES } = await import("../workloads/index.ts");
      const { buildRoleLayer } = await import("../workloads/layers.ts");
      const { createCommandRunner } = await import("../rootfs/index.ts");
      const inUse = [...new Set(planRack(config).workloads.cluster.nodes.map((n) => n.role))];
      const names = roleName ? [roleName] : inUse;
      if (names.length === 0) throw new CliFailure(`${opts.config}: no Pi has a role, so there is no layer to build`, EXIT_CONFIG);
      const log = await cliLogger();
      for (const name of names) {
        const role = ROLES[name as keyof typeof ROLES];
        if (!role) throw new CliFailure(`unknown role "${name}" (roles with a module: ${Object.keys(ROLES).join(", ")})`, EXIT_CONFIG);
        const r = await buildRoleLayer(
          { imagesDir: config.paths.images, image: config.image, role, replace: opts.replace ?? false },
          { run: createCommandRunner(), log, onProgress: (p) => process.stderr.write(`${p.phase}: ${p.message}\n`) },
        );
        process.stdout.write(`${r.path}: ${role.packages.join(" ")} (${r.strategy}, ${r.seconds.toFixed(1)} s; disabled ${r.disabledUnits.join(", ") || "nothing"})\n`);
      }
    });
  workloads
    .command("apply")
    .description("write every role node's rendered files into its root (roots that exist), generating secrets once")
    .addOption(new Option("--config <file>", "rack.yaml").default("/etc/pirack/rack.yaml"))
    .option("--json", "print JSON")
    .action(async (opts: { config: string; json?: boolean }) => {
      const config = await requireConfig(opts.config);
      const { applyRack } = await import("../workloads/apply-rack.ts");
      const plan = planRack(config);
      const log = await cliLogger();
      const report = await applyRack(
        { cluster: plan.workloads.cluster, workloads: config.workloads, stateDir: config.paths.state, rootOf: (port) => plan.ports.find((p) => p.port === port)!.exportPath, image: config.image },
        { log },
      );
      if (opts.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      else
        process.stdout.write(
          renderTable(
            report.nodes.map((n) => ({ ...n, written: n.written.length, removed: n.removed.length, kept: n.kept.length })),
            ["node", "role", "root", "state", "written", "removed", "kept"],
          ),
        );
      if (report.nodes.some((n) => n.state !== "applied")) process.exitCode = 1;
    });
  return workloads;
}
