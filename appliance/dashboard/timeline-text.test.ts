import { describe, expect, it } from "vitest";
import { renderTimelineText } from "./timeline-text.ts";

describe("renderTimelineText", () => {
  it("prints every stage's time and a bar of initials scaled to the slowest boot", () => {
    const text = renderTimelineText([
      {
        port: 1,
        name: "pi01",
        boots: [
          { startedAt: "2026-01-01T10:00:00.000Z", stages: [{ stage: "dhcp", t: 0 }] },
          {
            startedAt: "2026-01-01T10:05:00.000Z",
            stages: [
              { stage: "power", t: 0 },
              { stage: "dhcp", t: 3900 },
              { stage: "firmware", t: 5000 },
              { stage: "kernel", t: 12000 },
              { stage: "nfs", t: 15000 },
              { stage: "up", t: 39000 },
            ],
          },
        ],
      },
      { port: 2, name: "pi02", boots: [] },
    ]);
    const lines = text.split("\n");
    expect(lines[0]).toBe(`port  name  boot started         power  dhcp  firmware  kernel  nfs    up     0${" ".repeat(39)}39.0s`);
    expect(lines[1]).toBe("1     pi01  2026-01-01 10:05:00  0.0s   3.9s  5.0s      12.0s   15.0s  39.0s  |pppddfffffffkkknnnnnnnnnnnnnnnnnnnnnnnnu|");
    expect(lines[2]).toBe(`2     pi02  -                    -      -     -         -       -      -      |${" ".repeat(40)}|`);
  });
});
