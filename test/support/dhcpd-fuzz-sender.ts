/**
 * Sends the deterministic fuzz stream (dhcpd-fuzz.ts) at a DHCP server over UDP from inside a client
 * namespace, alternating unicast to the server and the subnet broadcast, paced so the server's receive
 * buffer is not the thing being tested. Prints {"sent":N,"ms":T} when done.
 *   ip netns exec NS node --import tsx test/support/dhcpd-fuzz-sender.ts '{"seed":1,"count":100000,"targets":["10.46.189.1","10.46.189.3"],"perMs":20}'
 */
import dgram from "node:dgram";
import { fuzzPackets } from "./dhcpd-fuzz.ts";

const args = JSON.parse(process.argv[2] ?? "{}") as { seed: number; count: number; targets: string[]; perMs: number };
const socket = dgram.createSocket("udp4");
await new Promise<void>((resolve) => socket.bind(0, resolve));
socket.setBroadcast(true);

const started = Date.now();
let sent = 0;
let failed = 0;
for (const bytes of fuzzPackets(args.seed, args.count)) {
  const target = args.targets[sent % args.targets.length]!;
  socket.send(bytes, 67, target, (err) => {
    if (err) failed++;
  });
  sent++;
  // Pace to about perMs packets per millisecond on average; yields to let the sends complete.
  const ahead = sent / args.perMs - (Date.now() - started);
  if (ahead > 5) await new Promise((r) => setTimeout(r, ahead));
}
await new Promise<void>((resolve) => socket.close(() => resolve()));
process.stdout.write(`${JSON.stringify({ sent, failed, ms: Date.now() - started })}\n`);
