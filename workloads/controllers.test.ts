import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { MetricsRegistry } from "../lib/metrics.ts";
import { UPSTREAM_FILE } from "./cdn/render.ts";
import { defaultWorkloads } from "./config.ts";
import { tileWorkloads, workloadProblems, type WorkloadsStatus } from "./controllers-status.ts";
import { WorkloadControllers, type WorkloadsDeps, type WorkloadsSpec } from "./controllers.ts";
import { failoverFile } from "./failover/store.ts";
import type { RoleNode } from "./role.ts";

const node = (name: string, port: number, role: RoleNode["role"]): RoleNode => ({ name, port, role, publicAddress: `fd00::${port}`, storageAddress: `10.0.0.${port}`, serverAddress: "10.0.0.254" });
const nodes = [node("cdn1", 1, "cdn"), node("web1", 2, "web"), node("web2", 3, "web"), node("db1", 4, "db"), node("db2", 5, "db")];
const semi = { enabled: true, status: true, clients: 1 };
const primary = { up: true, role: "primary", readOnly: false, serverId: 4, gtidCurrentPos: "0-4-10", gtidSlavePos: "", gtidBinlogPos: "0-4-10", semiSync: semi, replica: null };
const replica = {
  ...primary,
  role: "replica",
  readOnly: true,
  serverId: 5,
  semiSync: { enabled: false, status: false, clients: 0 },
  replica: { io: "Yes", sql: "Yes", secondsBehind: 0, gtidIoPos: "0-4-10", masterHost: "fd00::4", lastIoErrno: 0, lastSqlErrno: 0 },
};

/** A fake world: HTTP answers by host, SQL and switch actions recorded. */
function world() {
  const answers = new Map<string, unknown>([
    ["10.0.0.4", primary],
    ["10.0.0.5", replica],
    ["[fd00::1]", "cdn"],
    ["[fd00::2]", "web"],
    ["[fd00::3]", "web"],
  ]);
  const fetch = (async (url: string) => {
    const host = new URL(url).host.replace(/:\d+$/, "");
    const a = answers.get(host);
    if (a === undefined) throw Object.assign(new Error("fetch failed"), { cause: { code: "ECONNREFUSED" } });
    return new Response(typeof a === "string" ? "ok" : JSON.stringify(a), { status: 200 });
  }) as unknown as typeof globalThis.fetch;
  const sql: string[] = [];
  const switchLog: string[] = [];
  const power = new Map<number, "on" | "off">();
  const deps: WorkloadsDeps = {
    log: pino({ level: "silent" }),
    metrics: new MetricsRegistry(),
    fetch,
    sql: () => async (n, text) => {
      sql.push(`${n.name}: ${text}`);
      if (text.startsWith("SHOW SLAVE STATUS")) return "Gtid_IO_Pos: 0-4-10\n";
      if (text.startsWith("SELECT MASTER_GTID_WAIT")) return "0\n";
      return "";
    },
    fence: async (port) => {
      switchLog.push(`off ${port}`);
      power.set(port, "off");
    },
    powerOn: async (port) => {
      switchLog.push(`on ${port}`);
      power.set(port, "on");
    },
    powerState: async (port) => power.get(port) ?? "on",
    rejoinTimeoutMs: 5_000,
  };
  return { answers, deps, sql, switchLog };
}

describe("WorkloadControllers", () => {
  let dir: string;
  let spec: WorkloadsSpec;
  const running: WorkloadControllers[] = [];
  const start = async (deps: WorkloadsDeps, s = spec) => {
    const c = new WorkloadControllers(deps);
    running.push(c);
    await c.configure(s);
    return c;
  };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "pirack-wl-"));
    const w = defaultWorkloads();
    const roots = Object.fromEntries(nodes.map((n) => [n.port, join(dir, "export", n.storageAddress)]));
    for (const n of nodes.filter((n) => n.port !== 1)) {
      await mkdir(join(roots[n.port]!, "etc"), { recursive: true });
      await writeFile(join(roots[n.port]!, "etc/hostname"), `${n.name}\n`);
      await writeFile(join(roots[n.port]!, "etc/group"), "root:x:0:\nmysql:x:101:\nwww-data:x:33:\n");
    }
    spec = {
      cluster: { nodes, exportsDir: join(dir, "export") },
      workloads: { ...w, db: { ...w.db, failover: { ...w.db.failover, intervalMs: 20, timeoutMs: 500 } }, cdn: { ...w.cdn, health: { ...w.cdn.health, intervalMs: 20 } } },
      stateDir: join(dir, "state"),
      roots,
    };
  });
  afterEach(async () => {
    for (const c of running.splice(0)) await c.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("fences the dead primary before promoting the replica, records it on disk, and a restart keeps it fenced", async () => {
    const w = world();
    const c = await start(w.deps);
    await vi.waitFor(() => expect(w.sql).toContain("db1: SET GLOBAL rpl_semi_sync_master_enabled = ON"), { timeout: 5_000 });
    w.answers.delete("10.0.0.4");
    await vi.waitFor(() => expect(c.status().events.map((e) => e.event)).toContain("promoted"), { timeout: 5_000 });
    expect(w.switchLog).toEqual(["off 4"]);
    const promote = w.sql.findIndex((s) => s.includes("RESET SLAVE ALL"));
    expect(promote).toBeGreaterThan(-1);
    expect(c.isFenced(4)).toBe(true);
    expect(c.fencedPorts()).toEqual([4]);
    const status = c.status();
    expect(status.db).toMatchObject({ primary: "db2", fenced: [{ node: "db1", port: 4 }], lastFailover: { from: "db1", to: "db2" } });
    expect(status.nodes.find((n) => n.node === "db1")).toMatchObject({ healthy: false, fenced: true });
    expect(status.events.map((e) => e.event)).toEqual(expect.arrayContaining(["primary failed", "fenced", "relay log applied", "promoted"]));
    expect(workloadProblems(status).map((p) => p.key)).toContain("fenced:db1");
    const onDisk = JSON.parse(await readFile(failoverFile(spec.stateDir), "utf8")) as Record<string, unknown>;
    expect(onDisk).toMatchObject({ primary: "db2", fenced: [{ name: "db1", port: 4 }] });
    expect((await stat(join(spec.stateDir, "workloads/db-admin.cnf"))).mode & 0o777).toBe(0o600);
    await c.stop();

    // The restarted daemon: db1 answers again (someone powered it on by hand); it stays fenced and is not promoted back.
    const again = world();
    again.answers.set("10.0.0.5", primary);
    const d = await start(again.deps);
    expect(d.isFenced(4)).toBe(true);
    expect(d.status().db?.primary).toBe("db2");
    expect(d.status().db?.lastFailover).toMatchObject({ from: "db1", to: "db2" });
    await vi.waitFor(() => expect(d.status().nodes.find((n) => n.node === "db2")?.healthy).toBe(true), { timeout: 5_000 });
    expect(again.switchLog).toEqual([]);
    expect(again.sql.filter((s) => s.startsWith("db1:"))).toEqual([]);
  });

  it("rejoin sets the datadir aside, renders the Pi as a replica of the new primary, powers it on and unfences it", async () => {
    const w = world();
    const c = await start(w.deps);
    await vi.waitFor(() => expect(w.sql).toContain("db1: SET GLOBAL rpl_semi_sync_master_enabled = ON"), { timeout: 5_000 });
    w.answers.delete("10.0.0.4");
    await vi.waitFor(() => expect(c.status().events.map((e) => e.event)).toContain("promoted"), { timeout: 5_000 });
    expect(c.isFenced(4)).toBe(true);
    await expect(c.rejoin(5)).rejects.toThrow(/not fenced/);
    const root = spec.roots[4]!;
    await mkdir(join(root, "var/lib/mysql"), { recursive: true });
    await writeFile(join(root, "var/lib/mysql/ibdata1"), "unacknowledged writes");
    w.answers.set("10.0.0.4", replica);
    w.answers.set("10.0.0.5", primary);
    const rejoining = c.rejoin(4);
    // While it rejoins the port is still fenced (operator power refused) but no longer held off.
    expect(c.isFenced(4)).toBe(true);
    expect(c.fencedPorts()).toEqual([]);
    const r = await rejoining;
    expect(r).toMatchObject({ node: "db1", primary: "db2" });
    expect(await readFile(join(root, r.datadirSetAside, "ibdata1"), "utf8")).toBe("unacknowledged writes");
    expect(await readFile(join(root, "etc/mysql/pirack/init.env"), "utf8")).toContain("ROLE=replica");
    expect(w.switchLog).toEqual(["off 4", "on 4"]);
    expect(c.isFenced(4)).toBe(false);
    expect(JSON.parse(await readFile(failoverFile(spec.stateDir), "utf8"))).toMatchObject({ primary: "db2", fenced: [] });
    expect(c.status().events.map((e) => e.event)).toEqual(expect.arrayContaining(["rejoin started", "node rejoined", "rejoin done"]));
  });

  it("drains a failing web Pi in the CDN roots that exist, never creating a root that does not", async () => {
    const w = world();
    const cdnRoot = spec.roots[1]!;
    const c = await start(w.deps);
    await vi.waitFor(() => expect(c.status().nodes.find((n) => n.node === "web2")?.healthy).toBe(true), { timeout: 5_000 });
    await expect(stat(cdnRoot)).rejects.toMatchObject({ code: "ENOENT" });
    await mkdir(join(cdnRoot, "etc"), { recursive: true });
    await writeFile(join(cdnRoot, "etc/hostname"), "cdn1\n");
    await vi.waitFor(async () => expect(await readFile(join(cdnRoot, UPSTREAM_FILE), "utf8")).toContain("# web2"), { timeout: 5_000 });
    w.answers.delete("[fd00::3]");
    await vi.waitFor(async () => expect(await readFile(join(cdnRoot, UPSTREAM_FILE), "utf8")).toMatch(/down; # web2 \(drained/), { timeout: 5_000 });
    const status = c.status();
    expect(status.cdn?.upstream.find((u) => u.node === "web2")).toMatchObject({ drained: true });
    expect(workloadProblems(status).find((p) => p.key === "node:web2")?.text).toContain("drained from the CDN");
    expect(w.deps.metrics.render()).toContain('pirack_cdn_upstream_drained{node="web2"} 1');
  });

  it("a reload with a changed spec replaces the controllers; an unchanged one keeps them; no role nodes runs nothing", async () => {
    const w = world();
    const c = await start(w.deps);
    await vi.waitFor(() => expect(c.status().db?.primary).toBe("db1"), { timeout: 5_000 });
    const events = c.status().events.filter((e) => e.event === "controller started").length;
    await c.configure({ ...spec });
    expect(c.status().events.filter((e) => e.event === "controller started")).toHaveLength(events);
    await c.configure({ ...spec, workloads: { ...spec.workloads, db: { ...spec.workloads.db, failover: { ...spec.workloads.db.failover, fails: 3 } } } });
    await vi.waitFor(() => expect(c.status().nodes.filter((n) => n.role === "db").every((n) => n.healthy === true)).toBe(true), { timeout: 5_000 });
    expect(c.status().events.filter((e) => e.event === "controller started").length).toBeGreaterThan(events);
    await c.configure({ ...spec, cluster: { nodes: [], exportsDir: spec.cluster.exportsDir } });
    expect(c.status()).toMatchObject({ nodes: [], cdn: null, db: null });
  });

  it("a damaged state file stops failover (reported as a problem), never a start from scratch", async () => {
    await mkdir(join(spec.stateDir, "workloads"), { recursive: true });
    await writeFile(failoverFile(spec.stateDir), "{ not json");
    const w = world();
    w.answers.delete("10.0.0.4");
    const c = await start(w.deps);
    expect(c.status().db?.problem).toContain("is not JSON");
    expect(workloadProblems(c.status()).find((p) => p.key === "db")?.text).toContain("db failover is not running");
    expect(w.switchLog).toEqual([]);
    await expect(c.rejoin(4)).rejects.toThrow(/db failover is not running/);
  });
});

describe("tileWorkloads: what a role Pi's dashboard tile says", () => {
  it("names the db primary, the replica, a fenced node, a drained web Pi and one not probed yet", () => {
    const node = (n: Partial<WorkloadsStatus["nodes"][number]> & { node: string; port: number; role: "web" | "db" | "cdn" }) => ({ healthy: true, detail: "d", checkedAt: null, failures: 0, ...n });
    const status: WorkloadsStatus = {
      nodes: [
        node({ node: "db1", port: 3, role: "db", fenced: false }),
        node({ node: "db2", port: 4, role: "db", fenced: false }),
        node({ node: "db3", port: 5, role: "db", healthy: false, fenced: true }),
        node({ node: "web1", port: 1, role: "web", drained: true, healthy: false }),
        node({ node: "web2", port: 2, role: "web", drained: false }),
        node({ node: "cdn1", port: 6, role: "cdn", healthy: null }),
      ],
      cdn: null,
      db: { primary: "db2", replica: "db1", fenced: [{ node: "db3", port: 5 }], unprotected: false, semiSync: true, failover: { enabled: true, autoRejoin: false }, lastFailover: null, rejoining: null, problem: null },
      events: [],
    };
    const tiles = tileWorkloads(status);
    expect([...tiles].map(([port, t]) => `${port} ${t.role} ${t.state}`).sort()).toEqual(["1 web drained", "2 web ok", "3 db replica", "4 db primary", "5 db fenced", "6 cdn unknown"]);
  });
});
