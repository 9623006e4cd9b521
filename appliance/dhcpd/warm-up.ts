/**
 * Runs the pure per-packet path (decode, identify, decide, encode) on synthetic Pi requests before the server
 * opens its sockets, so the JavaScript engine has compiled it when the first real Pi asks. A DHCP server sees few
 * packets (a shelf's boot is 4 per Pi), so without this every boot storm was served by cold, interpreted code:
 * in bench/dhcp most of pirack's OFFER latency over dnsmasq's. No sockets, events, metrics or logs are touched.
 */
import { createDhcpPacket, decodeDhcpPacket, encodeDhcpPacket } from "./codec.ts";
import { BootOp, DhcpMessageType, DhcpOption } from "./constants.ts";
import { macOfPacket, messageTypeOf } from "./option-values.ts";
import { decideDhcpReply, type DhcpScope, type DhcpSettings } from "./policy.ts";
import { identifyPi } from "./raspberry-pi.ts";

/** Synthetic requests of a Pi 4 (EEPROM-style DISCOVER and REQUEST); the MAC is Raspberry Pi's OUI, the GUID arbitrary. */
function requests(scope: DhcpScope): Buffer[] {
  const mac = Buffer.from("dca632000000", "hex");
  const common = [
    [DhcpOption.MaxMessageSize, Buffer.from([0x05, 0xdc])],
    [DhcpOption.VendorClass, Buffer.from("PXEClient:Arch:00000:UNDI:002001", "latin1")],
    [DhcpOption.ClientMachineId, Buffer.alloc(17)],
    [DhcpOption.ParameterRequestList, Buffer.from([1, 3, 43, 54, 60, 66, 67])],
  ] as const;
  const packet = (type: number, extra: (readonly [number, Buffer])[]) =>
    encodeDhcpPacket(createDhcpPacket({ op: BootOp.Request, transactionId: 0x5a5a0000 + type, clientHardwareAddress: mac, options: [[DhcpOption.MessageType, Buffer.from([type])], ...extra, ...common] }));
  const address = Buffer.from(scope.clientAddress.split(".").map(Number));
  const server = Buffer.from(scope.serverAddress.split(".").map(Number));
  return [packet(DhcpMessageType.Discover, []), packet(DhcpMessageType.Request, [[DhcpOption.RequestedAddress, address], [DhcpOption.ServerIdentifier, server]])];
}

/** Runs `iterations` request/reply cycles through the pure path; returns the checksum of reply sizes (keeps the work observable). */
export function warmUpPacketPath(scope: DhcpScope, settings: DhcpSettings, iterations: number): number {
  const bytes = requests(scope);
  let total = 0;
  for (let i = 0; i < iterations; i++) {
    const request = decodeDhcpPacket(bytes[i % bytes.length]!);
    const mac = macOfPacket(request);
    messageTypeOf(request);
    const identity = identifyPi({ mac, option97: request.options.get(DhcpOption.ClientMachineId), transactionId: request.transactionId });
    const decision = decideDhcpReply({ request, scope, settings, identity, knownPi: false, sourceOnScope: true });
    if (decision.kind === "reply") total += encodeDhcpPacket(decision.packet).length;
  }
  return total;
}
