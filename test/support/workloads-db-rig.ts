/**
 * A db pair in namespaces for tests and the failover benchmark: one namespace per db Pi, a web namespace
 * running HAProxy with the rendered proxy config, a fileserver namespace for pirack, all on one bridge (the
 * public VLAN and the storage network share it here). Each db Pi runs the real mariadbd with its rendered
 * files under a temporary root; "power" is emulated as on the bench rack: PoE off kills every process in the
 * Pi's namespace, PoE on boots it (prepare, mariadbd, init, the health socket).
 */
import { execFileSync, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { chmod, chown, mkdir, rename, stat, symlink, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { execa } from "execa";
import { debianLayout, layoutFiles, layoutUnder } from "../../workloads/db/layout.ts";
import { renderDbFiles } from "../../workloads/db/render.ts";
import { DbSecret, dbValues } from "../../workloads/db/values.ts";
import { defaultWorkloads, type WorkloadsConfig } from "../../workloads/config.ts";
import type { Cluster, RoleNode } from "../../workloads/role.ts";

/** A db Pi of the rig. */
export interface RigDb {
  readonly name: string;
  readonly port: number;
  readonly ns: string;
  /** The Pi's root on the "fileserver" (a temporary directory). */
  readonly root: string;
  readonly storageAddress: string;
  readonly publicAddress: string;
}

/** What the controller runner and the test share (serialisable). */
export interface RigSpec {
  readonly id: string;
  readonly base: string;
  readonly fsNs: string;
  readonly webNs: string;
  readonly webPublic: string;
  readonly fsAddress: string;
  readonly dbs: readonly RigDb[];
  readonly secrets: Readonly<Record<string, string>>;
  readonly workloads: WorkloadsConfig;
  /** The rack's own role cluster when the db pair is part of a whole site (test/support/site-bed.ts). */
  readonly cluster?: Cluster;
}

/** The role cluster of the rig (two db Pis, one web Pi), or the site's when it has one. */
export function rigCluster(spec: RigSpec): Cluster {
  if (spec.cluster) return spec.cluster;
  const nodes: RoleNode[] = spec.dbs.map((d) => ({ name: d.name, port: d.port, role: "db", publicAddress: d.publicAddress, storageAddress: d.storageAddress, serverAddress: spec.fsAddress }));
  nodes.push({ name: "web1", port: 9, role: "web", publicAddress: spec.webPublic, storageAddress: "10.77.0.20", serverAddress: spec.fsAddress });
  return { nodes, exportsDir: join(spec.base, "exports") };
}

/** Workloads config of the rig: a small buffer pool, the default failover timings. */
export function rigWorkloads(primary: string): WorkloadsConfig {
  const w = defaultWorkloads();
  // A loaded 2-core CI machine answers a health request in 0.5-1 s (bash + the mariadb client): allow 5 s (the 5 s failover goal is measured by bench/site/failover.ts, not asserted here).
  return { ...w, db: { ...w.db, primary, bufferPoolMb: 32, failover: { ...w.db.failover, intervalMs: 1000, timeoutMs: 5000 } } };
}

const nsRun = (ns: string, cmd: string, args: string[], timeoutMs = 60_000) => execa("ip", ["netns", "exec", ns, cmd, ...args], { timeout: timeoutMs });

/** Renders `db`'s files into its root as replica or primary of `primary` (the role's own renderer). */
export async function renderRigDb(spec: RigSpec, db: RigDb, primary: string): Promise<void> {
  const cluster = rigCluster(spec);
  const node = cluster.nodes.find((n) => n.name === db.name)!;
  const v = dbValues({ node, cluster, workloads: { ...spec.workloads, db: { ...spec.workloads.db, primary } }, secrets: spec.secrets }, layoutUnder(db.root));
  for (const f of renderDbFiles(v, db.root)) {
    const path = join(db.root, f.path);
    await mkdir(dirname(path), { recursive: true });
    if (f.symlink) {
      await symlink(f.content, path);
      continue;
    }
    await writeFile(path, f.content, { mode: f.mode });
    await chmod(path, f.mode);
    if (f.group) await chown(path, 0, Number(execFileSync("getent", ["group", f.group]).toString().split(":")[2]));
  }
}

/** Boots a db Pi: what systemd does on the Pi, in the same order, with the rendered scripts. */
export async function bootRigDb(spec: RigSpec, db: RigDb): Promise<void> {
  const layout = layoutUnder(db.root);
  const f = layoutFiles(layout);
  await mkdir(layout.tmpDir, { recursive: true });
  await chmod(layout.tmpDir, 0o1777);
  await nsRun(db.ns, "bash", [f.prepareScript]);
  const child = spawn("ip", ["netns", "exec", db.ns, "mariadbd", `--defaults-file=${layout.mainConfig}`, `--log-error=${db.root}/mariadb.err`], { stdio: "ignore", detached: true });
  child.unref();
  // pirack-db-init.service has Restart=on-failure: a replica retries until its primary can be cloned.
  for (let attempt = 1; ; attempt++) {
    const r = await execa("ip", ["netns", "exec", db.ns, "bash", f.initScript], { reject: false, timeout: 120_000 });
    if (r.exitCode === 0) break;
    if (attempt >= 40) throw new Error(`db init of ${db.name} failed: ${r.stderr.slice(-500)}`);
    await new Promise((res) => setTimeout(res, 1000));
  }
  const health = spawn("ip", ["netns", "exec", db.ns, "systemd-socket-activate", "--accept", "--inetd", "-l", String(spec.workloads.db.healthPort), "bash", f.healthScript], { stdio: "ignore", detached: true });
  health.unref();
}

/** PoE off, as the bench rack emulates it: every process in the Pi's namespace dies at once. Synchronous. */
export function powerOffRigDb(db: RigDb): number {
  const pids = execFileSync("ip", ["netns", "pids", db.ns]).toString().split(/\s+/).filter(Boolean);
  for (const pid of pids) {
    try {
      process.kill(Number(pid), "SIGKILL");
    } catch {
      // Already gone.
    }
  }
  return pids.length;
}

/** Moves a fenced Pi's datadir aside (kept, never deleted) so it boots empty and clones from the primary. */
export async function setAsideRigDatadir(db: RigDb, stamp: string): Promise<string> {
  const datadir = layoutUnder(db.root).datadir;
  const aside = `${datadir}.fenced-${stamp}`;
  await rename(datadir, aside);
  return aside;
}

/** The Debian layout's datadir, relative to a Pi root (what production rejoin moves aside). */
export const piDatadir = debianLayout.datadir;

/** Secrets for a run (URL-safe, as the workloads secret store makes them). */
export function rigSecrets(): Record<string, string> {
  const r = (): string => Buffer.from(crypto.getRandomValues(new Uint8Array(18))).toString("base64url");
  return Object.fromEntries(Object.values(DbSecret).map((n) => [n, r()]));
}

/** True when the host has the daemons the rig runs. */
export async function rigToolsPresent(): Promise<string[]> {
  const missing: string[] = [];
  for (const t of ["mariadbd", "mariadb", "mariadb-dump", "mariadb-install-db", "haproxy", "systemd-socket-activate"]) {
    const r = await execa("sh", ["-c", `command -v ${t}`], { reject: false });
    if (r.exitCode !== 0) missing.push(t);
  }
  return missing;
}

/** Makes `dir` and its parents traversable by the mysql user (mkdtemp makes 0700). */
export async function openForMysql(dir: string): Promise<void> {
  const s = await stat(dir);
  await chmod(dir, s.mode | 0o755);
}

/** Creates the namespaces and the bridge; returns the spec (roots under `base`, not yet rendered). */
export async function buildRigNetwork(bed: import("./netns.ts").TestBed, base: string): Promise<RigSpec> {
  const sw = await bed.namespace("dbsw");
  await nsRun(sw, "ip", ["link", "add", "br0", "type", "bridge"]);
  await nsRun(sw, "ip", ["link", "set", "br0", "up"]);
  const attach = async (ns: string, swName: string, v4: string, v6: string): Promise<void> => {
    await bed.veth({ left: { ns, name: "eth0" }, right: { ns: sw, name: swName } });
    await nsRun(sw, "ip", ["link", "set", swName, "master", "br0"]);
    await nsRun(ns, "ip", ["addr", "add", `${v4}/24`, "dev", "eth0"]);
    await nsRun(ns, "ip", ["addr", "add", `${v6}/64`, "dev", "eth0", "nodad"]);
  };
  const fsNs = await bed.namespace("dbfs");
  await attach(fsNs, "pfs", "10.77.0.1", "fd77::1");
  const webNs = await bed.namespace("dbweb");
  await attach(webNs, "pweb", "10.77.0.20", "fd77::20");
  const dbs: RigDb[] = [];
  for (const port of [1, 2]) {
    const ns = await bed.namespace(`db${port}`);
    await attach(ns, `pdb${port}`, `10.77.0.1${port}`, `fd77::1${port}`);
    const root = join(base, `db${port}`);
    await mkdir(root, { recursive: true });
    await openForMysql(root);
    dbs.push({ name: `db${port}`, port, ns, root, storageAddress: `10.77.0.1${port}`, publicAddress: `fd77::1${port}` });
  }
  await openForMysql(base);
  return { id: bed.id, base, fsNs, webNs, webPublic: "fd77::20", fsAddress: "10.77.0.1", dbs, secrets: rigSecrets(), workloads: rigWorkloads("db1") };
}

/** pirack's admin option file for the runner (0600, like paths.state's). */
export async function writeAdminOptionFile(spec: RigSpec): Promise<string> {
  const path = join(spec.base, "db-admin.cnf");
  await writeFile(path, `[client]\nuser = pirack_admin\npassword = ${spec.secrets[DbSecret.admin]}\n`, { mode: 0o600 });
  return path;
}

/** Starts HAProxy in the web namespace with the rendered proxy config. */
export async function startRigProxy(bed: import("./netns.ts").TestBed, spec: RigSpec): Promise<void> {
  const { renderDbProxyConfig } = await import("../../workloads/db/render-proxy.ts");
  const cfg = join(spec.base, "haproxy.cfg");
  const f = spec.workloads.db.failover;
  await writeFile(cfg, renderDbProxyConfig({ dbs: spec.dbs.map((d) => ({ name: d.name, address: d.publicAddress })), dbPort: spec.workloads.db.port, healthPort: spec.workloads.db.healthPort, checkIntervalMs: f.intervalMs, checkTimeoutMs: f.timeoutMs, listen: "127.0.0.1:3306" }));
  const check = await execa("haproxy", ["-c", "-f", cfg], { reject: false });
  if (check.exitCode !== 0) throw new Error(`haproxy refused the rendered config: ${check.stderr}`);
  bed.spawn(spec.webNs, "haproxy", ["-db", "-f", cfg]);
}

/** Runs SQL as the site user through the web Pi's local proxy (what WordPress does). */
export function siteSql(spec: RigSpec, sql: string, timeoutMs = 5000) {
  return execa("ip", ["netns", "exec", spec.webNs, "mariadb", "--no-defaults", "-h", "127.0.0.1", "-P", "3306", "-u", spec.workloads.db.user, `-p${spec.secrets[DbSecret.site]}`, "--connect-timeout=1", "-N", "-B", spec.workloads.db.name, "-e", sql], { reject: false, timeout: timeoutMs });
}

/** Runs SQL as the site user straight on a db Pi (not through the proxy). */
export function siteSqlOn(spec: RigSpec, db: RigDb, sql: string) {
  return execa("ip", ["netns", "exec", spec.webNs, "mariadb", "--no-defaults", "-h", db.publicAddress, "-u", spec.workloads.db.user, `-p${spec.secrets[DbSecret.site]}`, "--connect-timeout=1", "-N", "-B", spec.workloads.db.name, "-e", sql], { reject: false, timeout: 5000 });
}

/** Runs SQL as root on a db Pi over its socket (the test's view inside the Pi). */
export function localSql(db: RigDb, sql: string) {
  return execa("ip", ["netns", "exec", db.ns, "mariadb", `--defaults-file=${layoutFiles(layoutUnder(db.root)).localClient}`, "-N", "-B", "-e", sql], { reject: false, timeout: 10_000 });
}

/** kill -9 of this Pi's mariadbd only (by pid from its namespace; never by name across the host). */
export function crashRigMariadbd(db: RigDb): number {
  const pids = execFileSync("ip", ["netns", "pids", db.ns]).toString().split(/\s+/).filter(Boolean);
  let killed = 0;
  for (const pid of pids) {
    let comm = "";
    try {
      comm = readFileSync(`/proc/${pid}/comm`, "utf8").trim();
    } catch {
      continue; // Exited meanwhile.
    }
    if (comm !== "mariadbd") continue;
    process.kill(Number(pid), "SIGKILL");
    killed++;
  }
  if (killed === 0) throw new Error(`no mariadbd runs in ${db.ns}`);
  return killed;
}
