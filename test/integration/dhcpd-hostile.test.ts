/**
 * Hostile Pis against the DHCP server on veth "VLANs": a 64 KB DISCOVER (option 61 echo), DHCP packets
 * spoofed from another VLAN over raw sockets, and a flood that overflows an interface socket's receive
 * buffer. Real clients (the raw Pi replayer, udhcpc) must be served afterwards. Needs root (namespaces) and
 * busybox. Figures go to stdout for docs/dhcp.md.
 */
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDhcpPacket, decodeDhcpPacket, encodeDhcpPacket } from "../../appliance/dhcpd/codec.ts";
import { DhcpOption } from "../../appliance/dhcpd/constants.ts";
import { messageTypeOf } from "../../appliance/dhcpd/option-values.ts";
import type { DhcpScope } from "../../appliance/dhcpd/policy.ts";
import { dhcpFixture } from "../support/dhcpd-fixtures.ts";
import { DhcpdProcess, replayRaw, runUdhcpc } from "../support/dhcpd-harness.ts";
import { isRoot, TestBed, waitFor } from "../support/netns.ts";

const scopes: DhcpScope[] = [
  { port: 1, vlan: 10, interfaceName: "eth0.10", serverAddress: "10.46.189.1", clientAddress: "10.46.189.2", netmask: "255.255.255.252" },
  { port: 2, vlan: 11, interfaceName: "eth0.11", serverAddress: "10.46.189.5", clientAddress: "10.46.189.6", netmask: "255.255.255.252" },
];
const support = (name: string) => fileURLToPath(new URL(`../support/${name}`, import.meta.url));

describe.skipIf(!isRoot())("dhcpd against hostile Pis (root: network namespaces)", () => {
  const bed = new TestBed();
  let fs = "";
  let piA = "";
  let piB = "";
  let server: DhcpdProcess;
  let pid = 0;

  beforeAll(async () => {
    fs = await bed.namespace("dhfs");
    piA = await bed.namespace("dhpa");
    piB = await bed.namespace("dhpb");
    await bed.veth({ left: { ns: fs, name: "eth0.10", address: "10.46.189.1/30" }, right: { ns: piA, name: "eth0", address: "10.46.189.2/30", mac: "dc:a6:32:00:00:10" } });
    await bed.veth({ left: { ns: fs, name: "eth0.11", address: "10.46.189.5/30" }, right: { ns: piB, name: "eth0", address: "10.46.189.6/30", mac: "dc:a6:32:00:00:11" } });
    await bed.exec(piA, "ip", ["route", "add", "default", "via", "10.46.189.1"]);
    await bed.exec(piB, "ip", ["route", "add", "default", "via", "10.46.189.5"]);
    // Reverse-path filtering would hide the spoofing from the server; the server must not depend on it.
    for (const conf of ["all", "default", "eth0.10", "eth0.11"]) await bed.exec(fs, "sh", ["-c", `echo 0 > /proc/sys/net/ipv4/conf/${conf}/rp_filter`]);
    server = await DhcpdProcess.start(bed, fs, { scopes, settings: { pi3OfferDelayMs: 0 }, interfaceCheckMs: 500, events: ["request", "reply"], logLevel: "error" });
    pid = Number(server.events.find((e) => e.event === "ready")?.pid);
  });
  afterAll(() => bed.cleanup());

  const run = async (ns: string, script: string, args: object) => {
    const r = await bed.exec(ns, "node", ["--import", "tsx", support(script), JSON.stringify(args)], { timeoutMs: 60_000 });
    expect(r.exitCode, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as { sent: number; failed?: number; replies?: { bytes: number; hex: string; from: string }[] };
  };

  it("answers a 64 KB DISCOVER (option 61 of 64,000 bytes) with an OFFER of at most 548 bytes", async () => {
    const pi4 = decodeDhcpPacket(dhcpFixture("pi4-discover"));
    const discover = encodeDhcpPacket(
      createDhcpPacket({
        op: 1,
        transactionId: 0x0badf00d,
        clientHardwareAddress: pi4.clientHardwareAddress,
        options: [...[...pi4.options].filter(([code]) => code !== DhcpOption.ClientIdentifier), [DhcpOption.ClientIdentifier, Buffer.alloc(64_000, 0x5a)]],
      }),
    );
    expect(discover.length).toBeGreaterThan(64_000);
    const r = await run(piA, "udp-flood.ts", { dst: "10.46.189.1", dport: 67, bindPort: 68, hex: discover.toString("hex"), count: 1, replyMs: 3000 });
    const offers = (r.replies ?? []).filter((x) => x.from.startsWith("10.46.189.1:"));
    expect(offers.map((o) => o.bytes)).toHaveLength(1);
    expect(offers[0]!.bytes).toBeLessThanOrEqual(548);
    const offer = decodeDhcpPacket(Buffer.from(offers[0]!.hex, "hex"));
    expect([messageTypeOf(offer), offer.transactionId, offer.yourAddress]).toEqual(["OFFER", 0x0badf00d, "10.46.189.2"]);
    expect(offer.options.has(DhcpOption.ClientIdentifier)).toBe(false);
    console.info(JSON.stringify({ figure: "dhcp-reply-size", discoverBytes: discover.length, option61Bytes: 64_000, offerBytes: offers[0]!.bytes }));
  });

  it("gives DHCP packets spoofed from another VLAN no identity event and no address, and still serves that VLAN's Pi", async () => {
    const since = server.mark();
    const before = await server.metrics();
    const payloads = [dhcpFixture("pi4-request"), dhcpFixture("pi4-discover")].map((b) => b.toString("hex"));
    // From port 2's namespace, claiming port 1's Pi address, to both server addresses.
    for (const dst of ["10.46.189.1", "10.46.189.5"]) await run(piB, "udp-spoof.ts", { src: "10.46.189.2", dst, dport: 67, sport: 68, payloads });
    const ignored = await waitFor(
      async () => {
        const series = 'pirack_dhcp_wrong_source_total{iface="eth0.11"}';
        const n = ((await server.metrics()).get(series) ?? 0) - (before.get(series) ?? 0);
        return n >= 4 ? n : undefined;
      },
      "4 wrong-source requests",
      10_000,
    );
    expect(ignored).toBe(4);
    // No identity event and no OFFER or ACK in port 1's name (the REQUEST names port 1's server: ignored, not NAKed).
    expect(server.events.slice(since).filter((e) => e.event === "request" || e.event === "reply")).toEqual([]);
    // Port 2's Pi, broadcasting from 0.0.0.0 as a Pi does, is port 2 and only port 2.
    const [exchange] = await replayRaw(bed, piB, "eth0", [dhcpFixture("pi4-discover")]);
    expect(exchange?.reply).not.toBeNull();
    expect(decodeDhcpPacket(Buffer.from(exchange!.reply!.hex, "hex")).yourAddress).toBe("10.46.189.6");
    const requests = server.events.slice(since).filter((e) => e.event === "request");
    expect(requests.map((e) => [e.port, e.interfaceName, e.messageType])).toEqual([[2, "eth0.11", "DISCOVER"]]);
    console.info(JSON.stringify({ figure: "dhcp-spoof", spoofed: 4, droppedWrongSource: ignored }));
  });

  it("counts what the kernel drops when an interface socket's receive buffer overflows", async () => {
    const before = await server.metrics();
    const COUNT = 5000;
    process.kill(pid, "SIGSTOP");
    let flood;
    try {
      flood = await run(piA, "udp-flood.ts", { dst: "10.46.189.1", dport: 67, hex: "00".repeat(100), count: COUNT });
    } finally {
      process.kill(pid, "SIGCONT");
    }
    expect(flood).toMatchObject({ sent: COUNT, failed: 0 });
    const delta = (m: Map<string, number>, series: string) => (m.get(series) ?? 0) - (before.get(series) ?? 0);
    let last = "";
    const settled = await waitFor(
      async () => {
        const m = await server.metrics();
        const now = `${delta(m, 'pirack_dhcp_receive_buffer_drops_total{iface="eth0.10"}')}/${delta(m, "pirack_dhcp_malformed_total")}`;
        const done = now === last && !now.startsWith("0/");
        last = now;
        if (done) return m;
        await new Promise((r) => setTimeout(r, 600)); // one interface check (500 ms) between samples
        return undefined;
      },
      "drop counters to settle",
      30_000,
    );
    const kernel = delta(settled, 'pirack_dhcp_receive_buffer_drops_total{iface="eth0.10"}');
    const malformed = delta(settled, "pirack_dhcp_malformed_total");
    expect(kernel).toBeGreaterThan(0);
    expect(kernel + malformed).toBe(COUNT);
    expect(settled.get('pirack_dhcp_receive_buffer_drops_total{iface="eth0.11"}') ?? 0).toBe(0);
    await bed.exec(piA, "ip", ["addr", "flush", "dev", "eth0"]);
    expect(await runUdhcpc(bed, piA, "eth0")).toMatchObject({ ip: "10.46.189.2", siaddr: "10.46.189.1" });
    console.info(JSON.stringify({ figure: "dhcp-rcvbuf", sent: COUNT, bytesEach: 100, kernelDropped: kernel, readAndCountedMalformed: malformed }));
  });
});
