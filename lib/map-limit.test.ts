import { describe, expect, it } from "vitest";
import { mapLimit } from "./map-limit.ts";

describe("mapLimit", () => {
  it("keeps the items' order and never has more than `limit` calls in flight", async () => {
    let inFlight = 0;
    let most = 0;
    const out = await mapLimit([5, 1, 4, 2, 3, 0, 6], 3, async (n, i) => {
      inFlight++;
      most = Math.max(most, inFlight);
      await new Promise((r) => setTimeout(r, n * 3));
      inFlight--;
      return `${i}:${n}`;
    });
    expect(out).toEqual(["0:5", "1:1", "2:4", "3:2", "4:3", "5:0", "6:6"]);
    expect(most).toBe(3);
  });

  it("rejects with the first failure and handles an empty list", async () => {
    await expect(mapLimit([1, 2, 3], 2, async (n) => (n === 2 ? Promise.reject(new Error("two")) : n))).rejects.toThrow("two");
    expect(await mapLimit([], 4, async () => 1)).toEqual([]);
  });

  it("with yieldEvery, lets the event loop run between items that finish without I/O", async () => {
    const order: string[] = [];
    setImmediate(() => order.push("event loop"));
    await mapLimit([1, 2, 3, 4], 2, async (n) => void order.push(`item ${n}`), { yieldEvery: 2 });
    expect(order.indexOf("event loop")).toBeGreaterThan(0);
    expect(order.indexOf("event loop")).toBeLessThan(4);
    const without: string[] = [];
    setImmediate(() => without.push("event loop"));
    await mapLimit([1, 2, 3, 4], 2, async (n) => void without.push(`item ${n}`));
    expect(without).not.toContain("event loop");
  });
});
