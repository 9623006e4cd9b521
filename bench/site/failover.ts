/**
 * Failover time of the db pair over N trials (default 20): kill -9 of the primary's mariadbd (or, with
 * --partition, its link down), time to the first write accepted through a web Pi's local proxy, and that no
 * acknowledged write is missing on the new primary. Between trials the fenced old primary rejoins as a fresh
 * replica and semi-sync is back on. Prints p50/p99 against the 5 s goal and the controller's own breakdown
 * (detect, fence, relay-log catch-up, promote), with the hardware it ran on.
 *   sudo npx tsx bench/site/failover.ts [--trials 20] [--partition] [--interval-ms 500] [--timeout-ms 1000]
 */
import { execa } from "execa";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { DbRunner, type DbEvent } from "../../test/support/db-runner-client.ts";
import { isRoot, TestBed } from "../../test/support/netns.ts";
import { buildRigNetwork, crashRigMariadbd, localSql, rigToolsPresent, siteSql, startRigProxy, type RigSpec } from "../../test/support/workloads-db-rig.ts";

const { values: args } = parseArgs({ options: { trials: { type: "string", default: "20" }, partition: { type: "boolean", default: false }, "interval-ms": { type: "string", default: "500" }, "timeout-ms": { type: "string", default: "1000" } } });
const trials = Number(args.trials);
const goalMs = 5000;

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};

async function main(): Promise<void> {
  if (!isRoot()) throw new Error("needs root (namespaces)");
  const missing = await rigToolsPresent();
  if (missing.length) throw new Error(`missing ${missing.join(", ")}`);
  const bed = new TestBed();
  const base = await mkdtemp(join(os.tmpdir(), "pirack-failover-"));
  try {
    const built = await buildRigNetwork(bed, base);
    const spec: RigSpec = { ...built, workloads: { ...built.workloads, db: { ...built.workloads.db, failover: { ...built.workloads.db.failover, intervalMs: Number(args["interval-ms"]), timeoutMs: Number(args["timeout-ms"]) } } } };
    await startRigProxy(bed, spec);
    const runner = new DbRunner(bed, spec);
    const events = runner.events;
    const waitEvent = (pred: (e: DbEvent) => boolean, what: string, since: number, ms = 240_000) => runner.waitEvent(pred, what, ms, since);
    await runner.ready();
    await siteSql(spec, "CREATE TABLE IF NOT EXISTS posts (id INT AUTO_INCREMENT PRIMARY KEY, body VARCHAR(64)) ENGINE=InnoDB");
    let primary = spec.dbs[0]!;
    const results: { ms: number; breakdown: Record<string, unknown>; lost: number }[] = [];
    for (let t = 1; t <= trials; t++) {
      const acked: number[] = [];
      for (let i = 0; i < 10; i++) {
        const r = await siteSql(spec, `INSERT INTO posts (body) VALUES ('t${t}-${i}'); SELECT LAST_INSERT_ID()`);
        if (r.exitCode === 0) acked.push(Number(r.stdout.trim()));
      }
      const since = events.length;
      const failedAt = Date.now();
      // Linux drops a link's IPv6 addresses when it goes down unless keep_addr_on_down is set: without it the
      // partitioned Pi would come back without its public address and could not re-clone from the new primary.
      if (args.partition) await execa("ip", ["netns", "exec", primary.ns, "sysctl", "-qw", "net.ipv6.conf.eth0.keep_addr_on_down=1"]);
      if (args.partition) await execa("ip", ["-n", primary.ns, "link", "set", "eth0", "down"]);
      else crashRigMariadbd(primary);
      let ms = -1;
      while (ms < 0) {
        const r = await siteSql(spec, `INSERT INTO posts (body) VALUES ('t${t}-after')`, 2000);
        if (r.exitCode === 0) ms = Date.now() - failedAt;
        else if (Date.now() - failedAt > 60_000) throw new Error(`trial ${t}: no write accepted within 60 s`);
      }
      const promoted = await waitEvent((e) => e.msg === "promoted", "promoted", since, 10_000);
      const next = spec.dbs.find((d) => d.name === promoted.node)!;
      const rows = new Set((await localSql(next, "SELECT id FROM wordpress.posts")).stdout.split("\n").map(Number));
      const lost = acked.filter((id) => !rows.has(id)).length;
      results.push({ ms, breakdown: { detectMs: promoted.detectMs, fenceMs: promoted.fenceMs, catchUpMs: promoted.catchUpMs, promoteMs: promoted.promoteMs }, lost });
      console.log(`trial ${t}: first write through the proxy ${ms} ms after the failure of ${primary.name}; controller ${JSON.stringify(results.at(-1)!.breakdown)}; acknowledged writes lost: ${lost}`);
      if (args.partition) await execa("ip", ["-n", primary.ns, "link", "set", "eth0", "up"]);
      primary = next;
      if (t === trials) break; // the figures do not need the last fenced node back
      const rj = events.length;
      const fenced = spec.dbs.find((d) => d !== next)!;
      runner.send({ cmd: "rejoin", port: fenced.port });
      const done = await waitEvent((e) => e.event === "rejoin done" || e.event === "rejoin failed", "rejoin", rj);
      if (done.event !== "rejoin done") throw new Error(`trial ${t}: rejoin failed: ${String(done.err)}`);
      await waitEvent((e) => e.msg === "semi-sync on", "semi-sync on after rejoin", rj);
    }
    const times = results.map((r) => r.ms);
    const cpu = os.cpus();
    console.log(`\nhardware: ${cpu.length} x ${cpu[0]?.model ?? "?"}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, load average ${os.loadavg().map((l) => l.toFixed(1)).join(" ")}; ${os.type()} ${os.release()}`);
    console.log(`failover (${args.partition ? "partition" : "kill -9 mariadbd"}), ${results.length} trials, poll ${args["interval-ms"]} ms / timeout ${args["timeout-ms"]} ms:`);
    console.log(`  first accepted write: p50 ${pct(times, 50)} ms, p99 ${pct(times, 99)} ms, max ${Math.max(...times)} ms; goal ${goalMs} ms: p99/goal = ${(pct(times, 99) / goalMs).toFixed(2)}`);
    console.log(`  acknowledged writes lost: ${results.reduce((a, r) => a + r.lost, 0)}`);
  } finally {
    await bed.cleanup();
    await rm(base, { recursive: true, force: true });
  }
}

await main();
