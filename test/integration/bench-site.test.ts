/**
 * The site on the bench: `pirack bench --pis 1 --qemu 1 --site`. pirack clones the QEMU Pi's root from the web
 * layer (`bookworm-arm64+web`, built and cached by the bench beside the golden image) and renders its workload
 * files; the Pi netboots through Open vSwitch and runs nginx, php-fpm, HAProxy and Debian's WordPress under QEMU;
 * the db (mariadbd) and the cdn (nginx) are Debian's daemons on the host, in namespaces on the public VLAN, with
 * the files pirack's renderers make. WordPress is installed over HTTP on the Pi (under emulation the install takes
 * minutes; the bench sets workloads.web.requestTimeoutSeconds to 900), the page is rendered once on the Pi (PHP's opcache warms up), then
 * the page through the CDN is 200 with `X-Served-By: bench-01` (the Pi), `X-Cache` MISS then HIT.
 *
 * Time-boxed. Preparing the cache (golden image, web layer) may take up to PIRACK_BENCH_SITE_PREP_S (default
 * 3,000 s): past it the tests are skipped, saying what was still being built (the build goes on detached and is
 * cached for the next run). The rest (boot, site, install, pages) has PIRACK_BENCH_SITE_BOX_S (default 1,500 s):
 * past it the tests fail, saying which step was still running, with the phase times and the Pi's serial console.
 */
import { execa, type ResultPromise } from "execa";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../support/free-port.ts";
import { isRoot } from "../support/netns.ts";
import { cachedBenchLayer } from "../../bench/qemu/layer.ts";
import { ROLES } from "../../workloads/index.ts";

const repo = new URL("../..", import.meta.url).pathname;
const TOOLS = ["ovs-vswitchd", "ganesha.nfsd", "qemu-system-aarch64", "nginx", "mariadbd", "mariadb-install-db", "systemd-socket-activate", "/usr/bin/time"];
const tools = await execa("bash", ["-c", TOOLS.map((t) => `command -v ${t} >/dev/null || echo ${t}`).join("; ")], { reject: false });
const missing = tools.stdout.split("\n").filter(Boolean);
// From an empty cache the arm64 web layer takes 14 min on a quiet 2-core machine (73 min loaded), past what a CI
// run on a fresh machine can spend, and a build cut short by a time box would outlive the test. So by default the
// suite runs when the golden image and the web layer are already cached under their current keys (about 3.5 min
// then), and is skipped, saying so, when they are not; PIRACK_BENCH_SITE=1 builds them first, =0 skips.
const MODE = process.env.PIRACK_BENCH_SITE;
const cached = MODE === "0" ? undefined : await cachedBenchLayer(ROLES.web!);
const skip = MODE === "0"
  ? "PIRACK_BENCH_SITE=0"
  : MODE !== "1" && !cached
    ? "the arm64 web layer is not cached (building it takes ~14 min): PIRACK_BENCH_SITE=1 builds it first (see README, The site on the bench)"
    : !isRoot()
    ? "needs root (namespaces)"
    : missing.length
      ? `needs ${missing.join(", ")} (.ci/apt-packages)`
      : "";

// Under TCG, install.php?step=2 once outlasted nginx's default 60 s fastcgi_read_timeout (504 after 62 s, loaded
// machine): the bench's rack.yaml sets workloads.web.requestTimeoutSeconds to 900.
const PREP_S = Number(process.env.PIRACK_BENCH_SITE_PREP_S ?? 3000);
const BOX_S = Number(process.env.PIRACK_BENCH_SITE_BOX_S ?? 1500);
const WEB = "2a00:1098:0:84:1000:1::2";
const CDN = "2a00:1098:0:84:1000:1::4";
const HOST = "www.bench.pirack.test";
const PI = "bench-01";

let dir: string;
let bench: ResultPromise | undefined;
const lines: string[] = [];
/** Phase name -> seconds since the bench started, in the order they began. */
const phases: [string, number][] = [];
let started = 0;
let boxEnds = 0;
/** Why the tests are skipped (preparation too slow), if they are. */
let skipped = "";
let phase = "start";

const consoleLog = () => readFile(join(dir, "logs/pi1.console.log"), "utf8").catch(() => "(no console log)");
const at = () => ((Date.now() - started) / 1000).toFixed(0);
const enter = (name: string) => {
  phase = name;
  phases.push([name, (Date.now() - started) / 1000]);
};
const phaseTimes = () => phases.map(([n, t], i) => `${n} ${((phases[i + 1]?.[1] ?? (Date.now() - started) / 1000) - t).toFixed(0)} s`).join(", ");
const pub = () => `pirack-bench-${bench!.pid}-pub`;

/** A failure message naming the step that ran out of time, the phase times and the tail of the logs. */
async function overrun(what: string): Promise<Error> {
  return new Error(`time box of ${BOX_S} s (PIRACK_BENCH_SITE_BOX_S) used up at ${at()} s while ${what} (phase: ${phase}; ${phaseTimes()})\n${lines.slice(-25).join("\n")}\n--- serial console ---\n${(await consoleLog()).slice(-5000)}`);
}

/** The bench's phase from its output line. */
function track(line: string): void {
  if (/golden image \(pirack image build/.test(line)) enter("golden image");
  else if (/web layer \(pirack workloads build web/.test(line)) enter("web layer");
  else if (/^\[.*\] namespaces:/.test(line)) enter("rack build");
  else if (/port 1 qemu.*: power/.test(line) && phase === "rack build") enter("Pi boot");
}

async function waitForLine(re: RegExp, deadline: number, what: string): Promise<string | undefined> {
  for (;;) {
    const found = lines.find((l) => re.test(l));
    if (found) return found;
    if (bench?.exitCode !== null && bench?.exitCode !== undefined) throw new Error(`the bench exited (${bench.exitCode}) while ${what}:\n${lines.slice(-30).join("\n")}\n--- serial console ---\n${(await consoleLog()).slice(-5000)}`);
    if (Date.now() > deadline) return undefined;
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** curl from the public namespace (the visitors' side); status, headers, body. */
async function get(url: string, opts: { data?: string; maxTime?: number } = {}) {
  const args = ["-sS", "-g", "-D", "-", "-o", join(dir, "body"), "-H", `Host: ${HOST}`, "--max-time", String(opts.maxTime ?? 120)];
  if (opts.data !== undefined) args.push("--data", opts.data);
  const r = await execa("ip", ["netns", "exec", pub(), "curl", ...args, url], { reject: false, timeout: ((opts.maxTime ?? 120) + 30) * 1000 });
  const headers = new Map<string, string>();
  let status = 0;
  for (const line of r.stdout.split(/\r?\n/)) {
    const m = /^HTTP\/[\d.]+ (\d+)/.exec(line);
    if (m) status = Number(m[1]);
    const h = /^([A-Za-z-]+):\s*(.*)$/.exec(line);
    if (h) headers.set(h[1]!.toLowerCase(), h[2]!);
  }
  const body = await readFile(join(dir, "body"), "utf8").catch(() => "");
  return { status, headers, body, error: r.stderr };
}

/** Polls `fn` until it returns a value or the box ends. */
async function within<T>(what: string, fn: () => Promise<T | undefined>, pauseMs = 5000): Promise<T> {
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > boxEnds) throw await overrun(what);
    await new Promise((r) => setTimeout(r, pauseMs));
  }
}

describe.skipIf(skip !== "")(`the site on the bench: a QEMU web Pi behind the CDN${skip ? ` (skipped: ${skip})` : ""}`, () => {
  beforeAll(async () => {
    dir = await mkdtemp("/var/tmp/pirack-benchsite-");
    const port = await freePort();
    started = Date.now();
    const image = process.env.PIRACK_BENCH_SITE_IMAGE;
    const firmware = process.env.PIRACK_BENCH_SITE_FIRMWARE;
    const prepared = image && firmware ? ["--image", image, "--firmware", firmware] : [];
    bench = execa(process.execPath, [join(repo, "bin/pirack.mjs"), "bench", "--pis", "1", "--qemu", "1", "--site", "--listen", `127.0.0.1:${port}`, "--logs", join(dir, "logs"), "--timeout", String(BOX_S), ...prepared], {
      reject: false,
      buffer: false,
      stdout: "pipe",
      stderr: "pipe",
      // Teardown after SIGTERM takes seconds; execa's default would SIGKILL the bench 5 s into it.
      forceKillAfterDelay: false,
    });
    for (const s of [bench.stdout!, bench.stderr!])
      createInterface({ input: s }).on("line", (l) => {
        lines.push(l);
        track(l);
      });
    // The cache first (golden image, web layer): its own box; a slow build is a slow machine, not a failure.
    const built = await waitForLine(/namespaces:/, started + PREP_S * 1000, "preparing the cache");
    if (!built) {
      skipped = `preparing the bench cache took longer than ${PREP_S} s (PIRACK_BENCH_SITE_PREP_S): still in "${phase}" (${phaseTimes()}); the build goes on detached and is cached for the next run`;
      return;
    }
    boxEnds = Date.now() + BOX_S * 1000;
    const up = await waitForLine(/\d+ of 1 Pis up/, boxEnds, "booting the web Pi");
    if (!up) throw await overrun("booting the web Pi (no 'Pis up' line)");
    enter("site");
    await waitForLine(/site (ready|failed)/, boxEnds, "starting the db and cdn stand-ins");
  }, (PREP_S + BOX_S + 120) * 1000);

  afterAll(async () => {
    if (bench && bench.exitCode === null) {
      bench.kill("SIGTERM");
      await Promise.race([bench, new Promise((r) => setTimeout(r, 60_000))]);
      bench.kill("SIGKILL");
    }
    if (phases.length) console.log(`bench-site phases: ${phaseTimes()}`);
    if (dir) await rm(dir, { recursive: true, force: true });
  }, 90_000);

  it("boots the web Pi from the web layer with pirack's workload files, and the stand-ins serve", async (ctx) => {
    if (skipped) ctx.skip(skipped);
    expect(lines.find((l) => /of 1 Pis up/.test(l)), `${lines.slice(-30).join("\n")}\n--- serial console ---\n${(await consoleLog()).slice(-5000)}`).toMatch(/1 of 1 Pis up/);
    expect(lines.find((l) => /site (ready|failed)/.test(l)), lines.slice(-30).join("\n")).toMatch(/site ready/);
    const root = join(`/var/tmp/pirack-bench-${bench!.pid}`, "export/10.46.189.2");
    expect(JSON.parse(await readFile(join(root, "etc/pirack/layer.json"), "utf8"))).toMatchObject({ role: "web" });
    expect(existsSync(join(root, "etc/pirack/workload-files.json"))).toBe(true);
    expect(await readFile(join(root, "etc/nginx/nginx.conf"), "utf8")).toContain(PI);
  }, 60_000);

  it("installs WordPress over HTTP on the web Pi", async (ctx) => {
    if (skipped) ctx.skip(skipped);
    // nginx, php-fpm and HAProxy on the Pi start after sshd does; /pirack-health is 200 once PHP reaches the db.
    enter("web Pi health");
    await within("waiting for the web Pi's /pirack-health (PHP + the db through HAProxy)", async () => ((await get(`http://[${WEB}]/pirack-health`, { maxTime: 60 })).status === 200 ? true : undefined));
    enter("WordPress install");
    const form = new URLSearchParams({ weblog_title: "pirack bench site", user_name: "admin", admin_password: "Adm1n-pass-word", admin_password2: "Adm1n-pass-word", admin_email: "admin@bench.pirack.test", blog_public: "1", pw_weak: "1", language: "" });
    const left = Math.max(60, Math.floor((boxEnds - Date.now()) / 1000));
    const r = await get(`http://[${WEB}]/wp-admin/install.php?step=2`, { data: form.toString(), maxTime: left });
    if (r.status === 0 && Date.now() > boxEnds) throw await overrun("installing WordPress (install.php?step=2)");
    expect(r.status, `${r.error}\n${r.body.slice(0, 2000)}`).toBe(200);
    expect(r.body).toContain("Success!");
    expect(r.headers.get("x-served-by")).toBe(PI);
  }, (BOX_S + 60) * 1000);

  it("serves a page through the CDN: 200, X-Served-By names the Pi, X-Cache MISS then HIT", async (ctx) => {
    if (skipped) ctx.skip(skipped);
    enter("page warm-up on the Pi");
    let left = Math.max(60, Math.floor((boxEnds - Date.now()) / 1000));
    const warm = await get(`http://[${WEB}]/?p=1`, { maxTime: left });
    if (warm.status === 0 && Date.now() > boxEnds) throw await overrun("rendering the page on the Pi (opcache warm-up)");
    expect(warm.status, `${warm.error}\n${warm.body.slice(0, 2000)}`).toBe(200);
    enter("pages through the CDN");
    left = Math.max(60, Math.floor((boxEnds - Date.now()) / 1000));
    const first = await get(`http://[${CDN}]/?p=1`, { maxTime: left });
    if (first.status === 0 && Date.now() > boxEnds) throw await overrun("fetching the first page through the CDN");
    expect(first.status, `${first.error}\n${first.body.slice(0, 2000)}`).toBe(200);
    expect(first.headers.get("x-served-by")).toBe(PI);
    expect(first.headers.get("x-cache")).toBe("MISS");
    expect(first.body).toContain("pirack bench site");
    expect(first.body).toContain("wp-content/themes/twentytwentythree");
    const second = await get(`http://[${CDN}]/?p=1`);
    expect(second.status).toBe(200);
    expect(second.headers.get("x-cache")).toBe("HIT");
    expect(second.headers.get("x-served-by")).toBe(PI);
    expect(second.body).toBe(first.body);
    console.log(`bench-site: page served at ${at()} s (${phaseTimes()})`);
  }, (BOX_S + 60) * 1000);

  it("tears everything down on SIGTERM, the stand-ins' namespaces too", async (ctx) => {
    if (skipped) ctx.skip(skipped);
    const pid = bench!.pid;
    bench!.kill("SIGTERM");
    await Promise.race([bench!, new Promise((r) => setTimeout(r, 90_000))]);
    await new Promise((r) => setTimeout(r, 1000)); // the last lines may still be in the pipe
    expect(lines.some((l) => /bench removed/.test(l)), lines.slice(-10).join("\n")).toBe(true);
    expect((await execa("ip", ["netns", "list"])).stdout.split("\n").filter((n) => n.startsWith(`pirack-bench-${pid}-`))).toEqual([]);
    expect((await readdir("/var/tmp")).filter((n) => n === `pirack-bench-${pid}`)).toEqual([]);
  }, 120_000);
});
