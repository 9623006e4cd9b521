/** The HTTP API and dashboard of a running appliance (DESIGN.md §5). Thin: routes to the appliance's state. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Logger } from "pino";
import type { Appliance, PiStatus } from "./appliance.ts";
import type { MetricsRegistry } from "../lib/metrics.ts";
import { PirackError } from "../lib/errors.ts";

/** PoE actions the API accepts. */
export type PowerAction = "on" | "off" | "cycle";

/** Dependencies of the API server; `power` and `rebuild` are absent when the rack has no switch driver / roots. */
export interface ApiDeps {
  readonly log: Logger;
  readonly appliance: Appliance;
  readonly metrics: MetricsRegistry;
  readonly power?: (port: number, action: PowerAction) => Promise<unknown>;
  readonly rebuild?: (port: number) => Promise<unknown>;
  /** What a pass would do now, from what is known at once (see `Reconciler.pending`); a full dry run when absent. */
  readonly pending?: () => Promise<{ actions: unknown[]; unknown: { subsystem: string; reason: string }[] }>;
  /** Whether the switch answered its last poll (undefined: not known, or no switch). */
  readonly switchReachable?: () => boolean | undefined;
}

/** Largest request body accepted (413 above): an action is a few dozen bytes. */
export const MAX_BODY_BYTES = 16 * 1024;

/** Starts the API on `host:port`; resolves once listening. */
export async function startApi(deps: ApiDeps, host: string, port: number): Promise<Server> {
  const server = createServer((req, res) => {
    route(deps, req, res).catch((err: unknown) => {
      deps.log.error({ err, url: req.url }, "api request failed");
      if (!res.headersSent) send(res, 500, { error: "internal error" });
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
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
  if (method === "GET" && url.pathname === "/") {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end(renderDashboard(deps.appliance.config.shelf, deps.appliance.status()));
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
    send(res, 502, { error: (err as Error).message, code });
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
function parseJson(text: string): { ok: true; value: unknown } | { ok: false; error: string } {
  if (text.trim() === "") return { ok: false, error: 'request body is empty; expected JSON such as {"action":"cycle"}' };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (err) {
    return { ok: false, error: `request body is not JSON (${(err as Error).message}); expected JSON such as {"action":"cycle"}` };
  }
}

function send(res: ServerResponse, status: number, body: unknown, opts: { close?: boolean } = {}): void {
  // A refused body may still be arriving: the connection is closed rather than read to its end.
  res.writeHead(status, { "content-type": "application/json", ...(opts.close ? { connection: "close" } : {}) });
  res.end(`${JSON.stringify(body, null, 2)}\n`);
  if (opts.close) res.once("finish", () => res.req.socket.destroy());
}

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The rack dashboard: one row per port, refreshed every five seconds. */
export function renderDashboard(shelf: string, pis: readonly PiStatus[]): string {
  const cols = ["port", "name", "vlan", "piAddress", "publicAddress", "mac", "serial", "model", "power", "bootStage", "lastSeen"] as const;
  const rows = pis
    .map((p) => `<tr class="${p.bootStage}">${cols.map((c) => `<td>${escapeHtml(String(p[c] ?? "-"))}</td>`).join("")}</tr>`)
    .join("\n");
  return `<!doctype html>
<html><head><meta charset="utf-8"><meta http-equiv="refresh" content="5"><title>pirack ${escapeHtml(shelf)}</title>
<style>body{font-family:sans-serif}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px}
tr.up{background:#dfd}tr.unseen{color:#888}</style></head>
<body><h1>pirack: shelf ${escapeHtml(shelf)}</h1>
<table><thead><tr>${cols.map((c) => `<th>${c}</th>`).join("")}</tr></thead><tbody>
${rows}
</tbody></table></body></html>
`;
}
