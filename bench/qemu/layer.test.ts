import { describe, expect, it } from "vitest";
import { ROLES } from "../../workloads/index.ts";
import { layerKey, parseTimeOutput } from "./layer.ts";

describe("bench role layers", () => {
  const golden = { key: "f7d1e594670e5b9e" };

  it("keys a layer by the golden image and the role's packages, units and removals (order does not matter)", () => {
    const web = ROLES.web!;
    const key = layerKey(golden, web);
    expect(key).toMatch(/^[0-9a-f]{16}$/);
    expect(layerKey(golden, { ...web, packages: [...web.packages].reverse() })).toBe(key);
    expect(layerKey(golden, { ...web, packages: [...web.packages, "vim"] })).not.toBe(key);
    expect(layerKey(golden, { ...web, layerRemovals: [] })).not.toBe(key);
    expect(layerKey({ key: "0000000000000000" }, web)).not.toBe(key);
    expect(layerKey(golden, ROLES.cdn!)).not.toBe(key);
  });

  it("reads user + system seconds from /usr/bin/time's line among the build's output", () => {
    expect(parseTimeOutput("apt-get install: done\npirack-time 301.52 120.40\n")).toBeCloseTo(421.92);
    expect(parseTimeOutput("no timing here")).toBeUndefined();
  });
});
