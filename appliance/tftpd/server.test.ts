import { utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { encodeAck, encodeError, encodeRequest, TftpErrorCode } from "./codec.ts";
import { download, firmware, pi, root, setup, useLoopbackHarness } from "./testing/loopback-harness.ts";
import type { RawClient } from "../../test/fixtures/tftpd/raw-client.ts";

useLoopbackHarness();

describe("TftpServer on loopback", () => {
  it("replays the Pi size probe: OACK, ERROR 0 Early terminate, re-request, full file", async () => {
    const s = await setup();
    const probe = await s.client();
    await s.rrq(probe, "0660cd37/start4.elf", [["tsize", "0"], ["blksize", "1024"]]);
    // The first answer from each worker waits for its thread to load TypeScript (seconds on a loaded 2-core machine).
    const oack = await probe.next(30_000);
    expect(oack.packet).toEqual({ kind: "oack", options: [["tsize", String(firmware.length)], ["blksize", "1024"]] });
    expect(oack.from.port).not.toBe(s.port);
    await probe.send(encodeError(0, "Early terminate"), oack.from.port);
    const abort = await s.waitEvent((e) => e.kind === "abort");
    expect(abort).toMatchObject({ kind: "abort", reason: "client-error", errorCode: 0, errorMessage: "Early terminate", serialFolder: "0660cd37", piPort: 3, file: "start4.elf" });
    // Nothing comes back for the client's ERROR (RFC 1350 §7).
    const again = await s.client();
    await s.rrq(again, "0660cd37/start4.elf", [["tsize", "0"], ["blksize", "1024"]]);
    expect(await download(again, await again.next(), 1024)).toEqual(firmware);
    await s.waitEvent((e) => e.kind === "complete");
    expect(s.events.map((e) => e.kind)).toEqual(["request", "oack", "abort", "request", "oack", "complete"]);
    expect(probe.pending).toBe(0);
  });

  it("ends quietly on a client ERROR after DATA 1", async () => {
    const s = await setup();
    const c = await s.client();
    await s.rrq(c, "start4.elf", [["tsize", "0"]]);
    const oack = await c.next();
    await c.send(encodeAck(0), oack.from.port);
    expect((await c.next()).packet).toMatchObject({ kind: "data", block: 1 });
    await c.send(encodeError(0, "Early terminate"), oack.from.port);
    expect(await s.waitEvent((e) => e.kind === "abort")).toMatchObject({ bytes: 0, size: firmware.length });
  });

  it("serves several concurrent RRQs for the same file from one client", async () => {
    const s = await setup();
    const cs = await Promise.all([1, 2, 3, 4].map(() => s.client()));
    await Promise.all(cs.map((c) => s.rrq(c, "start4.elf", [["tsize", "0"]])));
    const files = await Promise.all(cs.map(async (c) => download(c, await c.next())));
    for (const f of files) expect(f).toEqual(firmware);
    // The storm read the disk once.
    expect(s.metrics.render()).toContain('pirack_tftp_cache_reads_total{result="hit"} 3');
    expect(s.metrics.render()).toContain('pirack_tftp_cache_reads_total{result="miss"} 1');
  });

  it("answers a packet from a wrong TID with ERROR 5 and keeps the transfer going", async () => {
    const s = await setup();
    const c = await s.client();
    const stranger = await s.client();
    await s.rrq(c, "start4.elf");
    const d1 = await c.next();
    expect(d1.packet).toMatchObject({ kind: "data", block: 1 });
    await stranger.send(encodeAck(1), d1.from.port);
    expect((await stranger.next()).packet).toEqual({ kind: "error", code: TftpErrorCode.UnknownTransferId, message: "unknown transfer id" });
    expect(await download(c, d1)).toEqual(firmware);
  });

  it("ignores duplicate ACKs (no Sorcerer's Apprentice)", async () => {
    const s = await setup();
    const c = await s.client();
    await s.rrq(c, "start4.elf");
    const d1 = await c.next();
    await c.send(encodeAck(1), d1.from.port);
    await c.send(encodeAck(1), d1.from.port);
    await c.send(encodeAck(1), d1.from.port);
    expect((await c.next()).packet).toMatchObject({ kind: "data", block: 2 });
    await c.send(encodeAck(2), d1.from.port);
    // Had the duplicates been answered, DATA 2 would arrive again before DATA 3.
    expect((await c.next()).packet).toMatchObject({ kind: "data", block: 3 });
  });

  it("ignores a re-sent RRQ from the same port while the first is unanswered", async () => {
    const s = await setup();
    const c = await s.client();
    await s.rrq(c, "start4.elf", [["tsize", "0"]]);
    const oack = await c.next();
    await s.rrq(c, "start4.elf", [["tsize", "0"]]);
    expect(await download(c, oack)).toEqual(firmware);
    expect(s.events.filter((e) => e.kind === "request")).toHaveLength(1);
  });

  const refusals: Record<string, { send: (s: Awaited<ReturnType<typeof setup>>, c: RawClient) => Promise<void>; code: number; reason: string }> = {
    "WRQ": { send: (s, c) => c.send(encodeRequest({ kind: "wrq", filename: "x", mode: "octet", options: [] }), s.port), code: 2, reason: "write" },
    "traversal": { send: (s, c) => s.rrq(c, "0660cd37/../../etc/passwd"), code: 2, reason: "bad_path" },
    "absolute path": { send: (s, c) => s.rrq(c, "/etc/passwd"), code: 2, reason: "bad_path" },
    "backslashes": { send: (s, c) => s.rrq(c, "..\\..\\etc\\passwd"), code: 2, reason: "bad_path" },
    "symlink escaping the root": { send: (s, c) => s.rrq(c, "escape"), code: 2, reason: "unreadable" },
    "missing file": { send: (s, c) => s.rrq(c, "0660cd37/recovery.elf", [["tsize", "0"]]), code: 1, reason: "not_found" },
    "directory": { send: (s, c) => s.rrq(c, "overlays"), code: 1, reason: "not_found" },
    "mail mode": { send: (s, c) => s.rrq(c, "start4.elf", [], "mail"), code: 4, reason: "bad_mode" },
  };
  it.each(Object.entries(refusals))("refuses %s", async (_name, r) => {
    const s = await setup();
    const c = await s.client();
    await r.send(s, c);
    const reply = await c.next();
    expect(reply.packet).toMatchObject({ kind: "error", code: r.code });
    expect(reply.from.port).not.toBe(s.port);
    expect(await s.waitEvent((e) => e.kind === "refused")).toMatchObject({ code: r.code, reason: r.reason });
    expect(s.metrics.render()).toContain(`pirack_tftp_requests_total{result="${r.reason}"} 1`);
  });

  it("logs refused paths at warn with the path as a field", async () => {
    const s = await setup();
    const c = await s.client();
    await s.rrq(c, "../etc/passwd");
    await c.next();
    expect(s.lines.find((l) => l.msg === "request path refused")).toMatchObject({ level: 40, path: "../etc/passwd", reason: "traversal" });
  });

  it("follows symlinks that stay inside the root", async () => {
    const s = await setup();
    const c = await s.client();
    await s.rrq(c, "alias.elf");
    expect(await download(c, await c.next())).toEqual(firmware);
  });

  it("serves the generated cmdline.txt and config.txt of the requesting Pi, with or without serial folder", async () => {
    const s = await setup();
    for (const [name, text] of [["cmdline.txt", pi.cmdline], ["0660cd37/cmdline.txt", pi.cmdline], ["config.txt", pi.config]] as const) {
      const c = await s.client();
      await s.rrq(c, name);
      expect((await download(c, await c.next())).toString()).toBe(text);
    }
    const reqs = s.events.filter((e) => e.kind === "request");
    expect(reqs.map((e) => [e.serialFolder, e.file, e.kind === "request" && e.generated])).toEqual([
      [null, "cmdline.txt", true],
      ["0660cd37", "cmdline.txt", true],
      [null, "config.txt", true],
    ]);
  });

  it("refuses unknown clients by default and serves only shared files when configured", async () => {
    const deny = await setup({}, () => null);
    const c1 = await deny.client();
    await deny.rrq(c1, "start4.elf");
    expect((await c1.next()).packet).toMatchObject({ kind: "error", code: 2 });
    const shared = await setup({ unknownClients: "shared" }, () => null);
    const c2 = await shared.client();
    await shared.rrq(c2, "start4.elf");
    expect(await download(c2, await c2.next())).toEqual(firmware);
    const c3 = await shared.client();
    await shared.rrq(c3, "cmdline.txt");
    expect((await c3.next()).packet).toMatchObject({ kind: "error", code: 1 });
  });

  it("limits concurrent transfers per client", async () => {
    const s = await setup({ maxTransfersPerClient: 2 });
    const cs = await Promise.all([1, 2, 3].map(() => s.client()));
    await s.rrq(cs[0]!, "start4.elf");
    await cs[0]!.next();
    await s.rrq(cs[1]!, "start4.elf");
    await cs[1]!.next();
    await s.rrq(cs[2]!, "start4.elf");
    expect((await cs[2]!.next()).packet).toMatchObject({ kind: "error", code: 0, message: "too many transfers from this client" });
  });

  it("at the per-client limit, replaces the client's longest-stalled transfer but never a live one", async () => {
    const s = await setup({ maxTransfersPerClient: 2, idleTimeoutMs: 60_000 });
    const cs = await Promise.all([1, 2, 3, 4].map(() => s.client()));
    await s.rrq(cs[0]!, "start4.elf");
    await cs[0]!.next();
    s.clock.advance(500);
    await s.rrq(cs[1]!, "start4.elf");
    const first1 = await cs[1]!.next();
    s.clock.advance(1000);
    // cs[1] acknowledges block 1 just now: it is live; cs[0] has made no progress for 1.5 s.
    await cs[1]!.send(encodeAck(1), first1.from.port);
    await cs[1]!.next();
    await s.rrq(cs[2]!, "start4.elf");
    expect((await cs[2]!.next()).packet).toMatchObject({ kind: "data", block: 1 });
    expect(await s.waitEvent((e) => e.kind === "abort")).toMatchObject({ client: { port: cs[0]!.port }, reason: "replaced" });
    // Now cs[1] and cs[2] both progressed or started less than a retransmit timeout ago: a fourth request is refused.
    await s.rrq(cs[3]!, "start4.elf");
    expect((await cs[3]!.next()).packet).toMatchObject({ kind: "error", code: 0, message: "too many transfers from this client" });
    expect(s.server.activeTransfers).toBe(2);
  });

  it("converts netascii", async () => {
    const s = await setup();
    const c = await s.client();
    await s.rrq(c, "text.txt", [["tsize", "0"]], "netascii");
    const oack = await c.next();
    expect(oack.packet).toEqual({ kind: "oack", options: [["tsize", "6"]] });
    expect((await download(c, oack)).toString("latin1")).toBe("a\r\nb\r\n");
  });

  it("serves a replaced file after its mtime changes", async () => {
    const s = await setup();
    await writeFile(join(root, "changing.txt"), "one");
    const c1 = await s.client();
    await s.rrq(c1, "changing.txt");
    expect((await download(c1, await c1.next())).toString()).toBe("one");
    await writeFile(join(root, "changing.txt"), "two");
    await utimes(join(root, "changing.txt"), new Date(), new Date(Date.now() + 5000));
    const c2 = await s.client();
    await s.rrq(c2, "changing.txt");
    expect((await download(c2, await c2.next())).toString()).toBe("two");
  });

  it("drops junk at the listening port without answering", async () => {
    const s = await setup();
    const c = await s.client();
    for (const hex of ["", "00", "0004", "00040001", "0009aaaa", "0001ffff"]) await c.send(Buffer.from(hex, "hex"), s.port);
    await s.rrq(c, "start4.elf");
    // The first reply is the DATA for the valid RRQ: none of the junk was answered.
    expect((await c.next()).packet).toMatchObject({ kind: "data", block: 1 });
  });

  it("logs a malformed packet as its error code, reason and a hex prefix, without a stack trace", async () => {
    const s = await setup();
    const c = await s.client();
    const junk = Buffer.concat([Buffer.from("0001", "hex"), Buffer.alloc(1000, 0x41)]);
    await c.send(junk, s.port);
    await s.rrq(c, "start4.elf");
    await c.next();
    const line = s.lines.find((l) => l.msg === "malformed packet dropped");
    expect(line).toMatchObject({ code: "TFTP_MALFORMED", bytes: 1002, hex: junk.subarray(0, 32).toString("hex") });
    expect(line).not.toHaveProperty("err");
    expect(JSON.stringify(line).length).toBeLessThan(500);
  });

  it("stop() aborts transfers in flight", async () => {
    const s = await setup();
    const c = await s.client();
    await s.rrq(c, "start4.elf");
    await c.next();
    await s.server.stop();
    expect(await s.waitEvent((e) => e.kind === "abort")).toMatchObject({ reason: "server-stop" });
    expect(s.server.activeTransfers).toBe(0);
  });
});

describe("TftpServer with transfer workers", () => {
  it("serves, probes, answers wrong TIDs and stops with transfers in worker threads", async () => {
    const s = await setup({ workers: 2 });
    // Pi probe then fetch.
    const probe = await s.client();
    await s.rrq(probe, "0660cd37/start4.elf", [["tsize", "0"], ["blksize", "1024"]]);
    // The first answer from each worker waits for its thread to load TypeScript (seconds on a loaded 2-core machine).
    const oack = await probe.next(30_000);
    expect(oack.packet).toEqual({ kind: "oack", options: [["tsize", String(firmware.length)], ["blksize", "1024"]] });
    await probe.send(encodeError(0, "Early terminate"), oack.from.port);
    expect(await s.waitEvent((e) => e.kind === "abort")).toMatchObject({ reason: "client-error", errorMessage: "Early terminate" });
    // Concurrent downloads spread over both workers, one with a stranger poking its port.
    const cs = await Promise.all([1, 2, 3, 4].map(() => s.client()));
    await Promise.all(cs.map((c) => s.rrq(c, "start4.elf", [["blksize", "1024"]])));
    const firsts = await Promise.all(cs.map((c) => c.next(30_000)));
    const stranger = await s.client();
    await stranger.send(encodeAck(1), firsts[0]!.from.port);
    expect((await stranger.next()).packet).toMatchObject({ kind: "error", code: TftpErrorCode.UnknownTransferId });
    const got = await Promise.all(cs.map((c, i) => download(c, firsts[i]!, 1024)));
    for (const g of got) expect(g).toEqual(firmware);
    await s.waitEvent((e) => s.events.filter((x) => x.kind === "complete").length === 4 && e.kind === "complete");
    // A repeated RRQ is answered by the worker's transfer with the same OACK from the same port.
    const c = await s.client();
    await s.rrq(c, "start4.elf", [["tsize", "0"]]);
    const first = await c.next();
    await s.rrq(c, "start4.elf", [["tsize", "0"]]);
    const again = await c.next();
    expect(again.from.port).toBe(first.from.port);
    await s.server.stop();
    expect(await s.waitEvent((e) => e.kind === "abort" && e.reason === "server-stop")).toMatchObject({ file: "start4.elf" });
    expect(s.server.activeTransfers).toBe(0);
  });
});
