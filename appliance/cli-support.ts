/** Pieces every `pirack` subcommand shares: failures with exit codes, config loading, the API client, tables. */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { request } from "node:http";
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

/** The API socket the daemon listens on beside TCP (DESIGN.md §5). */
export const API_SOCKET = "/run/pirack/api.sock";

/** `--api` when not given: the local unix socket when it exists, else the default TCP address. */
export function defaultApi(): string {
  return existsSync(API_SOCKET) ? `unix:${API_SOCKET}` : "http://127.0.0.1:8067";
}

/** A request to the API: JSON body in, parsed JSON out. */
export interface ApiRequest {
  readonly method?: "GET" | "POST";
  readonly body?: unknown;
  /** A token file (`read <token>` / `write <token>` lines); the token of the scope the method needs is sent. */
  readonly tokenFile?: string;
  /** Read the answer as text (SVG), not JSON. */
  readonly text?: boolean;
}

/** Picks the token for a method from a token file: a write token for POST, a read (else write) token for GET. */
export async function tokenFor(tokenFile: string, method: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(tokenFile, "utf8");
  } catch (err) {
    throw new CliFailure(`${tokenFile}: cannot read the token file (${(err as NodeJS.ErrnoException).code ?? String(err)})`, EXIT_CONFIG);
  }
  const lines = text.split("\n").map((l) => /^\s*(read|write)\s+(\S+)\s*$/.exec(l)).filter((m): m is RegExpExecArray => m !== null);
  const pick = (scope: string) => lines.find((m) => m[1] === scope)?.[2];
  const token = method === "GET" ? (pick("read") ?? pick("write")) : pick("write");
  if (!token) throw new CliFailure(`${tokenFile}: no ${method === "GET" ? "read or write" : "write"} token line in it`, EXIT_CONFIG);
  return token;
}

/**
 * Calls a running appliance's API over TCP (`http://host:port`) or its unix socket (`unix:/run/pirack/api.sock`);
 * a refused connection is told apart from an API error.
 */
export async function callApi(base: string, path: string, req: ApiRequest = {}): Promise<unknown> {
  const method = req.method ?? "GET";
  const headers: Record<string, string> = {};
  if (req.tokenFile) headers.authorization = `Bearer ${await tokenFor(req.tokenFile, method)}`;
  const payload = req.body === undefined ? undefined : JSON.stringify(req.body);
  if (payload !== undefined) headers["content-type"] = "application/json";
  const target = base.startsWith("unix:") ? { socketPath: base.slice(5), path } : urlTarget(base, path);
  const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const r = request({ ...target, method, headers }, (res) => {
      let data = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (data += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: data }));
      res.on("error", reject);
    });
    r.on("error", (err: NodeJS.ErrnoException) => reject(new CliFailure(`no appliance answers at ${base} (${err.code ?? err.message})`, 1)));
    r.end(payload);
  });
  if (req.text && status < 300) return body;
  let parsed: { error?: string } | undefined;
  try {
    parsed = JSON.parse(body) as { error?: string };
  } catch {
    parsed = undefined;
  }
  if (status >= 300) throw new CliFailure(`${method} ${path}: ${status} ${parsed?.error ?? body.slice(0, 200)}`, 1);
  return parsed;
}

function urlTarget(base: string, path: string): { host: string; port: number; path: string } {
  let url: URL;
  try {
    url = new URL(path, base);
  } catch {
    throw new CliFailure(`--api expects http://host:port or unix:/path/to/api.sock, got "${base}"`, EXIT_CONFIG);
  }
  if (url.protocol !== "http:") throw new CliFailure(`--api expects http://host:port or unix:/path/to/api.sock, got "${base}"`, EXIT_CONFIG);
  return { host: url.hostname.replace(/^\[|\]$/g, ""), port: Number(url.port || 80), path: url.pathname + url.search };
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

