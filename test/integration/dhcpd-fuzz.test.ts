/**
 * 100,000 random and mutated datagrams against the running server on a veth VLAN: it must not crash,
 * must count the malformed ones, and must still serve a real client (udhcpc) afterwards.
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeDhcpPacket } from "../../appliance/dhcpd/codec.ts";
import { DecodeError } from "../../lib/errors.ts";
import type { DhcpScope } from "../../appliance/dhcpd/policy.ts";
import { fuzzPackets } from "../support/dhcpd-fuzz.ts";
import { DhcpdProcess, runUdhcpc } from "../support/dhcpd-harness.ts";
import { isRoot, TestBed, waitFor } from "../support/netns.ts";

const COUNT = 100_000;
const SEED = 20_261_129;
const scope: DhcpScope = { port: 1, vlan: 10, interfaceName: "eth0.10", serverAddress: "10.46.189.1", clientAddress: "10.46.189.2", netmask: "255.255.255.252" };

/** How many of the stream the codec rejects, computed locally from the same seed. */
function expectedMalformed(): number {
  let n = 0;
  for (const bytes of fuzzPackets(SEED, COUNT)) {
    try {
      decodeDhcpPacket(bytes);
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
      n++;
    }
  }
  return n;
}

describe.skipIf(!isRoot())("dhcpd under a 100k-packet fuzz stream (needs root for namespaces)", () => {
  const bed = new TestBed();
  let fs = "";
  let pi = "";
  let server: DhcpdProcess;

  beforeAll(async () => {
    fs = await bed.namespace("dzfs");
    pi = await bed.namespace("dzpi");
    await bed.veth({ left: { ns: fs, name: "eth0.10", address: "10.46.189.1/30" }, right: { ns: pi, name: "eth0", address: "10.46.189.2/30", mac: "dc:a6:32:00:00:10" } });
    server = await DhcpdProcess.start(bed, fs, { scopes: [scope], settings: { pi3OfferDelayMs: 0 }, events: ["interface"], logLevel: "error" });
  });
  afterAll(() => bed.cleanup());

  /**
   * Datagrams the kernel dropped before the server could read them: the fileserver namespace's UDP errors
   * (/proc/net/snmp `Udp: InErrors`, which includes `RcvbufErrors`) plus the per-CPU input backlog drops
   * (/proc/net/softnet_stat column 2, machine-wide, so other tests' drops can only make this more lenient), plus
   * the veth pair's own drop counters.
   */
  const kernelDrops = async (): Promise<number> => {
    const lines = (await bed.exec(fs, "cat", ["/proc/net/snmp"])).stdout.split("\n").filter((l) => l.startsWith("Udp:"));
    const [names, values] = lines.map((l) => l.trim().split(/\s+/));
    const udp = Number(values![names!.indexOf("InErrors")]);
    const softnet = (await bed.exec(fs, "cat", ["/proc/net/softnet_stat"])).stdout
      .split("\n")
      .filter(Boolean)
      .reduce((sum, l) => sum + parseInt(l.trim().split(/\s+/)[1] ?? "0", 16), 0);
    // veth drops (the peer's backlog was full): counted on the link, in neither of the above.
    const link = async (ns: string, dev: string) =>
      (JSON.parse((await bed.exec(ns, "ip", ["-s", "-j", "link", "show", dev])).stdout) as { stats64: { rx: { dropped: number }; tx: { dropped: number } } }[])[0]!.stats64;
    const veth = (await link(fs, "eth0.10")).rx.dropped + (await link(pi, "eth0")).tx.dropped;
    return udp + softnet + veth;
  };

  it("survives, counts the malformed packets, and still serves udhcpc", async () => {
    const malformed = expectedMalformed();
    // Resolve the server's MAC before the stream: while ARP is pending the kernel queues only a few datagrams
    // (neigh unres_qlen) and silently discards the rest, which would look like packets lost in the server.
    const serverMac = (JSON.parse((await bed.exec(fs, "ip", ["-j", "link", "show", "eth0.10"])).stdout) as { address: string }[])[0]!.address;
    await bed.exec(pi, "ip", ["neigh", "replace", "10.46.189.1", "lladdr", serverMac, "dev", "eth0", "nud", "permanent"]);
    const dropsBefore = await kernelDrops();
    const sender = join(fileURLToPath(new URL("../support/", import.meta.url)), "dhcpd-fuzz-sender.ts");
    const r = await bed.exec(pi, "node", ["--import", "tsx", sender, JSON.stringify({ seed: SEED, count: COUNT, targets: ["10.46.189.1", "10.46.189.3"], perMs: 5 })], { timeoutMs: 120_000 });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ sent: COUNT, failed: 0 });

    // Wait until the server has worked through its receive queue (the counter stops moving).
    let last = -1;
    const seen = await waitFor(
      async () => {
        const m = (await server.metrics()).get("pirack_dhcp_malformed_total") ?? 0;
        const settled = m === last;
        last = m;
        return settled ? m : undefined;
      },
      "malformed counter to settle",
      60_000,
    );
    expect(server.alive()).toBe(true);
    // On a busy machine the kernel drops datagrams when the socket buffer is full (98.6% reached the server at
    // load 7 on 2 cores, 76% with an image build beside it). Every malformed datagram must be counted by the
    // server or be among the kernel's own drops; none may vanish inside the server.
    const dropped = (await kernelDrops()) - dropsBefore;
    // A few datagrams per 100,000 (0 to 24 in runs here) go missing with every kernel drop counter at zero;
    // where is not yet known (docs/dhcp.md), so up to 0.1% of the stream is tolerated, no more.
    expect(seen + dropped + COUNT * 0.001, `counted ${seen} of ${malformed} malformed, kernel dropped ${dropped}`).toBeGreaterThanOrEqual(malformed);
    // Sanity that the server really worked through thousands, however busy the machine (9675 seen at load 10).
    expect(seen, `counted ${seen} of ${malformed} malformed`).toBeGreaterThan(malformed * 0.05);
    expect(seen).toBeLessThanOrEqual(malformed);
    const m = await server.metrics();
    expect(m.get("pirack_dhcp_errors_total") ?? 0).toBe(0);

    await bed.exec(pi, "ip", ["addr", "flush", "dev", "eth0"]);
    expect(await runUdhcpc(bed, pi, "eth0")).toMatchObject({ ip: "10.46.189.2", siaddr: "10.46.189.1", tftp: "10.46.189.1" });
  });
});
