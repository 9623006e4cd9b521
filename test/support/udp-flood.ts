/**
 * Sends `count` copies of one datagram as fast as the kernel takes them, from one ordinary UDP socket, then
 * optionally waits for replies on it. Run inside a namespace:
 *   ip netns exec NS node --import tsx test/support/udp-flood.ts '{"dst":"10.46.189.1","dport":69,"hex":"0009","count":3000}'
 * With `bindPort` the socket is bound to that port (68 for a DHCP client); with `replyMs` it collects what
 * arrives for that long. Prints {"sent":N,"failed":F,"replies":[{"bytes":B,"hex":"<first 600 bytes>","from":"a:p"}]}.
 */
import dgram from "node:dgram";

const args = JSON.parse(process.argv[2] ?? "{}") as { dst: string; dport: number; hex: string; count: number; bindPort?: number; replyMs?: number };
const socket = dgram.createSocket("udp4");
const replies: { bytes: number; hex: string; from: string }[] = [];
socket.on("message", (msg, rinfo) => replies.push({ bytes: msg.length, hex: msg.subarray(0, 600).toString("hex"), from: `${rinfo.address}:${rinfo.port}` }));
await new Promise<void>((resolve) => socket.bind(args.bindPort ?? 0, resolve));
socket.setBroadcast(true);
const payload = Buffer.from(args.hex, "hex");
let sent = 0;
let failed = 0;
await new Promise<void>((resolve) => {
  let pending = args.count;
  for (let i = 0; i < args.count; i++) {
    socket.send(payload, args.dport, args.dst, (err) => {
      if (err) failed++;
      else sent++;
      if (--pending === 0) resolve();
    });
  }
});
if (args.replyMs) await new Promise((r) => setTimeout(r, args.replyMs));
socket.close();
process.stdout.write(`${JSON.stringify({ sent, failed, replies })}\n`);
