/**
 * What the appliance learned about Pis (port -> MAC, serial, model), kept in `<paths.state>/pis.json` so an
 * auto-enrolled Pi stays enrolled, and its root exported, across restarts of pirack.
 *
 * Losing this file must never un-export a root that exists: every write first keeps the previous good
 * generation as `pis.json.1`; a truncated, corrupt or missing `pis.json` falls back to it; and at start every
 * root on disk (`<paths.exports>/<pi address>`) brings its port back as learned, whatever the files said.
 * Temporary files a crash left behind are removed at start. Writes are coalesced (`LearnedWriter`).
 */
import { readdir, readFile, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "pino";
import type { MetricsRegistry } from "../lib/metrics.ts";
import { writeFileAtomic } from "../lib/fs-atomic.ts";
import type { Config } from "./config.ts";
import { storageSlot, type LearnedPi } from "./plan.ts";

/** The state file under `paths.state`. */
export const learnedFile = (stateDir: string): string => join(stateDir, "pis.json");

/** The previous generation, kept by every write. */
export const previousLearnedFile = (stateDir: string): string => join(stateDir, "pis.json.1");

/** Parses a state file's text; throws an Error naming the file when it is not `{"pis": [...]}`. */
export function decodeLearned(text: string, path: string): LearnedPi[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new Error(`${path}: not JSON (${(err as Error).message}); got ${JSON.stringify(text.slice(0, 80))}`, { cause: err });
  }
  const pis = (data as { pis?: unknown } | null)?.pis;
  if (!Array.isArray(pis)) throw new Error(`${path}: expected {"pis": [...]}, got ${JSON.stringify(text.slice(0, 80))}`);
  return (pis as Record<string, unknown>[])
    .filter((p) => typeof p === "object" && p !== null && Number.isInteger(p.port))
    .map((p) => ({
      port: p.port as number,
      ...(typeof p.mac === "string" ? { mac: p.mac } : {}),
      ...(typeof p.serial === "string" ? { serial: p.serial } : {}),
      ...(typeof p.model === "string" ? { model: p.model } : {}),
    }));
}

const encodeLearned = (pis: readonly LearnedPi[]): string => `${JSON.stringify({ pis: [...pis].sort((a, b) => a.port - b.port) }, null, 2)}\n`;

/** Reads one state file: its Pis, `undefined` when it does not exist; throws when it is damaged. */
async function readLearnedFile(path: string): Promise<LearnedPi[] | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  return decodeLearned(text, path);
}

/** Reads the learned Pis; a missing file is an empty rack, a damaged one is an error naming the file. */
export async function loadLearned(stateDir: string): Promise<LearnedPi[]> {
  return (await readLearnedFile(learnedFile(stateDir))) ?? [];
}

/**
 * Replaces the state file atomically, after keeping the file it replaces as `pis.json.1` when that one is
 * good (a damaged file never overwrites a good previous generation).
 */
export async function saveLearned(stateDir: string, pis: readonly LearnedPi[]): Promise<void> {
  const path = learnedFile(stateDir);
  const current = await readFile(path, "utf8").catch(() => undefined);
  if (current !== undefined && isGood(current, path)) await writeFileAtomic(previousLearnedFile(stateDir), current, 0o600);
  await writeFileAtomic(path, encodeLearned(pis), 0o600);
}

function isGood(text: string, path: string): boolean {
  try {
    decodeLearned(text, path);
    return true;
  } catch {
    return false; // damaged: not worth keeping as the previous generation
  }
}

/** True for a temporary file `writeFileAtomic` makes beside a state file (`.pis.json.<hex>.tmp`). */
const isStateTemp = (name: string): boolean => /^\.pis\.json(\.1)?\.[0-9a-f]+\.tmp$/.test(name);

/** Ports of the config whose Pi root exists on disk (`<paths.exports>/<pi address>` is a directory). */
export async function portsWithRoots(config: Config): Promise<number[]> {
  const out: number[] = [];
  for (const port of config.ports) {
    const root = `${config.paths.exports.replace(/\/+$/, "")}/${storageSlot(config, port).piAddress}`;
    if (await stat(root).then((s) => s.isDirectory(), () => false)) out.push(port);
  }
  return out;
}

/** What `recoverLearned` found, for logs and tests. */
export interface RecoveredLearned {
  readonly pis: LearnedPi[];
  /** Which file the Pis came from. */
  readonly from: "pis.json" | "pis.json.1" | "none";
  /** Ports brought back from their roots alone. */
  readonly fromRoots: number[];
  /** Temporary files removed. */
  readonly removedTemps: string[];
}

/**
 * The learned Pis at start: removes crash leftovers, reads `pis.json` or else `pis.json.1`, adds every port
 * whose root exists, and writes the state back when anything had to be recovered.
 */
export async function recoverLearned(config: Config, log: Logger, opts: { write?: boolean } = {}): Promise<RecoveredLearned> {
  const write = opts.write ?? true;
  const stateDir = config.paths.state;
  const removedTemps: string[] = [];
  for (const name of await readdir(stateDir).catch(() => [] as string[])) {
    if (!write || !isStateTemp(name)) continue;
    await rm(join(stateDir, name), { force: true });
    removedTemps.push(name);
  }
  if (removedTemps.length) log.warn({ dir: stateDir, files: removedTemps }, "temporary state files from an interrupted write removed");

  let pis: LearnedPi[] | undefined;
  let from: RecoveredLearned["from"] = "none";
  let damaged = false;
  for (const [path, name] of [
    [learnedFile(stateDir), "pis.json"],
    [previousLearnedFile(stateDir), "pis.json.1"],
  ] as const) {
    try {
      pis = await readLearnedFile(path);
    } catch (err) {
      damaged = true;
      log.error({ err, file: path }, "learned pis not loaded from this file");
      continue;
    }
    if (pis !== undefined) {
      from = name;
      break;
    }
  }
  if (from === "pis.json.1") log.warn({ file: previousLearnedFile(stateDir) }, "learned pis loaded from the previous generation");
  const byPort = new Map((pis ?? []).map((p) => [p.port, p]));
  const fromRoots: number[] = [];
  for (const port of await portsWithRoots(config)) {
    if (byPort.has(port) || config.pis.some((p) => p.port === port)) continue;
    byPort.set(port, { port });
    fromRoots.push(port);
  }
  if (fromRoots.length) log.warn({ ports: fromRoots }, "pis recovered from their roots on disk"); // identities come back at their next DHCP
  const all = [...byPort.values()].sort((a, b) => a.port - b.port);
  if (write && (damaged || from === "pis.json.1" || fromRoots.length)) {
    await saveLearned(stateDir, all).catch((err: unknown) => log.error({ err, file: learnedFile(stateDir) }, "learned pis not saved"));
  }
  return { pis: all, from, fromRoots, removedTemps };
}

/** Dependencies of a coalescing writer. */
export interface LearnedWriterDeps {
  readonly stateDir: () => string;
  readonly log: Logger;
  readonly metrics: MetricsRegistry;
  /** Shortest time between two writes (default 15 s: at most four a minute, whatever the DHCP traffic). */
  readonly minIntervalMs?: number;
}

/**
 * Writes the state file at most once per `minIntervalMs`: the first change is written at once, later ones
 * within the interval fold into one write of the newest state at its end. `flush()` writes what is pending.
 */
export class LearnedWriter {
  private pending: readonly LearnedPi[] | undefined;
  private lastWriteAt = -Infinity;
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();

  constructor(private readonly deps: LearnedWriterDeps) {}

  /** Asks for `pis` to be written; resolves when it is (or when the write failed and was logged). */
  save(pis: readonly LearnedPi[]): Promise<void> {
    this.pending = pis;
    const interval = this.deps.minIntervalMs ?? 15_000;
    const wait = this.lastWriteAt + interval - Date.now();
    if (wait <= 0) return this.flush();
    this.timer ??= setTimeout(() => void this.flush(), wait);
    return Promise.resolve();
  }

  /** Writes the pending state now, if any. */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const pis = this.pending;
    if (pis === undefined) return this.writing;
    this.pending = undefined;
    this.lastWriteAt = Date.now();
    const dir = this.deps.stateDir();
    this.writing = this.writing
      .then(() => saveLearned(dir, pis))
      .then(
        () => this.deps.metrics.counter("pirack_state_writes_total", "Writes of the learned-pis state file").inc(),
        (err: unknown) => this.deps.log.error({ err, file: learnedFile(dir) }, "learned pis not saved"),
      );
    return this.writing;
  }
}
