/**
 * Site benchmark: requests per second through the CDN for a cached page and for an uncached one (a logged-in
 * cookie makes the CDN pass every request to a web Pi, which renders it with PHP and MariaDB), measured with wrk
 * from a client namespace against the site of test/support/site-bed.ts (real nginx, php-fpm, wordpress, mariadbd
 * with pirack's rendered configs). The cached figure is the CDN alone; the ratio is what the cache buys.
 * Failover time (p50/p99 over 20 trials) is the db role's part: `failoverTrials` below is its hook.
 *
 *   sudo npx tsx bench/site/run.ts [--seconds 10] [--connections 16]
 */
import { execa } from "execa";
import { cpus, totalmem } from "node:os";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { SiteBed } from "../../test/support/site-bed.ts";

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const seconds = arg("seconds", 10);
const connections = arg("connections", 16);

/**
 * Hook for the db role: `workloads/failover/bench.ts` exporting `failoverTrials(site, n)`, which runs n failovers
 * on the running site and returns each one's time in ms (primary failure to a write accepted through the CDN).
 */
export type FailoverTrials = (site: SiteBed, trials: number) => Promise<number[]>;
const FAILOVER_HOOK = new URL("../../workloads/failover/bench.ts", import.meta.url);
const failoverTrials = existsSync(FAILOVER_HOOK) ? ((await import(FAILOVER_HOOK.href)) as { failoverTrials?: FailoverTrials }).failoverTrials : undefined;

async function hardware(): Promise<string> {
  const model = cpus()[0]?.model ?? "unknown cpu";
  const load = (await readFile("/proc/loadavg", "utf8")).split(" ").slice(0, 3).join(" ");
  const versions = await Promise.all(
    [
      ["nginx", ["-v"]],
      ["php-fpm8.2", ["-v"]],
      ["mariadbd", ["--version"]],
    ].map(async ([cmd, args]) => {
      const r = await execa(cmd as string, args as string[], { reject: false });
      return `${cmd}: ${(r.stdout || r.stderr).split("\n")[0]!.trim()}`;
    }),
  );
  return [`cpu: ${model} x${cpus().length}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, load ${load}`, ...versions].join("\n");
}

/** Runs wrk in the client namespace; returns requests/s and the latency line. */
async function wrk(site: SiteBed, path: string, headers: string[]): Promise<{ rps: number; latency: string; errors: string }> {
  const args = ["-t", "2", "-c", String(connections), "-d", `${seconds}s`, "--timeout", "30s", "--latency", "-H", "Host: www.pirack.test", ...headers.flatMap((h) => ["-H", h]), `http://[${site.addr(1)}]${path}`];
  const r = await site.bed.exec(site.ns.client!, "wrk", args, { timeoutMs: (seconds + 60) * 1000 });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(r.stdout)?.[1] ?? NaN);
  const latency = /Latency\s+(\S+)\s+(\S+)\s+(\S+)/.exec(r.stdout);
  const errors = /Non-2xx or 3xx responses: (\d+)|Socket errors: .*/.exec(r.stdout)?.[0] ?? "none";
  return { rps, latency: latency ? `avg ${latency[1]}, stdev ${latency[2]}, max ${latency[3]}` : "?", errors };
}

const site = new SiteBed({ cacheSeconds: 60, weights: { web1: 1, web2: 11 } });
try {
  await site.start();
  const form = new URLSearchParams({ weblog_title: "Pirack Test Site", user_name: "admin", admin_password: "Adm1n-pass-word", admin_password2: "Adm1n-pass-word", admin_email: "admin@pirack.test", blog_public: "1", pw_weak: "1" });
  const install = await site.viaCdn("/wp-admin/install.php?step=2", { data: form.toString() });
  if (!install.body.includes("Success!")) throw new Error(`WordPress install failed: ${install.status}`);
  await site.viaCdn("/?p=1");
  const cached = await wrk(site, "/?p=1", []);
  const uncached = await wrk(site, "/?p=1", ["Cookie: wordpress_logged_in_bench=1"]);
  console.log(await hardware());
  console.log(`wrk: ${connections} connections, ${seconds} s per run, 2 web Pis (weights 1:11), 1 CDN, 1 MariaDB`);
  console.log(`cached page (X-Cache HIT):       ${cached.rps.toFixed(0).padStart(8)} req/s  latency ${cached.latency}  errors ${cached.errors}`);
  console.log(`uncached page (BYPASS, PHP+DB):  ${uncached.rps.toFixed(0).padStart(8)} req/s  latency ${uncached.latency}  errors ${uncached.errors}`);
  console.log(`cache speed-up: ${(cached.rps / uncached.rps).toFixed(1)}x`);
  if (failoverTrials) {
    const times = (await failoverTrials(site, 20)).sort((a, b) => a - b);
    const pct = (p: number) => times[Math.min(times.length - 1, Math.floor((p / 100) * times.length))]!;
    console.log(`failover over ${times.length} trials: p50 ${pct(50)} ms, p99 ${pct(99)} ms`);
  } else console.log("failover: not measured (no workloads/failover/bench.ts hook yet: the db role's part)");
} finally {
  await site.stop();
}
