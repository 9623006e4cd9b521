/**
 * `pirack serve` runs the db failover: real mariadbd primary and replica (files rendered by `pirack workloads
 * apply` into their roots, Debian layout), the rendered health endpoint, HAProxy on the web Pi, and the simulated
 * PoE switch over SNMP. Killing the primary's mariadbd makes serve fence it (PoE off on the switch before the
 * promotion) and promote the replica; the API shows it; a restart of serve keeps the old primary fenced and off
 * (even with power-held-off.json gone) and refuses to power it on; `pirack workloads rejoin` brings it back.
 */
import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isRoot, waitFor } from "../support/netns.ts";
import { ServeDbBed } from "../support/serve-db-bed.ts";
import { rigToolsPresent } from "../support/workloads-db-rig.ts";

const missing = isRoot() ? await rigToolsPresent() : [];
const skip = !isRoot() ? "needs root (namespaces)" : missing.length ? `missing ${missing.join(", ")}` : "";
const pirack = new URL("../../bin/pirack.mjs", import.meta.url).pathname;
// POWER-ETHERNET-MIB pethPsePortAdminEnable of group 1 port 1 (1 on, 2 off).
const POE_1 = "1.3.6.1.2.1.105.1.1.1.3.1.1";

type View = {
  nodes: { node: string; port: number; role: string; healthy: boolean | null; fenced?: boolean }[];
  db: { primary: string; replica: string | null; fenced: { node: string; port: number }[]; lastFailover: Record<string, number | string> | null; semiSync: boolean | null } | null;
  events: { event: string }[];
};

describe.skipIf(skip !== "")(`pirack serve runs the db failover ${skip}`, () => {
  const bed = new ServeDbBed();
  const poe1 = () => bed.bed.exec(bed.fs, "snmpget", ["-v2c", "-c", "private", "-Oqv", "-t", "1", "-r", "1", `127.0.0.1:${bed.simPort}`, POE_1]).then((r) => r.stdout.trim());
  const view = async () => (await bed.api("/api/v1/workloads")).body as View;

  beforeAll(async () => {
    await bed.setUp();
    const [db1, db2] = bed.dbs;
    bed.bootDb(db1!);
    bed.bootDb(db2!);
    bed.startProxy();
    await bed.startServe();
    await bed.waitSeen((s) => s.source === "serve" && s.msg === "semi-sync on", "semi-sync on (serve's controller)", 240_000);
  }, 420_000);

  afterAll(() => bed.cleanup(), 120_000);

  it("kill -9 of the primary: serve fences it by PoE before promoting, the API and /metrics show it", async () => {
    const [db1, db2] = bed.dbs;
    expect((await bed.siteSql("CREATE TABLE IF NOT EXISTS posts (id INT AUTO_INCREMENT PRIMARY KEY, body VARCHAR(64)) ENGINE=InnoDB")).stderr).toBe("");
    const acked: number[] = [];
    for (let i = 0; i < 10; i++) {
      const r = await bed.siteSql(`INSERT INTO posts (body) VALUES ('before-${i}'); SELECT LAST_INSERT_ID()`);
      if (r.exitCode === 0) acked.push(Number(r.stdout.trim()));
    }
    expect(acked).toHaveLength(10);
    const from = bed.seen.length;
    const killedAt = Date.now();
    bed.crashMariadbd(db1!);
    const promoted = await bed.waitSeen((s) => s.source === "serve" && s.msg === "promoted", "promotion by serve", 60_000, from);
    const poeOff = bed.seen.slice(from).find((s) => s.source === "switch" && s.kind === "poe" && s.port === 1 && s.detection === 1);
    expect(poeOff).toBeDefined();
    expect(poeOff!.seenAt).toBeLessThanOrEqual(promoted.seenAt);
    expect(promoted).toMatchObject({ node: "db2", from: "db1", to: "db2" });
    let firstWriteMs = -1;
    await waitFor(async () => {
      const r = await bed.siteSql("INSERT INTO posts (body) VALUES ('after')", 3000);
      if (r.exitCode === 0) firstWriteMs = Date.now() - killedAt;
      return r.exitCode === 0 ? true : undefined;
    }, "a write through the proxy after the failover", 60_000);
    console.log(`serve failover: promoted ${promoted.seenAt - killedAt} ms after kill -9 (${JSON.stringify({ detectMs: promoted.detectMs, fenceMs: promoted.fenceMs, catchUpMs: promoted.catchUpMs, promoteMs: promoted.promoteMs })}), first write through the proxy after ${firstWriteMs} ms`);
    const rows = (await bed.localSql(db2!, "SELECT id FROM wordpress.posts")).stdout.split("\n").map(Number);
    for (const id of acked) expect(rows).toContain(id);
    expect(await poe1()).toBe("2");

    const v = await view();
    expect(v.db).toMatchObject({ primary: "db2", fenced: [{ node: "db1", port: 1 }], lastFailover: { from: "db1", to: "db2" } });
    expect(typeof v.db!.lastFailover!.totalMs).toBe("number");
    expect(v.nodes.find((n) => n.node === "db1")).toMatchObject({ fenced: true, healthy: false });
    expect(v.events.map((e) => e.event)).toEqual(expect.arrayContaining(["primary failed", "fenced", "relay log applied", "promoted"]));
    const metrics = (await bed.api("/metrics")).body as string;
    expect(metrics).toContain('pirack_db_node_fenced{node="db1"} 1');
    expect(metrics).toContain('pirack_db_node_primary{node="db2"} 1');
    expect(metrics).toMatch(/^pirack_db_failovers_total 1$/m);
    const overview = (await bed.api("/api/v1/overview")).body as { problems: { subsystem: string; port: number | null; text: string }[] };
    expect(overview.problems.find((p) => p.subsystem === "workloads" && p.port === 1)?.text).toContain("fenced old primary");
    const on = await bed.api("/api/v1/pis/1/power", { method: "POST", body: { action: "on" } });
    expect(on.status).toBe(409);
    expect(on.body).toMatchObject({ code: "DB_FENCED" });
  }, 180_000);

  it("a restart of serve keeps the old primary fenced and powered off, even with power-held-off.json lost", async () => {
    expect(await bed.stopServe()).toBe(0);
    await rm(join(bed.dir, "state/power-held-off.json"), { force: true });
    const from = bed.seen.length;
    await bed.startServe();
    const v = await view();
    expect(v.db).toMatchObject({ primary: "db2", fenced: [{ node: "db1", port: 1 }] });
    // Several passes (config timer aside, a request through the API) and the port stays off.
    await bed.api("/api/v1/reconcile");
    await bed.waitSeen((s) => s.source === "serve" && s.msg === "reconcile pass finished", "a pass after the restart", 60_000, from);
    expect(await poe1()).toBe("2");
    expect(bed.seen.slice(from).some((s) => s.source === "switch" && s.kind === "poe" && s.port === 1 && s.detection === 3)).toBe(false);
    const cli = await execa("node", [pirack, "power", "on", "1", "--api", `unix:${bed.socket}`], { reject: false });
    expect(cli.exitCode).not.toBe(0);
    expect(cli.stderr).toContain("fenced old db primary");
  }, 180_000);

  it("`pirack workloads rejoin 1` brings the old primary back as a replica of the new one", async () => {
    const [db1] = bed.dbs;
    const r = await execa("node", [pirack, "workloads", "rejoin", "1", "--api", `unix:${bed.socket}`], { reject: false, timeout: 600_000 });
    expect(r.stderr).toBe("");
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/^db1 \(port 1\) replicates from db2 .*old datadir kept at var\/lib\/mysql\.fenced-/);
    expect(await poe1()).toBe("1");
    await bed.siteSql("INSERT INTO posts (body) VALUES ('after rejoin')");
    await waitFor(async () => ((await bed.localSql(db1!, "SELECT body FROM wordpress.posts")).stdout.includes("after rejoin") ? true : undefined), "the new row on the rejoined replica", 30_000);
    expect((await bed.localSql(db1!, "SELECT @@read_only")).stdout.trim()).toBe("1");
    await waitFor(async () => ((await view()).db?.semiSync === true ? true : undefined), "semi-sync on again", 60_000);
    const v = await view();
    expect(v.db).toMatchObject({ primary: "db2", replica: "db1", fenced: [] });
    // Both polled healthy (one health request costs seconds on a loaded machine: a poll may time out meanwhile).
    const status = await waitFor(async () => {
      const r = await execa("node", [pirack, "workloads", "status", "--api", `unix:${bed.socket}`], { reject: false });
      return /db1\s+1\s+db\s+replica\s+yes/.test(r.stdout) && /db2\s+2\s+db\s+primary\s+yes/.test(r.stdout) ? r : undefined;
    }, "pirack workloads status showing db1 replica and db2 primary, both healthy", 120_000);
    expect(status.exitCode).toBe(0);
  }, 660_000);

  it("with no appliance running, `pirack workloads rejoin <port> --config F` rejoins from the state files and the switch", async () => {
    const [db1, db2] = bed.dbs;
    // A failover needs the pair protected (semi-sync on) and the replica answering its polls.
    await waitFor(async () => {
      const v = await view();
      return v.db?.replica === "db1" && !(v.db as { unprotected?: boolean }).unprotected && v.nodes.find((n) => n.node === "db1")?.healthy ? true : undefined;
    }, "the pair protected with db1 healthy", 180_000);
    const from = bed.seen.length;
    bed.crashMariadbd(db2!);
    const promoted = await bed
      .waitSeen((s) => s.source === "serve" && s.msg === "promoted", "second promotion", 120_000, from)
      .catch((err: Error) => {
        const said = bed.seen.slice(from).filter((s) => s.source === "serve" && typeof s.msg === "string" && /refused|alone|failed|fenced/.test(s.msg));
        throw new Error(`${err.message}; serve said: ${JSON.stringify(said.slice(-6))}`);
      });
    expect(promoted).toMatchObject({ from: "db2", to: "db1" });
    expect(await bed.stopServe()).toBe(0);
    const held = JSON.parse(await readFile(join(bed.dir, "state/power-held-off.json"), "utf8")) as { ports: number[] };
    expect(held.ports).toEqual([2]);
    // In the fileserver namespace, where the switch and the Pis' storage addresses are; serve's socket is gone.
    const r = await bed.bed.exec(bed.fs, "node", [pirack, "workloads", "rejoin", "2", "--config", bed.config, "--api", `unix:${bed.socket}`], { timeoutMs: 600_000 });
    expect(r.stderr).toBe("");
    expect(r.stdout).toMatch(/^db2 \(port 2\) replicates from db1 /);
    expect(JSON.parse(await readFile(join(bed.dir, "state/workloads/failover.json"), "utf8"))).toMatchObject({ primary: "db1", fenced: [] });
    expect((JSON.parse(await readFile(join(bed.dir, "state/power-held-off.json"), "utf8")) as { ports: number[] }).ports).toEqual([]);
    const row = `offline-${Date.now()}`;
    expect((await bed.localSql(db1!, `INSERT INTO wordpress.posts (body) VALUES ('${row}')`)).exitCode).toBe(0);
    await waitFor(async () => ((await bed.localSql(db2!, "SELECT body FROM wordpress.posts")).stdout.includes(row) ? true : undefined), "a new row on the offline-rejoined replica", 30_000);
  }, 720_000);
});
