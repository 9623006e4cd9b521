import { describe, expect, it } from "vitest";
import { dhcpFixture } from "../../test/support/dhcpd-fixtures.ts";
import { offerLatenciesMs, parsePcap, percentile } from "./capture.ts";

/** A pcap (Linux cooked v1) holding DHCP payloads wrapped in IPv4/UDP. */
function pcap(records: { at: number; outgoing: boolean; payload: Buffer; sport: number; dport: number }[]): Buffer {
  const header = Buffer.alloc(24);
  header.writeUInt32LE(0xa1b2c3d4, 0);
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeUInt32LE(65535, 16);
  header.writeUInt32LE(113, 20);
  const parts = [header];
  for (const r of records) {
    const sll = Buffer.alloc(16);
    sll.writeUInt16BE(r.outgoing ? 4 : 1, 0);
    sll.writeUInt16BE(0x0800, 14);
    const ip = Buffer.alloc(20);
    ip[0] = 0x45;
    ip[9] = 17;
    const udp = Buffer.alloc(8);
    udp.writeUInt16BE(r.sport, 0);
    udp.writeUInt16BE(r.dport, 2);
    const frame = Buffer.concat([sll, ip, udp, r.payload]);
    const rec = Buffer.alloc(16);
    rec.writeUInt32LE(Math.floor(r.at), 0);
    rec.writeUInt32LE(Math.round((r.at % 1) * 1e6), 4);
    rec.writeUInt32LE(frame.length, 8);
    rec.writeUInt32LE(frame.length, 12);
    parts.push(rec, frame);
  }
  return Buffer.concat(parts);
}

describe("bench capture parsing", () => {
  it("pairs the first DISCOVER received with the first OFFER sent for the same xid", () => {
    const discover = dhcpFixture("pi4-discover");
    const offer = Buffer.from(dhcpFixture("appliance-offer-reference"));
    offer.writeUInt32BE(discover.readUInt32BE(4), 4);
    const file = pcap([
      { at: 100.0, outgoing: false, payload: discover, sport: 68, dport: 67 },
      { at: 100.5, outgoing: false, payload: discover, sport: 68, dport: 67 },
      { at: 100.0025, outgoing: true, payload: offer, sport: 67, dport: 68 },
      { at: 100.9, outgoing: true, payload: offer, sport: 67, dport: 68 },
    ]);
    const packets = parsePcap(file);
    expect(packets.map((p) => p.type)).toEqual(["DISCOVER", "DISCOVER", "OFFER", "OFFER"]);
    expect(offerLatenciesMs(packets).map((x) => Math.round(x * 10) / 10)).toEqual([2.5]);
  });
  const cases: Record<string, { values: number[]; p: number; expected: number }> = {
    "median of five": { values: [5, 1, 3, 2, 4], p: 50, expected: 3 },
    "p99 of a hundred is the 99th": { values: Array.from({ length: 100 }, (_, i) => i + 1), p: 99, expected: 99 },
    none: { values: [], p: 50, expected: NaN },
  };
  it.each(Object.entries(cases))("percentile: %s", (_n, c) => expect(percentile(c.values, c.p)).toEqual(c.expected));
});
