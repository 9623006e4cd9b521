/**
 * The db failover state on disk: `<paths.state>/workloads/failover.json` (which db Pi is primary, which are fenced
 * with their switch ports, whether the primary runs without a synchronous replica, the last failover's timings),
 * written atomically with the previous generation kept as `failover.json.1`. Read back at start, so a restart
 * neither powers a fenced old primary on nor forgets which node took over.
 */
import { copyFile, readFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { OperationError } from "../../lib/errors.ts";
import { writeFileAtomic } from "../../lib/fs-atomic.ts";
import type { DbTarget } from "./adapters.ts";
import type { DbRecord } from "./controller.ts";

/** The state file under `paths.state`. */
export const failoverFile = (stateDir: string): string => join(stateDir, "workloads", "failover.json");

const fileSchema = z.strictObject({
  version: z.literal(1),
  primary: z.string().nullable(),
  fenced: z.array(z.strictObject({ name: z.string(), port: z.number().int().min(1) })),
  unprotected: z.boolean(),
  lastFailover: z.record(z.string(), z.union([z.number(), z.string()])).nullable(),
  savedAt: z.string(),
});

/** The file's content as written (fenced nodes carry their switch port: a renamed Pi stays fenced). */
export type FailoverFile = z.output<typeof fileSchema>;

/** Encodes a record; `nodes` give each fenced node's port (a node no longer configured keeps the port it had). */
export function encodeFailoverFile(record: DbRecord, nodes: readonly DbTarget[], previous: FailoverFile | null, now: Date): string {
  const portOf = (name: string) => nodes.find((n) => n.name === name)?.port ?? previous?.fenced.find((f) => f.name === name)?.port;
  const fenced = record.state.fenced.flatMap((name) => {
    const port = portOf(name);
    return port === undefined ? [] : [{ name, port }];
  });
  const file: FailoverFile = { version: 1, primary: record.state.primary, fenced, unprotected: record.state.unprotected, lastFailover: record.lastFailover ? { ...record.lastFailover } : null, savedAt: now.toISOString() };
  return `${JSON.stringify(file, null, 2)}\n`;
}

/** Decodes the file; throws OperationError FAILOVER_STATE_DAMAGED naming what is wrong. */
export function decodeFailoverFile(text: string, path: string): FailoverFile {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new OperationError("FAILOVER_STATE_DAMAGED", `${path} is not JSON (${(err as Error).message})`);
  }
  const r = fileSchema.safeParse(json);
  if (!r.success) throw new OperationError("FAILOVER_STATE_DAMAGED", `${path}: ${r.error.issues.map((i) => `${i.path.join(".") || "(top)"}: ${i.message}`).join("; ")}`);
  return r.data;
}

/**
 * The record for the configured db Pis: a fenced entry is matched by switch port first (the Pi on that port is the
 * one powered off), then by name; an entry matching neither is dropped by the controller (no longer a db Pi).
 */
export function recordFromFile(file: FailoverFile, nodes: readonly DbTarget[]): DbRecord {
  const fenced = file.fenced.map((f) => nodes.find((n) => n.port === f.port)?.name ?? f.name);
  return { state: { primary: file.primary, fenced: [...new Set(fenced)], unprotected: file.unprotected }, lastFailover: file.lastFailover };
}

async function readGeneration(path: string): Promise<FailoverFile | null> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new OperationError("FAILOVER_STATE_UNREADABLE", `${path} cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`, { cause: err });
  }
  return decodeFailoverFile(text, path);
}

/** Reads the file, falling back to the previous generation when the current one is damaged; null when neither exists. */
export async function readFailoverFile(stateDir: string, onFallback?: (err: Error) => void): Promise<FailoverFile | null> {
  const path = failoverFile(stateDir);
  try {
    return await readGeneration(path);
  } catch (err) {
    const previous = await readGeneration(`${path}.1`).catch(() => null);
    if (!previous) throw err;
    onFallback?.(err as Error);
    return previous;
  }
}

/** The controller's store over the file (`DbFailoverDeps.store`). */
export function failoverStore(opts: { stateDir: string; nodes: readonly DbTarget[]; now?: () => Date; onFallback?: (err: Error) => void }) {
  const now = opts.now ?? (() => new Date());
  let last: FailoverFile | null = null;
  return {
    async load(): Promise<DbRecord | null> {
      last = await readFailoverFile(opts.stateDir, opts.onFallback);
      return last ? recordFromFile(last, opts.nodes) : null;
    },
    async save(record: DbRecord): Promise<void> {
      const path = failoverFile(opts.stateDir);
      const text = encodeFailoverFile(record, opts.nodes, last, now());
      // The previous generation survives a damaged write of the next one (copyFile: the current file stays in place).
      await copyFile(path, `${path}.1`).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== "ENOENT") throw err;
      });
      await writeFileAtomic(path, text, 0o600);
      last = decodeFailoverFile(text, path);
    },
  };
}

/** Ports of fenced db Pis as the file records them (for the power path: `pirack power on` refuses them). */
export async function fencedPortsOnDisk(stateDir: string): Promise<{ name: string; port: number }[]> {
  return (await readFailoverFile(stateDir))?.fenced ?? [];
}
