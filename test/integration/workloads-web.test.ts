/**
 * The site on real Debian daemons with pirack's rendered configs: one namespace per role node on a shared IPv6
 * network (a bridge in its own namespace), nginx + php-fpm + Debian's wordpress in two web namespaces, nginx as
 * the CDN in one, and a plain mariadbd (datadir in a temp dir) in a db namespace. Each web namespace reaches the
 * database through socat on 127.0.0.1:3306, standing in for the db role's local proxy.
 * WordPress is installed over HTTP; the CDN answers MISS then HIT, bypasses for logged-in cookies, splits
 * traffic by weight, drains a stopped web Pi through pirack's controller and serves stale when every web is down.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execa } from "execa";
import { existsSync } from "node:fs";
import { mkdtemp, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isRoot, TestBed, waitFor } from "../support/netns.ts";
import { execInNode, prepareNodeRoot, spawnInNode } from "../support/workload-node.ts";
import { CdnController, probeWeb, renderCluster, requiredSecrets, ROLES, UPSTREAM_FILE, upstreamWriter, type Cluster, type WorkloadsConfig } from "../../workloads/index.ts";
import { parseConfigText } from "../../appliance/config.ts";
import { planRack } from "../../appliance/plan.ts";

const TOOLS = ["/usr/sbin/nginx", "/usr/sbin/php-fpm8.2", "/usr/sbin/mariadbd", "/usr/bin/mariadb-install-db", "/usr/bin/socat", "/usr/share/wordpress/wp-settings.php"];
const missing = TOOLS.filter((t) => !existsSync(t));
const skip = !isRoot() ? "needs root (namespaces)" : missing.length ? `needs ${missing.join(", ")} (.ci/apt-packages)` : "";

const SITE = "http://www.pirack.test";
const HOST = "www.pirack.test";

describe.skipIf(skip !== "")(`workloads: web tier and cdn on real daemons${skip ? ` (skipped: ${skip})` : ""}`, () => {
  const bed = new TestBed();
  let dir: string;
  let cluster: Cluster;
  const addr = (n: number) => `fd42:${bed.id.slice(0, 4)}::${n}`;
  const ns: Record<string, string> = {};
  const roots: Record<string, string> = {};
  const web = new Map<string, { nginx?: ReturnType<typeof spawnInNode> }>();
  let uploads: string;
  let controller: CdnController;
  // The rack as an operator writes it; the cluster and every file come from pirack's own plan of it.
  const rackYaml = () => `
storage: { network: 10.46.189.0/24 }
public: { prefix: "fd42:${bed.id.slice(0, 4)}::/64", gateway: "fd42:${bed.id.slice(0, 4)}::ffff", firstAddress: "fd42:${bed.id.slice(0, 4)}::1" }
ports: 1-4
switch: { driver: none }
pis:
  - { port: 1, name: cdn1, role: cdn }
  - { port: 2, name: web1, role: web }
  - { port: 3, name: web2, role: web }
  - { port: 4, name: db1, role: db }
workloads:
  site: { name: www, url: "${SITE}", title: Pirack Test Site }
  # web1 gets one request in twelve (the story's share for one Pi).
  cdn: { cacheSeconds: 3, weights: { web1: 1, web2: 11 }, health: { fails: 2, rises: 2 } }
`;
  let workloads: WorkloadsConfig;
  let rackFile: string;

  /** curl from the client namespace to the CDN; returns status, headers and body. */
  let requestNo = 0;
  async function viaCdn(path: string, opts: { cookie?: string; data?: string } = {}) {
    const headerFile = join(dir, `headers-${++requestNo}`);
    const args = ["-sS", "-g", "-o", "-", "-D", headerFile, "-H", `Host: ${HOST}`, "--max-time", "30"];
    if (opts.cookie) args.push("-H", `Cookie: ${opts.cookie}`);
    if (opts.data !== undefined) args.push("--data", opts.data);
    const r = await bed.exec(ns.client!, "curl", [...args, `http://[${addr(1)}]${path}`], { timeoutMs: 40_000 });
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

  const fetchInClient: typeof fetch = async (input, init) => {
    // The controller's probes run from the "fileserver": here the client namespace, through curl.
    const url = String(input);
    const host = new Headers(init?.headers).get("host") ?? "";
    const r = await bed.exec(ns.client!, "curl", ["-sS", "-g", "-o", "-", "-w", "\n%{http_code}", "-H", `Host: ${host}`, "--max-time", "2", url], { timeoutMs: 10_000 });
    if (r.exitCode !== 0 && !/\n\d{3}$/.test(r.stdout)) throw Object.assign(new Error(r.stderr.trim()), { cause: { code: `curl exit ${r.exitCode}` } });
    const body = r.stdout.replace(/\n\d{3}$/, "");
    const code = Number(/(\d{3})$/.exec(r.stdout)?.[1] ?? 0);
    if (code === 0) throw Object.assign(new Error(r.stderr.trim()), { cause: { code: `curl exit ${r.exitCode}` } });
    return new Response(body, { status: code });
  };

  async function startWebNginx(name: string) {
    const p = spawnInNode(bed, ns[name]!, roots[name]!, ["nginx", "-g", "daemon off;"], uploads);
    web.set(name, { nginx: p });
    await waitFor(async () => ((await bed.exec(ns.client!, "curl", ["-s", "-g", "-o", "/dev/null", `http://[${cluster.nodes.find((n) => n.name === name)!.publicAddress}]/wp-includes/css/dashicons.min.css`])).exitCode === 0 ? true : undefined), `${name} nginx`, 20_000);
  }

  async function stopWebNginx(name: string) {
    const p = web.get(name)?.nginx;
    p?.kill("SIGTERM");
    await p;
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "pirack-wl-"));
    bed.defer(() => rm(dir, { recursive: true, force: true }));
    uploads = join(dir, "shared-uploads");
    await mkdir(uploads);
    await execa("chown", ["33:33", uploads]);

    // The shared public VLAN: a bridge in its own namespace, one veth per node.
    const sw = await bed.namespace("wlsw");
    await execa("ip", ["-n", sw, "link", "add", "br0", "type", "bridge"]);
    await execa("ip", ["-n", sw, "link", "set", "br0", "up"]);
    rackFile = join(dir, "rack.yaml");
    await writeFile(rackFile, rackYaml());
    const parsed = parseConfigText(rackYaml());
    if (!parsed.ok) throw new Error(parsed.problems.join("\n"));
    workloads = parsed.config.workloads;
    cluster = planRack(parsed.config).workloads.cluster;
    const nodes = cluster.nodes;
    expect(nodes.map((n) => `${n.name} ${n.publicAddress}`)).toEqual(["cdn1", "web1", "web2", "db1"].map((n, i) => `${n} ${addr(i + 1)}`));
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

    // db1: plain mariadbd with its own datadir (the db role brings the rendered one).
    const data = join(dir, "db1-data");
    await execa("mariadb-install-db", ["--no-defaults", `--datadir=${data}`, "--user=root", "--auth-root-authentication-method=socket", "--skip-test-db"]);
    const sock = join(dir, "db1.sock");
    bed.spawn(ns.db1!, "mariadbd", ["--no-defaults", `--datadir=${data}`, `--socket=${sock}`, `--pid-file=${join(dir, "db1.pid")}`, "--user=root", "--bind-address=::", "--port=3306", "--skip-name-resolve"]);
    await waitFor(async () => ((await bed.exec(ns.db1!, "mariadb", [`--socket=${sock}`, "-e", "SELECT 1"])).exitCode === 0 ? true : undefined), "mariadbd", 60_000);
    const sql = `CREATE DATABASE wordpress; CREATE USER 'wordpress'@'%' IDENTIFIED BY '${secrets["db.sitePassword"]}'; GRANT ALL ON wordpress.* TO 'wordpress'@'%';`;
    expect((await bed.exec(ns.db1!, "mariadb", [`--socket=${sock}`, "-e", sql])).exitCode).toBe(0);

    for (const name of ["web1", "web2"]) {
      bed.spawn(ns[name]!, "socat", ["TCP-LISTEN:3306,bind=127.0.0.1,fork,reuseaddr", `TCP6:[${addr(4)}]:3306`]);
      spawnInNode(bed, ns[name]!, roots[name]!, ["php-fpm8.2", "--nodaemonize", "--fpm-config", "/etc/php/8.2/fpm/php-fpm.conf"], uploads);
      await waitFor(() => (existsSync(join(roots[name]!, "run/php/php8.2-fpm.sock")) ? true : undefined), `${name} php-fpm`, 30_000);
      await startWebNginx(name);
    }
    spawnInNode(bed, ns.cdn1!, roots.cdn1!, ["nginx", "-g", "daemon off;"]);
    // The CDN Pi's 1 s reload timer, as a loop running the rendered script.
    spawnInNode(bed, ns.cdn1!, roots.cdn1!, ["sh", "-c", "while :; do /usr/local/sbin/pirack-cdn-reload; sleep 0.5; done"]);
    await waitFor(async () => ((await viaCdn("/pirack-cdn-health")).status === 200 ? true : undefined), "cdn nginx", 20_000);

    controller = new CdnController({
      webs: cluster.nodes.filter((n) => n.role === "web").map((n) => ({ name: n.name, address: n.publicAddress, weight: workloads.cdn.weights[n.name] ?? 1 })),
      thresholds: workloads.cdn.health,
      probe: (name) => probeWeb(cluster.nodes.find((n) => n.name === name)!, { fetch: fetchInClient, timeoutMs: 2000, workloads, cluster }),
      writeUpstream: upstreamWriter([roots.cdn1!]),
      log: { info: () => undefined, warn: () => undefined },
    });
  }, 240_000);

  afterAll(async () => {
    // php-fpm and nginx workers outlive a SIGKILLed master and hold the test's pipes open: kill every process
    // in this run's namespaces first, then let the bed remove them.
    for (const name of Object.values(ns)) {
      const pids = (await execa("ip", ["netns", "pids", name], { reject: false })).stdout.split(/\s+/).filter(Boolean);
      for (const pid of pids) {
        try {
          process.kill(Number(pid), "SIGKILL");
        } catch {
          // Already gone.
        }
      }
    }
    await bed.cleanup();
  }, 60_000);

  it("the rendered nginx configs pass nginx -t on each node", async () => {
    for (const name of ["cdn1", "web1", "web2"]) {
      const r = await execInNode(bed, ns[name]!, roots[name]!, ["nginx", "-t", "-q"]);
      expect(r.stderr, name).toBe("");
      expect(r.exitCode, name).toBe(0);
    }
  });

  it("installs WordPress over HTTP through the CDN (admin routed to the primary web Pi)", async () => {
    const form = new URLSearchParams({ weblog_title: "Pirack Test Site", user_name: "admin", admin_password: "Adm1n-pass-word", admin_password2: "Adm1n-pass-word", admin_email: "admin@pirack.test", blog_public: "1", pw_weak: "1", language: "" });
    const r = await viaCdn("/wp-admin/install.php?step=2", { data: form.toString() });
    expect(r.status).toBe(200);
    expect(r.body).toContain("Success!");
    expect(r.headers.get("x-served-by")).toBe("web1");
    expect(r.headers.get("x-cache")).toBe("PASS");
  }, 120_000);

  it("serves a page MISS then HIT, with the theme, X-Served-By and the site title", async () => {
    const first = await viaCdn("/?p=1");
    expect(first.status).toBe(200);
    expect(first.headers.get("x-cache")).toBe("MISS");
    expect(first.body).toContain("Pirack Test Site");
    expect(first.body).toContain("wp-content/themes/twentytwentythree");
    expect(["web1", "web2"]).toContain(first.headers.get("x-served-by"));
    const second = await viaCdn("/?p=1");
    expect(second.headers.get("x-cache")).toBe("HIT");
    expect(second.body).toBe(first.body);
  }, 60_000);

  it("bypasses the cache for logged-in and comment cookies", async () => {
    for (const cookie of ["wordpress_logged_in_abc=x", "comment_author_abc=x", "wp-postpass_abc=x"]) {
      const r = await viaCdn("/?p=1", { cookie });
      expect(r.headers.get("x-cache"), cookie).toBe("BYPASS");
    }
  }, 60_000);

  it("splits uncached traffic by the configured weights (1:11) within 3 points over 1,200 requests", async () => {
    // The health path with a logged-in cookie: bypasses the cache and costs one SELECT 1.
    const script = `for i in $(seq 1200); do echo "url = \\"http://[${addr(1)}]/pirack-health\\""; echo 'output = "/dev/null"'; done`;
    const config = join(dir, "curl-1200.cfg");
    await execa("sh", ["-c", `${script} > ${config}`]);
    const r = await bed.exec(ns.client!, "curl", ["-sS", "-g", "--parallel", "--parallel-max", "8", "-H", `Host: ${HOST}`, "-H", "Cookie: wordpress_logged_in_x=1", "-D", "-", "-K", config], { timeoutMs: 300_000 });
    const served = [...r.stdout.matchAll(/^x-served-by: (\S+)/gim)].map((m) => m[1]);
    expect(served.length).toBe(1200);
    const share = served.filter((s) => s === "web1").length / served.length;
    expect(Math.abs(share - 1 / 12)).toBeLessThanOrEqual(0.03);
  }, 320_000);

  it("pirack workloads status probes every role node (run from the client namespace)", async () => {
    const cli = new URL("../../bin/pirack.mjs", import.meta.url).pathname;
    const r = await bed.exec(ns.client!, process.execPath, [cli, "workloads", "status", "--config", rackFile, "--json"], { timeoutMs: 60_000 });
    const rows = JSON.parse(r.stdout) as { node: string; role: string; healthy: boolean; detail: string }[];
    const byNode = Object.fromEntries(rows.map((row) => [row.node, row]));
    expect(byNode.cdn1).toMatchObject({ role: "cdn", healthy: true });
    expect(byNode.web1).toMatchObject({ role: "web", healthy: true });
    expect(byNode.web2).toMatchObject({ role: "web", healthy: true });
    // Exit 0 only when every node is healthy; the db node's health is the db role's probe.
    expect(r.exitCode).toBe(rows.every((row) => row.healthy) ? 0 : 1);
  }, 90_000);

  it("drains a stopped web Pi and returns it when it is healthy again", async () => {
    await controller.tick();
    expect(controller.status().every((s) => !s.drained)).toBe(true);
    await stopWebNginx("web2");
    await controller.tick();
    expect(controller.status().find((s) => s.name === "web2")!.drained).toBe(false); // one failure is not enough
    const events = await controller.tick();
    expect(events).toEqual([expect.objectContaining({ node: "web2", event: "drained" })]);
    expect(await readFile(join(roots.cdn1!, UPSTREAM_FILE), "utf8")).toMatch(/\[.*::3\]:80 .* down; # web2/);
    // After the reload timer picked the file up, every uncached request lands on web1 and none fails.
    await waitFor(async () => ((await viaCdn("/pirack-health", { cookie: "wordpress_logged_in_x=1" })).headers.get("x-served-by") === "web1" ? true : undefined), "reload", 10_000);
    const after = await Promise.all(Array.from({ length: 20 }, () => viaCdn("/pirack-health", { cookie: "wordpress_logged_in_x=1" })));
    expect(after.map((r) => `${r.status} ${r.headers.get("x-served-by")}`)).toEqual(Array(20).fill("200 web1"));

    await startWebNginx("web2");
    await controller.tick();
    const back = await controller.tick();
    expect(back).toEqual([expect.objectContaining({ node: "web2", event: "returned" })]);
    await waitFor(async () => ((await viaCdn("/pirack-health", { cookie: "wordpress_logged_in_x=1" })).headers.get("x-served-by") === "web2" ? true : undefined), "web2 back in the upstream", 20_000);
  }, 120_000);

  it("serves the cached page stale when every web Pi is down", async () => {
    const fresh = await viaCdn("/?p=1");
    expect(fresh.status).toBe(200);
    await stopWebNginx("web1");
    await stopWebNginx("web2");
    // Every web is failing: both count as drained, but the file keeps them up (there would be no upstream left).
    await controller.tick();
    await controller.tick();
    expect(controller.status().every((s) => s.drained)).toBe(true);
    expect(await readFile(join(roots.cdn1!, UPSTREAM_FILE), "utf8")).not.toMatch(/ down;/);
    await new Promise((r) => setTimeout(r, (workloads.cdn.cacheSeconds + 1) * 1000)); // let the copy expire
    const stale = await viaCdn("/?p=1");
    expect(stale.status).toBe(200);
    expect(stale.headers.get("x-cache")).toMatch(/^(STALE|UPDATING)$/);
    expect(stale.body).toContain("Pirack Test Site");
  }, 60_000);
});
