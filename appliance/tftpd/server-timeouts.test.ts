import { describe, expect, it } from "vitest";
import { encodeAck } from "./codec.ts";
import { download, firmware, setup, useLoopbackHarness } from "./testing/loopback-harness.ts";

// Retransmission, timeouts and the OACK phase, driven by the harness's hand-moved clock.
useLoopbackHarness();

describe("TftpServer timeouts on loopback", () => {
  it("retransmits with doubling intervals and gives up after the cap", async () => {
    const s = await setup({ maxRetransmits: 2 });
    const c = await s.client();
    await s.rrq(c, "start4.elf");
    expect((await c.next()).packet).toMatchObject({ kind: "data", block: 1 });
    s.clock.advance(999);
    s.clock.advance(1);
    expect((await c.next()).packet).toMatchObject({ kind: "data", block: 1 });
    s.clock.advance(1999);
    expect(c.pending).toBe(0);
    s.clock.advance(1);
    expect((await c.next()).packet).toMatchObject({ kind: "data", block: 1 });
    s.clock.advance(4000);
    expect(await s.waitEvent((e) => e.kind === "timeout")).toMatchObject({ reason: "retransmits-exhausted", retransmits: 2 });
    expect(c.pending).toBe(0);
  });

  it("reports a missing final ACK apart from other timeouts", async () => {
    const s = await setup({ maxRetransmits: 1 });
    const c = await s.client();
    await s.rrq(c, "overlays/x.dtbo");
    expect((await c.next()).packet).toMatchObject({ kind: "data", block: 1, data: Buffer.from("overlay") });
    s.clock.advance(1000);
    await c.next();
    s.clock.advance(2000);
    expect(await s.waitEvent((e) => e.kind === "timeout")).toMatchObject({ reason: "final-ack-missing", bytes: 0, size: 7 });
  });

  it("counts a windowed transfer whose final window went unacknowledged as a missing final ACK", async () => {
    const s = await setup({ maxRetransmits: 1 });
    const c = await s.client();
    // 23 bytes at blksize 16: blocks 1 (16 bytes) and 2 (7 bytes), both in one window of 4.
    await s.rrq(c, "overlays/y.dtbo", [["blksize", "16"], ["windowsize", "4"]]);
    const oack = await c.next();
    expect(oack.packet).toMatchObject({ kind: "oack" });
    await c.send(encodeAck(0), oack.from.port);
    expect((await c.next()).packet).toMatchObject({ kind: "data", block: 1 });
    expect((await c.next()).packet).toMatchObject({ kind: "data", block: 2 });
    // The client's ACK of block 2 is lost (RFC 7440 §4: only the window's last block is acknowledged).
    s.clock.advance(1000);
    await c.next();
    await c.next();
    s.clock.advance(2000);
    expect(await s.waitEvent((e) => e.kind === "timeout")).toMatchObject({ reason: "final-ack-missing", bytes: 0, size: 23, windowSize: 4 });
  });

  it("retransmits on the negotiated timeout", async () => {
    const s = await setup();
    const c = await s.client();
    await s.rrq(c, "start4.elf", [["timeout", "2"]]);
    const oack = await c.next();
    await c.send(encodeAck(0), oack.from.port);
    expect((await c.next()).packet).toMatchObject({ kind: "data", block: 1 });
    s.clock.advance(1000);
    s.clock.advance(900);
    expect(c.pending).toBe(0);
    s.clock.advance(100);
    expect((await c.next()).packet).toMatchObject({ kind: "data", block: 1 });
  });

  it("re-sends the OACK when the client repeats its RRQ, never on its own timer (atftp aborts on a second OACK)", async () => {
    const s = await setup({ idleTimeoutMs: 10_000 });
    const c = await s.client();
    await s.rrq(c, "start4.elf", [["tsize", "0"]]);
    const oack = await c.next();
    s.clock.advance(3000);
    await s.rrq(c, "start4.elf", [["tsize", "0"]]);
    const again = await c.next();
    expect(again.packet).toEqual(oack.packet);
    expect(again.from.port).toBe(oack.from.port);
    expect(await download(c, again)).toEqual(firmware);
    expect(await s.waitEvent((e) => e.kind === "complete")).toMatchObject({ retransmits: 1 });
  });

  it("ends a transfer whose OACK is never acknowledged after the idle timeout", async () => {
    // The idle limit is at least the whole retransmit schedule plus one timeout: 1 + 2 + 4 + 1 s with two retransmits.
    const s = await setup({ idleTimeoutMs: 4000, maxRetransmits: 2 });
    const c = await s.client();
    await s.rrq(c, "start4.elf", [["tsize", "0"]]);
    await c.next();
    s.clock.advance(7900);
    expect(s.events.some((e) => e.kind === "timeout")).toBe(false);
    s.clock.advance(100);
    expect(await s.waitEvent((e) => e.kind === "timeout")).toMatchObject({ reason: "idle", retransmits: 0 });
    expect(c.pending).toBe(0);
  });
});
