/** Reading `rack.yaml` from disk (the I/O half of config.ts). */
import { readFile } from "node:fs/promises";
import { parseConfigText, type ConfigResult } from "./config.ts";

/** Reads and validates a config file; an unreadable file is one problem, reported like any other. */
export async function loadConfigFile(path: string): Promise<ConfigResult> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    return { ok: false, problems: [`${path}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`] };
  }
  return parseConfigText(text);
}
