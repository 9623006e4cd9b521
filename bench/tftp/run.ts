/**
 * TFTP benchmark: pirack's server vs tftpd-hpa, same files, same client (atftp), same invocation, loopback
 * high ports (tftpd-hpa is started here on 127.0.0.1, never as the host's port-69 service).
 *
 * Every case of issue 14 in one run: 1, 32 and 96 clients at once; blksize 512, 1024 and 1468; lockstep and
 * windowsize 16 (RFC 7440). tftpd-hpa has no windowsize option: it leaves it out of its OACK and the client
 * falls back to lockstep, so in the windowsize cases the reference is tftpd-hpa serving the same client
 * command in lockstep (the best it can do), and the table says so. Each round runs both servers back to back
 * (alternating who goes first, so background load hits both alike); the ratio pirack / tftpd-hpa is taken per
 * round and reported as the median with its min-max over the rounds. The load average is printed before and
 * after each case, and the machine's busy share during it, so a noisy case is visible.
 *
 * Usage: node --import tsx bench/tftp/run.ts [--clients 1,32,96] [--blksize 512,1024,1468] [--mode lockstep,window]
 *   [--rounds 5] [--storm-rounds 3] [--size-mib 4] [--storm-size-mib 1] [--workers 0[,2...]] [--client-nice 0]
 * (`--workers N`: pirack runs transfers in N worker threads, 0 keeps them on the main thread as the appliance
 * default does; a list such as `0,2` runs one pirack server per value, each in every round, with its own ratio.
 * `--client-nice N`: the atftp clients run at nice N for every server alike.)
 * Quick subset: `--clients 1 --blksize 512 --mode lockstep --rounds 3`.
 * Needs: tftpd-hpa (in.tftpd) and atftp installed; root (tftpd-hpa changes user).
 */
import { execa, type ResultPromise } from "execa";
import { randomBytes } from "node:crypto";
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const { values: cli } = parseArgs({
  options: {
    clients: { type: "string", default: "1,32,96" },
    blksize: { type: "string", default: "512,1024,1468" },
    mode: { type: "string", default: "lockstep,window" },
    rounds: { type: "string", default: "5" },
    "storm-rounds": { type: "string", default: "3" },
    "size-mib": { type: "string", default: "4" },
    "storm-size-mib": { type: "string", default: "1" },
    workers: { type: "string", default: "0" },
    "client-nice": { type: "string", default: "0" },
  },
});
const list = (s: string) => s.split(",").map((x) => x.trim()).filter(Boolean);
const WINDOW = 16;
const HPA_PORT = 16969 + Math.floor(Math.random() * 1000);
const WORKERS = list(cli.workers!).map(Number);

interface Case {
  readonly clients: number;
  readonly blksize: number;
  readonly window: boolean;
  readonly rounds: number;
  readonly file: "single" | "storm";
}
const cases: Case[] = [];
for (const mode of list(cli.mode!)) {
  if (mode !== "lockstep" && mode !== "window") throw new Error(`--mode: expected lockstep or window, got ${mode}`);
  for (const clients of list(cli.clients!).map(Number)) {
    for (const blksize of list(cli.blksize!).map(Number)) {
      const single = clients === 1;
      cases.push({ clients, blksize, window: mode === "window", rounds: Number(single ? cli.rounds : cli["storm-rounds"]), file: single ? "single" : "storm" });
    }
  }
}
const caseName = (c: Case) => `${c.clients} client${c.clients > 1 ? "s" : ""}, blksize ${c.blksize}, ${c.window ? `windowsize ${WINDOW}` : "lockstep"}`;
const optionsOf = (c: Case) => ["--option", `blksize ${c.blksize}`, ...(c.window ? ["--option", `windowsize ${WINDOW}`] : [])];

/** CPU ticks (user + system) and current/peak RSS of a process, from /proc. */
async function procStats(pid: number): Promise<{ cpuMs: number; rssMb: number; hwmMb: number }> {
  const fields = (await readFile(`/proc/${pid}/stat`, "utf8")).split(") ")[1]!.split(" ");
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return { cpuMs: (Number(fields[11]) + Number(fields[12])) * 10, rssMb: kb("VmRSS") / 1024, hwmMb: kb("VmHWM") / 1024 };
}

/** Busy and total CPU time of the whole machine (all cores, /proc/stat), in ms. */
async function machineCpu(): Promise<{ busy: number; total: number }> {
  const cpu = (await readFile("/proc/stat", "utf8")).split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = cpu.reduce((a, b) => a + b, 0) * 10;
  return { busy: total - ((cpu[3] ?? 0) + (cpu[4] ?? 0)) * 10, total };
}

/** Runs `n` atftp downloads at once; resolves with the wall time in ms, throws if any file is wrong. */
async function storm(port: number, n: number, options: string[], outDir: string, file: string, size: number): Promise<number> {
  const nice = cli["client-nice"]!;
  const started = performance.now();
  const runs = Array.from({ length: n }, (_, i) =>
    execa("nice", ["-n", nice, "atftp", "-g", "-r", file, "-l", join(outDir, `out-${i}`), ...options, "127.0.0.1", String(port)], { reject: false }),
  );
  const results = await Promise.all(runs);
  const ms = performance.now() - started;
  for (let i = 0; i < n; i++) {
    const st = await stat(join(outDir, `out-${i}`)).catch(() => null);
    if (results[i]!.exitCode !== 0 || st?.size !== size) throw new Error(`download ${i} of ${file} failed on port ${port}: ${results[i]!.stderr}`);
  }
  return ms;
}

const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
const median = (xs: number[]): number => {
  const s = sorted(xs);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const load = () => loadavg().map((l) => l.toFixed(1)).join(" ");

/** pirack's bench server with a line reader for its `stats` replies. */
interface PirackServer {
  readonly child: ResultPromise;
  readonly port: number;
  readonly workers: number;
  stats(): Promise<{ completed: number; other: number; windowSizes: Record<string, number>; blockSizes: Record<string, number> }>;
}

async function startPirack(dir: string, port: number, workers: number): Promise<PirackServer> {
  const child = execa("node", ["--import", "tsx", fileURLToPath(new URL("./serve.ts", import.meta.url)), dir, String(port), String(workers)], { reject: false, stdin: "pipe" });
  const waiting: ((line: string) => void)[] = [];
  let listening: () => void;
  const ready = new Promise<void>((resolve) => (listening = resolve));
  createInterface({ input: child.stdout! }).on("line", (line) => {
    if (line.includes('"listening"')) listening();
    else if (line.includes('"stats"')) waiting.shift()?.(line);
  });
  await Promise.race([ready, child.then(() => Promise.reject(new Error("pirack bench server exited")))]);
  return {
    child,
    port,
    workers,
    stats: () =>
      new Promise((resolve) => {
        waiting.push((line) => resolve(JSON.parse(line)));
        child.stdin!.write("stats\n");
      }),
  };
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "pirack-bench-tftp-"));
  const out = await mkdtemp(join(tmpdir(), "pirack-bench-out-"));
  const sizes = { single: Number(cli["size-mib"]) * 1024 * 1024, storm: Number(cli["storm-size-mib"]) * 1024 * 1024 };
  // Sizes not a multiple of any block size, so every transfer ends on a short block.
  const files = { single: "single.bin", storm: "storm.bin" };
  for (const k of ["single", "storm"] as const) {
    sizes[k] += 333;
    await writeFile(join(dir, files[k]), randomBytes(sizes[k]));
    await chmod(join(dir, files[k]), 0o644);
  }
  // tftpd-hpa drops to user tftp: the directory and file must be world-readable.
  await chmod(dir, 0o755);

  const children: ResultPromise[] = [];
  try {
    const hpa = execa("in.tftpd", ["-L", "-s", "-u", "tftp", "-a", `127.0.0.1:${HPA_PORT}`, dir], { reject: false });
    children.push(hpa);
    const piracks: PirackServer[] = [];
    for (const [i, w] of WORKERS.entries()) {
      const p = await startPirack(dir, HPA_PORT + 1000 * (i + 1), w);
      children.push(p.child);
      piracks.push(p);
    }
    // Warm up every server (page cache, pirack's file cache, JIT), in every mode used.
    for (const c of [...new Map(cases.map((c) => [`${c.window}`, c])).values()]) {
      for (const port of [HPA_PORT, ...piracks.map((p) => p.port)]) for (const f of ["single", "storm"] as const) await storm(port, 2, optionsOf(c), out, files[f], sizes[f]);
    }
    for (const p of piracks) await p.stats();

    const v = await execa("in.tftpd", ["-V"], { reject: false });
    const hpaVersion = (v.stdout || v.stderr).split("\n")[0] ?? "?";
    console.log(`TFTP benchmark ${new Date().toISOString()}, ${(await readFile("/proc/cpuinfo", "utf8")).match(/^processor/gm)?.length ?? "?"} CPUs, ${hpaVersion}, client atftp on loopback`);
    console.log(`file ${(sizes.single / 1048576).toFixed(1)} MiB for 1 client, ${(sizes.storm / 1048576).toFixed(1)} MiB per client in storms; pirack workers ${WORKERS.join(" and ")}; clients at nice ${cli["client-nice"]}`);
    console.log("tftpd-hpa has no windowsize: in the windowsize cases it declines the option and serves lockstep (marked *)");
    console.log("times are medians in ms; ratio = pirack / tftpd-hpa per round: median [min-max]; below 1 = pirack faster");
    const perPirack = (label: string) => piracks.map((p) => `${label} w${p.workers}`);
    console.log(["case", "tftpd-hpa", ...perPirack("pirack"), ...perPirack("ratio"), "rounds", ...perPirack("CPU ms/round"), "peak RSS MB", "machine busy %", "load before -> after"].join(" | "));
    for (const c of cases) {
      const loadBefore = load();
      const servers = ["hpa", ...piracks.map((_, i) => i)] as const;
      const times = new Map<string | number, number[]>(servers.map((s) => [s, []]));
      const ratios = piracks.map(() => [] as number[]);
      const cpu = piracks.map(() => 0);
      let peakRss = 0;
      const m0 = await machineCpu();
      for (let r = 0; r < c.rounds; r++) {
        // Rotate who goes first, so background load hits every server alike.
        const order = servers.map((_, i) => servers[(i + r) % servers.length]!);
        const round = new Map<string | number, number>();
        for (const who of order) {
          const p = who === "hpa" ? null : piracks[who]!;
          const before = p ? await procStats(p.child.pid!) : null;
          let sampling = p !== null;
          const sampler = (async () => {
            while (sampling && p) {
              peakRss = Math.max(peakRss, (await procStats(p.child.pid!)).rssMb);
              await new Promise((res) => setTimeout(res, 50));
            }
          })();
          const ms = await storm(p ? p.port : HPA_PORT, c.clients, optionsOf(c), out, files[c.file], sizes[c.file]);
          sampling = false;
          await sampler;
          round.set(who, ms);
          times.get(who)!.push(ms);
          if (p && before) cpu[who as number]! += (await procStats(p.child.pid!)).cpuMs - before.cpuMs;
        }
        piracks.forEach((_, i) => ratios[i]!.push(round.get(i)! / round.get("hpa")!));
      }
      const m1 = await machineCpu();
      for (const p of piracks) {
        const st = await p.stats();
        const want = String(c.window ? WINDOW : 1);
        if (st.completed !== c.clients * c.rounds || st.windowSizes[want] !== st.completed || st.blockSizes[String(c.blksize)] !== st.completed) {
          throw new Error(`${caseName(c)}: pirack's transfers (workers ${p.workers}) were not what the case asks: ${JSON.stringify(st)}`);
        }
      }
      const spread = (xs: number[]) => {
        const s = sorted(xs);
        return `${median(xs).toFixed(2)} [${s[0]!.toFixed(2)}-${s[s.length - 1]!.toFixed(2)}]`;
      };
      console.log(
        [
          caseName(c) + (c.window ? " *" : ""),
          median(times.get("hpa")!).toFixed(0),
          ...piracks.map((_, i) => median(times.get(i)!).toFixed(0)),
          ...ratios.map(spread),
          String(c.rounds),
          ...cpu.map((x) => (x / c.rounds).toFixed(0)),
          peakRss.toFixed(0),
          ((100 * (m1.busy - m0.busy)) / (m1.total - m0.total)).toFixed(0),
          `${loadBefore} -> ${load()}`,
        ].join(" | "),
      );
    }
    for (const p of piracks) console.log(`pirack process (workers ${p.workers}): VmHWM ${(await procStats(p.child.pid!)).hwmMb.toFixed(0)} MB over the whole run`);
  } finally {
    for (const c of children) {
      c.kill("SIGTERM");
      await c.catch(() => undefined);
    }
    await rm(dir, { recursive: true, force: true });
    await rm(out, { recursive: true, force: true });
  }
}

await main();
