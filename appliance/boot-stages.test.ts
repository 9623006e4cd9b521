import { describe, expect, it } from "vitest";
import { BootTracker, summarise, type BootState } from "./boot-stages.ts";

function tracker(stuckAfterS = 60) {
  let now = new Date("2026-01-01T00:00:00Z").getTime();
  const clock = { now: () => new Date(now) };
  const t = new BootTracker({ clock, stuckAfterS: () => stuckAfterS });
  return { t, advance: (ms: number) => (now += ms), at: (ms: number) => new Date(new Date("2026-01-01T00:00:00Z").getTime() + ms) };
}

describe("BootTracker", () => {
  it("follows one boot through every stage and keeps the time of each", () => {
    const { t, advance } = tracker();
    for (const stage of ["power", "dhcp", "firmware", "kernel", "nfs", "up"] as const) {
      expect(t.record(1, stage)).toBe(true);
      advance(1000);
    }
    expect(t.state(1).stage).toBe("up");
    const [boot] = t.history(1);
    expect(boot!.stages.map((s) => [s.stage, s.at.getTime() - boot!.startedAt.getTime()])).toEqual([
      ["power", 0],
      ["dhcp", 1000],
      ["firmware", 2000],
      ["kernel", 3000],
      ["nfs", 4000],
      ["up", 5000],
    ]);
  });

  it("keeps a Pi 3's second DHCP (from bootcode.bin) in the same boot, and a DHCP after the kernel starts a new one", () => {
    const { t, advance } = tracker();
    t.record(1, "dhcp");
    advance(500);
    t.record(1, "firmware");
    advance(500);
    expect(t.record(1, "dhcp")).toBe(false);
    expect(t.history(1)).toHaveLength(1);
    t.record(1, "kernel");
    advance(500);
    t.record(1, "dhcp");
    expect(t.history(1)).toHaveLength(2);
    expect(t.state(1).stage).toBe("dhcp");
  });

  it("never moves a boot backwards: a firmware file fetched after the kernel keeps the stage at kernel", () => {
    const { t } = tracker();
    t.record(1, "dhcp");
    t.record(1, "kernel");
    expect(t.record(1, "firmware")).toBe(false);
    expect(t.state(1).stage).toBe("kernel");
  });

  it("puts a power-on reported late (when the cycle call returned) at the head of the boot it started", () => {
    const { t, advance, at } = tracker();
    advance(3000);
    t.record(1, "dhcp");
    t.record(1, "power", at(1000));
    expect(t.history(1)).toHaveLength(1);
    expect(t.history(1)[0]!.stages.map((s) => s.stage)).toEqual(["power", "dhcp"]);
    expect(t.history(1)[0]!.startedAt).toEqual(at(1000));
  });

  it("marks a stage that has not advanced within the stuck time, and clears it on progress or power-off", () => {
    const { t, advance } = tracker(60);
    t.record(2, "dhcp");
    t.record(2, "firmware");
    advance(59_000);
    expect(t.state(2).stuck).toBeNull();
    advance(2_000);
    expect(t.state(2).stuck).toEqual({ stage: "firmware", forSeconds: 61 });
    t.record(2, "kernel");
    expect(t.state(2).stuck).toBeNull();
    advance(120_000);
    expect(t.state(2).stuck?.stage).toBe("kernel");
    t.poweredOff(2);
    expect(t.state(2)).toMatchObject({ stage: "unseen", stuck: null });
    expect(t.history(2)).toHaveLength(1);
  });

  it("never calls an up Pi stuck", () => {
    const { t, advance } = tracker(1);
    t.record(3, "up");
    advance(10_000);
    expect(t.state(3).stuck).toBeNull();
  });

  it("keeps only the last boots", () => {
    const { t, advance } = tracker();
    for (let i = 0; i < 5; i++) {
      t.record(1, "power");
      advance(1000);
    }
    expect(t.history(1)).toHaveLength(3);
  });
});

describe("summarise", () => {
  const s = (stage: BootState["stage"], stuck?: BootState["stage"]): BootState => ({
    stage,
    since: null,
    lastSeen: null,
    stuck: stuck ? { stage: stuck, forSeconds: 100 } : null,
  });
  it.each([
    ["the issue's example", [...Array(7).fill(s("up")), s("firmware", "firmware")], "8 Pis: 7 up, 1 stuck at firmware"],
    ["booting and unseen", [s("up"), s("kernel"), s("unseen")], "3 Pis: 1 up, 1 at kernel, 1 unseen"],
    ["one Pi", [s("unseen")], "1 Pi: 1 unseen"],
    ["none", [], "0 Pis"],
  ])("%s", (_name, states, line) => {
    expect(summarise(states as BootState[])).toBe(line);
  });
});
