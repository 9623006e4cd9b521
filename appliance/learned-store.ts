/**
 * What the appliance learned about Pis (port -> MAC, serial, model), kept in `<paths.state>/pis.json` so an
 * auto-enrolled Pi stays enrolled, and its root exported, across restarts of pirack.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "../lib/fs-atomic.ts";
import type { LearnedPi } from "./plan.ts";

/** The state file under `paths.state`. */
export const learnedFile = (stateDir: string): string => join(stateDir, "pis.json");

/** Reads the learned Pis; a missing file is an empty rack, a damaged one is an error naming the file. */
export async function loadLearned(stateDir: string): Promise<LearnedPi[]> {
  const path = learnedFile(stateDir);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
  const data = JSON.parse(text) as { pis?: unknown };
  if (!Array.isArray(data.pis)) throw new Error(`${path}: expected {"pis": [...]}, got ${text.slice(0, 80)}`);
  return (data.pis as Record<string, unknown>[])
    .filter((p) => Number.isInteger(p.port))
    .map((p) => ({
      port: p.port as number,
      ...(typeof p.mac === "string" ? { mac: p.mac } : {}),
      ...(typeof p.serial === "string" ? { serial: p.serial } : {}),
      ...(typeof p.model === "string" ? { model: p.model } : {}),
    }));
}

/** Replaces the state file atomically. */
export async function saveLearned(stateDir: string, pis: readonly LearnedPi[]): Promise<void> {
  await writeFileAtomic(learnedFile(stateDir), `${JSON.stringify({ pis: [...pis].sort((a, b) => a.port - b.port) }, null, 2)}\n`, 0o600);
}
