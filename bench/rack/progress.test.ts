import { describe, expect, it } from "vitest";
import { benchLayout } from "./layout.ts";
import type { PiInstance, PiReport } from "./pi-process.ts";
import { PowerRail } from "./power-rail.ts";
import { allSettled, progressRows, renderProgress, StageClock, stageOf } from "./progress.ts";

const t0 = Date.parse("2026-12-02T03:00:00Z");
const iso = (ms: number) => new Date(t0 + ms).toISOString();

describe("stages: pirack's API, plus the bench's power and up", () => {
  it.each([
    ["unpowered", { powerOns: 0, attempts: 0 }, undefined, "off"],
    ["powered, not heard from", { poweredAt: t0, powerOns: 1, attempts: 1 }, { port: 1, bootStage: "unseen", lastSeen: null }, "power"],
    ["powered, API says firmware", { poweredAt: t0, powerOns: 1, attempts: 1 }, { port: 1, bootStage: "firmware", lastSeen: iso(500) }, "firmware"],
    ["after a power cycle the last boot's stage does not count", { poweredAt: t0, powerOns: 2, attempts: 1 }, { port: 1, bootStage: "kernel", lastSeen: iso(-2000) }, "power"],
    ["nfs-root is shown as nfs", { poweredAt: t0, powerOns: 1, attempts: 1 }, { port: 1, bootStage: "nfs-root", lastSeen: iso(1) }, "nfs"],
    ["the API's up alone is not up", { poweredAt: t0, powerOns: 1, attempts: 1 }, { port: 1, bootStage: "up", lastSeen: iso(1) }, "nfs"],
    ["the Pi reported in", { poweredAt: t0, powerOns: 1, attempts: 1, upAt: t0 + 9000 }, { port: 1, bootStage: "kernel", lastSeen: iso(1) }, "up"],
    ["failed", { poweredAt: t0, powerOns: 1, attempts: 1, failed: "no lease" }, undefined, "failed"],
  ] as const)("%s", (_n, rail, api, stage) => {
    expect(stageOf(rail, api)).toBe(stage);
  });

  it("marks a Pi stuck when its stage has not moved for stuckMs, and renders the table", () => {
    const layout = benchLayout({ pis: 2, qemu: 0, models: ["4"], pid: 7 });
    const rails = new Map([
      [1, { poweredAt: t0, powerOns: 1, attempts: 2, lastFailure: "no usable DHCP OFFER" }],
      [2, { poweredAt: t0, powerOns: 1, attempts: 1, upAt: t0 + 5000 }],
    ]);
    const clock = new StageClock();
    progressRows(layout.pis, rails, [], clock, t0, 20_000);
    const rows = progressRows(layout.pis, rails, [], clock, t0 + 25_000, 20_000);
    expect(rows.map((r) => [r.stage, r.stuck])).toEqual([["power", true], ["up", false]]);
    expect(allSettled(rows)).toBe(false);
    expect(renderProgress(rows)).toBe(
      "port  pi   mac                stage          secs  note\n" +
        "1     pi4  dc:a6:32:be:00:01  power (stuck)  25.0  no progress for 25 s; attempt 1: no usable DHCP OFFER\n" +
        "2     pi4  dc:a6:32:be:00:02  up             25.0\n",
    );
  });
});

describe("the power rail", () => {
  const layout = benchLayout({ pis: 2, qemu: 0, models: ["3b", "4"], pid: 7 });
  const rig = () => {
    const started: { port: number; report: (r: PiReport) => void; stopped: boolean }[] = [];
    const launch = () => (pi: { port: number }, report: (r: PiReport) => void): PiInstance => {
      const entry = { port: pi.port, report, stopped: false };
      started.push(entry);
      return { stop: async () => void (entry.stopped = true) };
    };
    const rail = new PowerRail(layout.pis, launch, () => undefined);
    return { rail, started };
  };

  it("starts a Pi on power and kills it when power goes; a cycle boots it afresh", async () => {
    const { rail, started } = rig();
    await rail.set(1, true);
    await rail.set(1, true); // deliveringPower reported twice: still one Pi
    expect(started.map((s) => s.port)).toEqual([1]);
    started[0]!.report({ kind: "up" });
    expect(rail.states.get(1)?.upAt).toBeDefined();
    await rail.set(1, false);
    expect(started[0]!.stopped).toBe(true);
    expect(rail.states.get(1)?.poweredAt).toBeUndefined();
    await rail.set(1, true);
    expect(started).toHaveLength(2);
    expect(rail.states.get(1)).toMatchObject({ powerOns: 2, upAt: undefined });
    started[0]!.report({ kind: "up" }); // the killed Pi's late word changes nothing
    expect(rail.states.get(1)?.upAt).toBeUndefined();
  });

  it("a Pi 3 ROM that failed stays failed; ports without a Pi are ignored", async () => {
    const { rail, started } = rig();
    await rail.set(1, true);
    started[0]!.report({ kind: "failed", reason: "no OFFER" });
    expect(rail.states.get(1)?.failed).toBe("no OFFER");
    await rail.set(9, true);
    expect(started).toHaveLength(1);
  });
});
