/**
 * Replays DHCP client payloads byte for byte as a Pi sends them: an Ethernet frame from chaddr to
 * ff:ff:ff:ff:ff:ff, IPv4 0.0.0.0 -> 255.255.255.255, UDP 68 -> 67, written on an AF_PACKET socket
 * (koffi), so no kernel IP stack touches the bytes. Listens on the same socket for the server's reply
 * (UDP 67 -> 68 with the same xid), broadcast or unicast to chaddr. Run inside the client namespace:
 *   ip netns exec NS node --import tsx test/support/dhcpd-raw-client.ts '{"iface":"eth0","payloads":["<hex>"],"timeoutMs":3000}'
 * Prints one JSON line per payload: { xid, sentAt, reply: { hex, receivedAt, srcIp, dstIp, dstMac } | null }.
 */
import koffi from "koffi";

interface Args {
  iface: string;
  payloads: string[];
  timeoutMs: number;
}

const AF_PACKET = 17;
const SOCK_RAW = 3;
const ETH_P_ALL = 0x0003;
const SOL_SOCKET = 1;
const SO_RCVTIMEO = 20;

const libc = koffi.load("libc.so.6");
const socket = libc.func("int socket(int, int, int)");
const bind = libc.func("int bind(int, const void *, uint32_t)");
const setsockopt = libc.func("int setsockopt(int, int, int, const void *, uint32_t)");
const send = libc.func("long send(int, const void *, unsigned long, int)");
const recv = libc.func("long recv(int, _Out_ void *, unsigned long, int)");
const ifNameToIndex = libc.func("unsigned int if_nametoindex(const char *)");

/** Internet checksum (RFC 1071) over `parts`. */
function checksum(...parts: Buffer[]): number {
  const all = Buffer.concat(parts);
  let sum = 0;
  for (let i = 0; i < all.length; i += 2) sum += (all[i]! << 8) + (all[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** Ethernet + IPv4 + UDP around a DHCP payload, as a client without an address sends it. */
function frameFor(payload: Buffer): Buffer {
  const srcMac = payload.subarray(28, 34);
  const eth = Buffer.concat([Buffer.alloc(6, 0xff), srcMac, Buffer.from([0x08, 0x00])]);
  const udpLength = 8 + payload.length;
  const ip = Buffer.alloc(20);
  ip[0] = 0x45; // IPv4, 5-word header
  ip.writeUInt16BE(20 + udpLength, 2);
  ip[8] = 64; // TTL
  ip[9] = 17; // UDP
  ip.writeUInt32BE(0xffffffff, 16); // 255.255.255.255; source stays 0.0.0.0
  ip.writeUInt16BE(checksum(ip), 10);
  const udp = Buffer.alloc(8);
  udp.writeUInt16BE(68, 0);
  udp.writeUInt16BE(67, 2);
  udp.writeUInt16BE(udpLength, 4);
  const pseudo = Buffer.concat([ip.subarray(12, 20), Buffer.from([0, 17]), udp.subarray(4, 6)]);
  udp.writeUInt16BE(checksum(pseudo, udp, payload) || 0xffff, 6);
  return Buffer.concat([eth, ip, udp, payload]);
}

interface Reply {
  hex: string;
  receivedAt: number;
  srcIp: string;
  dstIp: string;
  dstMac: string;
}

/** The DHCP reply in a received frame when it is UDP 67 -> 68 carrying BOOTREPLY with `xid`. */
function replyIn(frame: Buffer, xid: number): Reply | undefined {
  if (frame.length < 42 || frame.readUInt16BE(12) !== 0x0800) return undefined;
  const ihl = (frame[14]! & 0x0f) * 4;
  if (frame[23] !== 17) return undefined;
  const udp = 14 + ihl;
  if (frame.readUInt16BE(udp) !== 67 || frame.readUInt16BE(udp + 2) !== 68) return undefined;
  const payload = frame.subarray(udp + 8, udp + frame.readUInt16BE(udp + 4));
  if (payload.length < 240 || payload[0] !== 2 || payload.readUInt32BE(4) !== xid) return undefined;
  const ipText = (at: number) => [...frame.subarray(at, at + 4)].join(".");
  return { hex: payload.toString("hex"), receivedAt: Date.now(), srcIp: ipText(26), dstIp: ipText(30), dstMac: [...frame.subarray(0, 6)].map((b) => b.toString(16).padStart(2, "0")).join(":") };
}

const recvAsync = (fd: number, buf: Buffer): Promise<number> =>
  new Promise((resolve, reject) => recv.async(fd, buf, buf.length, 0, (err: unknown, n: number) => (err ? reject(err) : resolve(Number(n)))));

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2] ?? "{}") as Args;
  const ifindex = ifNameToIndex(args.iface) as number;
  if (!ifindex) throw new Error(`interface ${args.iface} not found`);
  const fd = socket(AF_PACKET, SOCK_RAW, ((ETH_P_ALL & 0xff) << 8) | (ETH_P_ALL >> 8)) as number;
  if (fd < 0) throw new Error(`socket(AF_PACKET) failed: errno ${koffi.errno()}`);
  // struct sockaddr_ll { u16 family; be16 protocol; i32 ifindex; u16 hatype; u8 pkttype; u8 halen; u8 addr[8] }
  const sll = Buffer.alloc(20);
  sll.writeUInt16LE(AF_PACKET, 0);
  sll.writeUInt16BE(ETH_P_ALL, 2);
  sll.writeInt32LE(ifindex, 4);
  if ((bind(fd, sll, 20) as number) < 0) throw new Error(`bind(AF_PACKET) failed: errno ${koffi.errno()}`);
  const timeout = Buffer.alloc(16); // struct timeval { long sec; long usec } = 100 ms
  timeout.writeBigInt64LE(100_000n, 8);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, timeout, 16);

  const buf = Buffer.alloc(2048);
  for (const hex of args.payloads) {
    const payload = Buffer.from(hex, "hex");
    const xid = payload.readUInt32BE(4);
    const frame = frameFor(payload);
    const sentAt = Date.now();
    if ((send(fd, frame, frame.length, 0) as number) !== frame.length) throw new Error(`send failed: errno ${koffi.errno()}`);
    let reply: Reply | undefined;
    while (!reply && Date.now() - sentAt < args.timeoutMs) {
      const n = await recvAsync(fd, buf);
      if (n > 0) reply = replyIn(Buffer.from(buf.subarray(0, n)), xid);
    }
    process.stdout.write(`${JSON.stringify({ xid, sentAt, reply: reply ?? null })}\n`);
  }
  libc.func("int close(int)")(fd);
}

await main();
