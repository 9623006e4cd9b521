/**
 * Boot storm: N protocol Pis (mixed models 3B, 3B+, 4, 5; bench/pi) powered on at once, each in its own network
 * namespace on a veth whose fileserver end is `eth0.N`, netbooting the real firmware set (Debian's raspi-firmware
 * and arm64 kernel). Measures, per server, the time until every Pi has fetched its kernel (and initrd), per-Pi
 * p50/p99 of that time, the server's CPU time and peak RSS. Runs `pirack serve` and then dnsmasq (DHCP + TFTP,
 * the Raspberry Pi documentation's netboot settings, one folder per serial) on the same namespaces in the same
 * invocation and prints the ratios. Goal: pirack no slower than dnsmasq, pirack peak RSS under 150 MB.
 *   node --import tsx bench/storm/run.ts [--pis 96] [--workers 2] [--kernel-mib N] [--timeout-s 1800] [--file-timeout-s 900] [--json FILE] [--only pirack|dnsmasq]
 * --kernel-mib replaces the 33 MB kernel8.img with N MiB of random bytes (quick runs); the default is the real one.
 * --file-timeout-s replaces the firmware's per-file TFTP budget (30 s on Pi 4/5): a storm on a loaded 2-core
 * machine measures the servers, not whether one Pi gave up.
 * Needs root, dnsmasq, curl; the firmware set is fetched from Debian's archive on first use (bench/pi/firmware-set.ts).
 */
import { execa, type ResultPromise } from "execa";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { percentile } from "../dhcp/capture.ts";
import { ensureFirmwareSet } from "../pi/firmware-set.ts";
import { linkTree, rigPi, type RigPi } from "../pi/rig.ts";
import { TestBed, waitFor } from "../../test/support/netns.ts";
import { startDnsmasq, startPirack, stopServer, usage, type StormServer } from "./servers.ts";

const { values: cli } = parseArgs({
  options: {
    pis: { type: "string", default: "96" },
    workers: { type: "string", default: "2" },
    "kernel-mib": { type: "string" },
    "timeout-s": { type: "string", default: "1800" },
    "file-timeout-s": { type: "string", default: "900" },
    json: { type: "string" },
    only: { type: "string" },
  },
});
const PIS = Number(cli.pis);
const WORKERS = Number(cli.workers);
const TIMEOUT_S = Number(cli["timeout-s"]);
const FILE_TIMEOUT_S = Number(cli["file-timeout-s"]);
const NETWORK = "10.47.0.0/22";
const workerPath = fileURLToPath(new URL("./worker.ts", import.meta.url));

/** Per-Pi outcome of one storm. */
interface PiOutcome {
  port: number;
  model: string;
  stages: Record<string, number>; // stage -> ms since the power-on of the whole storm
  failed: string | null;
}

/** One storm against one server. */
interface StormResult {
  server: string;
  pis: PiOutcome[];
  allKernelMs: number | null;
  kernelP50Ms: number;
  kernelP99Ms: number;
  dhcpP50Ms: number;
  dhcpP99Ms: number;
  cpuMs: number;
  peakRssMb: number;
  failed: number;
  loadBefore: number[];
}

/** Fileserver namespace with eth0.N per Pi, and one namespace per Pi holding its `eth0`. */
async function buildTopology(bed: TestBed, pis: readonly RigPi[]): Promise<{ fs: string; piNs: Map<number, string> }> {
  const fs = await bed.namespace("bsfs");
  const piNs = new Map<number, string>();
  for (const pi of pis) piNs.set(pi.port, await bed.namespace(`bsp${pi.port}`));
  const links = pis.map((pi) => `link add eth0.${pi.vlan} netns ${fs} type veth peer name eth0 netns ${piNs.get(pi.port)} address ${pi.mac}`);
  await execa("ip", ["-batch", "-"], { input: links.join("\n") });
  await execa("ip", ["-n", fs, "-batch", "-"], { input: pis.flatMap((pi) => [`addr add ${pi.serverAddress}/30 dev eth0.${pi.vlan}`, `link set eth0.${pi.vlan} up`]).join("\n") });
  for (const pi of pis) await execa("ip", ["-n", piNs.get(pi.port)!, "link", "set", "eth0", "up"]);
  return { fs, piNs };
}

/** Powers every Pi on at once (all workers get "go" together) and collects their stages. */
async function storm(bed: TestBed, server: StormServer, pis: readonly RigPi[], piNs: Map<number, string>): Promise<StormResult> {
  const outcomes = new Map<number, PiOutcome>(pis.map((p) => [p.port, { port: p.port, model: p.model, stages: {}, failed: null }]));
  const shares = Array.from({ length: WORKERS }, (_, w) => pis.filter((_, i) => i % WORKERS === w));
  const workers: ResultPromise[] = [];
  const ready = new Set<number>();
  let powerOn = 0;
  let finished = 0;
  for (const [w, share] of shares.entries()) {
    const spec = { timeoutS: TIMEOUT_S, fileTimeoutS: FILE_TIMEOUT_S, pis: share.map((p) => ({ port: p.port, model: p.model, serial: p.serial, mac: p.mac, netns: piNs.get(p.port)! })) };
    const child = execa("node", ["--import", "tsx", workerPath, JSON.stringify(spec)], { reject: false, stdin: "pipe", buffer: false, stderr: "inherit" });
    workers.push(child);
    createInterface({ input: child.stdout! }).on("line", (line) => {
      const msg = JSON.parse(line) as { ready?: boolean; port?: number; goAt?: number; stage?: string; t?: number; reason?: string };
      if (msg.ready) ready.add(w);
      if (msg.port === undefined || !msg.stage) return;
      const o = outcomes.get(msg.port)!;
      o.stages[msg.stage] = msg.goAt! - powerOn + msg.t!;
      if (msg.stage === "failed") o.failed = msg.reason ?? "failed";
      if (msg.stage === "up" || msg.stage === "failed") finished += 1;
    });
  }
  await waitFor(() => (ready.size === WORKERS ? true : undefined), "storm workers loaded", 120_000);
  const loadBefore = loadavg();
  const before = await usage(server.pid);
  powerOn = Date.now();
  for (const child of workers) child.stdin!.write("go\n");
  await Promise.all(workers);
  const after = await usage(server.pid);
  if (finished < pis.length) console.error(`warning: ${pis.length - finished} Pi(s) reported neither up nor failed`);
  const list = [...outcomes.values()];
  const kernel = list.map((o) => o.stages["kernel"]).filter((t): t is number => t !== undefined);
  const dhcp = list.map((o) => o.stages["dhcp"]).filter((t): t is number => t !== undefined);
  return {
    server: server.name,
    pis: list,
    allKernelMs: kernel.length === pis.length ? Math.max(...kernel) : null,
    kernelP50Ms: percentile(kernel, 50),
    kernelP99Ms: percentile(kernel, 99),
    dhcpP50Ms: percentile(dhcp, 50),
    dhcpP99Ms: percentile(dhcp, 99),
    cpuMs: after.cpuMs - before.cpuMs,
    peakRssMb: after.peakRssMb,
    failed: list.filter((o) => o.failed).length,
    loadBefore,
  };
}

function report(results: StormResult[], meta: Record<string, unknown>): void {
  const by = Object.fromEntries(results.map((r) => [r.server, r]));
  const ours = by["pirack"];
  const ref = by["dnsmasq"];
  const fmt = (n: number | null | undefined, digits = 0) => (n === null || n === undefined || !Number.isFinite(n) ? "n/a" : n.toFixed(digits));
  console.log(`Boot storm: ${PIS} protocol Pis (${Object.entries(meta["models"] as Record<string, number>).map(([m, n]) => `${n}x ${m}`).join(", ")}), ${meta["kernel"]}, ${WORKERS} emulator processes, ${cpus().length} cores`);
  const rows: [string, (r: StormResult) => number | null, number][] = [
    ["all Pis have their kernel, ms", (r) => r.allKernelMs, 0],
    ["per-Pi kernel fetched p50, ms", (r) => r.kernelP50Ms, 0],
    ["per-Pi kernel fetched p99, ms", (r) => r.kernelP99Ms, 0],
    ["per-Pi DHCP lease p50, ms", (r) => r.dhcpP50Ms, 0],
    ["per-Pi DHCP lease p99, ms", (r) => r.dhcpP99Ms, 0],
    ["Pis failed", (r) => r.failed, 0],
    ["server CPU during the storm, ms", (r) => r.cpuMs, 0],
    ["server peak RSS, MB", (r) => r.peakRssMb, 1],
    ["load average (1 min) at power-on", (r) => r.loadBefore[0]!, 1],
  ];
  console.log(["metric".padEnd(36), "pirack".padStart(10), "dnsmasq".padStart(10), "ratio".padStart(7)].join(" "));
  for (const [label, get, digits] of rows) {
    const a = ours ? get(ours) : null;
    const b = ref ? get(ref) : null;
    const ratio = a !== null && b !== null && b > 0 ? (a / b).toFixed(2) : "";
    console.log([label.padEnd(36), fmt(a, digits).padStart(10), fmt(b, digits).padStart(10), ratio.padStart(7)].join(" "));
  }
  if (ours && ref && ours.allKernelMs !== null && ref.allKernelMs !== null) {
    console.log(`goal "no slower than dnsmasq" (all kernels fetched): ${ours.allKernelMs <= ref.allKernelMs ? "met" : "NOT met"} (ratio ${(ours.allKernelMs / ref.allKernelMs).toFixed(2)}); goal "peak RSS under 150 MB": ${ours.peakRssMb < 150 ? "met" : "NOT met"} (${ours.peakRssMb.toFixed(1)} MB)`);
  }
  for (const r of results) for (const o of r.pis.filter((p) => p.failed)) console.log(`${r.server}: port ${o.port} (${o.model}) failed: ${o.failed}`);
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error("the storm benchmark needs root (network namespaces)");
  const bed = new TestBed();
  const dir = await mkdtemp(join("/var/tmp", "pirack-storm-"));
  bed.defer(() => rm(dir, { recursive: true, force: true }));
  const onSignal = () => void bed.cleanup().then(() => process.exit(130));
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    const set = await ensureFirmwareSet();
    const bootDir = join(dir, "firmware");
    await linkTree(set.bootDir, bootDir);
    if (cli["kernel-mib"]) {
      await rm(join(bootDir, "kernel8.img"));
      await writeFile(join(bootDir, "kernel8.img"), randomBytes(Number(cli["kernel-mib"]) * 1024 * 1024));
    }
    // The initramfs the firmware loads with auto_initramfs (a 2 MB busybox one in the QEMU bench).
    const initrd = randomBytes(2 * 1024 * 1024);
    await writeFile(join(bootDir, "initramfs8"), initrd);
    await writeFile(join(bootDir, "initramfs_2712"), initrd);
    const pis = Array.from({ length: PIS }, (_, i) => rigPi(i + 1, NETWORK));
    const { fs, piNs } = await buildTopology(bed, pis);
    const results: StormResult[] = [];
    for (const name of (cli.only ? [cli.only] : ["pirack", "dnsmasq"]) as ("pirack" | "dnsmasq")[]) {
      const serverDir = join(dir, name);
      const server = name === "pirack" ? await startPirack(bed, fs, { dir: serverDir, bootDir, pis, network: NETWORK }) : await startDnsmasq(bed, fs, { dir: serverDir, bootDir, pis });
      try {
        const result = await storm(bed, server, pis, piNs);
        results.push(result);
        if (result.failed > 0 && name === "dnsmasq") await writeFile(`/tmp/pirack-storm-dnsmasq-${process.pid}.log`, await readFile(join(serverDir, "dnsmasq/dnsmasq.log"), "utf8").catch(() => ""));
      } finally {
        await stopServer(server);
      }
    }
    const models = Object.fromEntries(["3b", "3b+", "4", "5"].map((m) => [m, pis.filter((p) => p.model === m).length]));
    const kernelBytes = (await stat(join(bootDir, "kernel8.img"))).size;
    const kernel = `${cli["kernel-mib"] ? `${cli["kernel-mib"]} MiB random` : `Debian ${set.kernelRelease}`} kernel8.img (${(kernelBytes / 1e6).toFixed(1)} MB), raspi-firmware ${set.firmwareVersion}, 2 MiB initramfs`;
    report(results, { models, kernel });
    if (cli.json) await writeFile(cli.json, JSON.stringify({ pis: PIS, workers: WORKERS, kernel, results }, null, 2) + "\n");
  } finally {
    await bed.cleanup();
  }
}

await main();
