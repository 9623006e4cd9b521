/**
 * The whole site through a db failover (issue 12's site-level test): the CDN, two WordPress web Pis reaching the
 * database through the rendered HAProxy, and a db pair running the db role with pirack's failover controller and
 * a simulated PoE switch (test/support/site-bed.ts with `dbPair`). Posts are published through the CDN with
 * WordPress's XML-RPC, as a blogging client does. kill -9 of the primary's mariadbd, and later a network cut of
 * the primary (alive and writable on its own): PoE off on the simulator before the promotion, a new post through
 * the CDN soon after, no cached page answered with a 5xx during the window, every acknowledged post on the new
 * primary. Timings are printed; the 5 s goal is bench/site/failover.ts's to measure on a quiet machine.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execa } from "execa";
import { existsSync } from "node:fs";
import { isRoot, waitFor } from "../support/netns.ts";
import { SiteBed, SITE_TOOLS } from "../support/site-bed.ts";
import { crashRigMariadbd, localSql, rigToolsPresent, siteSqlOn, type RigDb } from "../support/workloads-db-rig.ts";

const missing = [...SITE_TOOLS.filter((t) => !existsSync(t)), ...(isRoot() ? await rigToolsPresent() : [])];
const skip = !isRoot() ? "needs root (namespaces)" : missing.length ? `needs ${missing.join(", ")} (.ci/apt-packages)` : "";
const admin = { user: "admin", password: "Adm1n-pass-word" };

describe.skipIf(skip !== "")(`the site through a db failover${skip ? ` (skipped: ${skip})` : ""}`, () => {
  // Pages stay fresh for the whole window: every cached request must be answered from the cache.
  const site = new SiteBed({ cacheSeconds: 120, weights: { web1: 1, web2: 1 }, dbPair: true });
  const runner = () => site.dbRunner!;
  const db = (name: string): RigDb => site.dbSpec!.dbs.find((d) => d.name === name)!;
  const postIds = async (on: RigDb): Promise<Set<number>> => new Set((await localSql(on, "SELECT ID FROM wordpress.wp_posts")).stdout.split("\n").filter(Boolean).map(Number));

  /** Publishes `n` posts; all must be acknowledged. */
  async function publishAll(prefix: string, n: number): Promise<number[]> {
    const ids: number[] = [];
    for (let i = 0; i < n; i++) {
      const r = await site.publish(`${prefix} ${i}`, admin, 30);
      expect(r.id, r.error).toBeDefined();
      ids.push(r.id!);
    }
    return ids;
  }

  /** Fetches the cached page until stopped; returns every status seen. */
  function pollCachedPage(): { stop: () => Promise<number[]> } {
    const statuses: number[] = [];
    let running = true;
    const loop = (async () => {
      while (running) statuses.push((await site.viaCdn("/?p=1")).status);
    })();
    return { stop: async () => ((running = false), await loop, statuses) };
  }

  /** Breaks the primary `failing` with `cause`; returns the first post accepted after it and the timings. */
  async function failover(failing: RigDb, survivor: RigDb, cause: () => Promise<void>) {
    const acked = await publishAll(`before ${failing.name} fails`, 5);
    // A fresh copy in the cache (an expired one is refreshed in the background first).
    await waitFor(async () => ((await site.viaCdn("/?p=1")).headers.get("x-cache") === "HIT" ? true : undefined), "the page cached", 20_000);
    const poll = pollCachedPage();
    const since = runner().events.length;
    const brokeAt = Date.now();
    await cause();
    let first: number | undefined;
    for (;;) {
      const r = await site.publish(`after ${failing.name} failed`, admin, 3);
      if (r.id) {
        first = r.id;
        break;
      }
      if (Date.now() - brokeAt > 60_000) throw new Error(`no post accepted through the CDN within 60 s: ${r.status} ${r.error}`);
      await new Promise((res) => setTimeout(res, 100));
    }
    const firstPostMs = Date.now() - brokeAt;
    const statuses = await poll.stop();
    const promoted = await runner().waitEvent((e) => e.event === "log" && e.msg === "promoted", "promotion", 10_000, since);
    const lost = runner().events.slice(since).find((e) => e.event === "power lost" && e.node === failing.name);
    console.log(`[figures] ${failing.name} failed: first post through the CDN after ${firstPostMs} ms; ${statuses.length} cached page requests in the window; controller ${JSON.stringify({ detectMs: promoted.detectMs, fenceMs: promoted.fenceMs, catchUpMs: promoted.catchUpMs, promoteMs: promoted.promoteMs, totalMs: promoted.totalMs })}`);
    expect(promoted.node).toBe(survivor.name);
    // Fenced (PoE off seen by the switch, so the Pi lost power) before the replica was made writable.
    expect(lost).toBeDefined();
    expect(lost!.wall).toBeLessThan(promoted.wall);
    expect(statuses.length).toBeGreaterThan(0);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    // Bounded for a loaded CI machine; the 5 s figure is the benchmark's.
    expect(firstPostMs).toBeLessThan(30_000);
    const onSurvivor = await postIds(survivor);
    for (const id of [...acked, first]) expect(onSurvivor.has(id), `post ${id}`).toBe(true);
    expect((await localSql(survivor, "SELECT @@read_only")).stdout.trim()).toBe("0");
  }

  beforeAll(async () => {
    await site.start();
    const form = new URLSearchParams({ weblog_title: "Pirack Test Site", user_name: admin.user, admin_password: admin.password, admin_password2: admin.password, admin_email: "admin@pirack.test", blog_public: "1", pw_weak: "1", language: "" });
    const r = await site.viaCdn("/wp-admin/install.php?step=2", { data: form.toString() });
    expect(r.body).toContain("Success!");
  }, 480_000);
  afterAll(() => site.stop(), 60_000);

  it("a post published through the CDN is on the replica; the site user cannot write to the replica", async () => {
    const [id] = await publishAll("replicated", 1);
    await waitFor(async () => ((await postIds(db("db2"))).has(id!) ? true : undefined), "the post on the replica", 15_000);
    const refused = await siteSqlOn(site.dbSpec!, db("db2"), "INSERT INTO wp_options (option_name, option_value) VALUES ('pirack_test', 'x')");
    expect(refused.exitCode).not.toBe(0);
    expect(refused.stderr).toContain("1290"); // --read-only
    const page = await site.viaCdn("/?p=1");
    expect(page.status).toBe(200);
  }, 120_000);

  it("kill -9 of the primary's mariadbd: fenced, promoted, the site takes posts again and never served a 5xx from cache", async () => {
    await failover(db("db1"), db("db2"), async () => void crashRigMariadbd(db("db1")));
  }, 180_000);

  it("the old primary rejoins as a replica; then a network cut of the new primary fails over back to it", async () => {
    const since = runner().events.length;
    runner().send({ cmd: "rejoin", port: db("db1").port });
    const done = await runner().waitEvent((e) => e.event === "rejoin done" || e.event === "rejoin failed", "rejoin", 240_000, since);
    expect(done.event, JSON.stringify(done)).toBe("rejoin done");
    await runner().waitEvent((e) => e.event === "log" && e.msg === "semi-sync on", "semi-sync on again", 60_000, since);
    await failover(db("db2"), db("db1"), async () => {
      await execa("ip", ["-n", db("db2").ns, "link", "set", "eth0", "down"]);
      // Alive and writable on its own: the reason a promotion needs the fence first.
      expect((await localSql(db("db2"), "SELECT @@read_only")).stdout.trim()).toBe("0");
    });
  }, 420_000);
});
