import { describe, expect, it } from "vitest";
import { RoundRobin } from "./round-robin.ts";

describe("RoundRobin", () => {
  it("takes everything at once when it fits a slice", () => {
    const rr = new RoundRobin(4);
    expect(rr.next([1, 2, 3], 2000, 2000)).toEqual({ slice: [1, 2, 3], roundDone: true });
    expect(rr.intervalMs(3, 2000, 20)).toBe(2000);
  });

  it("visits every item once per round, in slices, and starts again", () => {
    const rr = new RoundRobin(4);
    const items = Array.from({ length: 10 }, (_, i) => i);
    const tick = rr.intervalMs(items.length, 2000, 20);
    expect(tick).toBe(666);
    const seen: number[][] = [];
    const done: boolean[] = [];
    for (let i = 0; i < 4; i++) {
      const { slice, roundDone } = rr.next(items, 2000, tick);
      seen.push([...slice]);
      done.push(roundDone);
    }
    expect(seen).toEqual([[0, 1, 2, 3], [4, 5, 6, 7], [8, 9], [0, 1, 2, 3]]);
    expect(done).toEqual([false, false, true, false]);
    // Items removed meanwhile: the cursor starts again rather than skip past the end.
    expect(rr.next([0, 1], 2000, tick).slice).toEqual([0, 1]);
  });

  it("at the tick floor, takes larger slices so a round still fits the period", () => {
    const rr = new RoundRobin(16);
    const items = Array.from({ length: 4000 }, (_, i) => i);
    const tick = rr.intervalMs(items.length, 2000, 20);
    expect(tick).toBe(20);
    let ticks = 0;
    for (let done = false; !done; ticks++) done = rr.next(items, 2000, tick).roundDone;
    expect(ticks).toBe(100);
    // A tick no more often than every 100 ms (the TFTP sweep): 200 a slice, 20 slices.
    expect(rr.next(items, 2000, 100).slice).toHaveLength(200);
  });
});
