/** `pirack workloads status|build`: the roles' health and their root layers from the command line. */
import { Option, type Command } from "commander";
import { callApi, CliFailure, cliLogger, defaultApi, EXIT_CONFIG, renderTable, requireConfig } from "./cli-support.ts";
import { planRack } from "./plan.ts";

/** Adds the `workloads` command group. */
export function registerWorkloadsCommands(program: Command): Command {
  const workloads = program.command("workloads").description("the site on the Pis: web, db and cdn roles");

  workloads
    .command("status")
    .description("every role node's health: the running appliance's view (--api), else probed from here with --config")
    .addOption(new Option("--config <file>", "rack.yaml: probe the nodes from this machine").default("/etc/pirack/rack.yaml"))
    .addOption(apiOption())
    .addOption(tokenOption())
    .option("--json", "print JSON")
    .option("--timeout-ms <ms>", "per-probe time limit", "2000")
    .action(async (opts: { config: string; api?: string; tokenFile?: string; json?: boolean; timeoutMs: string }, cmd: Command) => {
      // The daemon's view when it answers (and no --config was given), else probe every node from here.
      if (opts.api || cmd.getOptionValueSource("config") !== "cli") {
        const view = await callApi(opts.api ?? defaultApi(), "/api/v1/workloads", opts.tokenFile ? { tokenFile: opts.tokenFile } : {}).catch((err: unknown) => {
          if (opts.api || !(err instanceof CliFailure) || !err.message.startsWith("no appliance answers")) throw err;
          return undefined;
        });
        if (view) return printDaemonView(view as DaemonView, opts.json ?? false);
      }
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
  workloads
    .command("rejoin")
    .description("bring a fenced old db primary back as a fresh replica of the new primary (datadir kept aside, re-rendered, powered on)")
    .argument("<port>", "switch port of the fenced db Pi")
    .addOption(apiOption())
    .addOption(tokenOption())
    .option("--config <file>", "rack.yaml: rejoin from the state files and the switch directly when no appliance answers")
    .option("--json", "print the API's answer as JSON")
    .action(async (portText: string, opts: { api?: string; tokenFile?: string; config?: string; json?: boolean }) => {
      const port = Number(portText);
      if (!Number.isInteger(port) || port < 1) throw new CliFailure(`port must be a switch port number, got "${portText}"`, EXIT_CONFIG);
      type Answer = { result: { node: string; primary: string; datadirSetAside: string; ms: number } };
      let r: Answer;
      try {
        r = (await callApi(opts.api ?? defaultApi(), "/api/v1/workloads/rejoin", { method: "POST", body: { port }, ...(opts.tokenFile ? { tokenFile: opts.tokenFile } : {}) })) as Answer;
      } catch (err) {
        if (!(err instanceof CliFailure) || !err.message.startsWith("no appliance answers") || !opts.config) throw err;
        const { rejoinOffline } = await import("./cli-rejoin.ts");
        r = { result: await rejoinOffline(await requireConfig(opts.config), port) };
      }
      if (opts.json) process.stdout.write(`${JSON.stringify(r)}\n`);
      else process.stdout.write(`${r.result.node} (port ${port}) replicates from ${r.result.primary} (${(r.result.ms / 1000).toFixed(1)} s); old datadir kept at ${r.result.datadirSetAside}\n`);
    });
  return workloads;
}

const apiOption = () => new Option("--api <url>", "a running appliance's API: http://host:port or unix:/path/to/api.sock (default: the local socket, else http://127.0.0.1:8067)");
const tokenOption = () => new Option("--token-file <file>", "API token file (lines \"read <token>\" / \"write <token>\")");

/** The part of `GET /api/v1/workloads` the table shows. */
interface DaemonView {
  nodes: { node: string; port: number; role: string; healthy: boolean | null; detail: string; drained?: boolean; fenced?: boolean }[];
  db: { primary: string | null; replica: string | null; fenced: { node: string; port: number }[]; unprotected: boolean; semiSync: boolean | null; lastFailover: Record<string, unknown> | null; problem: string | null } | null;
}

function printDaemonView(view: DaemonView, json: boolean): void {
  if (json) process.stdout.write(`${JSON.stringify(view, null, 2)}\n`);
  else if (view.nodes.length === 0) process.stdout.write("no Pi has a role (pis[].role)\n");
  else {
    const healthy = (n: DaemonView["nodes"][number]) => (n.fenced ? "FENCED" : n.healthy === null ? "-" : n.healthy ? "yes" : "NO");
    const state = (n: DaemonView["nodes"][number]) => (n.role === "db" ? (n.node === view.db?.primary ? "primary" : n.fenced ? "fenced" : "replica") : n.drained ? "drained" : "");
    process.stdout.write(renderTable(view.nodes.map((n) => ({ ...n, healthy: healthy(n), state: state(n) })), ["node", "port", "role", "state", "healthy", "detail"]));
    const db = view.db;
    if (db) {
      const f = db.lastFailover;
      const last = f ? `; last failover ${String(f.from)} -> ${String(f.to)} at ${String(f.at)} in ${String(f.totalMs)} ms (detect ${String(f.detectMs)}, fence ${String(f.fenceMs)}, catch-up ${String(f.catchUpMs)}, promote ${String(f.promoteMs)})` : "";
      process.stdout.write(`db: primary ${db.primary ?? "-"}, replica ${db.replica ?? "-"}, semi-sync ${db.semiSync === null ? "?" : db.semiSync ? "on" : "off"}${db.unprotected ? " (unprotected: no failover)" : ""}${last}${db.problem ? `; ${db.problem}` : ""}\n`);
    }
  }
  if (view.nodes.some((n) => n.healthy === false)) process.exitCode = 1;
}
