import pino from "pino";
import type { Server } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { OperationError } from "../lib/errors.ts";
import { MetricsRegistry } from "../lib/metrics.ts";
import { startApi } from "./api.ts";
import { Appliance } from "./appliance.ts";
import { validateConfig } from "./config.ts";
import { Health } from "./health.ts";
import { fencedPowerRefusal, syncWorkloads, workloadsSpec } from "./workloads-wiring.ts";
import type { WorkloadControllers, WorkloadsStatus } from "../workloads/index.ts";

const config = (() => {
  const r = validateConfig({
    storage: { network: "10.46.189.0/24" },
    public: { prefix: "2a00:1098:0:84::/64", gateway: "2a00:1098:0:84::1", firstAddress: "2a00:1098:0:84:1000:1::2" },
    ports: "1-3",
    switch: { driver: "none" },
    pis: [
      { port: 1, name: "web1", role: "web" },
      { port: 2, name: "db1", role: "db" },
      { port: 3, name: "db2", role: "db" },
    ],
  });
  if (!r.ok) throw new Error(r.problems.join("\n"));
  return r.config;
})();
const appliance = () => new Appliance(config, { log: pino({ level: "silent" }), clock: { now: () => 0 }, metrics: new MetricsRegistry(), subsystems: () => [] });

/** A controllers stand-in with db1 (port 2) fenced and web1 failing. */
const fake = (fenced: number[]): Pick<WorkloadControllers, "isFenced" | "fencedPorts" | "status" | "rejoin"> => {
  const status: WorkloadsStatus = {
    nodes: [
      { node: "web1", port: 1, role: "web", healthy: false, detail: "ECONNREFUSED", checkedAt: null, failures: 3, drained: false },
      { node: "db1", port: 2, role: "db", healthy: false, detail: "fenced", checkedAt: null, failures: 0, fenced: fenced.includes(2) },
    ],
    cdn: null,
    db: null,
    events: [],
  };
  return {
    isFenced: (p) => fenced.includes(p),
    fencedPorts: () => fenced,
    status: () => status,
    rejoin: async (port) => {
      if (!fenced.includes(port)) throw new OperationError("DB_REJOIN_NOT_FENCED", `port ${port} is not fenced`);
      return { node: "db1", primary: "db2", datadirSetAside: "var/lib/mysql.fenced-x", ms: 1 };
    },
  };
};

let server: Server | undefined;
afterEach(async () => {
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
});

describe("workloads wiring", () => {
  it("spec: the role nodes of the plan with their roots and the state directory", () => {
    const spec = workloadsSpec(appliance());
    expect(spec.cluster.nodes.map((n) => [n.name, n.role, n.storageAddress])).toEqual([
      ["web1", "web", "10.46.189.2"],
      ["db1", "db", "10.46.189.6"],
      ["db2", "db", "10.46.189.10"],
    ]);
    expect(spec.roots).toEqual({ 1: "/export/10.46.189.2", 2: "/export/10.46.189.6", 3: "/export/10.46.189.10" });
    expect(spec.stateDir).toBe(config.paths.state);
  });

  it.each([
    ["on of a fenced port", 2, "on", true],
    ["cycle of a fenced port", 2, "cycle", true],
    ["off of a fenced port", 2, "off", false],
    ["on of another port", 3, "on", false],
  ] as const)("power %s: refused %s", (_name, port, action, refused) => {
    const why = fencedPowerRefusal(fake([2]), port, action);
    expect(why !== null).toBe(refused);
    if (why) expect(why).toContain("pirack workloads rejoin 2");
  });

  it("holds every fenced port off and keeps the problems panel in line (entries clear themselves)", () => {
    const app = appliance();
    const health = new Health({ now: () => new Date(0) });
    const shown = new Set<string>();
    syncWorkloads(fake([2]) as WorkloadControllers, app, health, shown);
    expect([...app.poweredOff]).toEqual([2]);
    expect(health.list().map((p) => [p.subsystem, p.port, p.text.slice(0, 40)])).toEqual([
      ["workloads", 1, "web1 (web) is unhealthy: ECONNREFUSED"],
      ["workloads", 2, "db1 (db, port 2) is a fenced old primary"],
    ]);
    syncWorkloads(fake([]) as WorkloadControllers, app, health, shown);
    expect(health.list().map((p) => p.port)).toEqual([1]);
  });

  it("API: GET /api/v1/workloads, POST /api/v1/workloads/rejoin with its refusals", async () => {
    const app = appliance();
    const metrics = new MetricsRegistry();
    const w = fake([2]);
    server = await startApi({ log: pino({ level: "silent" }), appliance: app, metrics, workloads: w }, "127.0.0.1", 0);
    const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    const post = (body: string) => fetch(`${base}/api/v1/workloads/rejoin`, { method: "POST", headers: { "content-type": "application/json" }, body });
    const view = (await (await fetch(`${base}/api/v1/workloads`)).json()) as WorkloadsStatus;
    expect(view.nodes.map((n) => n.node)).toEqual(["web1", "db1"]);
    const ok = await post('{"port":2}');
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ ok: true, result: { node: "db1", primary: "db2" } });
    const notFenced = await post('{"port":3}');
    expect(notFenced.status).toBe(409);
    expect(await notFenced.json()).toMatchObject({ code: "DB_REJOIN_NOT_FENCED" });
    expect((await post('{"port":9}')).status).toBe(404);
    expect((await post('{"port":"2"}')).status).toBe(400);
    expect(await (await post("")).json()).toMatchObject({ error: 'request body is empty; expected JSON such as {"port":4}' });
  });
});
