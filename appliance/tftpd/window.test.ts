import { describe, expect, it } from "vitest";
import { SendWindow, blockCount } from "./window.ts";

describe("blockCount", () => {
  const cases = { "0 B": [0, 512, 1], "511 B": [511, 512, 1], "512 B": [512, 512, 2], "513 B": [513, 512, 2], "64 KiB at 1468": [65536, 1468, 45] } as const;
  it.each(Object.entries(cases))("%s", (_name, [size, bs, n]) => expect(blockCount(size, bs)).toBe(n));
});

describe("SendWindow", () => {
  it("lockstep without OACK: one block at a time, duplicates ignored", () => {
    const w = new SendWindow(3, 1, false);
    expect(w.current()).toEqual({ first: 1, last: 1 });
    expect(w.onAck(0)).toEqual({ kind: "ignored", reason: "duplicate" });
    expect(w.onAck(1)).toEqual({ kind: "send", range: { first: 2, last: 2 } });
    // Sorcerer's Apprentice: a repeated ACK 1 must not send DATA 2 again.
    expect(w.onAck(1)).toEqual({ kind: "ignored", reason: "duplicate" });
    expect(w.onAck(3)).toEqual({ kind: "ignored", reason: "out-of-window" });
    expect(w.onAck(2)).toEqual({ kind: "send", range: { first: 3, last: 3 } });
    expect(w.onAck(3)).toEqual({ kind: "complete" });
  });

  it("OACK waits for ACK 0", () => {
    const w = new SendWindow(2, 1, true);
    expect(w.awaitingOack).toBe(true);
    expect(w.onAck(1)).toEqual({ kind: "ignored", reason: "out-of-window" });
    expect(w.onAck(0)).toEqual({ kind: "send", range: { first: 1, last: 1 } });
    expect(w.awaitingOack).toBe(false);
  });

  it("windowed: partial ACK restarts after the acknowledged block (RFC 7440 §4)", () => {
    const w = new SendWindow(20, 4, true);
    expect(w.onAck(0)).toEqual({ kind: "send", range: { first: 1, last: 4 } });
    expect(w.onAck(2)).toEqual({ kind: "send", range: { first: 3, last: 6 } });
    expect(w.onAck(2)).toEqual({ kind: "ignored", reason: "duplicate" });
    expect(w.onAck(1)).toEqual({ kind: "ignored", reason: "out-of-window" });
    expect(w.onAck(6)).toEqual({ kind: "send", range: { first: 7, last: 10 } });
    expect(w.current()).toEqual({ first: 7, last: 10 });
  });

  it("rolls block numbers over past 65535", () => {
    const total = 70_000;
    const w = new SendWindow(total, 1, false);
    w.current();
    const kinds = new Set<string>();
    for (let b = 1; b < total; b++) kinds.add(w.onAck(b & 0xffff).kind);
    expect([...kinds]).toEqual(["send"]);
    expect(w.ackedBlocks).toBe(total - 1);
    expect(w.onAck(total & 0xffff)).toEqual({ kind: "complete" });
  });

  it("last window is cut at the final block", () => {
    const w = new SendWindow(5, 4, false);
    expect(w.current()).toEqual({ first: 1, last: 4 });
    expect(w.onAck(4)).toEqual({ kind: "send", range: { first: 5, last: 5 } });
    expect(w.onAck(5)).toEqual({ kind: "complete" });
  });
});
