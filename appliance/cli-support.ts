/** Pieces every `pirack` subcommand shares: failures with exit codes, config loading, the API client, tables. */
import { loadConfigFile } from "./config-file.ts";
import type { Config } from "./config.ts";

/** Exit codes: 0 fine, 1 operation failed, 2 bad config or usage. */
export const EXIT_CONFIG = 2;

/** A failure the CLI reports in one line and exits with `exitCode`. */
export class CliFailure extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

/** Loads a config or fails with every problem listed (exit 2). */
export async function requireConfig(path: string): Promise<Config> {
  const result = await loadConfigFile(path);
  if (!result.ok) {
    throw new CliFailure(`${path}: ${result.problems.length} problem(s):\n  ${result.problems.join("\n  ")}`, EXIT_CONFIG);
  }
  return result.config;
}

/** Calls a running appliance's API; a refused connection is told apart from an API error. */
export async function callApi(base: string, path: string, init?: RequestInit): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(new URL(path, base), init);
  } catch (err) {
    throw new CliFailure(`no appliance answers at ${base} (${(err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message})`, 1);
  }
  const body = (await res.json().catch(() => undefined)) as { error?: string } | undefined;
  if (!res.ok) throw new CliFailure(`${init?.method ?? "GET"} ${path}: ${res.status} ${body?.error ?? res.statusText}`, 1);
  return body;
}

/** Renders rows as an aligned text table. */
export function renderTable(rows: readonly Record<string, unknown>[], columns: readonly string[]): string {
  const cell = (v: unknown) => (v === null || v === undefined ? "-" : String(v));
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (values: string[]) => values.map((v, i) => v.padEnd(widths[i]!)).join("  ").trimEnd();
  return [line([...columns]), ...rows.map((r) => line(columns.map((c) => cell(r[c]))))].join("\n") + "\n";
}

/** A root logger for one-shot commands: warnings and errors only, on stderr (stdout is the command's output). */
export async function cliLogger() {
  const { pino } = await import("pino");
  return pino({ level: process.env.PIRACK_LOG_LEVEL ?? "warn" }, pino.destination(2));
}

