/** Loopback harness for the TFTP server tests: a firmware root, a hand-driven clock, raw clients. */
import { mkdtemp, rm, symlink, writeFile, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import pino from "pino";
import { afterAll, afterEach, beforeAll } from "vitest";
import { MetricsRegistry } from "../../../lib/metrics.ts";
import { RawClient, type Received } from "../../../test/fixtures/tftpd/raw-client.ts";
import { encodeAck, encodeRequest } from "../codec.ts";
import { TftpServer } from "../server.ts";
import type { TftpClock, PiBootView, TftpEvent, TftpServerOptions } from "../types.ts";

/** A clock the test moves by hand: `advance()` runs the server's sweep. */
class ManualClock implements TftpClock {
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

/** The Pi every loopback client is, unless a test resolves otherwise. */
export const pi: PiBootView = { port: 3, serial: "0660cd37", cmdline: "console=ttyAMA0 root=/dev/nfs ip=10.46.189.10\n", config: "arm_64bit=1\n" };
/** Contents of `start4.elf` in the test root (3000 bytes: several 512- and 1024-byte blocks). */
export const firmware = Buffer.alloc(3000, 0).map((_, i) => (i * 7) & 0xff);

/** The firmware root of the running file (set in beforeAll). */
export let root: string;
let outside: string;
const running: { server: TftpServer; clients: RawClient[] }[] = [];

/** Registers the shared root and per-test teardown in the calling test file. */
export function useLoopbackHarness(): void {
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
}

/** Starts a server on a loopback port with a hand-driven clock; stopped after each test. */
export async function setup(opts: Partial<TftpServerOptions> = {}, resolve: (a: string) => PiBootView | null = () => pi) {
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
export async function download(c: RawClient, first: Received, blockSize = 512): Promise<Buffer> {
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

