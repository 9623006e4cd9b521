import { describe, expect, it } from "vitest";
import { renderTimelineSvg } from "./timeline-svg.ts";

describe("renderTimelineSvg", () => {
  const svg = renderTimelineSvg([
    { port: 1, name: "pi01", stages: [{ stage: "power", t: 0 }, { stage: "dhcp", t: 2000 }, { stage: "up", t: 9000 }] },
    { port: 2, name: "pi<02>", stages: [{ stage: "dhcp", t: 4000 }, { stage: "firmware", t: 5000 }] },
  ]);

  it("draws a bar per stage, each from its time to the next stage's", () => {
    const bars = [...svg.matchAll(/<rect x="([\d.]+)" y="[\d.]+" width="([\d.]+)" height="14" fill="[^"]+" data-stage="(\w+)"/g)].map((m) => [m[3], Number(m[1]), Number(m[2])]);
    expect(bars.map((b) => b[0])).toEqual(["power", "dhcp", "up", "dhcp", "firmware"]);
    // 10 s axis over 640 px after a 150 px label column: 2 s is 128 px.
    expect(bars[0]).toEqual(["power", 150, 128]);
    expect(bars[1]).toEqual(["dhcp", 278, 448]);
    expect(bars[3]).toEqual(["dhcp", 406, 64]);
  });

  it("labels rows and the time axis, escaping names", () => {
    expect(svg).toContain(">2 pi&#60;02&#62;</text>");
    expect(svg).toContain(">10 s</text>");
    expect(svg.startsWith("<svg xmlns=\"http://www.w3.org/2000/svg\"")).toBe(true);
  });

  it("renders an empty picture without failing", () => {
    expect(renderTimelineSvg([])).toContain("</svg>");
  });
});
