/**
 * Reads a `tcpdump -i any -w` capture (pcap, Linux cooked header v1 or v2) of DHCP traffic and pairs
 * each DISCOVER received with the OFFER sent for the same xid. Pure. Writing a pcap instead of
 * printing text keeps tcpdump from dropping packets when the machine is busy.
 */
import { decodeDhcpPacket, messageTypeOf } from "../../appliance/dhcpd/index.ts";

/** One DHCP packet seen in the capture. */
export interface CapturedPacket {
  readonly at: number; // seconds, kernel timestamp
  readonly outgoing: boolean;
  readonly xid: number;
  readonly type: string; // "DISCOVER", "OFFER", ...
}

const LINKTYPE_LINUX_SLL = 113;
const LINKTYPE_LINUX_SLL2 = 276;
const PACKET_OUTGOING = 4;

/** DHCP packets in a pcap file; frames that are not IPv4/UDP/DHCP are skipped. */
export function parsePcap(file: Buffer): CapturedPacket[] {
  if (file.length < 24) return [];
  const magic = file.readUInt32LE(0);
  const nanos = magic === 0xa1b23c4d;
  if (magic !== 0xa1b2c3d4 && !nanos) throw new Error(`not a little-endian pcap file (magic ${magic.toString(16)})`);
  const linkType = file.readUInt32LE(20);
  if (linkType !== LINKTYPE_LINUX_SLL && linkType !== LINKTYPE_LINUX_SLL2) throw new Error(`expected a Linux cooked capture (-i any), got link type ${linkType}`);
  const packets: CapturedPacket[] = [];
  for (let at = 24; at + 16 <= file.length; ) {
    const seconds = file.readUInt32LE(at) + file.readUInt32LE(at + 4) / (nanos ? 1e9 : 1e6);
    const length = file.readUInt32LE(at + 8);
    const frame = file.subarray(at + 16, at + 16 + length);
    at += 16 + length;
    // SLL: pkttype(2) hatype(2) halen(2) addr(8) protocol(2); SLL2: protocol(2) rsv(2) ifindex(4) hatype(2) pkttype(1) halen(1) addr(8).
    const [headerBytes, protocol, packetType] =
      linkType === LINKTYPE_LINUX_SLL ? [16, frame.readUInt16BE(14), frame.readUInt16BE(0)] : [20, frame.readUInt16BE(0), frame[10]];
    if (protocol !== 0x0800 || frame.length < headerBytes + 28) continue;
    const ip = frame.subarray(headerBytes);
    if (ip[9] !== 17) continue;
    const udp = ip.subarray((ip[0]! & 0x0f) * 4);
    const ports = [udp.readUInt16BE(0), udp.readUInt16BE(2)];
    if (!ports.includes(67)) continue;
    try {
      const dhcp = decodeDhcpPacket(udp.subarray(8));
      packets.push({ at: seconds, outgoing: packetType === PACKET_OUTGOING, xid: dhcp.transactionId, type: messageTypeOf(dhcp) ?? "none" });
    } catch {
      // Truncated or foreign traffic on port 67 is not part of the measurement.
    }
  }
  return packets;
}

/** OFFER latency per exchange: first DISCOVER received -> first OFFER sent with the same xid, in ms. */
export function offerLatenciesMs(packets: readonly CapturedPacket[]): number[] {
  const discovers = new Map<number, number>();
  const offered = new Set<number>();
  const latencies: number[] = [];
  for (const p of packets) {
    if (p.type === "DISCOVER" && !p.outgoing && !discovers.has(p.xid)) discovers.set(p.xid, p.at);
    if (p.type === "OFFER" && p.outgoing && !offered.has(p.xid) && discovers.has(p.xid)) {
      offered.add(p.xid);
      latencies.push((p.at - discovers.get(p.xid)!) * 1000);
    }
  }
  return latencies;
}

/** The p-th percentile (nearest rank) of `values`; NaN for none. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
