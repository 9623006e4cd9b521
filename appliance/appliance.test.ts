import { describe, expect, it } from "vitest";
import pino from "pino";
import { Appliance, LATE_ROOT_MS } from "./appliance.ts";
import { validateConfig } from "./config.ts";
import { MetricsRegistry } from "../lib/metrics.ts";

const config = (() => {
  const r = validateConfig({
    storage: { network: "10.46.189.0/24" },
    public: { prefix: "2a00:1098:0:84::/64", gateway: "2a00:1098:0:84::1", firstAddress: "2a00:1098:0:84:1000:1::2" },
    ports: "1-2",
  });
  if (!r.ok) throw new Error(r.problems.join("\n"));
  return r.config;
})();

function rig() {
  let now = 1_000_000;
  const cycled: number[] = [];
  const saved: unknown[] = [];
  const app = new Appliance(config, {
    log: pino({ level: "silent" }),
    clock: { now: () => now },
    metrics: new MetricsRegistry(),
    subsystems: () => [],
    persistLearned: async (pis) => void saved.push(pis),
    powerCycle: async (port) => void cycled.push(port),
  });
  return { app, cycled, saved, advance: (ms: number) => (now += ms) };
}

describe("appliance", () => {
  it("enrols a Pi seen on a listed port and keeps what it learned", async () => {
    const { app, saved } = rig();
    await app.sighting({ port: 2, stage: "dhcp", mac: "b8:27:eb:9b:65:d4", serial: "0660cd37", model: "3B+" });
    expect(app.plan.ports[1]).toMatchObject({ enrolled: true, mac: "b8:27:eb:9b:65:d4", serial: "0660cd37" });
    expect(saved).toEqual([[{ port: 2, mac: "b8:27:eb:9b:65:d4", serial: "0660cd37", model: "3B+" }]]);
    expect(app.sighting({ port: 2, stage: "firmware" })).toBeUndefined(); // nothing new: no pass requested
    expect(app.status()[1]).toMatchObject({ bootStage: "firmware", mac: "b8:27:eb:9b:65:d4" });
  });

  it.each([
    ["root in time", LATE_ROOT_MS - 1, []],
    ["root too late", LATE_ROOT_MS + 1, [1]],
  ] as const)("%s: power cycle %j", async (_n, afterMs, expected) => {
    const { app, cycled, advance } = rig();
    await app.sighting({ port: 1, stage: "dhcp", mac: "b8:27:eb:00:00:01" });
    advance(afterMs);
    app.rootCreated(1);
    await Promise.resolve();
    expect(cycled).toEqual(expected);
  });

  it("folds a burst of new Pis into one replan and one pass, and the plan read at once already has them", async () => {
    const { app, saved } = rig();
    const plans: number[] = [];
    app.onPlan((plan) => plans.push(plan.ports.filter((p) => p.enrolled).length));
    const first = app.sighting({ port: 1, stage: "dhcp", mac: "b8:27:eb:00:00:01" });
    const second = app.sighting({ port: 2, stage: "dhcp", mac: "b8:27:eb:00:00:02" });
    expect(second).toBe(first); // one pass requested for both
    expect(app.plan.ports.map((p) => p.enrolled)).toEqual([true, true]); // read before the deferred replan ran
    expect(saved).toHaveLength(2); // identities are still saved as they are learned
    const report = await first;
    expect(report?.reason).toBe("2 pis seen (ports 1, 2)");
    expect(plans).toEqual([2]); // the servers were told once
  });

  it("does not cycle a Pi it never saw boot", () => {
    const { app, cycled, advance } = rig();
    advance(LATE_ROOT_MS * 10);
    expect(app.rootCreated(2)).toBe(false);
    expect(cycled).toEqual([]);
  });
});

describe("appliance under a storm of spoofed identities", () => {
  it("keeps the port's Pi, writes no state and requests no pass; a swapped Pi is taken once confirmed", async () => {
    const { app, saved, advance } = rig();
    await app.sighting({ port: 1, stage: "dhcp", mac: "b8:27:eb:00:00:01" });
    expect(saved).toHaveLength(1);
    for (let i = 0; i < 500; i++) {
      const mac = `b8:27:eb:7f:${(i >> 8).toString(16).padStart(2, "0")}:${(i & 0xff).toString(16).padStart(2, "0")}`;
      expect(app.sighting({ port: 1, stage: "dhcp", mac })).toBeUndefined();
      advance(10);
    }
    expect(saved).toHaveLength(1);
    expect(app.status()[0]!.mac).toBe("b8:27:eb:00:00:01");
    for (let i = 0; i < 3; i++) {
      app.sighting({ port: 1, stage: "firmware", serial: "0000000b", mac: "dc:a6:32:00:00:02" });
      advance(2500);
    }
    expect(app.status()[0]).toMatchObject({ mac: "dc:a6:32:00:00:02", serial: "0000000b" });
    expect(saved).toHaveLength(2);
  });
});
