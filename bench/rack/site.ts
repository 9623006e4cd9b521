/**
 * The `--site` stand-ins (adapter): the site's db and cdn as Debian's own daemons on the host, each in a namespace
 * of its own on the public VLAN, with the files pirack's role renderers make from the bench's rack.yaml and the
 * secrets from pirack's own store (`<paths.state>/workloads/secrets.json`, generated here before `pirack serve`
 * starts, so serve finds and reuses them for the web Pis' roots). Nothing of the host's /etc or /var is written:
 * the db's paths are all under its directory (`layoutUnder`), and nginx runs in a private mount namespace with
 * the cdn directory's etc/nginx, var/cache... bind-mounted over the host's.
 *
 * What pirack does for a real db Pi over its storage /30 (make the initial primary writable) the stand-in does
 * itself over its local socket: it has no storage link for pirack to reach.
 */
import { execa } from "execa";
import { chmod, chown, copyFile, cp, mkdir, symlink, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { parseConfigText } from "../../appliance/config.ts";
import { planRack } from "../../appliance/plan.ts";
import { applyWorkloadFiles, loadOrCreateSecrets, renderCluster, requiredSecrets, ROLES, type Cluster } from "../../workloads/index.ts";
import { layoutFiles, layoutUnder } from "../../workloads/db/layout.ts";
import { renderDbFiles } from "../../workloads/db/render.ts";
import { dbValues } from "../../workloads/db/values.ts";
import type { BenchSite } from "./layout.ts";
import { execIn, spawnIn, type Child } from "./netns.ts";

/** Host directories the cdn stand-in's nginx sees from its own directory (relative, no leading slash). */
const CDN_SHADOWED = ["etc/nginx", "var/lib/nginx", "var/log", "var/cache", "usr/local", "run"] as const;
/** Of those, the ones the cdn layer would bring from the nginx package (copied from the host's install). */
const CDN_FROM_PACKAGE = ["etc/nginx", "var/lib/nginx"] as const;

/** Where the stand-ins live and how they report. */
export interface SiteInputs {
  readonly site: BenchSite;
  /** The rack.yaml `pirack serve` runs on. */
  readonly rackYaml: string;
  readonly stateDir: string;
  /** Their directories go here (the run directory: removed at teardown). */
  readonly dir: string;
  readonly logsDir: string;
  readonly say: (line: string) => void;
}

/** A step that failed, with what it printed. */
async function mustIn(ns: string, cmd: string, args: string[], what: string, timeoutMs = 120_000): Promise<string> {
  const r = await execIn(ns, cmd, args, { timeoutMs });
  if (r.exitCode !== 0) throw new Error(`site ${what}: ${cmd} exited with ${r.exitCode}: ${String(r.stderr).trim().slice(-1500)}`);
  return String(r.stdout);
}

/** The running db and cdn stand-ins. */
export class SiteStandIns {
  readonly cluster: Cluster;
  private readonly children: Child[] = [];
  private readonly config;

  constructor(private readonly inputs: SiteInputs) {
    const parsed = parseConfigText(inputs.rackYaml);
    if (!parsed.ok) throw new Error(`the bench's rack.yaml was refused: ${parsed.problems.join("; ")}`);
    this.config = parsed.config;
    this.cluster = planRack(parsed.config).workloads.cluster;
  }

  /** pirack's secrets for the cluster: generated into paths.state now (before serve), read back by serve. */
  async secrets(): Promise<Record<string, string>> {
    const { secrets, created } = await loadOrCreateSecrets(this.inputs.stateDir, requiredSecrets(this.cluster, ROLES));
    if (created.length > 0) this.inputs.say(`site: ${created.length} workload secrets generated in ${this.inputs.stateDir}`);
    return { ...secrets };
  }

  /** Renders both stand-ins and starts them; resolves once the db answers its health check and the cdn nginx runs. */
  async start(): Promise<void> {
    const secrets = await this.secrets();
    await Promise.all([this.startDb(secrets), this.startCdn(secrets)]);
  }

  /** The db: the role's rendered files under its directory, first boot as the db Pi's units run it, made writable. */
  private async startDb(secrets: Record<string, string>): Promise<void> {
    const { site, dir, say } = this.inputs;
    const node = this.cluster.nodes.find((n) => n.name === site.db.name)!;
    const root = join(dir, "db");
    await mkdir(root, { recursive: true });
    await chmod(root, 0o755);
    const layout = layoutUnder(root);
    const v = dbValues({ node, cluster: this.cluster, workloads: this.config.workloads, secrets }, layout);
    for (const f of renderDbFiles(v, root)) {
      const path = join(root, f.path);
      await mkdir(dirname(path), { recursive: true });
      if (f.symlink) {
        await symlink(f.content, path);
        continue;
      }
      await writeFile(path, f.content, { mode: f.mode });
      await chmod(path, f.mode);
      if (f.group) await chown(path, 0, await groupId(f.group));
    }
    const files = layoutFiles(layout);
    await mkdir(layout.tmpDir, { recursive: true });
    await chmod(layout.tmpDir, 0o1777);
    const ns = site.db.namespace;
    say(`site: db stand-in ${site.db.name} [${site.db.publicAddress}]: mariadbd with the db role's files (${root})`);
    await mustIn(ns, "bash", [files.prepareScript], "db prepare");
    this.children.push(spawnIn(ns, "mariadbd", [`--defaults-file=${layout.mainConfig}`, `--log-error=${join(root, "mariadb.err")}`]));
    // pirack-db-init.service runs until it succeeds (Restart=on-failure): mariadbd needs a moment first.
    for (let attempt = 1; ; attempt++) {
      const r = await execIn(ns, "bash", [files.initScript], { timeoutMs: 120_000 });
      if (r.exitCode === 0) break;
      if (attempt >= 60) throw new Error(`site db init failed: ${String(r.stderr).slice(-800)}`);
      await new Promise((res) => setTimeout(res, 1000));
    }
    // What pirack's db controller does to the initial primary (over the storage /30 a real db Pi has).
    await mustIn(ns, "mariadb", [`--defaults-file=${files.localClient}`, "-e", "SET GLOBAL read_only = OFF"], "db made writable");
    this.children.push(spawnIn(ns, "systemd-socket-activate", ["--accept", "--inetd", "-l", String(this.config.workloads.db.healthPort), "bash", files.healthScript]));
    await waitUntil(async () => (await execIn(ns, "curl", ["-sf", "-g", "-o", "/dev/null", `http://[${site.db.publicAddress}]:${this.config.workloads.db.healthPort}/primary`], { timeoutMs: 15_000 })).exitCode === 0, "the db's health endpoint to answer /primary", 60_000);
    say(`site: db ${site.db.name} is the writable primary (health /primary 200 on port ${this.config.workloads.db.healthPort})`);
  }

  /** The cdn: nginx's package files, the role's layer removals, pirack's rendered files; the reload timer as a loop. */
  private async startCdn(secrets: Record<string, string>): Promise<void> {
    const { site, dir, say } = this.inputs;
    const root = join(dir, "cdn");
    for (const d of CDN_SHADOWED) await mkdir(join(root, d), { recursive: true });
    for (const d of CDN_FROM_PACKAGE) await cp(`/${d}`, join(root, d), { recursive: true, verbatimSymlinks: true, force: true });
    await mkdir(join(root, "var/log/nginx"), { recursive: true });
    const role = ROLES.cdn!;
    for (const path of role.layerRemovals ?? []) await execa("rm", ["-rf", "--", join(root, path)]);
    const files = renderCluster(this.cluster, this.config.workloads, secrets, ROLES).get(site.cdn.name) ?? [];
    await applyWorkloadFiles(root, files);
    const ns = site.cdn.namespace;
    const binds = CDN_SHADOWED.map((d) => `mount --bind '${join(root, d)}' '/${d}'`).join("; ");
    const inNode = (cmd: string[]) => ["--mount", "--propagation", "private", "sh", "-c", `set -e; mount --make-rprivate /; ${binds}; exec "$@"`, "sh", ...cmd];
    const check = await execIn(ns, "unshare", inNode(["nginx", "-t", "-q"]));
    if (check.exitCode !== 0) throw new Error(`site cdn: nginx -t refused the rendered config: ${String(check.stderr).trim()}`);
    say(`site: cdn stand-in ${site.cdn.name} [${site.cdn.publicAddress}]: nginx with the cdn role's files (${root})`);
    this.children.push(spawnIn(ns, "unshare", inNode(["nginx", "-g", "daemon off;"])));
    // pirack-cdn-reload.timer on a cdn Pi: the rendered script, every second.
    this.children.push(spawnIn(ns, "unshare", inNode(["sh", "-c", "while :; do /usr/local/sbin/pirack-cdn-reload; sleep 1; done"])));
    await waitUntil(async () => (await execIn(ns, "curl", ["-s", "-g", "-o", "/dev/null", "-w", "%{http_code}", `http://[${site.cdn.publicAddress}]/pirack-cdn-health`], { timeoutMs: 15_000 })).stdout === "200", "the cdn's nginx to answer", 60_000);
  }

  /** Kills both stand-ins (their namespaces go with the rack). */
  async stop(): Promise<void> {
    for (const c of this.children.splice(0)) c.kill("SIGKILL");
    await copyFile(join(this.inputs.dir, "db/mariadb.err"), join(this.inputs.logsDir, "site-db.err")).catch(() => undefined);
    await copyFile(join(this.inputs.dir, "cdn/var/log/nginx/error.log"), join(this.inputs.logsDir, "site-cdn.error.log")).catch(() => undefined);
  }
}

async function groupId(name: string): Promise<number> {
  const r = await execa("getent", ["group", name]);
  return Number(r.stdout.split(":")[2]);
}

async function waitUntil(check: () => Promise<boolean>, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`site: waited ${timeoutMs / 1000} s for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}
