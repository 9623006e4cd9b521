/**
 * `pirack serve` running the db failover for real: a fileserver namespace with pirack and the simulated PoE switch
 * (switch/sim's own entry, the qbridge driver over SNMP), two db Pi namespaces and a web Pi namespace on one bridge,
 * addressed as pirack plans them (storage /30s of ports 1-2, public fd77::11-13). The Pi roots are directories that
 * `pirack workloads apply` fills with Debian-layout files; a Pi "boots" what systemd would run from its root, in a
 * private mount namespace with the root's /etc/mysql, /var/lib, /run, /usr/local and /tmp bound over the host's.
 * PoE off from the switch kills every process of the Pi's namespace; PoE on boots it again.
 */
import { execFileSync, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { chmod, cp, mkdir, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { execa, type ResultPromise } from "execa";
import { freePort } from "./free-port.ts";
import { TestBed, waitFor } from "./netns.ts";

const repo = new URL("../..", import.meta.url).pathname;
const pirack = join(repo, "bin/pirack.mjs");

/** One Pi of the bed. */
export interface BedPi {
  readonly name: string;
  readonly port: number;
  readonly ns: string;
  readonly root: string;
  readonly storage: string;
  readonly server: string;
  readonly publicAddress: string;
}

/** A line of serve's log or an event of the switch, with when the test saw it. */
export type Seen = Record<string, unknown> & { seenAt: number; source: "serve" | "switch" };

/** The bed. `cleanup()` removes namespaces, processes and files. */
export class ServeDbBed {
  readonly bed = new TestBed();
  dir = "";
  fs = "";
  web!: BedPi;
  dbs: BedPi[] = [];
  readonly seen: Seen[] = [];
  simPort = 0;
  private serveChild: ResultPromise | undefined;

  get config(): string {
    return join(this.dir, "rack.yaml");
  }

  get socket(): string {
    return join(this.dir, "sysroot/run/pirack/api.sock");
  }

  /** Namespaces, roots (files applied by `pirack workloads apply`), the switch. */
  async setUp(): Promise<void> {
    this.dir = await mkdtemp(join("/var/tmp", "pirack-servedb-"));
    await chmod(this.dir, 0o755);
    const sw = await this.bed.namespace("sdsw");
    await this.bed.exec(sw, "ip", ["link", "add", "br0", "type", "bridge"]);
    await this.bed.exec(sw, "ip", ["link", "set", "br0", "up"]);
    const attach = async (ns: string, peer: string, addrs: string[]) => {
      await this.bed.veth({ left: { ns, name: "eth0" }, right: { ns: sw, name: peer } });
      await this.bed.exec(sw, "ip", ["link", "set", peer, "master", "br0"]);
      for (const a of addrs) await this.bed.exec(ns, "ip", ["addr", "add", a, "dev", "eth0", ...(a.includes(":") ? ["nodad"] : [])]);
    };
    this.fs = await this.bed.namespace("sdfs");
    // The fileserver's end of each Pi's storage /30 (eth0.N on a rack; one flat link here) and the public VLAN.
    await attach(this.fs, "pfs", ["10.46.189.1/30", "10.46.189.5/30", "10.46.189.9/30", "fd77::1/64"]);
    const pis: BedPi[] = [];
    for (const [port, name] of [
      [1, "db1"],
      [2, "db2"],
      [3, "web1"],
    ] as const) {
      const ns = await this.bed.namespace(`sd${name}`);
      const storage = `10.46.189.${(port - 1) * 4 + 2}`;
      const publicAddress = `fd77::1${port}`;
      await attach(ns, `p${name}`, [`${storage}/30`, `${publicAddress}/64`]);
      pis.push({ name, port, ns, root: join(this.dir, "export", storage), storage, server: `10.46.189.${(port - 1) * 4 + 1}`, publicAddress });
    }
    this.dbs = pis.filter((p) => p.name.startsWith("db"));
    this.web = pis.find((p) => p.name === "web1")!;
    for (const pi of pis) await this.makeRoot(pi, pi.name.startsWith("db") ? "db" : "web");
    await mkdir(join(this.dir, "firmware"), { recursive: true });

    this.simPort = await freePort();
    const sim = this.bed.spawn(this.fs, "node", ["--import", "tsx", join(repo, "switch/sim/main.ts"), "--port", String(this.simPort), "--profile", "generic", "--ports", "24"]);
    createInterface({ input: sim.stdout! }).on("line", (l) => this.onSwitchLine(l));
    await waitFor(() => this.seen.find((s) => s.source === "switch" && s.msg === "listening"), "simulated switch listening", 60_000);
    await writeFile(this.config, this.rackYaml());
    const apply = await execa("node", [pirack, "workloads", "apply", "--config", this.config], { reject: false });
    if (apply.exitCode !== 0) throw new Error(`pirack workloads apply failed: ${apply.stdout}\n${apply.stderr}`);
  }

  /** rack.yaml of the bed: ports 1-3 (db1, db2, web1), the switch in the fileserver namespace. */
  rackYaml(): string {
    const d = this.dir;
    return `shelf: sd
fileserver: { interface: eth0, switchPort: 24, manageInterfaces: false }
storage: { network: 10.46.189.0/24, firstVlan: 10 }
public: { prefix: "fd77::/64", gateway: "fd77::1", firstAddress: "fd77::11" }
ports: 1-3
boot: { firmware: ${d}/firmware }
paths: { exports: ${d}/export, images: ${d}/images, state: ${d}/state }
image: golden
nfs: { server: none }
enrol: manual
switch: { driver: qbridge, host: 127.0.0.1, port: ${this.simPort}, snmp: { version: "2c", community: private }, poe: true, timeoutMs: 500, retries: 2 }
pis:
  - { port: 1, name: db1, role: db }
  - { port: 2, name: db2, role: db }
  - { port: 3, name: web1, role: web }
workloads:
  db: { bufferPoolMb: 32, failover: { intervalMs: 1000, timeoutMs: 5000 } }
`;
  }

  /** A Pi root as a role layer clone would have it: hostname, groups, the layer manifest, Debian's /etc/mysql. */
  private async makeRoot(pi: BedPi, role: string): Promise<void> {
    for (const d of ["etc/pirack", "var/lib", "run", "tmp", "usr/local"]) await mkdir(join(pi.root, d), { recursive: true });
    await chmod(join(pi.root, "tmp"), 0o1777);
    await writeFile(join(pi.root, "etc/hostname"), `${pi.name}\n`);
    await cp("/etc/group", join(pi.root, "etc/group"));
    await writeFile(join(pi.root, "etc/pirack/layer.json"), JSON.stringify({ role }));
    if (role === "db") await cp("/etc/mysql", join(pi.root, "etc/mysql"), { recursive: true });
  }

  /** Boots a db Pi: prepare, mariadbd, init (retried like Restart=on-failure), the health socket. */
  bootDb(pi: BedPi): void {
    const r = pi.root;
    const script = [
      "set -e",
      "mount --make-rprivate /",
      `mount --bind '${r}/etc/mysql' /etc/mysql`,
      `mount --bind '${r}/var/lib' /var/lib`,
      `mount --bind '${r}/run' /run`,
      `mount --bind '${r}/usr/local' /usr/local`,
      `mount --bind '${r}/tmp' /tmp`,
      "bash /usr/local/lib/pirack/db-prepare",
      `mariadbd --defaults-file=/etc/mysql/my.cnf --log-error='${r}/mariadb.err' &`,
      "for i in $(seq 1 60); do bash /usr/local/lib/pirack/db-init && break; sleep 1; done",
      "exec systemd-socket-activate --accept --inetd -l 8306 bash /usr/local/lib/pirack/db-health",
    ].join("\n");
    const child = spawn("ip", ["netns", "exec", pi.ns, "unshare", "--mount", "--propagation", "private", "bash", "-c", script], { stdio: "ignore", detached: true });
    child.unref();
  }

  /** Every process in a Pi's namespace killed at once (power gone). */
  powerOff(pi: BedPi): number {
    const pids = execFileSync("ip", ["netns", "pids", pi.ns]).toString().split(/\s+/).filter(Boolean);
    for (const pid of pids) {
      try {
        process.kill(Number(pid), "SIGKILL");
      } catch {
        // Already gone.
      }
    }
    return pids.length;
  }

  /** kill -9 of the Pi's mariadbd only. */
  crashMariadbd(pi: BedPi): void {
    const pids = execFileSync("ip", ["netns", "pids", pi.ns]).toString().split(/\s+/).filter(Boolean);
    const victims = pids.filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/comm`, "utf8").trim() === "mariadbd";
      } catch {
        return false; // Exited meanwhile.
      }
    });
    if (victims.length === 0) throw new Error(`no mariadbd in ${pi.ns}`);
    for (const pid of victims) process.kill(Number(pid), "SIGKILL");
  }

  /** HAProxy on the web Pi with the config pirack rendered into its root. */
  startProxy(): void {
    this.bed.spawn(this.web.ns, "haproxy", ["-db", "-f", join(this.web.root, "etc/haproxy/haproxy.cfg")]);
  }

  /** SQL as the site user through the web Pi's proxy (what WordPress does). */
  async siteSql(sql: string, timeoutMs = 5000) {
    const secrets = JSON.parse(await readFile(join(this.dir, "state/workloads/secrets.json"), "utf8")) as Record<string, string>;
    return this.bed.exec(this.web.ns, "mariadb", ["--no-defaults", "-h", "127.0.0.1", "-P", "3306", "-u", "wordpress", `-p${secrets["db.sitePassword"]}`, "--connect-timeout=1", "-N", "-B", "wordpress", "-e", sql], { timeoutMs });
  }

  /** SQL as root on a db Pi over its socket, inside its mount view. */
  localSql(pi: BedPi, sql: string) {
    return this.bed.exec(pi.ns, "mariadb", ["--no-defaults", "-S", `${pi.root}/run/mysqld/mysqld.sock`, "-u", "root", "-N", "-B", "-e", sql], { timeoutMs: 10_000 });
  }

  /** Starts `pirack serve` in the fileserver namespace. */
  async startServe(): Promise<void> {
    const from = this.seen.length;
    this.serveChild = this.bed.spawn(this.fs, "node", [
      pirack,
      "serve",
      "--config",
      this.config,
      "--sysroot",
      join(this.dir, "sysroot"),
      "--listen",
      `127.0.0.1:${await freePort()}`,
      "--dhcp-port",
      String(await freePort()),
      "--tftp-listen",
      `127.0.0.1:${await freePort()}`,
    ]);
    createInterface({ input: this.serveChild.stdout! }).on("line", (l) => {
      try {
        this.seen.push({ ...(JSON.parse(l) as Record<string, unknown>), seenAt: Date.now(), source: "serve" });
      } catch {
        // Not a log line.
      }
    });
    await this.waitSeen((s) => s.source === "serve" && s.msg === "reconcile pass finished" && s.reason === "startup", "serve's first pass", 120_000, from);
  }

  /** SIGTERM to serve; its exit code. */
  async stopServe(): Promise<number | undefined> {
    const child = this.serveChild;
    this.serveChild = undefined;
    child?.kill("SIGTERM");
    return (await child)?.exitCode;
  }

  waitSeen(match: (s: Seen) => boolean, what: string, timeoutMs = 60_000, from = 0): Promise<Seen> {
    return waitFor(() => this.seen.slice(from).find(match), what, timeoutMs);
  }

  /** The API over serve's unix socket (no token). */
  async api(path: string, init: { method?: string; body?: unknown } = {}): Promise<{ status: number; body: unknown }> {
    const args = ["-s", "--max-time", "600", "--unix-socket", this.socket, "-w", "\n%{http_code}", `http://pirack${path}`];
    if (init.method) args.push("-X", init.method, "-H", "content-type: application/json", "-d", JSON.stringify(init.body ?? {}));
    const r = await execa("curl", args, { reject: false, timeout: 620_000 });
    const nl = r.stdout.lastIndexOf("\n");
    const text = r.stdout.slice(0, nl);
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // /metrics is text.
    }
    return { status: Number(r.stdout.slice(nl + 1)), body };
  }

  private onSwitchLine(line: string): void {
    let e: Record<string, unknown>;
    try {
      e = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    this.seen.push({ ...e, seenAt: Date.now(), source: "switch" });
    if (e.msg !== "event" || e.kind !== "poe") return;
    const pi = this.dbs.find((d) => d.port === e.port);
    if (!pi) return;
    // pethPsePortDetectionStatus: 1 disabled (PoE off), 3 deliveringPower.
    if (e.detection === 1) this.powerOff(pi);
    if (e.detection === 3) this.bootDb(pi);
  }

  async cleanup(): Promise<void> {
    await this.stopServe().catch(() => undefined);
    for (const pi of this.dbs) this.powerOff(pi);
    await this.bed.cleanup();
    if (this.dir) await execa("rm", ["-rf", "--", this.dir], { reject: false });
  }
}
