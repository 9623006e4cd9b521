import { describe, expect, it } from "vitest";
import { contradicts, DEFAULT_IDENTITY_POLICY, IdentityPolicy } from "./identity-policy.ts";

const A = { mac: "b8:27:eb:00:00:01", serial: "0000000a" };
const B = { mac: "dc:a6:32:00:00:02" };
const randomPiMac = (i: number) => `b8:27:eb:${[i >> 16, i >> 8, i].map((b) => (b & 0xff).toString(16).padStart(2, "0")).join(":")}`;

describe("IdentityPolicy", () => {
  it("takes a port's first identity at once", () => {
    expect(new IdentityPolicy().decide(1, undefined, A, 0)).toEqual({ kind: "refine", identity: A });
  });

  it("refines at once what only adds to the recorded identity, and ignores the same identity", () => {
    const p = new IdentityPolicy();
    expect(p.decide(1, { mac: A.mac }, { serial: A.serial, model: "4B" }, 0)).toEqual({ kind: "refine", identity: { ...A, model: "4B" } });
    expect(p.decide(1, A, { mac: A.mac }, 0)).toEqual({ kind: "same" });
    expect(p.decide(1, A, {}, 0)).toEqual({ kind: "same" });
  });

  it("replaces a Pi seen 3 times over 5 s (a swapped Pi booting), then no other for a minute", () => {
    const p = new IdentityPolicy();
    expect(p.decide(1, A, B, 0)).toMatchObject({ kind: "pending", sightings: 1, fresh: true });
    expect(p.decide(1, A, B, 1000)).toMatchObject({ kind: "pending", sightings: 2, fresh: false });
    expect(p.decide(1, A, { ...B, serial: "0000000b" }, 4999)).toMatchObject({ kind: "pending", sightings: 3 });
    expect(p.decide(1, A, B, 5000)).toEqual({ kind: "change", identity: { ...B, serial: "0000000b" }, previous: A });
    // Another swap within the minute waits for the minute to pass, then goes through.
    const C = { mac: "d8:3a:dd:00:00:03" };
    for (const t of [6000, 8000, 12_000]) expect(p.decide(1, B, C, t).kind).toBe("pending");
    expect(p.decide(1, B, C, 12_000)).toMatchObject({ kind: "pending", limited: true });
    expect(p.decide(1, B, C, 65_000)).toMatchObject({ kind: "change", identity: C });
  });

  it("never changes identity under a storm of random Pi MACs, however long", () => {
    const p = new IdentityPolicy();
    const kinds = new Set<string>();
    for (let i = 0; i < 5000; i++) kinds.add(p.decide(1, A, { mac: randomPiMac(0x100000 + i) }, i * 20).kind);
    expect([...kinds]).toEqual(["pending"]);
  });

  it("cancels a candidate when the recorded Pi shows up", () => {
    const p = new IdentityPolicy();
    p.decide(1, A, B, 0);
    p.decide(1, A, B, 3000);
    expect(p.decide(1, A, A, 4000)).toEqual({ kind: "same" });
    expect(p.decide(1, A, B, 6000)).toMatchObject({ kind: "pending", sightings: 1, fresh: true });
  });

  it("forgets a candidate unseen for longer than its lifetime", () => {
    const p = new IdentityPolicy();
    p.decide(1, A, B, 0);
    p.decide(1, A, B, 1000);
    expect(p.decide(1, A, B, 1000 + DEFAULT_IDENTITY_POLICY.candidateTtlMs + 1)).toMatchObject({ kind: "pending", sightings: 1, fresh: true });
  });

  it("keeps ports apart", () => {
    const p = new IdentityPolicy();
    p.decide(1, A, B, 0);
    p.decide(1, A, B, 1000);
    expect(p.decide(2, A, B, 6000)).toMatchObject({ kind: "pending", sightings: 1 });
  });

  it("tells which identities cannot be the same Pi", () => {
    expect(contradicts(A, { mac: A.mac, model: "4B" })).toBe(false);
    expect(contradicts(A, { serial: "0000000b" })).toBe(true);
    expect(contradicts({ serial: A.serial }, B)).toBe(false);
  });
});
