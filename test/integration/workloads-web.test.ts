/**
 * The site on real Debian daemons with pirack's rendered configs (test/support/site-bed.ts): one namespace per role node on a shared IPv6
 * network (a bridge in its own namespace), nginx + php-fpm + Debian's wordpress in two web namespaces, nginx as
 * the CDN in one, and a plain mariadbd (datadir in a temp dir) in a db namespace. Each web namespace reaches the
 * database through socat on 127.0.0.1:3306, standing in for the db role's local proxy.
 * WordPress is installed over HTTP; the CDN answers MISS then HIT, bypasses for logged-in cookies, splits
 * traffic by weight, drains a stopped web Pi through pirack's controller and serves stale when every web is down.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execa } from "execa";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { isRoot, waitFor } from "../support/netns.ts";
import { execInNode } from "../support/workload-node.ts";
import { SiteBed, SITE_HOST, SITE_TOOLS } from "../support/site-bed.ts";
import { UPSTREAM_FILE } from "../../workloads/index.ts";

const missing = SITE_TOOLS.filter((t) => !existsSync(t));
const skip = !isRoot() ? "needs root (namespaces)" : missing.length ? `needs ${missing.join(", ")} (.ci/apt-packages)` : "";

describe.skipIf(skip !== "")(`workloads: web tier and cdn on real daemons${skip ? ` (skipped: ${skip})` : ""}`, () => {
  // web1 gets one request in twelve (the story's share for one Pi); pages stay fresh 3 s so expiry is quick.
  const site = new SiteBed({ cacheSeconds: 3, weights: { web1: 1, web2: 11 } });

  beforeAll(() => site.start(), 240_000);
  afterAll(() => site.stop(), 60_000);

  it("the rendered nginx configs pass nginx -t on each node", async () => {
    for (const name of ["cdn1", "web1", "web2"]) {
      const r = await execInNode(site.bed, site.ns[name]!, site.roots[name]!, ["nginx", "-t", "-q"]);
      expect(r.stderr, name).toBe("");
      expect(r.exitCode, name).toBe(0);
    }
  });

  it("installs WordPress over HTTP through the CDN (admin routed to the primary web Pi)", async () => {
    const form = new URLSearchParams({ weblog_title: "Pirack Test Site", user_name: "admin", admin_password: "Adm1n-pass-word", admin_password2: "Adm1n-pass-word", admin_email: "admin@pirack.test", blog_public: "1", pw_weak: "1", language: "" });
    const r = await site.viaCdn("/wp-admin/install.php?step=2", { data: form.toString() });
    expect(r.status).toBe(200);
    expect(r.body).toContain("Success!");
    expect(r.headers.get("x-served-by")).toBe("web1");
    expect(r.headers.get("x-cache")).toBe("PASS");
  }, 120_000);

  it("serves a page MISS then HIT, with the theme, X-Served-By and the site title", async () => {
    const first = await site.viaCdn("/?p=1");
    expect(first.status).toBe(200);
    expect(first.headers.get("x-cache")).toBe("MISS");
    expect(first.body).toContain("Pirack Test Site");
    expect(first.body).toContain("wp-content/themes/twentytwentythree");
    expect(["web1", "web2"]).toContain(first.headers.get("x-served-by"));
    const second = await site.viaCdn("/?p=1");
    expect(second.headers.get("x-cache")).toBe("HIT");
    expect(second.body).toBe(first.body);
  }, 60_000);

  it("bypasses the cache for logged-in and comment cookies", async () => {
    for (const cookie of ["wordpress_logged_in_abc=x", "comment_author_abc=x", "wp-postpass_abc=x"]) {
      const r = await site.viaCdn("/?p=1", { cookie });
      expect(r.headers.get("x-cache"), cookie).toBe("BYPASS");
    }
  }, 60_000);

  it("splits uncached traffic by the configured weights (1:11) within 3 points over 1,200 requests", async () => {
    // The health path with a logged-in cookie: bypasses the cache and costs one SELECT 1.
    const script = `for i in $(seq 1200); do echo "url = \\"http://[${site.addr(1)}]/pirack-health\\""; echo 'output = "/dev/null"'; done`;
    const config = join(site.dir, "curl-1200.cfg");
    await execa("sh", ["-c", `${script} > ${config}`]);
    const r = await site.bed.exec(site.ns.client!, "curl", ["-sS", "-g", "--parallel", "--parallel-max", "8", "-H", `Host: ${SITE_HOST}`, "-H", "Cookie: wordpress_logged_in_x=1", "-D", "-", "-K", config], { timeoutMs: 300_000 });
    const served = [...r.stdout.matchAll(/^x-served-by: (\S+)/gim)].map((m) => m[1]);
    expect(served.length).toBe(1200);
    const share = served.filter((s) => s === "web1").length / served.length;
    expect(Math.abs(share - 1 / 12)).toBeLessThanOrEqual(0.03);
  }, 320_000);

  it("pirack workloads status probes every role node (run from the client namespace)", async () => {
    const cli = new URL("../../bin/pirack.mjs", import.meta.url).pathname;
    const r = await site.bed.exec(site.ns.client!, process.execPath, [cli, "workloads", "status", "--config", site.rackFile, "--json"], { timeoutMs: 60_000 });
    const rows = JSON.parse(r.stdout) as { node: string; role: string; healthy: boolean; detail: string }[];
    const byNode = Object.fromEntries(rows.map((row) => [row.node, row]));
    expect(byNode.cdn1).toMatchObject({ role: "cdn", healthy: true });
    expect(byNode.web1).toMatchObject({ role: "web", healthy: true });
    expect(byNode.web2).toMatchObject({ role: "web", healthy: true });
    // Exit 0 only when every node is healthy; the db node's health is the db role's probe.
    expect(r.exitCode).toBe(rows.every((row) => row.healthy) ? 0 : 1);
  }, 90_000);

  it("drains a stopped web Pi and returns it when it is healthy again", async () => {
    await site.controller.tick();
    expect(site.controller.status().every((s) => !s.drained)).toBe(true);
    await site.stopWebNginx("web2");
    await site.controller.tick();
    expect(site.controller.status().find((s) => s.name === "web2")!.drained).toBe(false); // one failure is not enough
    const events = await site.controller.tick();
    expect(events).toEqual([expect.objectContaining({ node: "web2", event: "drained" })]);
    expect(await readFile(join(site.roots.cdn1!, UPSTREAM_FILE), "utf8")).toMatch(/\[.*::3\]:80 .* down; # web2/);
    // After the reload timer picked the file up, every uncached request lands on web1 and none fails.
    await waitFor(async () => ((await site.viaCdn("/pirack-health", { cookie: "wordpress_logged_in_x=1" })).headers.get("x-served-by") === "web1" ? true : undefined), "reload", 10_000);
    const after = await Promise.all(Array.from({ length: 20 }, () => site.viaCdn("/pirack-health", { cookie: "wordpress_logged_in_x=1" })));
    expect(after.map((r) => `${r.status} ${r.headers.get("x-served-by")}`)).toEqual(Array(20).fill("200 web1"));

    await site.startWebNginx("web2");
    await site.controller.tick();
    const back = await site.controller.tick();
    expect(back).toEqual([expect.objectContaining({ node: "web2", event: "returned" })]);
    await waitFor(async () => ((await site.viaCdn("/pirack-health", { cookie: "wordpress_logged_in_x=1" })).headers.get("x-served-by") === "web2" ? true : undefined), "web2 back in the upstream", 20_000);
  }, 120_000);

  it("serves the cached page stale when every web Pi is down", async () => {
    const fresh = await site.viaCdn("/?p=1");
    expect(fresh.status).toBe(200);
    await site.stopWebNginx("web1");
    await site.stopWebNginx("web2");
    // Every web is failing: both count as drained, but the file keeps them up (there would be no upstream left).
    await site.controller.tick();
    await site.controller.tick();
    expect(site.controller.status().every((s) => s.drained)).toBe(true);
    expect(await readFile(join(site.roots.cdn1!, UPSTREAM_FILE), "utf8")).not.toMatch(/ down;/);
    await new Promise((r) => setTimeout(r, (site.workloads.cdn.cacheSeconds + 1) * 1000)); // let the copy expire
    const stale = await site.viaCdn("/?p=1");
    expect(stale.status).toBe(200);
    expect(stale.headers.get("x-cache")).toMatch(/^(STALE|UPDATING)$/);
    expect(stale.body).toContain("Pirack Test Site");
  }, 60_000);
});
