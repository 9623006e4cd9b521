/**
 * The dashboard in a real browser: Debian's chromium, driven by playwright-core, against `pirack serve` running in
 * a fileserver namespace with the simulated PoE switch beside it and a Pi namespace behind `eth0.10`. The API
 * listens on the namespace's storage address, so it needs tokens: the page gets its write token in the URL
 * fragment. Checks the shelf's slots, a boot stage arriving live when the Pi's udhcpc asks for an address (no
 * reload), and a confirmed power cycle reaching the switch; saves desktop and phone screenshots in test/artifacts/.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import type { ResultPromise } from "execa";
import { isRoot, TestBed, waitFor } from "../support/netns.ts";

const root = new URL("../..", import.meta.url).pathname;
const artifacts = join(root, "test/artifacts");
const CHROMIUM = "/usr/bin/chromium";
const READ = "read-token-0123456789abcdef";
const WRITE = "write-token-0123456789abcdef";
const API = "http://10.46.189.1:8067";
const bed = new TestBed();
let dir: string;
let fs: string;
let pi: string;
let sim: ResultPromise;
const simEvents: { kind: string; port: number; detection?: number }[] = [];
let context: BrowserContext;
let page: Page;

const rackYaml = (d: string) => `
shelf: bench
fileserver: { interface: eth0, switchPort: 24, manageInterfaces: false }
storage: { network: 10.46.189.0/24, firstVlan: 10 }
public: { prefix: "2a00:1098:0:84::/64", gateway: "2a00:1098:0:84::1", firstAddress: "2a00:1098:0:84:1000:1::2" }
ports: 1-2
boot: { firmware: ${d}/firmware }
paths: { exports: ${d}/export, images: ${d}/images, state: ${d}/state }
nfs: { server: none }
switch: { driver: qbridge, host: 127.0.0.1, port: 16100, snmp: { version: "2c", community: private } }
api: { tokenFile: ${d}/api-tokens }
`;

const curl = (args: string[]) => bed.exec(fs, "curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", ...args]);

describe.skipIf(!isRoot() || !existsSync(CHROMIUM))("dashboard in chromium (root)", () => {
  beforeAll(async () => {
    dir = await mkdtemp(join("/var/tmp", "pirack-dash-"));
    await mkdir(join(dir, "firmware"), { recursive: true });
    await writeFile(join(dir, "firmware/bootcode.bin"), Buffer.alloc(4096, 1));
    await writeFile(join(dir, "rack.yaml"), rackYaml(dir));
    await writeFile(join(dir, "api-tokens"), `read ${READ}\nwrite ${WRITE}\n`, { mode: 0o600 });
    fs = await bed.namespace("pr-dash-fs");
    pi = await bed.namespace("pr-dash-p1");
    await bed.veth({ left: { ns: fs, name: "eth0.10", address: "10.46.189.1/30" }, right: { ns: pi, name: "eth0", mac: "b8:27:eb:00:00:01" } });
    const other = await bed.namespace("pr-dash-p2");
    await bed.veth({ left: { ns: fs, name: "eth0.11", address: "10.46.189.5/30" }, right: { ns: other, name: "eth0", mac: "b8:27:eb:00:00:02" } });

    sim = bed.spawn(fs, "node", ["--import", "tsx", join(root, "switch/sim/main.ts"), "--port", "16100", "--ports", "24"]);
    let buffer = "";
    sim.stdout!.on("data", (d: Buffer) => {
      buffer += d.toString();
      for (let nl = buffer.indexOf("\n"); nl >= 0; nl = buffer.indexOf("\n")) {
        const line = JSON.parse(buffer.slice(0, nl)) as { msg: string; kind: string; port: number; detection?: number };
        buffer = buffer.slice(nl + 1);
        if (line.msg === "event") simEvents.push(line);
        if (line.msg === "listening") for (const port of [1, 2]) sim.stdin!.write(`${JSON.stringify({ op: "plug", port })}\n`);
      }
    });

    bed.spawn(fs, "node", [join(root, "bin/pirack.mjs"), "serve", "--config", join(dir, "rack.yaml"), "--sysroot", join(dir, "sysroot"), "--listen", "10.46.189.1:8067"]);
    await waitFor(async () => ((await curl(["-H", `Authorization: Bearer ${READ}`, `${API}/metrics`])).stdout === "200" ? true : undefined), "the appliance's API", 60_000);

    // Chromium runs inside the fileserver namespace, the only place the API can be reached.
    const wrapper = join(dir, "chromium-in-netns.sh");
    await writeFile(wrapper, `#!/bin/sh\nexec ip netns exec ${fs} ${CHROMIUM} "$@"\n`);
    await chmod(wrapper, 0o755);
    await mkdir(artifacts, { recursive: true });
    context = await chromium.launchPersistentContext(join(dir, "chromium-profile"), {
      executablePath: wrapper,
      headless: true,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
      viewport: { width: 1280, height: 900 },
      timeout: 120_000,
    });
    bed.defer(async () => {
      await Promise.race([context.close(), new Promise((r) => setTimeout(r, 15_000))]);
    });
    page = context.pages()[0] ?? (await context.newPage());
  }, 240_000);

  afterAll(async () => {
    await bed.cleanup();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("refuses the API without a token (401) and a write with a read token (403), and counts both", async () => {
    expect((await curl([`${API}/api/v1/pis`])).stdout).toBe("401");
    expect((await curl(["-X", "POST", "-H", `Authorization: Bearer ${READ}`, "-d", '{"action":"on"}', `${API}/api/v1/pis/1/power`])).stdout).toBe("403");
    const body = await bed.exec(fs, "curl", ["-s", `${API}/api/v1/pis`]);
    expect(JSON.parse(body.stdout)).toMatchObject({ code: "API_UNAUTHORIZED" });
    const metrics = await bed.exec(fs, "curl", ["-s", "-H", `Authorization: Bearer ${READ}`, `${API}/metrics`]);
    expect(metrics.stdout).toMatch(/pirack_api_auth_failures_total\{reason="missing"\} [1-9]/);
    expect(metrics.stdout).toMatch(/pirack_api_auth_failures_total\{reason="scope"\} 1/);
    // The page itself and its files are served without a token, with their content types.
    const css = await bed.exec(fs, "curl", ["-s", "-o", "/dev/null", "-w", "%{content_type}", `${API}/dashboard/style.css`]);
    expect(css.stdout).toBe("text/css; charset=utf-8");
  });

  it("serves the CLI on the unix socket without a token (mode 0660)", async () => {
    const socket = join(dir, "sysroot/run/pirack/api.sock");
    expect((await stat(socket)).mode & 0o777).toBe(0o660);
    const r = await bed.exec(fs, "node", [join(root, "bin/pirack.mjs"), "status", "--api", `unix:${socket}`, "--json"]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { port: number; power: string }[]).map((p) => [p.port, p.power])).toEqual([
      [1, "on"],
      [2, "on"],
    ]);
  });

  it("draws one slot per switch port, the fileserver's included", async () => {
    await page.goto(`${API}/#token=${WRITE}`);
    await page.waitForSelector('.slot[data-port="24"]', { timeout: 30_000 });
    expect(await page.locator(".slot").count()).toBe(24);
    expect(await page.getAttribute('.slot[data-port="24"]', "class")).toContain("fileserver");
    expect(await page.getAttribute('.slot[data-port="3"]', "class")).toContain("empty");
    expect(await page.textContent('.slot[data-port="1"] .name')).toBe("bench-01");
    // The token left the address bar once stored.
    expect(page.url()).toBe(`${API}/`);
    await page.waitForSelector('.slot[data-port="1"] .poe.on', { timeout: 30_000 });
  });

  it("shows a Pi's DHCP request live, without reloading", async () => {
    await page.evaluate(() => ((window as unknown as { notReloaded: boolean }).notReloaded = true));
    expect(await page.getAttribute('.slot[data-port="1"]', "data-stage")).toBe("unseen");
    const r = await bed.exec(pi, "udhcpc", ["-i", "eth0", "-n", "-q", "-f", "-t", "5", "-T", "2", "-s", "/bin/true"], { timeoutMs: 30_000 });
    expect(r.exitCode, r.stderr).toBe(0);
    await page.waitForSelector('.slot[data-port="1"][data-stage="dhcp"]', { timeout: 20_000 });
    expect(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);
  });

  it("power-cycles a Pi after confirmation, and the switch sees it", async () => {
    await page.click('.slot[data-port="1"]');
    await page.waitForSelector("#details:not([hidden])");
    expect(await page.textContent("#details-fields")).toContain("10.46.189.2 on eth0.10 (VLAN 10)");
    await page.click('#actions button[data-action="cycle"]');
    await page.waitForSelector("#confirm[open]");
    expect(await page.textContent("#confirm-text")).toBe("Power-cycle bench-01 (port 1)?");
    const before = simEvents.length;
    await page.click("#confirm-ok");
    await page.waitForFunction(() => /done|failed/.test(document.getElementById("action-result")?.textContent ?? ""), undefined, { timeout: 60_000 });
    expect(await page.textContent("#action-result")).toMatch(/^Power-cycle port 1 done: poeOff \d+ ms, linkDown \d+ ms, poeOn \d+ ms, deliveringPower \d+ ms$/);
    const poe = simEvents.slice(before).filter((e) => e.kind === "poe" && e.port === 1).map((e) => e.detection);
    // POWER-ETHERNET-MIB pethPsePortDetectionStatus: 3 deliveringPower; anything else while the port was off.
    expect(poe.some((d) => d !== 3)).toBe(true);
    expect(poe.at(-1)).toBe(3);
    // The timeline of the new boot starts with the power stage.
    await page.waitForSelector('#timeline svg rect[data-stage="power"]', { timeout: 20_000 });
  });

  it("marks nfs when the Pi holds a connection to port 2049 and up when its port 22 answers with an SSH banner", async () => {
    // Stand-ins, not the real servers: socat listens on the fileserver's NFS port and, in the Pi namespace, speaks
    // an SSH identification line. What is under test is pirack's side: reading the kernel's TCP table of its
    // namespace and reading a banner from the Pi's storage address.
    await bed.exec(pi, "ip", ["addr", "add", "10.46.189.2/30", "dev", "eth0"]);
    // No forked children: a child holding the test's pipes open would keep the cleanup waiting.
    bed.spawn(fs, "socat", ["-u", "TCP-LISTEN:2049,bind=10.46.189.1,reuseaddr", "STDOUT"]);
    bed.spawn(pi, "socat", ["TCP-LISTEN:22,bind=10.46.189.2,reuseaddr,fork", "SYSTEM:echo SSH-2.0-OpenSSH_9.2p1 Debian-2"]);
    await waitFor(async () => ((await bed.exec(pi, "ss", ["-tln", "sport = :22"])).stdout.includes("10.46.189.2:22") ? true : undefined), "the Pi's port 22");
    await waitFor(async () => ((await bed.exec(fs, "ss", ["-tln", "sport = :2049"])).stdout.includes(":2049") ? true : undefined), "port 2049");
    bed.spawn(pi, "socat", ["-u", "TCP:10.46.189.1:2049", "STDOUT"]);
    await page.waitForSelector('.slot[data-port="1"][data-stage="up"]', { timeout: 30_000 });
    const timeline = await bed.exec(fs, "curl", ["-s", "-H", `Authorization: Bearer ${READ}`, `${API}/api/v1/timeline`]);
    const boots = (JSON.parse(timeline.stdout) as { port: number; boots: { stages: { stage: string }[] }[] }[]).find((p) => p.port === 1)!.boots;
    expect(boots.at(-1)!.stages.map((x) => x.stage)).toEqual(["power", "nfs", "up"]);
    const status = await bed.exec(fs, "node", [join(root, "bin/pirack.mjs"), "status", "--timeline", "--api", API, "--token-file", join(dir, "api-tokens")]);
    expect(status.exitCode, status.stderr).toBe(0);
    expect(status.stdout.split("\n")[1]).toMatch(/^1 +bench-01 +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d +0\.0s +- +- +- +\d+\.\ds +\d+\.\ds +\|p/);
    await page.waitForSelector('#timeline svg rect[data-stage="up"]', { timeout: 20_000 });
  });

  it("saves desktop and phone screenshots", async () => {
    await page.screenshot({ path: join(artifacts, "dashboard-desktop.png"), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(300);
    // On a phone the shelf wraps instead of overflowing sideways.
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await page.screenshot({ path: join(artifacts, "dashboard-phone.png"), fullPage: true });
    expect((await readFile(join(artifacts, "dashboard-phone.png"))).subarray(1, 4).toString()).toBe("PNG");
  });
});
