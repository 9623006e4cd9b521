/** DHCPv4 wire constants (RFC 2131, RFC 2132, RFC 4578) as named tables; no logic lives here. */

/** BOOTP `op` values (RFC 951 / RFC 2131 §2). */
export const BootOp = {
  Request: 1, // BOOTREQUEST: client to server
  Reply: 2, // BOOTREPLY: server to client
} as const;

/** Option codes pirack reads or writes (RFC 2132 unless noted). */
export const DhcpOption = {
  Pad: 0, // no length byte
  SubnetMask: 1, // IPv4
  Router: 3, // IPv4[]
  HostName: 12, // string
  BroadcastAddress: 28, // IPv4
  VendorSpecific: 43, // PXE sub-options (PXE spec 2.1 §2.4.6)
  RequestedAddress: 50, // IPv4
  LeaseTime: 51, // u32 seconds
  Overload: 52, // u8: 1 = file, 2 = sname, 3 = both hold options
  MessageType: 53, // u8, see DhcpMessageType
  ServerIdentifier: 54, // IPv4
  ParameterRequestList: 55, // u8[]
  Message: 56, // string, used in NAKs
  MaxMessageSize: 57, // u16
  RenewalTime: 58, // u32 seconds (T1)
  RebindingTime: 59, // u32 seconds (T2)
  VendorClass: 60, // string, "PXEClient:Arch:00000:UNDI:002001" from Pi firmware
  ClientIdentifier: 61, // bytes
  TftpServerName: 66, // string
  BootFileName: 67, // string
  ClientArchitecture: 93, // u16[] (RFC 4578 §2.1)
  ClientNetworkInterface: 94, // type, major, minor (RFC 4578 §2.2)
  ClientMachineId: 97, // type 0 + 16-byte GUID (RFC 4578 §2.3); Pi firmware packs identity in it
  End: 255, // no length byte
} as const;

/** Option 53 values (RFC 2132 §9.6). */
export const DhcpMessageType = {
  Discover: 1,
  Offer: 2,
  Request: 3,
  Decline: 4,
  Ack: 5,
  Nak: 6,
  Release: 7,
  Inform: 8,
} as const;

/** The name of one option 53 value, e.g. "DISCOVER". */
export type DhcpMessageTypeName = "DISCOVER" | "OFFER" | "REQUEST" | "DECLINE" | "ACK" | "NAK" | "RELEASE" | "INFORM";

const messageTypeNames: Readonly<Record<number, DhcpMessageTypeName>> = {
  1: "DISCOVER",
  2: "OFFER",
  3: "REQUEST",
  4: "DECLINE",
  5: "ACK",
  6: "NAK",
  7: "RELEASE",
  8: "INFORM",
};

/** Name of an option 53 value, or undefined for a value RFC 2132 does not define. */
export const messageTypeName = (value: number): DhcpMessageTypeName | undefined => messageTypeNames[value];

/** The four bytes after the fixed header that mark DHCP options (RFC 2131 §3: 99.130.83.99). */
export const MAGIC_COOKIE = 0x63825363;

/** Byte offsets of the fixed BOOTP header (RFC 2131 §2, figure 1). */
export const HeaderOffset = {
  op: 0,
  htype: 1,
  hlen: 2,
  hops: 3,
  xid: 4,
  secs: 8,
  flags: 10,
  ciaddr: 12,
  yiaddr: 16,
  siaddr: 20,
  giaddr: 24,
  chaddr: 28, // 16 bytes
  sname: 44, // 64 bytes
  file: 108, // 128 bytes
  cookie: 236, // 4 bytes
  options: 240,
} as const;

/** `flags` bit 15: the client cannot receive unicast before it is configured (RFC 2131 §2, §4.1). */
export const BROADCAST_FLAG = 0x8000;

/** Smallest BOOTP message relays and old clients accept (RFC 1542 §2.1, RFC 2131 §2). */
export const MIN_BOOTP_MESSAGE_BYTES = 300;

/** UDP ports (RFC 2131 §4.1). */
export const DhcpPort = { Server: 67, Client: 68 } as const;
