/**
 * DHCP benchmark: 96 veth "VLANs" (eth0.10 ... eth0.105, one /30 each) in a fileserver namespace, 96
 * BusyBox udhcpc clients started at once in a client namespace. Measures, per server and round: time
 * until every client is bound, OFFER latency (DISCOVER in -> OFFER out for the same xid, from the kernel
 * timestamps of a tcpdump pcap taken in the server namespace), server CPU time and peak RSS. Runs pirack's
 * dhcpd and dnsmasq (configured equivalently: 96 interfaces, one /30 each, PXE menu, no ping)
 * interleaved in the same invocation and prints the ratios: of the medians over the rounds, and per round
 * (median [min-max] of round k's pirack / dnsmasq). Each server instance gets one uncounted warm-up round
 * first. The load average is printed before and after every round, so a noisy run is visible.
 *   node --import tsx bench/dhcp/run.ts [--clients 96] [--rounds 5] [--profile DIR]
 * (`--profile DIR`: pirack's server runs under `node --cpu-prof`, one .cpuprofile per server instance in DIR.)
 * Needs root, busybox (udhcpc), dnsmasq and tcpdump.
 */
import { execa, type ResultPromise } from "execa";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { TestBed, waitFor } from "../../test/support/netns.ts";
import type { DhcpScope } from "../../appliance/dhcpd/index.ts";
import { offerLatenciesMs, parsePcap, percentile } from "./capture.ts";

const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
const { values: cli } = parseArgs({ options: { clients: { type: "string", default: "96" }, rounds: { type: "string", default: "5" }, profile: { type: "string" } } });
const CLIENTS = Number(cli.clients);
const hex2 = (n: number) => n.toString(16).padStart(2, "0");
const ROUNDS = Number(cli.rounds);

const loadNow = () => loadavg().map((l) => l.toFixed(1)).join(" ");

/** Port p (1-based): VLAN 9 + p, the (p-1)th /30 of 10.47.0.0/22. */
function scopeOf(p: number): DhcpScope {
  const base = (10 << 24) | (47 << 16) | ((p - 1) * 4);
  const dotted = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
  return { port: p, vlan: 9 + p, interfaceName: `eth0.${9 + p}`, serverAddress: dotted(base + 1), clientAddress: dotted(base + 2), netmask: "255.255.255.252" };
}

interface Server {
  name: string;
  pid: number;
  child: ResultPromise;
}

/** CPU ticks (utime + stime) and peak RSS (kB) of a process. */
async function usage(pid: number): Promise<{ cpuTicks: number; peakRssKb: number }> {
  const stat = (await readFile(`/proc/${pid}/stat`, "utf8")).split(") ")[1]!.split(" ");
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  return { cpuTicks: Number(stat[11]) + Number(stat[12]), peakRssKb: Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) };
}

async function startPirack(bed: TestBed, fs: string, scopes: DhcpScope[]): Promise<Server> {
  const profile = cli.profile ? ["--cpu-prof", `--cpu-prof-dir=${cli.profile}`] : [];
  const child = bed.spawn(fs, "node", [...profile, "--import", "tsx", join(repoRoot, "appliance/dhcpd/standalone.ts"), JSON.stringify({ scopes, settings: { pi3OfferDelayMs: 0 }, events: ["interface"], logLevel: "warn" })]);
  let ready = false;
  createInterface({ input: child.stdout! }).on("line", (l) => (ready ||= l.includes('"ready"')));
  await waitFor(() => (ready ? true : undefined), "pirack dhcpd ready", 30_000);
  return { name: "pirack", pid: child.pid!, child };
}

async function startDnsmasq(bed: TestBed, fs: string, scopes: DhcpScope[], dir: string): Promise<Server> {
  const args = ["--keep-in-foreground", "--port=0", "--user=root", "--no-ping", "--dhcp-authoritative", "--except-interface=lo", `--dhcp-leasefile=${join(dir, "leases")}`, `--pid-file=${join(dir, "dnsmasq.pid")}`, `--log-facility=${join(dir, "dnsmasq.log")}`, '--pxe-service=0,"Raspberry Pi Boot"'];
  for (const s of scopes) {
    args.push(`--interface=${s.interfaceName}`, `--dhcp-range=set:p${s.port},${s.clientAddress},${s.clientAddress},${s.netmask},24h`, `--dhcp-option=tag:p${s.port},66,"${s.serverAddress}"`);
  }
  const child = bed.spawn(fs, "dnsmasq", args);
  // dnsmasq is ready once its DHCP socket is bound.
  await waitFor(async () => ((await execa("ip", ["netns", "exec", fs, "ss", "-lunp"], { reject: false })).stdout.includes(":67 ") ? true : undefined), "dnsmasq listening", 10_000);
  return { name: "dnsmasq", pid: child.pid!, child };
}

interface RoundResult {
  load: string;
  droppedByKernel: number;
  allBoundMs: number;
  bound: number;
  offerLatenciesMs: number[];
  cpuMs: number;
  peakRssMb: number;
}

/** One round: capture on, 96 udhcpc at once, wait for all, capture off. */
async function round(bed: TestBed, fs: string, clientNs: string, server: Server): Promise<RoundResult> {
  await execa("ip", ["-n", clientNs, "-batch", "-"], { input: Array.from({ length: CLIENTS }, (_, i) => `addr flush dev c${i + 1}`).join("\n") });
  const pcapFile = join(tmpdir(), `pirack-bench-dhcp-${server.name}-${process.pid}-${Date.now()}.pcap`);
  const capture = execa("ip", ["netns", "exec", fs, "tcpdump", "-i", "any", "--immediate-mode", "-B", "8192", "-s", "600", "-n", "-w", pcapFile, "udp and (port 67 or port 68)"], { reject: false, buffer: true });
  let listening = false;
  capture.stderr!.on("data", (chunk: Buffer) => (listening ||= chunk.toString().includes("listening")));
  await waitFor(() => (listening ? true : undefined), "tcpdump listening", 10_000);
  const loadBefore = loadNow();
  const before = await usage(server.pid);
  const t0 = performance.now();
  const clients = Array.from({ length: CLIENTS }, (_, i) =>
    execa("ip", ["netns", "exec", clientNs, "busybox", "udhcpc", "-i", `c${i + 1}`, "-n", "-q", "-f", "-t", "10", "-T", "1", "-A", "1", "-s", "/bin/true", "-V", "PXEClient:Arch:00000:UNDI:002001"], { reject: false, timeout: 60_000 }),
  );
  const results = await Promise.all(clients);
  const allBoundMs = performance.now() - t0;
  const after = await usage(server.pid);
  capture.kill("SIGINT");
  const dump = await capture;
  const dropped = /(\d+) packets dropped by kernel/.exec(String(dump.stderr))?.[1];
  const latencies = offerLatenciesMs(parsePcap(await readFile(pcapFile)));
  if (!process.env.BENCH_KEEP_PCAP) await rm(pcapFile, { force: true });
  const ticksPerMs = 100 / 1000; // USER_HZ = 100 on Linux
  return { load: `${loadBefore} -> ${loadNow()}`, droppedByKernel: Number(dropped ?? 0), allBoundMs, bound: results.filter((r) => r.exitCode === 0).length, offerLatenciesMs: latencies, cpuMs: (after.cpuTicks - before.cpuTicks) / ticksPerMs, peakRssMb: after.peakRssKb / 1024 };
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error("the DHCP benchmark needs root (network namespaces)");
  const bed = new TestBed();
  const dir = await mkdtemp(join(tmpdir(), "pirack-bench-dhcp-"));
  bed.defer(() => rm(dir, { recursive: true, force: true }));
  const onSignal = () => void bed.cleanup().then(() => process.exit(130));
  process.on("SIGINT", onSignal);
  try {
    const fs = await bed.namespace("bdfs");
    const clientNs = await bed.namespace("bdcl");
    const scopes = Array.from({ length: CLIENTS }, (_, i) => scopeOf(i + 1));
    const links = scopes.map((s, i) => `link add ${s.interfaceName} netns ${fs} address 02:00:00:00:${hex2(i >> 8)}:${hex2(i & 255)} type veth peer name c${i + 1} netns ${clientNs} address dc:a6:32:00:${hex2(i >> 8)}:${hex2(i & 255)}`);
    await execa("ip", ["-batch", "-"], { input: links.join("\n") });
    await execa("ip", ["-n", fs, "-batch", "-"], { input: scopes.flatMap((s) => [`addr add ${s.serverAddress}/30 dev ${s.interfaceName}`, `link set ${s.interfaceName} up`]).join("\n") });
    await execa("ip", ["-n", clientNs, "-batch", "-"], { input: scopes.map((_, i) => `link set c${i + 1} up`).join("\n") });

    const results: Record<string, RoundResult[]> = { pirack: [], dnsmasq: [] };
    for (let r = 0; r < ROUNDS; r++) {
      // Interleave the servers so background load hits both alike; each round uses a fresh server.
      for (const name of r % 2 === 0 ? ["pirack", "dnsmasq"] : ["dnsmasq", "pirack"]) {
        const server = name === "pirack" ? await startPirack(bed, fs, scopes) : await startDnsmasq(bed, fs, scopes, dir);
        await rm(join(dir, "leases"), { force: true });
        await round(bed, fs, clientNs, server); // warm-up (JIT, page cache), not counted
        const result = await round(bed, fs, clientNs, server);
        results[name]!.push(result);
        const lat = result.offerLatenciesMs;
        console.log(`round ${r + 1} ${name}: bound ${result.bound}/${CLIENTS} in ${result.allBoundMs.toFixed(0)} ms, OFFER p50 ${percentile(lat, 50).toFixed(2)} ms p99 ${percentile(lat, 99).toFixed(2)} ms, load ${result.load}`);
        server.child.kill("SIGTERM");
        await server.child.catch(() => undefined);
      }
    }
    report(results);
  } finally {
    await bed.cleanup();
  }
}

function report(results: Record<string, RoundResult[]>): void {
  const summary = (rs: RoundResult[]) => {
    const lat = rs.flatMap((r) => r.offerLatenciesMs);
    const median = (xs: number[]) => percentile(xs, 50);
    return {
      bound: `${rs.reduce((n, r) => n + r.bound, 0)}/${rs.length * CLIENTS}`,
      allBoundMs: median(rs.map((r) => r.allBoundMs)),
      offerP50Ms: percentile(lat, 50),
      offerP99Ms: percentile(lat, 99),
      offers: lat.length,
      cpuMs: median(rs.map((r) => r.cpuMs)),
      peakRssMb: Math.max(...rs.map((r) => r.peakRssMb)),
      captureDrops: rs.reduce((n, r) => n + r.droppedByKernel, 0),
    };
  };
  const ours = summary(results.pirack!);
  const ref = summary(results.dnsmasq!);
  const fmt = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : "n/a");
  const rows: [string, keyof typeof ours][] = [
    ["clients bound (all rounds)", "bound"],
    ["time until all bound, median ms", "allBoundMs"],
    ["OFFER latency p50 ms", "offerP50Ms"],
    ["OFFER latency p99 ms", "offerP99Ms"],
    ["OFFERs measured", "offers"],
    ["server CPU per round, median ms", "cpuMs"],
    ["server peak RSS MB", "peakRssMb"],
    ["tcpdump drops (all rounds)", "captureDrops"],
  ];
  console.log(`DHCP benchmark ${new Date().toISOString()}: ${CLIENTS} VLAN interfaces, ${CLIENTS} udhcpc at once, ${ROUNDS} rounds per server (interleaved), load now ${loadNow()}`);
  console.log(["metric".padEnd(34), "pirack".padStart(10), "dnsmasq".padStart(10), "ratio".padStart(8)].join(" "));
  for (const [label, key] of rows) {
    const a = ours[key];
    const b = ref[key];
    const ratio = typeof a === "number" && typeof b === "number" && b > 0 ? fmt(a / b) : "";
    console.log([label.padEnd(34), (typeof a === "number" ? fmt(a) : a).padStart(10), (typeof b === "number" ? fmt(b) : b).padStart(10), ratio.padStart(8)].join(" "));
  }
  const spread = (f: (r: RoundResult) => number) => {
    const rs = results.pirack!.map((p, i) => f(p) / f(results.dnsmasq![i]!)).sort((a, b) => a - b);
    return `${percentile(rs, 50).toFixed(2)} [${rs[0]!.toFixed(2)}-${rs[rs.length - 1]!.toFixed(2)}]`;
  };
  console.log(`per-round ratios, median [min-max]: all bound ${spread((r) => r.allBoundMs)}, OFFER p50 ${spread((r) => percentile(r.offerLatenciesMs, 50))}, p99 ${spread((r) => percentile(r.offerLatenciesMs, 99))}`);
  const goalSpeed = ours.allBoundMs <= ref.allBoundMs * 1.05;
  console.log(`goal "no slower than dnsmasq" (all bound, 5% noise allowance): ${goalSpeed ? "met" : "NOT met"}; goal "OFFER p99 < 10 ms": ${ours.offerP99Ms < 10 ? "met" : "NOT met"}`);
}

await main();
