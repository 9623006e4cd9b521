import { describe, expect, it } from "vitest";
import { CdnController, nextWebState, type WebState } from "./controller.ts";

const t = { fails: 2, rises: 3 };
const up: WebState = { name: "w", drained: false, streak: 0, lastDetail: "" };
const ok = { healthy: true, detail: "200" };
const bad = { healthy: false, detail: "refused" };

describe("nextWebState", () => {
  it.each([
    ["a healthy Pi stays", up, ok, { drained: false, streak: 0 }],
    ["one failure counts", up, bad, { drained: false, streak: 1 }],
    ["the second failure drains", { ...up, streak: 1 }, bad, { drained: true, streak: 0 }],
    ["a success resets the count", { ...up, streak: 1 }, ok, { drained: false, streak: 0 }],
    ["a drained Pi needs three successes", { ...up, drained: true, streak: 1 }, ok, { drained: true, streak: 2 }],
    ["the third success returns it", { ...up, drained: true, streak: 2 }, ok, { drained: false, streak: 0 }],
    ["a failure while drained resets the count", { ...up, drained: true, streak: 2 }, bad, { drained: true, streak: 0 }],
  ])("%s", (_name, prev, health, expected) => {
    expect(nextWebState(prev, health, t)).toMatchObject(expected);
  });
});

describe("CdnController", () => {
  const make = (health: Record<string, boolean>) => {
    const writes: string[] = [];
    const c = new CdnController({
      webs: [
        { name: "a", address: "fd00::2", weight: 1 },
        { name: "b", address: "fd00::3", weight: 11 },
      ],
      thresholds: { fails: 2, rises: 2 },
      probe: async (name) => ({ healthy: health[name]!, detail: health[name] ? "200 in 1 ms" : "connect refused" }),
      writeUpstream: async (content) => {
        writes.push(content);
      },
      log: { info: () => undefined, warn: () => undefined },
    });
    return { c, writes };
  };

  it("writes the file once, drains after two failures, returns after two successes, and rewrites only on change", async () => {
    const health = { a: true, b: true };
    const { c, writes } = make(health);
    await c.tick();
    await c.tick();
    expect(writes).toHaveLength(1);
    health.b = false;
    expect(await c.tick()).toEqual([]);
    expect(await c.tick()).toEqual([{ node: "b", event: "drained", detail: "connect refused" }]);
    expect(writes).toHaveLength(2);
    expect(writes[1]).toContain("server [fd00::3]:80 weight=11 max_fails=1 fail_timeout=5s down; # b (drained: connect refused)");
    expect(writes[1]).toContain("server [fd00::2]:80 weight=1 max_fails=1 fail_timeout=5s; # a");
    health.b = true;
    await c.tick();
    expect(await c.tick()).toEqual([{ node: "b", event: "returned", detail: "200 in 1 ms" }]);
    expect(writes[2]).not.toContain(" down;");
  });

  it("never takes every web Pi out of the upstream", async () => {
    const { c, writes } = make({ a: false, b: false });
    await c.tick();
    await c.tick();
    expect(c.status().every((s) => s.drained)).toBe(true);
    expect(writes.at(-1)).not.toContain(" down;");
  });
});
