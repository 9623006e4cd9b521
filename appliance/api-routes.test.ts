import { afterEach, describe, expect, it } from "vitest";
import pino from "pino";
import type { Server } from "node:http";
import { startApi, type ApiDeps } from "./api.ts";
import { Appliance } from "./appliance.ts";
import { validateConfig } from "./config.ts";
import { MetricsRegistry } from "../lib/metrics.ts";

const config = (() => {
  const r = validateConfig({
    storage: { network: "10.46.189.0/24" },
    public: { prefix: "2a00:1098:0:84::/64", gateway: "2a00:1098:0:84::1", firstAddress: "2a00:1098:0:84:1000:1::2" },
    ports: "1-2",
    switch: { driver: "none" },
  });
  if (!r.ok) throw new Error(r.problems.join("\n"));
  return r.config;
})();

let server: Server | undefined;
afterEach(async () => {
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
});

async function api(extra: Partial<ApiDeps> = {}) {
  const metrics = new MetricsRegistry();
  const app = new Appliance(config, { log: pino({ level: "silent" }), clock: { now: () => 0 }, metrics, subsystems: () => [] });
  server = await startApi({ log: pino({ level: "silent" }), appliance: app, metrics, ...extra }, "127.0.0.1", 0);
  const { port } = server.address() as { port: number };
  const call = async (path: string, init?: RequestInit) => {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, init);
    return { status: res.status, type: res.headers.get("content-type"), body: await res.text() };
  };
  return { app, call };
}

const post = (body: unknown): RequestInit => ({ method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

describe("HTTP API", () => {
  it("lists every Pi port with its addresses, VLAN and stage", async () => {
    const { call } = await api();
    const r = await call("/api/v1/pis");
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body).map((p: { port: number; vlan: number; piAddress: string; bootStage: string }) => [p.port, p.vlan, p.piAddress, p.bootStage])).toEqual([
      [1, 10, "10.46.189.2", "unseen"],
      [2, 11, "10.46.189.6", "unseen"],
    ]);
  });

  it("answers the reconcile view from what is known, marking what is unknown", async () => {
    const { call } = await api({
      pending: async () => ({ actions: [], unknown: [{ subsystem: "switch", reason: "unreachable" }] }),
      switchReachable: () => false,
    });
    const r = JSON.parse((await call("/api/v1/reconcile")).body);
    expect(r).toEqual({ last: null, pending: [], unknown: [{ subsystem: "switch", reason: "unreachable" }], switch: { reachable: false } });
  });

  it("refuses power and rebuild it cannot do, and ports that are not the rack's", async () => {
    const { call } = await api();
    expect((await call("/api/v1/pis/1/power", post({ action: "cycle" }))).status).toBe(409);
    expect((await call("/api/v1/pis/1/rebuild", { method: "POST" })).status).toBe(409);
    expect((await call("/api/v1/pis/9/power", post({ action: "cycle" }))).status).toBe(404);
    expect((await call("/api/v1/pis/1/power", post({ action: "reboot" }))).status).toBe(400);
    expect((await call("/nowhere")).status).toBe(404);
  });

  it("runs a power action and reports a failed one as 502 with its code", async () => {
    const asked: [number, string][] = [];
    const ok = await api({ power: async (port, action) => void asked.push([port, action]) });
    expect((await ok.call("/api/v1/pis/2/power", post({ action: "off" }))).status).toBe(200);
    expect(asked).toEqual([[2, "off"]]);
    await new Promise<void>((r) => server!.close(() => r()));
    const { OperationError } = await import("../lib/errors.ts");
    const failing = await api({ power: async () => Promise.reject(new OperationError("SWITCH_POWER_TIMEOUT", "port 2: deliveringPower not reached")) });
    const r = await failing.call("/api/v1/pis/2/power", post({ action: "on" }));
    expect(r.status).toBe(502);
    expect(JSON.parse(r.body)).toEqual({ error: "port 2: deliveringPower not reached", code: "SWITCH_POWER_TIMEOUT" });
  });

  it("serves Prometheus text on /metrics", async () => {
    const { call } = await api();
    const r = await call("/metrics");
    expect(r.type).toContain("text/plain");
    expect(r.body).toContain("pirack_ports 2");
  });
});
