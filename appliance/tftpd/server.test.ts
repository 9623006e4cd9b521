import { mkdtemp, rm, symlink, utimes, writeFile, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import pino from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { MetricsRegistry } from "../metrics.ts";
import { RawClient, type Received } from "../../test/fixtures/tftpd/raw-client.ts";
import { encodeAck, encodeError, encodeRequest, TftpErrorCode } from "./codec.ts";
import { TftpServer } from "./server.ts";
import type { Clock, PiBootView, TftpEvent, TftpServerOptions } from "./types.ts";

/** A clock the test moves by hand: `advance()` runs the server's sweep. */
class ManualClock implements Clock {
  private t = 0;
  private readonly fns = new Set<() => void>();
  now = () => this.t;
  every = (_ms: number, fn: () => void) => {
    this.fns.add(fn);
    return () => this.fns.delete(fn);
  };
  advance(ms: number): void {
    this.t += ms;
    for (const fn of this.fns) fn();
  }
}

const pi: PiBootView = { port: 3, serial: "0660cd37", cmdline: "console=ttyAMA0 root=/dev/nfs ip=10.46.189.10\n", config: "arm_64bit=1\n" };
const firmware = Buffer.alloc(3000, 0).map((_, i) => (i * 7) & 0xff);

let root: string;
let outside: string;
const running: { server: TftpServer; clients: RawClient[] }[] = [];

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "tftpd-unit-"));
  outside = await mkdtemp(join(tmpdir(), "tftpd-outside-"));
  await writeFile(join(root, "start4.elf"), firmware);
  await writeFile(join(root, "text.txt"), "a\nb\n");
  await mkdir(join(root, "overlays"));
  await writeFile(join(root, "overlays", "x.dtbo"), "overlay");
  await writeFile(join(root, "overlays", "y.dtbo"), "overlay-with-two-blocks");
  await writeFile(join(outside, "secret"), "secret");
  await symlink(join(outside, "secret"), join(root, "escape"));
  await symlink("start4.elf", join(root, "alias.elf"));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
  await rm(outside, { recursive: true, force: true });
});
afterEach(async () => {
  for (const r of running.splice(0)) {
    for (const c of r.clients) c.close();
    await r.server.stop();
  }
});

async function setup(opts: Partial<TftpServerOptions> = {}, resolve: (a: string) => PiBootView | null = () => pi) {
  const clock = new ManualClock();
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      cb();
    },
  });
  const metrics = new MetricsRegistry();
  const server = new TftpServer({ firmwareRoot: root, address: "127.0.0.1", port: 0, ...opts }, { log: pino({ level: "debug" }, sink), metrics, clock, resolvePi: resolve });
  const events: TftpEvent[] = [];
  server.on("transfer", (e) => events.push(e));
  await server.start();
  const clients: RawClient[] = [];
  running.push({ server, clients });
  const port = server.address().port;
  const client = async () => {
    const c = await RawClient.open();
    clients.push(c);
    return c;
  };
  const rrq = (c: RawClient, filename: string, options: [string, string][] = [], mode = "octet") =>
    c.send(encodeRequest({ kind: "rrq", filename, mode, options }), port);
  /** Waits for an event matching `pred` (event-driven, with a timeout). */
  const waitEvent = (pred: (e: TftpEvent) => boolean, timeoutMs = 3000) =>
    new Promise<TftpEvent>((resolve, reject) => {
      const found = events.find(pred);
      if (found) return resolve(found);
      const t = setTimeout(() => reject(new Error("event not seen")), timeoutMs);
      const on = (e: TftpEvent) => {
        if (!pred(e)) return;
        clearTimeout(t);
        server.off("transfer", on);
        resolve(e);
      };
      server.on("transfer", on);
    });
  return { server, clock, port, client, rrq, events, waitEvent, lines, metrics };
}

/** Reads a whole file in lockstep from the first reply on; returns the bytes. */
async function download(c: RawClient, first: Received, blockSize = 512): Promise<Buffer> {
  const parts: Buffer[] = [];
  let r = first;
  for (;;) {
    if (r.packet.kind === "oack") {
      await c.send(encodeAck(0), r.from.port);
    } else if (r.packet.kind === "data") {
      parts.push(r.packet.data);
      await c.send(encodeAck(r.packet.block), r.from.port);
      if (r.packet.data.length < blockSize) return Buffer.concat(parts);
    } else throw new Error(`unexpected ${JSON.stringify(r.packet)}`);
    r = await c.next();
  }
}

describe("TftpServer on loopback", () => {
  it("replays the Pi size probe: OACK, ERROR 0 Early terminate, re-request, full file", async () => {
    const s = await setup();
    const probe = await s.client();
    await s.rrq(probe, "0660cd37/start4.elf", [["tsize", "0"], ["blksize", "1024"]]);
    const oack = await probe.next();
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
    const oack = await probe.next();
    expect(oack.packet).toEqual({ kind: "oack", options: [["tsize", String(firmware.length)], ["blksize", "1024"]] });
    await probe.send(encodeError(0, "Early terminate"), oack.from.port);
    expect(await s.waitEvent((e) => e.kind === "abort")).toMatchObject({ reason: "client-error", errorMessage: "Early terminate" });
    // Concurrent downloads spread over both workers, one with a stranger poking its port.
    const cs = await Promise.all([1, 2, 3, 4].map(() => s.client()));
    await Promise.all(cs.map((c) => s.rrq(c, "start4.elf", [["blksize", "1024"]])));
    const firsts = await Promise.all(cs.map((c) => c.next()));
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
