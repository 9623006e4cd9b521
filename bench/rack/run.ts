/**
 * `pirack bench`: builds the bench rack, lets the switch power the Pis, shows their progress from pirack's API,
 * and tears everything down on Ctrl-C, SIGTERM (the caller's AbortSignal) or, with `exit`, once every Pi is up
 * or failed. Returns the exit code: 0 only when every Pi came up.
 */
import { execa } from "execa";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { benchLayout, shapeProblems, type BenchLayout, type BenchPiModel } from "./layout.ts";
import { removeLeftovers } from "./netns.ts";
import { protocolPiLauncher } from "./pi-process.ts";
import { qemuPiLauncher } from "./qemu-launcher.ts";
import { PowerRail } from "./power-rail.ts";
import { allSettled, progressRows, renderProgress, StageClock, type ApiPi, type ProgressRow } from "./progress.ts";
import { BenchRack } from "./rack.ts";

/** Options of a bench run (the CLI fills in defaults). */
export interface BenchRunOptions {
  readonly pis: number;
  readonly qemu: number;
  readonly models: readonly BenchPiModel[];
  readonly exit: boolean;
  /** Keep logs here; default: inside the run directory (removed at teardown). */
  readonly logsDir?: string;
  /** Loopback address of the dashboard and API. */
  readonly listen: { readonly host: string; readonly port: number };
  readonly firmwareDir?: string;
  readonly imageDir?: string;
  /** Give up on Pis not up after this long (they are reported failed). */
  readonly timeoutMs: number;
  /** A Pi whose stage has not moved for this long is shown as stuck. */
  readonly stuckMs: number;
  /** Where run directories go (device nodes in roots need a non-nodev file system). */
  readonly tmpDir: string;
  readonly out: NodeJS.WriteStream;
  readonly signal: AbortSignal;
  /** bench/qemu's cache of artifacts and the golden image (default /var/cache/pirack-bench). */
  readonly cacheDir?: string;
  /** `--site`: the QEMU Pis are web Pis (root from the web layer), a db and a cdn stand-in serve the site with them. */
  readonly site?: boolean;
}

/** The firmware directory and golden image from bench/qemu's cache, built on first use. */
async function prepare(cacheDir: string | undefined, site: boolean, say: (line: string) => void): Promise<{ firmwareDir: string; imageDir: string }> {
  const { ensureGoldenImage, ensureRoleLayer, prepareArtifacts } = await import("../qemu/index.ts");
  say("boot artifacts from Debian's archive (arm64 kernel, raspi-firmware, DTBs, initramfs)");
  const artifacts = await prepareArtifacts({ ...(cacheDir ? { cacheDir } : {}), onStep: (step) => say(`  artifacts: ${step}`) });
  say(`  ${artifacts.cacheHit ? "cached" : "built"}: ${artifacts.firmwareDir}`);
  say("golden image (pirack image build --arch arm64; minutes under qemu-user when not cached)");
  let lastLine = 0;
  const golden = await ensureGoldenImage({
    ...(cacheDir ? { cacheDir } : {}),
    onLine: (line) => {
      // The build's progress lines come fast; one every few seconds is enough here.
      if (Date.now() - lastLine < 5000) return;
      lastLine = Date.now();
      say(`  image: ${line.slice(0, 120)}`);
    },
  });
  say(`  ${golden.cacheHit ? "cached" : `built in ${golden.buildSeconds.toFixed(0)} s`}: ${golden.path}`);
  if (site) {
    const { ROLES } = await import("../../workloads/index.ts");
    say("web layer (pirack workloads build web: nginx, php-fpm, wordpress... installed under qemu-user; minutes when not cached)");
    lastLine = 0;
    const layer = await ensureRoleLayer(golden, ROLES.web!, {
      onLine: (line) => {
        if (Date.now() - lastLine < 5000 || /^copy: copying/.test(line)) return;
        lastLine = Date.now();
        say(`  layer: ${line.slice(0, 120)}`);
      },
    });
    say(`  ${layer.cacheHit ? "cached" : `built in ${layer.buildSeconds.toFixed(0)} s (${layer.cpuSeconds.toFixed(0)} s CPU)`}: ${layer.path}`);
  }
  return { firmwareDir: artifacts.firmwareDir, imageDir: golden.path };
}

const REQUIRED_TOOLS = ["ip", "ovs-vsctl", "ovs-vswitchd", "ovsdb-server", "ovsdb-tool", "ganesha.nfsd", "rpcbind", "rpcinfo", "ssh-keyscan"];

/** What the `--site` stand-ins run on the host (Debian's nginx, mariadb-server and the systemd socket helper). */
const SITE_TOOLS = ["nginx", "mariadbd", "mariadb", "mariadb-dump", "systemd-socket-activate", "curl", "unshare"];

async function missingTools(qemu: boolean, site: boolean): Promise<string[]> {
  const tools = [...REQUIRED_TOOLS, ...(qemu ? ["qemu-system-aarch64"] : []), ...(site ? SITE_TOOLS : [])];
  const r = await execa("bash", ["-c", `for t in ${tools.join(" ")}; do command -v "$t" >/dev/null || echo "$t"; done`], { reject: false });
  return r.stdout.split("\n").filter(Boolean);
}

/** Runs the bench; resolves with the exit code once torn down. */
export async function runBench(opts: BenchRunOptions): Promise<number> {
  const started = Date.now();
  const say = (line: string): void => void opts.out.write(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s] ${line}\n`);
  const shape = { pis: opts.pis, qemu: opts.qemu, models: opts.models, pid: process.pid, site: opts.site ?? false };
  const problems = shapeProblems(shape);
  if (process.getuid?.() !== 0) problems.push("the bench builds network namespaces: run it as root (sudo)");
  const missing = await missingTools(opts.qemu > 0, opts.site ?? false);
  if (missing.length > 0)
    problems.push(`missing tools: ${missing.join(", ")} (sudo ./bench/up installs them${opts.site ? "; --site's stand-ins also need: apt-get install nginx mariadb-server mariadb-client" : ""})`);
  if (problems.length > 0) throw new BenchUsageError(problems);

  const gone = await removeLeftovers(opts.tmpDir);
  if (gone.namespaces.length + gone.runDirs.length > 0) say(`removed leftovers of earlier runs: ${[...gone.namespaces, ...gone.runDirs].join(", ")}`);
  const layout = benchLayout(shape);
  const runDir = join(opts.tmpDir, layout.runName);
  await mkdir(runDir, { recursive: true });
  let artifacts = opts.firmwareDir && opts.imageDir ? { firmwareDir: opts.firmwareDir, imageDir: opts.imageDir } : undefined;
  if (!artifacts) {
    const prepared = await prepare(opts.cacheDir, opts.site ?? false, say);
    artifacts = { firmwareDir: opts.firmwareDir ?? prepared.firmwareDir, imageDir: opts.imageDir ?? prepared.imageDir };
  }
  const logsDir = opts.logsDir ?? join(runDir, "logs");
  const rack = new BenchRack(layout, { runDir, logsDir, firmwareDir: artifacts.firmwareDir, imageDir: artifacts.imageDir, say });
  let rail: PowerRail | undefined;
  try {
    if (opts.signal.aborted) return 130;
    await raceAbort(rack.build(), opts.signal);
    const address = await rack.api.listen(opts.listen.host, opts.listen.port);
    say(`dashboard and API: http://${address.host}:${address.port}/ (pirack status|power --api http://${address.host}:${address.port})`);
    const protocol = protocolPiLauncher({ exportsDir: rack.paths.exports, logsDir });
    const qemu = qemuPiLauncher({ exportsDir: rack.paths.exports, logsDir, fetchRoot: join(runDir, "fetch"), publicNamespace: layout.namespaces.public });
    rail = new PowerRail(layout.pis, (pi) => (pi.kind === "qemu" ? qemu : protocol), (port, what) => say(`port ${port}: ${what}`));
    const powerRail = rail;
    rack.switch.on("poe", (port, powered) => void powerRail.set(port, powered));
    const site = startSite(rack, say);
    return await watch(layout, rack, powerRail, opts, say, site);
  } finally {
    say("tearing down the bench");
    await rail?.stopAll().catch(() => undefined);
    await rack.teardown();
    say("bench removed");
  }
}

/** Starts the `--site` stand-ins beside the booting Pis; resolves true once they serve (false: failed, said why). */
function startSite(rack: BenchRack, say: (line: string) => void): Promise<boolean> | undefined {
  const site = rack.layout.site;
  if (!rack.site || !site) return undefined;
  return rack.site.start().then(
    () => {
      const pub = rack.layout.namespaces.public;
      say(`site ready: cdn ${site.cdn.name} http://[${site.cdn.publicAddress}]/ (Host: ${site.host}), db ${site.db.name}, web ${site.webPorts.map((p) => `port ${p}`).join(", ")}`);
      say(`  from the public network: sudo ip netns exec ${pub} curl -gi -H 'Host: ${site.host}' 'http://[${site.cdn.publicAddress}]/'`);
      return true;
    },
    (err: unknown) => {
      say(`site failed: ${(err as Error).message}`);
      return false;
    },
  );
}

/** Shows progress until done (exit) or aborted; returns the exit code. */
async function watch(layout: BenchLayout, rack: BenchRack, rail: PowerRail, opts: BenchRunOptions, say: (line: string) => void, site?: Promise<boolean>): Promise<number> {
  const tty = opts.out.isTTY === true;
  const clock = new StageClock();
  const poweredSince = Date.now();
  let lastApi: ApiPi[] = [];
  let drawnLines = 0;
  let settledOnce = false;
  const lastPrinted = new Map<number, string>();
  let rows: ProgressRow[] = [];
  for (;;) {
    try {
      lastApi = await rack.api.pis();
    } catch (err) {
      // Keep the last rows: a slow API answer must not blank the table.
      if (!rack.serveRunning) throw new Error("pirack serve stopped", { cause: err });
    }
    const now = Date.now();
    rows = progressRows(layout.pis, rail.states, lastApi, clock, now, opts.stuckMs);
    if (tty) {
      const table = renderProgress(rows);
      opts.out.write(`${drawnLines > 0 ? `\x1b[${drawnLines}A\x1b[J` : ""}${table}`);
      drawnLines = table.split("\n").length - 1;
    } else {
      for (const r of rows) {
        const text = `${r.stage}${r.stuck ? " (stuck)" : ""}`;
        if (lastPrinted.get(r.port) === text) continue;
        lastPrinted.set(r.port, text);
        say(`port ${r.port} ${r.kind === "qemu" ? "qemu" : "pi"}${r.model} ${r.mac}: ${text}${r.seconds === undefined ? "" : ` at ${r.seconds.toFixed(1)} s`}${r.note ? ` (${r.note})` : ""}`);
      }
    }
    const timedOut = now - poweredSince > opts.timeoutMs;
    if ((allSettled(rows) || timedOut) && !settledOnce) {
      settledOnce = true;
      const up = rows.filter((r) => r.stage === "up").length;
      if (tty) drawnLines = 0;
      say(`${up} of ${rows.length} Pis up${timedOut && !allSettled(rows) ? ` (gave up waiting after ${opts.timeoutMs / 1000} s)` : ""}`);
      opts.out.write(renderProgress(rows));
      const siteUp = site ? await site : true;
      if (opts.exit) return up === rows.length && siteUp ? 0 : 1;
      say("the bench keeps running: Ctrl-C to take it down");
    }
    if (await aborted(opts.signal, tty ? 1000 : 500)) {
      opts.out.write(renderProgress(rows));
      return rows.every((r) => r.stage === "up") ? 0 : 130;
    }
  }
}

/** Waits `ms`; resolves true early when the signal aborts. */
function aborted(signal: AbortSignal, ms: number): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve(false);
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      resolve(true);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** Rejects when the signal aborts first (the build's own undo list still runs in teardown). */
async function raceAbort<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  let onAbort: () => void = () => undefined;
  const abort = new Promise<never>((_, reject) => {
    onAbort = () => reject(new BenchInterrupted());
    signal.addEventListener("abort", onAbort, { once: true });
  });
  try {
    return await Promise.race([p, abort]);
  } finally {
    signal.removeEventListener("abort", onAbort);
    // A build step still running after an abort finishes (or fails) before teardown undoes it.
    await p.catch(() => undefined);
  }
}

/** The run was interrupted while building. */
export class BenchInterrupted extends Error {
  constructor() {
    super("interrupted while building the bench");
  }
}

/** Bad flags or a machine that cannot run the bench; every problem listed. */
export class BenchUsageError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(problems.join("; "));
  }
}
