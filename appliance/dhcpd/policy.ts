/**
 * DHCP decisions for one /30 per VLAN (pure): `(request, scope, settings, identity) -> DhcpDecision`.
 * One client address per scope, so there is no pool and no lease table: the answer depends only on
 * which interface the request came in on (RFC 2131 §4.3 rules applied to a pool of one).
 */
import { parseIpv4 } from "../../lib/net/ipv4.ts";
import { createDhcpPacket, encodedDhcpLength, type DhcpPacket } from "./codec.ts";
import { BootOp, DhcpOption, DhcpPort, type DhcpMessageTypeName, DhcpMessageType } from "./constants.ts";
import {
  hasBroadcastFlag,
  ipv4Option,
  ipv4Value,
  macOfPacket,
  messageTypeOf,
  textOption,
  textValue,
  u32Value,
  type MacAddress,
} from "./option-values.ts";
import { isPxeVendorClass, needsPi3OfferDelay, PXE_MENUS, PXE_VENDOR_CLASS, type PiIdentity, type PxeMenuVariant } from "./raspberry-pi.ts";

/** One VLAN's DHCP scope: the lead maps each planned port onto one of these. */
export interface DhcpScope {
  readonly port: number; // switch port, 1-based
  readonly vlan: number;
  readonly interfaceName: string; // "eth0.10"
  readonly serverAddress: string; // the /30's .1: server id, siaddr, TFTP server, router
  readonly clientAddress: string; // the /30's .2: the only address offered
  readonly netmask: string; // "255.255.255.252"
}

/** Server-wide behaviour switches; `resolveDhcpSettings` fills the defaults (the only place they live). */
export interface DhcpSettings {
  /** Option 51. */
  readonly leaseSeconds: number;
  /** Send option 3 = the scope's server address. */
  readonly sendRouter: boolean;
  /** Option 43 body for Pis. */
  readonly pxeMenu: PxeMenuVariant;
  /** Clients not recognised as Pis: answer as a generic DHCP/PXE client, or stay silent. */
  readonly nonPiClients: "answer" | "ignore";
  /** Delay of OFFERs to Pi 3-family clients; 0 turns it off. */
  readonly pi3OfferDelayMs: number;
  /**
   * How to reach a client with the broadcast flag clear and no ciaddr (RFC 2131 §4.1): "broadcast" to
   * 255.255.255.255, or "unicast" to yiaddr after a permanent neighbour entry (what dnsmasq does; needs CAP_NET_ADMIN).
   */
  readonly replyAddressing: "broadcast" | "unicast";
}

/** The defaults of every setting. */
export const DEFAULT_DHCP_SETTINGS: DhcpSettings = {
  leaseSeconds: 86_400,
  sendRouter: true,
  pxeMenu: "dnsmasq",
  nonPiClients: "answer",
  pi3OfferDelayMs: 1_000,
  replyAddressing: "broadcast",
};

/** Settings with defaults filled in. */
export const resolveDhcpSettings = (partial: Partial<DhcpSettings> = {}): DhcpSettings => ({ ...DEFAULT_DHCP_SETTINGS, ...partial });

/** Where a reply goes. `neighbour` asks the adapter to pin yiaddr -> chaddr first (no ARP from an unconfigured client). */
export type ReplyDestination =
  | { readonly kind: "broadcast"; readonly port: number }
  | { readonly kind: "unicast"; readonly address: string; readonly port: number; readonly neighbour?: { address: string; mac: MacAddress } };

/** Why a request got no reply. */
export type IgnoreReason =
  | "not-a-request" // op 2 or a server message type
  | "no-message-type" // plain BOOTP or junk option 53
  | "other-server" // REQUEST whose option 54 names another server (RFC 2131 §4.3.2)
  | "non-pi-client" // settings.nonPiClients = "ignore"
  | "wrong-source"; // IP source outside the arrival interface's subnet (spoofed, or sent from another VLAN)

/** The outcome of one request. */
export type DhcpDecision =
  | { readonly kind: "reply"; readonly messageType: "OFFER" | "ACK" | "NAK"; readonly packet: DhcpPacket; readonly destination: ReplyDestination; readonly delayMs: number; readonly nakReason?: string }
  | { readonly kind: "ignore"; readonly reason: IgnoreReason }
  | { readonly kind: "noted"; readonly messageType: "RELEASE" | "DECLINE" };

/** Everything a decision depends on. `knownPi`: this MAC identified itself as a Pi on this interface earlier. */
export interface DhcpRequestContext {
  readonly request: DhcpPacket;
  readonly scope: DhcpScope;
  readonly settings: DhcpSettings;
  readonly identity: PiIdentity;
  readonly knownPi: boolean;
  /** False when the IP source is outside the scope's subnet (`isSourceOnScope`): never an address, at most a NAK. */
  readonly sourceOnScope?: boolean;
}

const ZERO = "0.0.0.0";

/** Broadcast address of the scope's subnet (option 28). */
function broadcastAddressOf(scope: DhcpScope): string {
  const a = scope.serverAddress.split(".").map(Number);
  const m = scope.netmask.split(".").map(Number);
  return a.map((octet, i) => (octet & (m[i] ?? 0)) | (~(m[i] ?? 0) & 0xff)).join(".");
}

/** Option values that depend only on the scope, encoded once per scope object (scopes are replaced, never changed). */
interface ScopeValues {
  readonly server: Buffer;
  readonly netmask: Buffer;
  readonly broadcast: Buffer;
  readonly tftpServerName: Buffer;
}
const scopeValuesCache = new WeakMap<DhcpScope, ScopeValues>();
function scopeValues(scope: DhcpScope): ScopeValues {
  let values = scopeValuesCache.get(scope);
  if (!values) {
    values = { server: ipv4Value(scope.serverAddress), netmask: ipv4Value(scope.netmask), broadcast: ipv4Value(broadcastAddressOf(scope)), tftpServerName: textValue(scope.serverAddress) };
    scopeValuesCache.set(scope, values);
  }
  return values;
}
const MESSAGE_TYPE_VALUES: Record<"OFFER" | "ACK" | "NAK", Buffer> = {
  OFFER: Buffer.from([DhcpMessageType.Offer]),
  ACK: Buffer.from([DhcpMessageType.Ack]),
  NAK: Buffer.from([DhcpMessageType.Nak]),
};
const PXE_VENDOR_CLASS_VALUE = textValue(PXE_VENDOR_CLASS);

/** RFC 2131 §4.1 reply addressing. */
function destinationFor(ctx: DhcpRequestContext, messageType: "OFFER" | "ACK" | "NAK", yourAddress: string): ReplyDestination {
  const { request, settings } = ctx;
  if (request.gatewayAddress !== ZERO) return { kind: "unicast", address: request.gatewayAddress, port: DhcpPort.Server };
  if (messageType === "NAK") return { kind: "broadcast", port: DhcpPort.Client };
  if (request.clientAddress !== ZERO) return { kind: "unicast", address: request.clientAddress, port: DhcpPort.Client };
  if (hasBroadcastFlag(request)) return { kind: "broadcast", port: DhcpPort.Client };
  const mac = macOfPacket(request);
  if (settings.replyAddressing === "unicast" && mac && yourAddress !== ZERO) {
    return { kind: "unicast", address: yourAddress, port: DhcpPort.Client, neighbour: { address: yourAddress, mac } };
  }
  return { kind: "broadcast", port: DhcpPort.Client };
}

/** Options of an OFFER/ACK, in the order of the reference OFFER (pi-netboot §8.5) with 66 added. */
function replyOptions(ctx: DhcpRequestContext, messageType: "OFFER" | "ACK", withLease: boolean): [number, Buffer][] {
  const { scope, settings, request, identity } = ctx;
  const asPi = identity.isPi || ctx.knownPi;
  const pxe = asPi || isPxeVendorClass(textOption(request, DhcpOption.VendorClass));
  // Constant values are shared between replies (never mutated: the encoder copies them into the datagram).
  const values = scopeValues(scope);
  const options: [number, Buffer][] = [
    [DhcpOption.MessageType, MESSAGE_TYPE_VALUES[messageType]],
    [DhcpOption.ServerIdentifier, values.server],
  ];
  if (withLease) options.push([DhcpOption.LeaseTime, u32Value(settings.leaseSeconds)]);
  options.push([DhcpOption.SubnetMask, values.netmask]);
  if (settings.sendRouter) options.push([DhcpOption.Router, values.server]);
  options.push([DhcpOption.BroadcastAddress, values.broadcast]);
  // Option 66 as text: Pi 4 EEPROMs request it; keep it equal to siaddr and option 54 (pi-netboot §9).
  options.push([DhcpOption.TftpServerName, values.tftpServerName]);
  // A PXE client only takes an offer that says "PXEClient" (PXE spec 2.1 §2.2; boot-net.adoc capture).
  if (pxe) options.push([DhcpOption.VendorClass, PXE_VENDOR_CLASS_VALUE]);
  // RFC 4578 §2.3: a PXE server echoes the client machine id; the Pi capture shows it echoed.
  const guid = request.options.get(DhcpOption.ClientMachineId);
  if (pxe && guid) options.push([DhcpOption.ClientMachineId, guid]);
  if (asPi) options.push([DhcpOption.VendorSpecific, PXE_MENUS[settings.pxeMenu]]);
  return withClientIdentifier(request, options);
}

/** RFC 6842 §3: a reply echoes the client identifier (option 61) when the request carried one; Pis send none. */
function withClientIdentifier(request: DhcpPacket, options: [number, Buffer][]): [number, Buffer][] {
  const clientId = request.options.get(DhcpOption.ClientIdentifier);
  return clientId ? [...options, [DhcpOption.ClientIdentifier, clientId]] : options;
}

// RFC 2131 §2: every client accepts 576-byte IP datagrams (a 548-byte DHCP message: 236-byte header + 312 of
// options); option 57 (RFC 2132 §9.10) may raise that, never below 576. Replies leave one Ethernet frame (1500).
const MIN_MAX_MESSAGE_BYTES = 576;
const MAX_REPLY_DATAGRAM_BYTES = 1500;
const IP_UDP_HEADER_BYTES = 28;
/** Options copied from the request into a reply, dropped in this order (last echoed first) when the reply is too big. */
const ECHOED_OPTIONS = [DhcpOption.ClientIdentifier, DhcpOption.ClientMachineId] as const;

/**
 * Largest DHCP message (UDP payload) the client said it accepts: option 57 less the IP and UDP headers, at
 * least 548 (RFC 2131 §2) and at most what one Ethernet frame carries.
 */
export function maxReplyBytes(request: DhcpPacket): number {
  const asked = request.options.get(DhcpOption.MaxMessageSize);
  const datagram = asked?.length === 2 ? asked.readUInt16BE(0) : MIN_MAX_MESSAGE_BYTES;
  return Math.min(Math.max(datagram, MIN_MAX_MESSAGE_BYTES), MAX_REPLY_DATAGRAM_BYTES) - IP_UDP_HEADER_BYTES;
}

/**
 * Builds the reply, dropping echoed options until it fits `maxBytes` (issue 9: option 61 was echoed at any
 * length, a 64 KB DISCOVER got a 64 KB OFFER). Our own options are a fixed ~150 bytes, so echoes are all that
 * can grow. The common case builds once and encodes nothing here (the size is computed, not encoded).
 */
function fitReply(options: [number, Buffer][], maxBytes: number, build: (options: [number, Buffer][]) => DhcpPacket): DhcpPacket {
  let fitted = options;
  let packet = build(fitted);
  for (const code of ECHOED_OPTIONS) {
    if (encodedDhcpLength(packet) <= maxBytes) break;
    fitted = fitted.filter(([c]) => c !== code);
    packet = build(fitted);
  }
  return packet;
}

/** Builds a reply packet that echoes the request's xid, flags, giaddr and chaddr (RFC 2131 table 3), within the client's size limit. */
function reply(ctx: DhcpRequestContext, messageType: "OFFER" | "ACK" | "NAK", fields: { yourAddress: string; options: [number, Buffer][] }): DhcpDecision {
  const packet = fitReply(fields.options, maxReplyBytes(ctx.request), (options) => buildReply(ctx, messageType, fields.yourAddress, options));
  const delayMs = messageType === "OFFER" && needsPi3OfferDelay(ctx.identity, ctx.request.transactionId) ? ctx.settings.pi3OfferDelayMs : 0;
  return { kind: "reply", messageType, packet, destination: destinationFor(ctx, messageType, fields.yourAddress), delayMs };
}

function buildReply(ctx: DhcpRequestContext, messageType: "OFFER" | "ACK" | "NAK", yourAddress: string, options: [number, Buffer][]): DhcpPacket {
  const { request, scope } = ctx;
  return createDhcpPacket({
    op: BootOp.Reply,
    hardwareType: request.hardwareType,
    hardwareAddressLength: request.hardwareAddressLength,
    transactionId: request.transactionId,
    flags: request.flags,
    clientAddress: messageType === "NAK" ? ZERO : request.clientAddress,
    yourAddress,
    // siaddr = next server = the TFTP server; the Pi 3 ROM uses option 54 instead (raspberrypi/firmware#801), both are .1.
    serverAddress: messageType === "NAK" ? ZERO : scope.serverAddress,
    gatewayAddress: request.gatewayAddress,
    clientHardwareAddress: request.clientHardwareAddress,
    options,
  });
}

function nak(ctx: DhcpRequestContext, why: string): DhcpDecision {
  const decision = reply(ctx, "NAK", {
    yourAddress: ZERO,
    options: withClientIdentifier(ctx.request, [
      [DhcpOption.MessageType, MESSAGE_TYPE_VALUES.NAK],
      [DhcpOption.ServerIdentifier, scopeValues(ctx.scope).server],
      [DhcpOption.Message, textValue(why)],
    ]),
  });
  return { ...decision, nakReason: why } as DhcpDecision;
}

/** RFC 2131 §4.3.2: SELECTING (54 + 50), INIT-REBOOT (50 only), RENEWING/REBINDING (ciaddr only). */
function decideRequest(ctx: DhcpRequestContext): DhcpDecision {
  const { request, scope } = ctx;
  const serverId = ipv4Option(request, DhcpOption.ServerIdentifier);
  if (serverId !== undefined && serverId !== scope.serverAddress) return { kind: "ignore", reason: "other-server" };
  const requested = ipv4Option(request, DhcpOption.RequestedAddress);
  const asked = requested ?? (request.clientAddress !== ZERO ? request.clientAddress : undefined);
  if (asked === undefined) return nak(ctx, "no requested address");
  if (asked !== scope.clientAddress) return nak(ctx, `requested ${asked}, this port's address is ${scope.clientAddress}`);
  return reply(ctx, "ACK", { yourAddress: scope.clientAddress, options: replyOptions(ctx, "ACK", true) });
}

/**
 * True when a request that arrived on `scope`'s interface may be taken as coming from a client there (issue 9: a
 * Pi on one VLAN must not act for another). Its IP source is 0.0.0.0 (no address yet), inside the scope's subnet (a
 * renewing Pi), or, with giaddr set, a relay agent (RFC 1542), which the relay's own subnet vouches for.
 * `source` undefined: the adapter cannot tell, so the interface alone decides.
 */
export function isSourceOnScope(scope: DhcpScope, source: string | undefined, request: DhcpPacket): boolean {
  if (source === undefined || source === ZERO || request.gatewayAddress !== ZERO) return true;
  const address = parseIpv4(source);
  const server = parseIpv4(scope.serverAddress);
  const mask = parseIpv4(scope.netmask);
  if (address === undefined || server === undefined || mask === undefined) return false;
  return ((address & mask) >>> 0) === ((server & mask) >>> 0);
}

/** Decides how to answer one decoded request that arrived on `ctx.scope`'s interface. */
export function decideDhcpReply(ctx: DhcpRequestContext): DhcpDecision {
  const { request, settings, identity } = ctx;
  if (request.op !== BootOp.Request) return { kind: "ignore", reason: "not-a-request" };
  const type: DhcpMessageTypeName | undefined = messageTypeOf(request);
  if (type === undefined) return { kind: "ignore", reason: "no-message-type" };
  if (type === "OFFER" || type === "ACK" || type === "NAK") return { kind: "ignore", reason: "not-a-request" };
  if (type === "RELEASE" || type === "DECLINE") return { kind: "noted", messageType: type };
  if (ctx.sourceOnScope === false) {
    // A Pi moved from another port and renewing its old address still gets its NAK and restarts at once;
    // nothing else, so a spoofer on another VLAN gets no offer or ACK in this port's name.
    const decision = type === "REQUEST" ? decideRequest(ctx) : undefined;
    return decision?.kind === "reply" && decision.messageType === "NAK" ? decision : { kind: "ignore", reason: "wrong-source" };
  }
  if (!identity.isPi && !ctx.knownPi && settings.nonPiClients === "ignore") return { kind: "ignore", reason: "non-pi-client" };
  switch (type) {
    case "DISCOVER":
      return reply(ctx, "OFFER", { yourAddress: ctx.scope.clientAddress, options: replyOptions(ctx, "OFFER", true) });
    case "REQUEST":
      return decideRequest(ctx);
    case "INFORM":
      // RFC 2131 §3.4: ACK with configuration but no yiaddr and no lease time, unicast to ciaddr.
      return reply(ctx, "ACK", { yourAddress: ZERO, options: replyOptions(ctx, "ACK", false) });
  }
}
