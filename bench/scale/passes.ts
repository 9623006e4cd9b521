/**
 * The in-process part of `bench/scale`, built as `serve` builds it (`openAppliance`, the same subsystems, the
 * coalescing state writer, a pino logger writing JSON lines to a file): config validation and planning, the
 * first pass on an empty fileserver, every Pi seen by DHCP and the pass that enrols them all (btrfs snapshots),
 * then passes with nothing to do, and the memory the appliance holds afterwards.
 */
import { execa } from "execa";
import { mkdir, writeFile } from "node:fs/promises";
import { Session } from "node:inspector/promises";
import { dirname, join } from "node:path";
import { pino } from "pino";
import { MetricsRegistry } from "../../lib/metrics.ts";
import { parseConfigText, type Config } from "../../appliance/config.ts";
import { LearnedWriter } from "../../appliance/learned-store.ts";
import { planRack, type LearnedPi } from "../../appliance/plan.ts";
import { openAppliance } from "../../appliance/rack.ts";
import type { PassReport } from "../../appliance/reconcile/reconciler.ts";
import { SwitchOwner } from "../../appliance/switch-owner.ts";
import { scaleRackYaml } from "./rack.ts";

/** What one rack size measured in process. */
export interface PassFigures {
  readonly ports: number;
  readonly validateMs: number;
  readonly planMs: number;
  readonly firstPassMs: number;
  readonly firstPassActions: number;
  /** Recording every Pi's DHCP sighting (each one replans the rack and requests a pass). */
  readonly sightingsMs: number;
  /** From the first sighting until every pass it requested finished: all roots cloned and exported. */
  readonly enrolMs: number;
  readonly rootsCreated: number;
  readonly noopPassMs: number;
  readonly rssMiB: number;
  readonly heapMiB: number;
}

/** A Pi's made-up identity on a port: a Raspberry Pi Trading OUI MAC and a serial, both unique per port. */
export function identityOf(port: number): LearnedPi {
  const hex = port.toString(16).padStart(6, "0");
  return { port, mac: `d8:3a:dd:${hex.slice(0, 2)}:${hex.slice(2, 4)}:${hex.slice(4, 6)}`, serial: `5c${hex}`, model: "4B" };
}

/** Median of `runs` timings of `fn` (ms), after one untimed warm-up run. */
export async function medianMs(runs: number, fn: () => unknown): Promise<number> {
  await fn();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await fn();
    times.push(performance.now() - t);
  }
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
}

const mib = (bytes: number) => bytes / 2 ** 20;

/** Starts a CPU profile of this process (the inspector's sampling profiler); the returned stop writes it to `file`. */
async function startProfile(file: string | undefined): Promise<(() => Promise<void>) | undefined> {
  if (!file) return undefined;
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.setSamplingInterval", { interval: 200 });
  await session.post("Profiler.start");
  return async () => {
    const { profile } = await session.post("Profiler.stop");
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, JSON.stringify(profile));
    session.disconnect();
  };
}

/** Config text and paths of one rack size below `dir` (exports and images on the btrfs mount `fsRoot`). */
export async function prepareRack(n: number, dir: string, fsRoot: string, golden: string, roots = true): Promise<{ configPath: string; sysroot: string; text: string }> {
  const sysroot = join(dir, "sysroot");
  const paths = { exports: join(fsRoot, `export-${n}`), images: golden, state: join(dir, "state"), firmware: join(dir, "firmware") };
  for (const d of [sysroot, paths.exports, paths.state, paths.firmware]) await mkdir(d, { recursive: true });
  const text = scaleRackYaml(n, paths, roots);
  // A directory of its own: `serve` watches the config's directory, and the logs written beside it are not config.
  await mkdir(join(dir, "config"), { recursive: true });
  const configPath = join(dir, "config", "rack.yaml");
  await writeFile(configPath, text);
  return { configPath, sysroot, text };
}

/** Runs every in-process phase for one rack; `logFile` receives the appliance's JSON log lines. */
export async function measurePasses(n: number, rack: { text: string; sysroot: string }, logFile: string): Promise<PassFigures> {
  const parsed = parseConfigText(rack.text);
  if (!parsed.ok) throw new Error(`bench rack of ${n} rejected: ${parsed.problems.join("; ")}`);
  const config: Config = parsed.config;
  const validateMs = await medianMs(5, () => parseConfigText(rack.text));
  const everyone = new Map(config.ports.map((p) => [p, identityOf(p)]));
  const planMs = await medianMs(5, () => planRack(config, everyone));

  const log = pino({ level: "info" }, pino.destination({ dest: logFile, sync: false, mkdir: true }));
  const metrics = new MetricsRegistry();
  const switches = new SwitchOwner({ log, metrics });
  const writer = new LearnedWriter({ stateDir: () => config.paths.state, log, metrics });
  const app = await openAppliance(config, { sysroot: rack.sysroot, log, metrics, switches, learnedWriter: writer });
  const pass = async (why: string): Promise<PassReport> => {
    const r = await app.reconciler.request(why);
    if (r.failed.length > 0) throw new Error(`${why}: ${r.failed.length} action(s) failed, first: ${r.failed[0]!.description}: ${r.failed[0]!.error}`);
    return r;
  };

  // Each figure also goes to stderr as it is measured, so a run cut short still shows what it reached.
  const say = (what: string, ms: number) => process.stderr.write(`  ${n} ports: ${what} ${ms.toFixed(0)} ms\n`);
  say("validation", validateMs);
  say("plan", planMs);
  const first = await pass("bench: first pass");
  const firstPassMs = first.durationMs;
  say(`first pass (${first.applied.length} actions)`, firstPassMs);

  const started = performance.now();
  const requested: Promise<PassReport>[] = [];
  for (const port of config.ports) {
    const id = identityOf(port);
    const p = app.sighting({ port, stage: "dhcp", mac: id.mac!, serial: id.serial!, model: id.model! });
    if (p) requested.push(p);
  }
  const sightingsMs = performance.now() - started;
  say("sightings", sightingsMs);
  const reports = [...new Set(await Promise.all(requested))];
  const enrolMs = performance.now() - started;
  await writer.flush();
  const failed = reports.flatMap((r) => r.failed);
  if (failed.length > 0) throw new Error(`enrolment: ${failed.length} action(s) failed, first: ${failed[0]!.description}: ${failed[0]!.error}`);
  const rootsCreated = reports.flatMap((r) => r.applied).filter((a) => a.kind === "createRoot").length;
  say(`enrolment (${rootsCreated} roots)`, enrolMs);

  const noop: number[] = [];
  let profile: (() => Promise<void>) | undefined;
  for (let i = 0; i < 3; i++) {
    // Profiled: the last two (the first after enrolment reads every file the enrolment wrote).
    if (i === 1) profile = await startProfile(process.env.PIRACK_SCALE_PROFILE);
    const r = await pass("bench: nothing to do");
    if (r.applied.length > 0) throw new Error(`a pass with nothing to do applied ${r.applied.length} action(s), first: ${r.applied[0]!.description}`);
    noop.push(r.durationMs);
  }
  await profile?.();
  process.stderr.write(`  ${n} ports: passes with nothing to do: ${noop.map((ms) => ms.toFixed(0)).join(", ")} ms\n`);
  const noopPassMs = noop.sort((a, b) => a - b)[1]!;
  say("pass with nothing to do (median)", noopPassMs);

  (globalThis as { gc?: () => void }).gc?.();
  const mem = process.memoryUsage();
  await switches.close();
  await new Promise<void>((resolve) => log.flush(() => resolve()));
  return { ports: n, validateMs, planMs, firstPassMs, firstPassActions: first.applied.length, sightingsMs, enrolMs, rootsCreated, noopPassMs, rssMiB: mib(mem.rss), heapMiB: mib(mem.heapUsed) };
}

/** Makes the golden image: a btrfs subvolume holding the fixture root tree (so every clone is a snapshot). */
export async function makeGolden(images: string, fill: (dir: string) => Promise<void>): Promise<string> {
  await mkdir(images, { recursive: true });
  const golden = join(images, "bookworm-arm64");
  await execa("btrfs", ["subvolume", "create", golden]);
  await fill(golden);
  return images;
}
