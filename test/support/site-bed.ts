/**
 * The site on the host for the workloads integration test and bench/site: one namespace per role node on a shared
 * IPv6 network (a bridge in its own namespace) plus a client namespace standing in for the fileserver and the
 * visitors; nginx + php-fpm + Debian's wordpress on two web nodes, nginx as the CDN, a plain mariadbd (datadir in a
 * temp dir) on a db node. Each web node reaches the database through socat on 127.0.0.1:3306, standing in for
 * the db role's local proxy. Every file comes from pirack's plan of a rack.yaml; everything is torn down by `stop`.
 */
import { execa } from "execa";
import { existsSync } from "node:fs";
import { mkdtemp, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "vitest";
import { parseConfigText } from "../../appliance/config.ts";
import { planRack } from "../../appliance/plan.ts";
import { CdnController, probeWeb, renderCluster, requiredSecrets, ROLES, upstreamWriter, type Cluster, type WorkloadsConfig } from "../../workloads/index.ts";
import { nodesOf } from "../../workloads/role.ts";
import { DbRunner } from "./db-runner-client.ts";
import { TestBed, waitFor } from "./netns.ts";
import { openForMysql, type RigDb, type RigSpec } from "./workloads-db-rig.ts";
import { prepareNodeRoot, spawnInNode } from "./workload-node.ts";

/** Debian binaries the site needs (from .ci/apt-packages). */
export const SITE_TOOLS = ["/usr/sbin/nginx", "/usr/sbin/php-fpm8.2", "/usr/sbin/mariadbd", "/usr/bin/mariadb-install-db", "/usr/bin/socat", "/usr/share/wordpress/wp-settings.php"];

const SITE = "http://www.pirack.test";
/** The Host every request carries (Debian's wordpress and the CDN key on it). */
export const SITE_HOST = "www.pirack.test";

/**
 * The db pair's settings: a small buffer pool, and health polls a loaded 2-core machine answers in time (bash and
 * the mariadb client take 0.5-1 s there); the 5 s failover goal is bench/site/failover.ts's to measure.
 */
const DB_PAIR_WORKLOADS = "  db: { bufferPoolMb: 32, failover: { intervalMs: 1000, timeoutMs: 5000 } }\n";

/** A running site. */
export class SiteBed {
  readonly bed = new TestBed();
  dir = "";
  cluster!: Cluster;
  workloads!: WorkloadsConfig;
  rackFile = "";
  controller!: CdnController;
  readonly ns: Record<string, string> = {};
  readonly roots: Record<string, string> = {};
  private readonly web = new Map<string, { nginx?: ReturnType<typeof spawnInNode> }>();
  private uploads = "";
  private requestNo = 0;

  /** The db pair's runner (pirack's failover controller and the PoE switch) when `dbPair` is set. */
  dbRunner: DbRunner | undefined;
  /** The db pair as the rig's helpers take it (`localSql`, `crashRigMariadbd`). */
  dbSpec: RigSpec | undefined;

  /** `dbPair`: two db Pis running the db role (GTID replication, health endpoint, HAProxy on each web Pi, failover). */
  constructor(private readonly opts: { cacheSeconds: number; weights: Record<string, number>; dbPair?: boolean }) {}

  /** This run's /64 group: four hex digits of the run id, written as pirack writes addresses (no leading zeros). */
  private get group(): string {
    return parseInt(this.bed.id.slice(0, 4), 16).toString(16);
  }

  /** Public address of port n: `fd42:<run>::n`. */
  addr(n: number): string {
    return `fd42:${this.group}::${n}`;
  }

  /** The rack as an operator writes it. */
  rackYaml(): string {
    const p = `fd42:${this.group}`;
    const weights = Object.entries(this.opts.weights).map(([k, v]) => `${k}: ${v}`).join(", ");
    return `
storage: { network: 10.46.189.0/24 }
public: { prefix: "${p}::/64", gateway: "${p}::ffff", firstAddress: "${p}::1" }
ports: ${this.opts.dbPair ? "1-5" : "1-4"}
switch: { driver: none }
pis:
  - { port: 1, name: cdn1, role: cdn }
  - { port: 2, name: web1, role: web }
  - { port: 3, name: web2, role: web }
  - { port: 4, name: db1, role: db }
${this.opts.dbPair ? "  - { port: 5, name: db2, role: db }\n" : ""}workloads:
  site: { name: www, url: "${SITE}", title: Pirack Test Site }
  cdn: { cacheSeconds: ${this.opts.cacheSeconds}, weights: { ${weights} }, health: { fails: 2, rises: 2 } }
${this.opts.dbPair ? DB_PAIR_WORKLOADS : ""}`;
  }

  /** curl from the client namespace to the CDN; returns status, headers and body. */
  async viaCdn(path: string, opts: { cookie?: string; data?: string } = {}) {
    const headerFile = join(this.dir, `headers-${++this.requestNo}`);
    const args = ["-sS", "-g", "-o", "-", "-D", headerFile, "-H", `Host: ${SITE_HOST}`, "--max-time", "30"];
    if (opts.cookie) args.push("-H", `Cookie: ${opts.cookie}`);
    if (opts.data !== undefined) args.push("--data", opts.data);
    const r = await this.bed.exec(this.ns.client!, "curl", [...args, `http://[${this.addr(1)}]${path}`], { timeoutMs: 40_000 });
    const headers = new Map<string, string>();
    let status = 0;
    const text = await readFile(headerFile, "utf8").catch(() => "");
    await rm(headerFile, { force: true });
    for (const line of text.split(/\r?\n/)) {
      const m = /^HTTP\/[\d.]+ (\d+)/.exec(line);
      if (m) status = Number(m[1]);
      const h = /^([A-Za-z-]+):\s*(.*)$/.exec(line);
      if (h) headers.set(h[1]!.toLowerCase(), h[2]!);
    }
    return { status, headers, body: r.stdout, error: r.stderr };
  }

  /**
   * Publishes a post through the CDN with WordPress's XML-RPC `wp.newPost` (as a blogging client would); the
   * post's id, or undefined when the site did not acknowledge it (the reason in `error`).
   */
  async publish(title: string, auth: { user: string; password: string }, maxSeconds = 5): Promise<{ id?: number; status: number; error?: string }> {
    const esc = (t: string) => t.replace(/&/g, "&amp;").replace(/</g, "&lt;");
    const str = (t: string) => `<value><string>${esc(t)}</string></value>`;
    const member = (name: string, value: string) => `<member><name>${name}</name>${str(value)}</member>`;
    const body = `<?xml version="1.0"?><methodCall><methodName>wp.newPost</methodName><params><param><value><int>1</int></value></param><param>${str(auth.user)}</param><param>${str(auth.password)}</param><param><value><struct>${member("post_title", title)}${member("post_status", "publish")}${member("post_content", `Published by the failover test: ${title}.`)}</struct></value></param></params></methodCall>`;
    const r = await this.bed.exec(this.ns.client!, "curl", ["-sS", "-g", "-o", "-", "-w", "\n%{http_code}", "-H", `Host: ${SITE_HOST}`, "-H", "Content-Type: text/xml", "--max-time", String(maxSeconds), "--data-binary", body, `http://[${this.addr(1)}]/xmlrpc.php`], { timeoutMs: (maxSeconds + 10) * 1000 });
    const status = Number(/(\d{3})$/.exec(r.stdout)?.[1] ?? 0);
    const id = /<methodResponse>\s*<params>\s*<param>\s*<value>\s*<string>(\d+)<\/string>/.exec(r.stdout)?.[1];
    if (status === 200 && id) return { id: Number(id), status };
    return { status, error: (r.stderr || r.stdout).slice(0, 300) };
  }

  /** A fetch for the controller's probes, run from the client namespace (the "fileserver") through curl. */
  readonly fetchInClient: typeof fetch = async (input, init) => {
    const url = String(input);
    const host = new Headers(init?.headers).get("host") ?? "";
    const r = await this.bed.exec(this.ns.client!, "curl", ["-sS", "-g", "-o", "-", "-w", "\n%{http_code}", "-H", `Host: ${host}`, "--max-time", "2", url], { timeoutMs: 10_000 });
    const body = r.stdout.replace(/\n\d{3}$/, "");
    const code = Number(/(\d{3})$/.exec(r.stdout)?.[1] ?? 0);
    if (code === 0) throw Object.assign(new Error(r.stderr.trim()), { cause: { code: `curl exit ${r.exitCode}` } });
    return new Response(body, { status: code });
  };

  /** Starts a web node's nginx and waits until it serves a static file. */
  async startWebNginx(name: string): Promise<void> {
    const p = spawnInNode(this.bed, this.ns[name]!, this.roots[name]!, ["nginx", "-g", "daemon off;"], this.uploads);
    this.web.set(name, { nginx: p });
    const address = this.cluster.nodes.find((n) => n.name === name)!.publicAddress;
    await waitFor(async () => ((await this.bed.exec(this.ns.client!, "curl", ["-s", "-g", "-o", "/dev/null", `http://[${address}]/wp-includes/css/dashicons.min.css`])).exitCode === 0 ? true : undefined), `${name} nginx`, 20_000);
  }

  /** Stops a web node's nginx (SIGTERM: the master takes its workers down). */
  async stopWebNginx(name: string): Promise<void> {
    const p = this.web.get(name)?.nginx;
    p?.kill("SIGTERM");
    await p;
  }

  /** Builds the network, renders and prepares every root, starts every daemon and the controller (not its loop). */
  async start(): Promise<void> {
    const bed = this.bed;
    const ns = this.ns;
    const roots = this.roots;
    this.dir = await mkdtemp(join(tmpdir(), "pirack-wl-"));
    bed.defer(() => rm(this.dir, { recursive: true, force: true }));
    const dir = this.dir;
    this.uploads = join(dir, "shared-uploads");
    const uploads = this.uploads;
    await mkdir(uploads);
    await execa("chown", ["33:33", uploads]);

    // The shared public VLAN: a bridge in its own namespace, one veth per node.
    const sw = await bed.namespace("wlsw");
    await execa("ip", ["-n", sw, "link", "add", "br0", "type", "bridge"]);
    await execa("ip", ["-n", sw, "link", "set", "br0", "up"]);
    this.rackFile = join(dir, "rack.yaml");
    await writeFile(this.rackFile, this.rackYaml());
    const parsed = parseConfigText(this.rackYaml());
    if (!parsed.ok) throw new Error(parsed.problems.join("\n"));
    const workloads = (this.workloads = parsed.config.workloads);
    const cluster = (this.cluster = planRack(parsed.config).workloads.cluster);
    const nodes = cluster.nodes;
    const addr = (n: number) => this.addr(n);
    const names = ["cdn1", "web1", "web2", "db1", ...(this.opts.dbPair ? ["db2"] : [])];
    expect(nodes.map((n) => `${n.name} ${n.publicAddress}`)).toEqual(names.map((n, i) => `${n} ${addr(i + 1)}`));
    const all = [...nodes.map((n) => [n.name, n.publicAddress] as const), ["client", addr(99)] as const];
    for (const [i, [name, address]] of all.entries()) {
      ns[name] = await bed.namespace(`wl${name}`);
      await bed.veth({ left: { ns: ns[name]!, name: "eth0" }, right: { ns: sw, name: `p${i}` } });
      await execa("ip", ["-n", sw, "link", "set", `p${i}`, "master", "br0"]);
      await execa("ip", ["-n", ns[name]!, "addr", "add", `${address}/64`, "dev", "eth0", "nodad"]);
    }

    // Secrets as pirack generates them (random), and every node's files from the real renderers.
    const secrets = Object.fromEntries(requiredSecrets(cluster, ROLES).map((s) => [s.name, `t${bed.id}${s.name.replace(/\W/g, "")}`]));
    const files = renderCluster(cluster, workloads, secrets, ROLES);
    for (const n of nodes.filter((n) => n.role !== "db")) {
      roots[n.name] = join(dir, n.name);
      await prepareNodeRoot(roots[n.name]!, ROLES[n.role]!, files.get(n.name)!);
    }

    if (this.opts.dbPair) await this.startDbPair(secrets);
    else await this.startPlainDb(secrets);

    for (const name of ["web1", "web2"]) {
      // The db role's local proxy (HAProxy, the rendered config) with a db pair; a plain TCP relay to the one db else.
      if (this.opts.dbPair) bed.spawn(ns[name]!, "haproxy", ["-db", "-f", join(roots[name]!, "etc/haproxy/haproxy.cfg")]);
      else bed.spawn(ns[name]!, "socat", ["TCP-LISTEN:3306,bind=127.0.0.1,fork,reuseaddr", `TCP6:[${addr(4)}]:3306`]);
      spawnInNode(bed, ns[name]!, roots[name]!, ["php-fpm8.2", "--nodaemonize", "--fpm-config", "/etc/php/8.2/fpm/php-fpm.conf"], uploads);
      await waitFor(() => (existsSync(join(roots[name]!, "run/php/php8.2-fpm.sock")) ? true : undefined), `${name} php-fpm`, 30_000);
      await this.startWebNginx(name);
    }
    spawnInNode(bed, ns.cdn1!, roots.cdn1!, ["nginx", "-g", "daemon off;"]);
    // The CDN Pi's 1 s reload timer, as a loop running the rendered script.
    spawnInNode(bed, ns.cdn1!, roots.cdn1!, ["sh", "-c", "while :; do /usr/local/sbin/pirack-cdn-reload; sleep 0.5; done"]);
    await waitFor(async () => ((await this.viaCdn("/pirack-cdn-health")).status === 200 ? true : undefined), "cdn nginx", 20_000);

    this.controller = new CdnController({
      webs: cluster.nodes.filter((n) => n.role === "web").map((n) => ({ name: n.name, address: n.publicAddress, weight: workloads.cdn.weights[n.name] ?? 1 })),
      thresholds: workloads.cdn.health,
      probe: (name) => probeWeb(cluster.nodes.find((n) => n.name === name)!, { fetch: this.fetchInClient, timeoutMs: 2000, workloads, cluster }),
      writeUpstream: upstreamWriter([roots.cdn1!]),
      log: { info: () => undefined, warn: () => undefined },
    });
  }

  /** db1: a plain mariadbd with its own datadir and the site's account (no db role). */
  private async startPlainDb(secrets: Record<string, string>): Promise<void> {
    const { bed, ns, dir } = this;
    const data = join(dir, "db1-data");
    await execa("mariadb-install-db", ["--no-defaults", `--datadir=${data}`, "--user=root", "--auth-root-authentication-method=socket", "--skip-test-db"]);
    const sock = join(dir, "db1.sock");
    bed.spawn(ns.db1!, "mariadbd", ["--no-defaults", `--datadir=${data}`, `--socket=${sock}`, `--pid-file=${join(dir, "db1.pid")}`, "--user=root", "--bind-address=::", "--port=3306", "--skip-name-resolve"]);
    await waitFor(async () => ((await bed.exec(ns.db1!, "mariadb", [`--socket=${sock}`, "-e", "SELECT 1"])).exitCode === 0 ? true : undefined), "mariadbd", 60_000);
    const sql = `CREATE DATABASE wordpress; CREATE USER 'wordpress'@'%' IDENTIFIED BY '${secrets["db.sitePassword"]}'; GRANT ALL ON wordpress.* TO 'wordpress'@'%';`;
    expect((await bed.exec(ns.db1!, "mariadb", [`--socket=${sock}`, "-e", sql])).exitCode).toBe(0);
  }

  /**
   * db1 and db2 running the db role (rendered files, real mariadbd, the health endpoint) with pirack's failover
   * controller and a simulated PoE switch in the client namespace, which stands in for the fileserver: it holds
   * each db Pi's storage /30 (`.1`), the Pi its `.2`, on the same wire as the public network.
   */
  private async startDbPair(secrets: Record<string, string>): Promise<void> {
    const { bed, ns, dir } = this;
    const dbs: RigDb[] = [];
    for (const n of nodesOf(this.cluster, "db")) {
      await execa("ip", ["-n", ns[n.name]!, "addr", "add", `${n.storageAddress}/30`, "dev", "eth0"]);
      await execa("ip", ["-n", ns.client!, "addr", "add", `${n.serverAddress}/30`, "dev", "eth0"]);
      const root = join(dir, n.name);
      await mkdir(root, { recursive: true });
      await openForMysql(root);
      dbs.push({ name: n.name, port: n.port, ns: ns[n.name]!, root, storageAddress: n.storageAddress, publicAddress: n.publicAddress });
    }
    await openForMysql(dir);
    const spec: RigSpec = { id: bed.id, base: dir, fsNs: ns.client!, webNs: ns.web1!, webPublic: this.addr(2), fsAddress: nodesOf(this.cluster, "db")[0]!.serverAddress, dbs, secrets, workloads: this.workloads, cluster: this.cluster };
    this.dbSpec = spec;
    this.dbRunner = new DbRunner(bed, spec);
    await this.dbRunner.ready();
  }

  /** Kills every process of the run and removes every namespace and file. */
  async stop(): Promise<void> {
    // php-fpm and nginx workers outlive a SIGKILLed master and hold the test's pipes open: kill every process
    // in this run's namespaces first, then let the bed remove them. Again until none is left: a master killed
    // after one of its workers has already forked a new one, which the first listing did not name (CI: the
    // bed's cleanup then waited for that worker's pipes past the hook's minute).
    for (let round = 0; round < 50; round++) {
      let left = 0;
      for (const name of Object.values(this.ns)) {
        const pids = (await execa("ip", ["netns", "pids", name], { reject: false })).stdout.split(/\s+/).filter(Boolean);
        left += pids.length;
        for (const pid of pids) {
          try {
            process.kill(Number(pid), "SIGKILL");
          } catch {
            // Already gone.
          }
        }
      }
      if (left === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await this.bed.cleanup();
  }
}
