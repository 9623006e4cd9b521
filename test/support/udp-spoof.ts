/**
 * Sends UDP datagrams with any IPv4 source address, through a raw IP socket (IPPROTO_RAW, so the header is
 * ours; koffi, no compiler): what a hostile Pi does to pass for another port's Pi. Run inside a namespace:
 *   ip netns exec NS node --import tsx test/support/udp-spoof.ts '{"src":"10.46.189.6","dst":"10.46.189.1","dport":69,"sport":40000,"payloads":["<hex>"],"perPayloadPorts":true}'
 * With `perPayloadPorts`, payload i goes from source port `sport + i` (one client TID each). Prints {"sent":N}.
 */
import koffi from "koffi";

interface Args {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  payloads: string[];
  perPayloadPorts?: boolean;
}

const AF_INET = 2;
const SOCK_RAW = 3;
const IPPROTO_RAW = 255; // implies IP_HDRINCL: the kernel sends our IPv4 header, filling in only the checksum

const libc = koffi.load("libc.so.6");
const socket = libc.func("int socket(int, int, int)");
const sendto = libc.func("long sendto(int, const void *, unsigned long, int, const void *, uint32_t)");
const close = libc.func("int close(int)");

const ipv4 = (text: string): Buffer => Buffer.from(text.split(".").map(Number));

/** IPv4 + UDP around `payload`; UDP checksum 0 means "none", which IPv4 allows (RFC 768). */
function datagram(args: Args, sport: number, payload: Buffer): Buffer {
  const ip = Buffer.alloc(20);
  ip[0] = 0x45; // IPv4, 5-word header
  ip.writeUInt16BE(28 + payload.length, 2);
  ip.writeUInt16BE(Math.floor(Math.random() * 0xffff), 4); // identification
  ip[8] = 64; // TTL
  ip[9] = 17; // UDP
  ipv4(args.src).copy(ip, 12);
  ipv4(args.dst).copy(ip, 16);
  const udp = Buffer.alloc(8);
  udp.writeUInt16BE(sport, 0);
  udp.writeUInt16BE(args.dport, 2);
  udp.writeUInt16BE(8 + payload.length, 4);
  return Buffer.concat([ip, udp, payload]);
}

const args = JSON.parse(process.argv[2] ?? "{}") as Args;
const fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW) as number;
if (fd < 0) throw new Error(`socket(AF_INET, SOCK_RAW) failed: errno ${koffi.errno()}`);
// struct sockaddr_in { u16 family (host order); be16 port; in_addr addr; zero[8] }
const to = Buffer.alloc(16);
to.writeUInt16LE(AF_INET, 0);
ipv4(args.dst).copy(to, 4);
let sent = 0;
args.payloads.forEach((hex, i) => {
  const bytes = datagram(args, args.sport + (args.perPayloadPorts ? i : 0), Buffer.from(hex, "hex"));
  const n = Number(sendto(fd, bytes, bytes.length, 0, to, 16));
  if (n !== bytes.length) throw new Error(`sendto failed: errno ${koffi.errno()}`);
  sent++;
});
close(fd);
process.stdout.write(`${JSON.stringify({ sent })}\n`);
