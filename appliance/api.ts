/** The HTTP API and dashboard of a running appliance (DESIGN.md §5). Thin: routes to the appliance's state. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { chmod, mkdir, rm } from "node:fs/promises";
import { dirname } from "node:path";
import type { Logger } from "pino";
import type { Appliance } from "./appliance.ts";
import type { MetricsRegistry } from "../lib/metrics.ts";
import { PirackError } from "../lib/errors.ts";
import { authorize, refusalText, scopeFor, type TokenTable } from "./api-auth.ts";
import { isDashboardAsset, sendAsset, timelines, timelineSvg, type DashboardSource } from "./dashboard/routes.ts";

/** PoE actions the API accepts. */
export type PowerAction = "on" | "off" | "cycle";

/** Dependencies of the API server; `power` and `rebuild` are absent when the rack has no switch driver / roots. */
export interface ApiDeps {
  readonly log: Logger;
  readonly appliance: Appliance;
  readonly metrics: MetricsRegistry;
  readonly power?: (port: number, action: PowerAction) => Promise<unknown>;
  readonly rebuild?: (port: number) => Promise<unknown>;
  /** The dashboard's overview; absent, `GET /api/v1/overview` is 404. */
  readonly dashboard?: DashboardSource;
  /** What a pass would do now, from what is known at once (see `Reconciler.pending`); a full dry run when absent. */
  readonly pending?: () => Promise<{ actions: unknown[]; unknown: { subsystem: string; reason: string }[] }>;
  /** Whether the switch answered its last poll (undefined: not known, or no switch). */
  readonly switchReachable?: () => boolean | undefined;
  /** The workload controllers: `GET /api/v1/workloads` and `POST /api/v1/workloads/rejoin`. */
  readonly workloads?: { status(): unknown; rejoin(port: number): Promise<unknown> };
}

/** Error codes that are a refusal of the request as it stands (409), not a failure of the world (502). */
const REFUSALS = new Set(["DB_FENCED", "DB_REJOIN_NOT_DB", "DB_REJOIN_NOT_FENCED", "DB_REJOIN_NO_PRIMARY", "DB_REJOIN_BUSY", "SWITCH_NONE", "SWITCH_POE_DISABLED"]);

/** Largest request body accepted (413 above): an action is a few dozen bytes. */
export const MAX_BODY_BYTES = 16 * 1024;

/** A request handler; with `tokens`, every request except the dashboard's static files needs a bearer token. */
function handler(deps: ApiDeps, tokens: TokenTable | undefined) {
  const failures = deps.metrics.counter("pirack_api_auth_failures_total", "API requests refused for a missing, unknown or under-scoped token");
  return (req: IncomingMessage, res: ServerResponse) => {
    const pathname = new URL(req.url ?? "/", "http://pirack").pathname;
    if (tokens && !(req.method === "GET" && isDashboardAsset(pathname))) {
      const verdict = authorize(tokens, req.headers.authorization, scopeFor(req.method ?? "GET"));
      if (!verdict.ok) {
        failures.inc({ reason: verdict.reason });
        // Logged with where it came from and what it asked for; never the header or the token.
        deps.log.warn({ remote: req.socket.remoteAddress, method: req.method, path: pathname, reason: verdict.reason }, "api request refused");
        return send(res, verdict.status, { error: refusalText(verdict), code: verdict.status === 401 ? "API_UNAUTHORIZED" : "API_FORBIDDEN" }, verdict.status === 401 ? { headers: { "www-authenticate": "Bearer" } } : {});
      }
    }
    route(deps, req, res).catch((err: unknown) => {
      deps.log.error({ err, url: req.url }, "api request failed");
      if (!res.headersSent) send(res, 500, { error: "internal error" });
      else res.end();
    });
  };
}

/** Starts the API on `host:port`; resolves once listening. `tokens` makes every data request need one. */
export async function startApi(deps: ApiDeps, host: string, port: number, tokens?: TokenTable): Promise<Server> {
  const server = createServer(handler(deps, tokens));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}

/**
 * Starts the API on a unix socket (`/run/pirack/api.sock`), mode 0660: whoever may open the file (root and the
 * socket's group) may use the API, so no token is asked. A stale socket file from an earlier run is replaced.
 */
export async function startUnixApi(deps: ApiDeps, path: string): Promise<Server> {
  await mkdir(dirname(path), { recursive: true, mode: 0o755 });
  await rm(path, { force: true });
  const server = createServer(handler(deps, undefined));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(path, () => resolve());
  });
  await chmod(path, 0o660);
  return server;
}

async function route(deps: ApiDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? "/", "http://pirack");
  const method = req.method ?? "GET";
  if (method === "GET" && url.pathname === "/api/v1/pis") return send(res, 200, deps.appliance.status());
  if (method === "GET" && url.pathname === "/metrics") {
    res.writeHead(200, { "content-type": "text/plain; version=0.0.4" });
    res.end(deps.metrics.render());
    return;
  }
  if (method === "GET" && url.pathname === "/api/v1/reconcile") {
    const pending = deps.pending ? await deps.pending() : { actions: await deps.appliance.reconciler.dryRun(), unknown: [] };
    return send(res, 200, {
      last: deps.appliance.reconciler.lastReport ?? null,
      pending: pending.actions,
      unknown: pending.unknown,
      switch: { reachable: deps.switchReachable?.() ?? null },
    });
  }
  if (method === "GET" && isDashboardAsset(url.pathname)) return sendAsset(res, url.pathname);
  if (method === "GET" && url.pathname === "/api/v1/overview" && deps.dashboard) return send(res, 200, deps.dashboard.overview());
  if (method === "GET" && url.pathname === "/api/v1/timeline") return send(res, 200, timelines(deps.appliance));
  if (method === "GET" && url.pathname === "/api/v1/workloads") {
    if (!deps.workloads) return send(res, 404, { error: "this appliance runs no workload controllers" });
    return send(res, 200, deps.workloads.status());
  }
  if (method === "POST" && url.pathname === "/api/v1/workloads/rejoin") {
    const read = await readBody(req);
    if (!read.ok) return send(res, read.status, { error: read.error }, { close: true });
    const body = parseJson(read.text, '{"port":4}');
    if (!body.ok) return send(res, 400, { error: body.error });
    const port = (body.value as { port?: unknown } | null)?.port;
    if (typeof port !== "number" || !Number.isInteger(port) || port < 1) return send(res, 400, { error: `expected {"port":N} with a switch port number, got ${JSON.stringify(body.value)?.slice(0, 200)}` });
    if (!deps.appliance.config.ports.includes(port)) return send(res, 404, { error: `port ${port} is not a Pi port of this rack` });
    if (!deps.workloads) return send(res, 409, { error: "this appliance runs no workload controllers" });
    return runAction(res, () => deps.workloads!.rejoin(port));
  }
  const svg = /^\/api\/v1\/pis\/(\d+)\/timeline\.svg$/.exec(url.pathname);
  if (method === "GET" && svg) {
    if (!deps.appliance.config.ports.includes(Number(svg[1]))) return send(res, 404, { error: `port ${svg[1]} is not a Pi port of this rack` });
    res.writeHead(200, { "content-type": "image/svg+xml; charset=utf-8" });
    res.end(timelineSvg(deps.appliance, Number(svg[1])));
    return;
  }
  const action = /^\/api\/v1\/pis\/(\d+)\/(power|rebuild)$/.exec(url.pathname);
  if (action && method === "POST") {
    const port = Number(action[1]);
    if (!deps.appliance.config.ports.includes(port)) return send(res, 404, { error: `port ${port} is not a Pi port of this rack` });
    const read = await readBody(req);
    if (!read.ok) return send(res, read.status, { error: read.error }, { close: true });
    if (action[2] === "power") {
      const body = parseJson(read.text);
      if (!body.ok) return send(res, 400, { error: body.error });
      const wanted = (body.value as { action?: unknown } | null)?.action;
      if (wanted !== "on" && wanted !== "off" && wanted !== "cycle") {
        return send(res, 400, { error: `expected {"action":"on|off|cycle"}, got ${JSON.stringify(body.value)?.slice(0, 200)}` });
      }
      if (!deps.power) return send(res, 409, { error: "this rack has no switch driver (switch.driver: none)" });
      return runAction(res, () => deps.power!(port, wanted));
    }
    if (!deps.rebuild) return send(res, 409, { error: "root rebuilds are not available in this appliance" });
    return runAction(res, () => deps.rebuild!(port));
  }
  send(res, 404, { error: `no route for ${method} ${url.pathname}` });
}

async function runAction(res: ServerResponse, fn: () => Promise<unknown>): Promise<void> {
  try {
    send(res, 200, { ok: true, result: (await fn()) ?? null });
  } catch (err) {
    const code = err instanceof PirackError ? err.code : "ACTION_FAILED";
    send(res, REFUSALS.has(code) ? 409 : 502, { error: (err as Error).message, code });
  }
}

/** A request body within MAX_BODY_BYTES, or the status and words to refuse it with. */
async function readBody(req: IncomingMessage): Promise<{ ok: true; text: string } | { ok: false; status: 413; error: string }> {
  const tooLarge = { ok: false as const, status: 413 as const, error: `request body is larger than ${MAX_BODY_BYTES} bytes` };
  // Refused from the header when it says so, before a byte of it is read.
  if (Number(req.headers["content-length"] ?? 0) > MAX_BODY_BYTES) return tooLarge;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) return void chunks.push(chunk);
      // Stop reading (not destroy: the 413 must still reach the client); the connection closes after it.
      req.off("data", onData);
      req.pause();
      resolve(tooLarge);
    };
    req.on("data", onData);
    req.once("end", () => resolve({ ok: true, text: Buffer.concat(chunks).toString("utf8") }));
    req.once("error", reject);
  });
}

/** JSON from a body, or words saying why it is not JSON. */
function parseJson(text: string, example = '{"action":"cycle"}'): { ok: true; value: unknown } | { ok: false; error: string } {
  if (text.trim() === "") return { ok: false, error: `request body is empty; expected JSON such as ${example}` };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (err) {
    return { ok: false, error: `request body is not JSON (${(err as Error).message}); expected JSON such as ${example}` };
  }
}

function send(res: ServerResponse, status: number, body: unknown, opts: { close?: boolean; headers?: Record<string, string> } = {}): void {
  // A refused body may still be arriving: the connection is closed rather than read to its end.
  res.writeHead(status, { "content-type": "application/json", ...(opts.headers ?? {}), ...(opts.close ? { connection: "close" } : {}) });
  res.end(`${JSON.stringify(body, null, 2)}\n`);
  if (opts.close) res.once("finish", () => res.req.socket.destroy());
}
