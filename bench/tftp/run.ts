/**
 * TFTP benchmark: pirack's server vs tftpd-hpa, same files, same client (atftp), same run, loopback
 * high ports (tftpd-hpa is started here on 127.0.0.1, never as the host's port-69 service).
 * Prints per case the median wall time of each server, the ratio pirack / tftpd-hpa (below 1 =
 * pirack faster), pirack's CPU time, and pirack's peak RSS.
 *
 * Usage: node --import tsx bench/tftp/run.ts [--size-mib 5] [--rounds 5] [--storm-rounds 3] [--workers 2]
 * (`--workers N`: pirack runs transfers in N worker threads; 0 keeps them on the main thread.
 * `--client-nice N`: run the atftp clients at nice N for both servers alike. On a real rack the Pis
 * are other machines; here 96 client processes share 2 cores with the server, and the fair scheduler
 * gives a one-process server 1/97 of the CPU while tftpd-hpa's process per transfer gets half.)
 * Needs: tftpd-hpa (in.tftpd) and atftp installed; root (tftpd-hpa changes user).
 */
import { execa, type ResultPromise } from "execa";
import { randomBytes } from "node:crypto";
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const sizeMib = arg("size-mib", 5);
const rounds = arg("rounds", 5);
const stormRounds = arg("storm-rounds", 3);
const workers = arg("workers", 2);
const clientNice = arg("client-nice", 0);
const PIRACK_PORT = 16969 + Math.floor(Math.random() * 1000);
const HPA_PORT = PIRACK_PORT + 1000;

interface Case {
  readonly name: string;
  readonly clients: number;
  readonly options: string[];
  readonly rounds: number;
}
const cases: Case[] = [
  { name: "1 client, blksize 512", clients: 1, options: ["--option", "blksize 512"], rounds },
  { name: "1 client, blksize 1468", clients: 1, options: ["--option", "blksize 1468"], rounds },
  { name: "32 clients, blksize 1468", clients: 32, options: ["--option", "blksize 1468"], rounds: stormRounds },
  { name: "96 clients, blksize 1468", clients: 96, options: ["--option", "blksize 1468"], rounds: stormRounds },
  { name: "32 clients, blksize 512", clients: 32, options: ["--option", "blksize 512"], rounds: stormRounds },
];

/** CPU ticks (user + system) and current RSS of a process, from /proc. */
async function procStats(pid: number): Promise<{ cpuMs: number; rssMb: number; hwmMb: number }> {
  const stat = (await readFile(`/proc/${pid}/stat`, "utf8")).split(") ")[1]!.split(" ");
  const ticks = Number(stat[11]) + Number(stat[12]); // utime, stime (fields 14, 15)
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return { cpuMs: ticks * 10, rssMb: kb("VmRSS") / 1024, hwmMb: kb("VmHWM") / 1024 };
}

/**
 * Busy CPU time of the whole machine (all cores, /proc/stat), in ms. tftpd-hpa's per-transfer
 * children are not reaped into its own counters, so the fair comparison is the machine's total:
 * clients, kernel and server, with the same clients on both sides.
 */
async function machineBusyMs(): Promise<number> {
  const cpu = (await readFile("/proc/stat", "utf8")).split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
  const idle = (cpu[3] ?? 0) + (cpu[4] ?? 0); // idle + iowait
  return (cpu.reduce((a, b) => a + b, 0) - idle) * 10;
}

/** Runs `n` atftp downloads at once; resolves with the wall time in ms, throws if any file is wrong. */
async function storm(port: number, n: number, options: string[], outDir: string, size: number): Promise<number> {
  const started = performance.now();
  const runs = Array.from({ length: n }, (_, i) =>
    execa("nice", ["-n", String(clientNice), "atftp", "-g", "-r", "bench.bin", "-l", join(outDir, `out-${i}`), ...options, "127.0.0.1", String(port)], { reject: false }),
  );
  const results = await Promise.all(runs);
  const ms = performance.now() - started;
  for (let i = 0; i < n; i++) {
    const st = await stat(join(outDir, `out-${i}`)).catch(() => null);
    if (results[i]!.exitCode !== 0 || st?.size !== size) throw new Error(`download ${i} failed on port ${port}: ${results[i]!.stderr}`);
  }
  return ms;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "pirack-bench-tftp-"));
  const out = await mkdtemp(join(tmpdir(), "pirack-bench-out-"));
  const size = sizeMib * 1024 * 1024;
  await writeFile(join(dir, "bench.bin"), randomBytes(size));
  // tftpd-hpa drops to user tftp: the directory and file must be world-readable.
  await chmod(dir, 0o755);
  await chmod(join(dir, "bench.bin"), 0o644);

  const children: ResultPromise[] = [];
  try {
    const hpa = execa("in.tftpd", ["-L", "-s", "-u", "tftp", "-a", `127.0.0.1:${HPA_PORT}`, dir], { reject: false });
    children.push(hpa);
    const pirack = execa("node", ["--import", "tsx", fileURLToPath(new URL("./serve.ts", import.meta.url)), dir, String(PIRACK_PORT)], { reject: false });
    children.push(pirack);
    await new Promise<void>((resolve, reject) => {
      pirack.stdout?.on("data", (c: Buffer) => c.toString().includes("listening") && resolve());
      void pirack.then(() => reject(new Error("pirack bench server exited")));
    });
    const pid = pirack.pid!;
    // Warm up both (page cache, pirack's file cache, JIT).
    await storm(HPA_PORT, 2, cases[1]!.options, out, size);
    await storm(PIRACK_PORT, 2, cases[1]!.options, out, size);

    console.log(`file ${sizeMib} MiB, client atftp, loopback, pirack workers ${workers}, clients at nice ${clientNice}; times are medians in ms`);
    console.log(["case", "tftpd-hpa", "pirack", "ratio", "machine CPU ms/round hpa", "machine CPU ms/round pirack", "pirack CPU ms/round", "pirack peak RSS MB"].join(" | "));
    for (const c of cases) {
      const times = { hpa: [] as number[], pirack: [] as number[] };
      let cpu = 0;
      const busy = { hpa: 0, pirack: 0 };
      let peakRss = 0;
      for (let r = 0; r < c.rounds; r++) {
        // Interleave, alternating who goes first, so background load hits both alike.
        const order = r % 2 ? (["pirack", "hpa"] as const) : (["hpa", "pirack"] as const);
        for (const who of order) {
          const before = await procStats(pid);
          const busyBefore = await machineBusyMs();
          let sampling = true;
          const sampler = (async () => {
            while (sampling) {
              peakRss = Math.max(peakRss, (await procStats(pid)).rssMb);
              await new Promise((res) => setTimeout(res, 50));
            }
          })();
          const ms = await storm(who === "hpa" ? HPA_PORT : PIRACK_PORT, c.clients, c.options, out, size);
          sampling = false;
          await sampler;
          times[who].push(ms);
          if (who === "pirack") cpu += (await procStats(pid)).cpuMs - before.cpuMs;
          busy[who] += (await machineBusyMs()) - busyBefore;
        }
      }
      const h = median(times.hpa);
      const p = median(times.pirack);
      console.log([c.name, h.toFixed(0), p.toFixed(0), (p / h).toFixed(2), (busy.hpa / c.rounds).toFixed(0), (busy.pirack / c.rounds).toFixed(0), (cpu / c.rounds).toFixed(0), peakRss.toFixed(0)].join(" | "));
    }
    const end = await procStats(pid);
    console.log(`pirack process: VmHWM ${end.hwmMb.toFixed(0)} MB over the whole run`);
    pirack.stdin?.end();
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
