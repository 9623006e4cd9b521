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
    const s = await setup({ idleTimeoutMs: 4000, maxRetransmits: 2 });
    const c = await s.client();
    await s.rrq(c, "start4.elf", [["tsize", "0"]]);
    await c.next();
    s.clock.advance(3900);
    expect(s.events.some((e) => e.kind === "timeout")).toBe(false);
    s.clock.advance(100);
    expect(await s.waitEvent((e) => e.kind === "timeout")).toMatchObject({ reason: "idle", retransmits: 0 });
    expect(c.pending).toBe(0);
  });

  it("bounds a transfer by the idle limit, never by the retransmit schedule (5 retransmits at 1 s take 31 s)", async () => {
    const s = await setup({ idleTimeoutMs: 15_000, maxRetransmits: 5 });
    const c = await s.client();
    await s.rrq(c, "start4.elf");
    await c.next();
    for (let t = 0; t < 14_900; t += 100) s.clock.advance(100);
    expect(s.events.some((e) => e.kind === "timeout")).toBe(false);
    s.clock.advance(100);
    expect(await s.waitEvent((e) => e.kind === "timeout")).toMatchObject({ reason: "idle", durationMs: 15_000 });
    expect(s.server.activeTransfers).toBe(0);
  });

  it("a client's timeout option never extends the idle limit: 255 is left out of the OACK, 10 retransmits every 10 s", async () => {
    const s = await setup({ idleTimeoutMs: 15_000 });
    const long = await s.client();
    await s.rrq(long, "start4.elf", [["timeout", "255"], ["tsize", "0"]]);
    expect((await long.next()).packet).toEqual({ kind: "oack", options: [["tsize", "3000"]] });
    const ten = await s.client();
    await s.rrq(ten, "start4.elf", [["timeout", "10"]]);
    const oack = await ten.next();
    expect(oack.packet).toEqual({ kind: "oack", options: [["timeout", "10"]] });
    await ten.send(encodeAck(0), oack.from.port);
    await ten.next();
    s.clock.advance(10_000);
    expect((await ten.next()).packet).toMatchObject({ kind: "data", block: 1 });
    s.clock.advance(4_999);
    expect(s.events.filter((e) => e.kind === "timeout")).toHaveLength(0);
    s.clock.advance(1);
    // Both end at the server's 15 s: the one that never answered its OACK, and the one ACKed at t=0.
    await s.waitEvent((e) => e.kind === "timeout" && e.client.port === long.port);
    expect(await s.waitEvent((e) => e.kind === "timeout" && e.client.port === ten.port)).toMatchObject({ reason: "idle", retransmits: 1 });
  });
});
