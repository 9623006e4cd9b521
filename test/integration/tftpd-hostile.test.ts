/**
 * Hostile Pis against the TFTP server listening as the appliance does (one device-bound socket per storage
 * interface): slot lockouts with never-acknowledged RRQs and `timeout 255`, RRQs spoofed from another VLAN,
 * and a flood that overflows the listening socket's receive buffer. After each, real tftp-hpa clients must
 * be served. Needs root (namespaces) and tftp-hpa. Figures go to stdout for docs/tftp.md.
 */
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeRequest } from "../../appliance/tftpd/codec.ts";
import { isRoot, TestBed, waitFor } from "../support/netns.ts";
import { buildRack, firmwareDir, RACK_INTERFACES, scratchDir, ServerProcess, type Rack, type RackPi } from "../fixtures/tftpd/rack.ts";

const firmware = randomBytes(2_249_280);
const support = (name: string) => fileURLToPath(new URL(`../support/${name}`, import.meta.url));
const rrq = (filename: string, options: [string, string][] = []) => encodeRequest({ kind: "rrq", filename, mode: "octet", options }).toString("hex");
const metric = (text: string, series: string): number => Number(new RegExp(`^${series.replace(/[{}"=.]/g, (c) => `\\${c}`)} (\\S+)$`, "m").exec(text)?.[1] ?? 0);

describe.skipIf(!isRoot())("tftpd against hostile Pis (root: network namespaces)", () => {
  const bed = new TestBed();
  let rack: Rack;
  let server: ServerProcess;
  let out: string;

  beforeAll(async () => {
    rack = await buildRack(bed);
    // Real Pis have a default route via their /30's .1 (DHCP option 3): a spoofer can reach every server address.
    for (const p of rack.pis) await bed.exec(p.ns, "ip", ["route", "add", "default", "via", p.server]);
    // Reverse-path filtering would hide the spoofing from the server; the appliance must not depend on it (issue 9).
    for (const conf of ["all", "default", "eth0.10", "eth0.11", "eth0.12"]) {
      await bed.exec(rack.fs, "sh", ["-c", `echo 0 > /proc/sys/net/ipv4/conf/${conf}/rp_filter`]);
    }
    const root = await firmwareDir(bed, { "start4.elf": firmware });
    out = await scratchDir(bed);
    server = await ServerProcess.start(bed, rack.fs, { firmwareRoot: root }, rack.pis, RACK_INTERFACES);
  });
  afterAll(async () => {
    if (server) await server.stop().catch(() => undefined);
    await bed.cleanup();
  });

  /** tftp-hpa fetches start4.elf for `pi`; returns the elapsed ms once the file arrived intact. */
  const fetchWithTftpHpa = async (pi: RackPi): Promise<number> => {
    const local = join(out, `start4-${randomBytes(3).toString("hex")}`);
    const started = Date.now();
    const r = await bed.exec(pi.ns, "tftp", ["-m", "binary", pi.server, "-c", "get", `${pi.view.serial}/start4.elf`, local], { timeoutMs: 60_000 });
    const elapsed = Date.now() - started;
    const data = await readFile(local).catch(() => null);
    expect(data?.equals(firmware), `${r.stdout}\n${r.stderr}`).toBe(true);
    return elapsed;
  };

  const spoof = async (ns: string, args: { src: string; dst: string; dport: number; sport: number; payloads: string[]; perPayloadPorts?: boolean }) => {
    const r = await bed.exec(ns, "node", ["--import", "tsx", support("udp-spoof.ts"), JSON.stringify(args)]);
    expect(r.exitCode, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as { sent: number };
  };

  it("16 never-acknowledged RRQs with timeout 255 neither lock the Pi out nor hold slots past the idle limit", async () => {
    const pi = rack.pis[0];
    const since = server.events.length;
    const sentAt = Date.now();
    // From the Pi's own address, 16 client ports: the per-client limit, as an abandoned boot leaves them.
    const payloads = Array.from({ length: 16 }, () => rrq(`${pi.view.serial}/start4.elf`, [["timeout", "255"], ["tsize", "0"], ["blksize", "1024"]]));
    await spoof(pi.ns, { src: pi.address, dst: pi.server, dport: 69, sport: 41000, payloads, perPayloadPorts: true });
    const mine = () => server.events.slice(since).filter((e) => e.client.address === pi.address && e.client.port >= 41000 && e.client.port < 41016);
    await server.until(() => (mine().filter((e) => e.kind === "oack").length === 16 ? true : undefined), "16 OACKs", 20_000);
    // `timeout 255` is not granted: the OACK leaves it out, so the client falls back to its default.
    for (const e of mine()) if (e.kind === "oack") expect(e.options.map(([n]) => n)).toEqual(["tsize", "blksize"]);
    // A rebooting Pi asks again after its own timeout; by then the old transfers have stalled (> 1 s without progress).
    await new Promise((r) => setTimeout(r, 1500));
    const elapsed = await fetchWithTftpHpa(pi);
    expect(server.events.slice(since).filter((e) => e.kind === "abort" && e.reason === "replaced").length).toBeGreaterThanOrEqual(1);
    // The abandoned transfers end at the server's 30 s idle limit (idleTimeoutMs), not (31 + 1) x 255 s.
    await server.until(() => (mine().filter((e) => e.kind === "timeout" || e.kind === "abort").length === 16 ? true : undefined), "16 abandoned transfers ended", 60_000);
    const lifetimes = mine().flatMap((e) => (e.kind === "timeout" ? [e.durationMs] : []));
    expect(Math.max(...lifetimes)).toBeLessThanOrEqual(30_000 + 1500);
    const freedAfterMs = Date.now() - sentAt;
    console.info(JSON.stringify({ figure: "tftp-lockout", rrqs: 16, requestedTimeoutS: 255, realClientMs: elapsed, maxAbandonedLifetimeMs: Math.round(Math.max(...lifetimes)), allFreedAfterMs: freedAfterMs }));
  }, 120_000);

  it("RRQs spoofed from another VLAN are dropped and counted, and never take the other Pi's slots", async () => {
    const [a, b] = rack.pis;
    const since = server.events.length;
    const before = await server.metrics();
    // From port 1's namespace, 16 RRQs claiming port 2's Pi address, to both server addresses.
    const payloads = Array.from({ length: 16 }, () => rrq(`${b.view.serial}/start4.elf`, [["timeout", "255"]]));
    for (const dst of [a.server, b.server]) await spoof(a.ns, { src: b.address, dst, dport: 69, sport: 42000, payloads, perPayloadPorts: true });
    const dropped = await waitFor(
      async () => {
        const n = metric(await server.metrics(), 'pirack_tftp_dropped_packets_total{reason="wrong_interface"}') - metric(before, 'pirack_tftp_dropped_packets_total{reason="wrong_interface"}');
        return n >= 32 ? n : undefined;
      },
      "32 wrong_interface drops",
      20_000,
    );
    expect(dropped).toBe(32);
    expect(server.events.slice(since).filter((e) => e.client.address === b.address)).toEqual([]);
    // Both real Pis are served at once afterwards.
    const elapsedB = await fetchWithTftpHpa(b);
    const elapsedA = await fetchWithTftpHpa(a);
    expect(server.events.slice(since).filter((e) => e.kind === "request").map((e) => [e.client.address, e.piPort])).toEqual([
      [b.address, 2],
      [a.address, 1],
    ]);
    console.info(JSON.stringify({ figure: "tftp-spoof", spoofedRrqs: 32, droppedWrongInterface: dropped, realClientMs: [elapsedB, elapsedA] }));
  }, 90_000);

  it("counts what the kernel drops when the listening socket's receive buffer overflows", async () => {
    const pi = rack.pis[0];
    const before = await server.metrics();
    const COUNT = 5000;
    // While the server is frozen only the kernel queue holds its datagrams: the rest overflow.
    server.signal("SIGSTOP");
    let flood;
    try {
      flood = await bed.exec(pi.ns, "node", ["--import", "tsx", support("udp-flood.ts"), JSON.stringify({ dst: pi.server, dport: 69, hex: "0009" + "41".repeat(96), count: COUNT })]);
    } finally {
      server.signal("SIGCONT");
    }
    expect(flood.exitCode, flood.stderr).toBe(0);
    expect(JSON.parse(flood.stdout)).toMatchObject({ sent: COUNT, failed: 0 });
    const delta = (text: string, series: string) => metric(text, series) - metric(before, series);
    // Sampled every 2 s; wait until the server has read its queue and the counters stop moving.
    let last = "";
    const settled = await waitFor(
      async () => {
        const text = await server.metrics();
        const now = `${delta(text, 'pirack_tftp_receive_buffer_drops_total{iface="eth0.10"}')}/${delta(text, 'pirack_tftp_dropped_packets_total{reason="malformed"}')}`;
        const done = now === last && !now.startsWith("0/");
        last = now;
        return done ? text : undefined;
      },
      "drop counters to settle",
      30_000,
    );
    const kernel = delta(settled, 'pirack_tftp_receive_buffer_drops_total{iface="eth0.10"}');
    const malformed = delta(settled, 'pirack_tftp_dropped_packets_total{reason="malformed"}');
    expect(kernel).toBeGreaterThan(0);
    // Every datagram is accounted for: read and counted as malformed by the server, or dropped and counted by the kernel.
    expect(kernel + malformed).toBe(COUNT);
    expect(metric(settled, "pirack_tftp_receive_buffer_drops_total{iface=\"eth0.11\"}")).toBe(0);
    const elapsed = await fetchWithTftpHpa(pi);
    console.info(JSON.stringify({ figure: "tftp-rcvbuf", sent: COUNT, bytesEach: 98, kernelDropped: kernel, readAndCountedMalformed: malformed, realClientMs: elapsed }));
  }, 90_000);
});
