/** Parses `tcpdump -i any -n -tt -l -v` DHCP output into per-exchange OFFER latencies. Pure. */

/** One DHCP packet seen in the capture. */
export interface CapturedPacket {
  readonly at: number; // seconds, kernel timestamp
  readonly iface: string;
  readonly direction: string; // "In", "B" (broadcast in), "Out", ...
  readonly xid: string;
  readonly type: string; // "Discover", "Offer", ...
}

/** Splits tcpdump's verbose text into packets (a header line with a timestamp starts each). */
export function parseTcpdump(text: string): CapturedPacket[] {
  const packets: CapturedPacket[] = [];
  let current: { at: number; iface: string; direction: string; xid?: string; type?: string } | undefined;
  const flush = () => {
    if (current?.xid && current.type) packets.push(current as CapturedPacket);
  };
  for (const line of text.split("\n")) {
    const head = /^(\d+\.\d+) (\S+)\s+(\S+)\s+IP /.exec(line);
    if (head) {
      flush();
      current = { at: Number(head[1]), iface: head[2]!, direction: head[3]! };
      continue;
    }
    if (!current) continue;
    const xid = /xid (0x[0-9a-f]+)/.exec(line);
    if (xid) current.xid = xid[1]!;
    const type = /DHCP-Message \(53\), length 1: (\w+)/.exec(line);
    if (type) current.type = type[1]!;
  }
  flush();
  return packets;
}

/** OFFER latency per exchange: first DISCOVER received -> first OFFER sent, same interface and xid. */
export function parseCapture(text: string): { offerLatenciesMs: number[] } {
  const discovers = new Map<string, number>();
  const offered = new Set<string>();
  const offerLatenciesMs: number[] = [];
  for (const p of parseTcpdump(text)) {
    const key = `${p.iface} ${p.xid}`;
    if (p.type === "Discover" && p.direction !== "Out" && !discovers.has(key)) discovers.set(key, p.at);
    if (p.type === "Offer" && p.direction === "Out" && !offered.has(key) && discovers.has(key)) {
      offered.add(key);
      offerLatenciesMs.push((p.at - discovers.get(key)!) * 1000);
    }
  }
  return { offerLatenciesMs };
}

/** The p-th percentile (nearest rank) of `values`; NaN for none. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
