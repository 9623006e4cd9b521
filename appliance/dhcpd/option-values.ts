/** Typed readers and writers for option values and header fields of a decoded `DhcpPacket`. Pure. */
import { DecodeError } from "../../lib/errors.ts";
import type { DhcpPacket } from "./codec.ts";
import { ipv4Bytes, readIpv4 } from "./codec.ts";
import { DhcpOption, messageTypeName, type DhcpMessageTypeName } from "./constants.ts";

/** A MAC address in lower-case colon form ("b8:27:eb:9b:65:d4"); made only by `parseMac`/`macOfPacket`. */
export type MacAddress = string & { readonly __brand: "MacAddress" };

/** Normalises "B8-27-EB-9B-65-D4" or "b827eb9b65d4" to colon form; throws a DecodeError otherwise. */
export function parseMac(text: string): MacAddress {
  const hex = text.toLowerCase().replace(/[:.-]/g, "");
  if (!/^[0-9a-f]{12}$/.test(hex)) throw new DecodeError("DHCP_BAD_MAC", `expected a 6-byte MAC address, got ${JSON.stringify(text)}`);
  return hex.match(/../g)!.join(":") as MacAddress;
}

/** The client's Ethernet address from chaddr (htype 1, hlen 6), or undefined for other hardware. */
export function macOfPacket(packet: DhcpPacket): MacAddress | undefined {
  if (packet.hardwareType !== 1 || packet.hardwareAddressLength !== 6) return undefined;
  // Several times per packet: six table lookups rather than hex text, a regular expression and a join.
  const b = packet.clientHardwareAddress;
  return `${HEX[b[0]!]}:${HEX[b[1]!]}:${HEX[b[2]!]}:${HEX[b[3]!]}:${HEX[b[4]!]}:${HEX[b[5]!]}` as MacAddress;
}

/** "00" to "ff" by byte value. */
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** The six bytes of a MAC address. */
export const macBytes = (mac: MacAddress): Buffer => Buffer.from(mac.replace(/:/g, ""), "hex");

/** Option 53 as a name, or undefined when it is absent or not a defined value (plain BOOTP, junk). */
export function messageTypeOf(packet: DhcpPacket): DhcpMessageTypeName | undefined {
  const data = packet.options.get(DhcpOption.MessageType);
  return data && data.length === 1 ? messageTypeName(data[0] as number) : undefined;
}

/** An IPv4-valued option (50, 54, 1, ...), or undefined when absent or not exactly 4 bytes. */
export function ipv4Option(packet: DhcpPacket, code: number): string | undefined {
  const data = packet.options.get(code);
  return data && data.length === 4 ? readIpv4(data) : undefined;
}

/** A text option (60, 66, 12) as latin1 without trailing NULs, or undefined when absent. */
export function textOption(packet: DhcpPacket, code: number): string | undefined {
  const data = packet.options.get(code);
  return data ? data.toString("latin1").replace(/\0+$/, "") : undefined;
}

/** Option 55 as a list of codes (empty when absent). */
export const parameterRequestList = (packet: DhcpPacket): number[] => [...(packet.options.get(DhcpOption.ParameterRequestList) ?? [])];

/** Big-endian u32 option value (51, 58, 59). */
export function u32Value(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(value >>> 0);
  return b;
}

/** Four-byte option value of a dotted quad (1, 3, 28, 54). */
export const ipv4Value = (address: string): Buffer => ipv4Bytes(address);

/** Text option value (60, 66, 56); ASCII/latin1 without a terminating NUL (RFC 2132 §2). */
export const textValue = (text: string): Buffer => Buffer.from(text, "latin1");

/** True when `flags` has the broadcast bit (RFC 2131 §2). */
export const hasBroadcastFlag = (packet: DhcpPacket): boolean => (packet.flags & 0x8000) !== 0;

/** A readable, JSON-safe view of a packet for trace logs and golden files (options as hex, in wire order). */
export function describeDhcpPacket(packet: DhcpPacket): Record<string, unknown> {
  return {
    op: packet.op,
    htype: packet.hardwareType,
    hlen: packet.hardwareAddressLength,
    hops: packet.hops,
    xid: packet.transactionId.toString(16).padStart(8, "0"),
    secs: packet.secondsElapsed,
    flags: packet.flags,
    ciaddr: packet.clientAddress,
    yiaddr: packet.yourAddress,
    siaddr: packet.serverAddress,
    giaddr: packet.gatewayAddress,
    chaddr: packet.clientHardwareAddress.subarray(0, packet.hardwareAddressLength).toString("hex"),
    sname: packet.serverName.toString("latin1").replace(/\0+$/, ""),
    file: packet.bootFileName.toString("latin1").replace(/\0+$/, ""),
    messageType: messageTypeOf(packet) ?? null,
    options: packet.optionItems.map((i) => (i.code === DhcpOption.Pad ? "pad" : i.code === DhcpOption.End ? "end" : `${i.code}=${i.data.toString("hex")}`)),
    trailerBytes: packet.trailer.length,
  };
}
