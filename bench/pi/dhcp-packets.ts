/**
 * The DHCP packets Raspberry Pi boot firmware sends, byte for byte, and a decoder for the replies it acts on.
 * Written from the firmware's side (reference/pi-netboot.md §1.3, §3.2, §8), independent of pirack's own
 * dhcpd codec so the emulator is not shaped by the server it tests. Pure.
 */

/** Which firmware stage sends a packet: each has its own option 55 and option 97 layout. */
export type DhcpSender = "pi3b-rom" | "pi3-family" | "eeprom";

/** Inputs of one client packet. */
export interface ClientPacketInput {
  readonly sender: DhcpSender;
  /** xid: the Pi 3 family's constant, or the EEPROM's random value. */
  readonly transactionId: number;
  /** Six bytes, `b8:27:eb:...`. */
  readonly mac: string;
  /** Option 97 body (17 bytes, type byte 0 first). */
  readonly clientGuid: Buffer;
}

/** A REQUEST adds the offered address and the server that offered it. */
export interface RequestInput extends ClientPacketInput {
  readonly requestedAddress: string;
  readonly serverIdentifier: string;
}

/**
 * Every Pi 3 ROM and bootcode.bin use this xid (pi-netboot §1.3: the same value in raspberrypi/firmware#859,
 * #1362, piserver#125, RPi-PXE-Server#8).
 */
export const PI3_TRANSACTION_ID = 0x26f30339;

/** Option 60 of every Pi firmware: a PXE client, x86 BIOS architecture, UNDI 2.1 (pi-netboot §0). */
export const PI_VENDOR_CLASS = "PXEClient:Arch:00000:UNDI:002001";

/** Text an OFFER's PXE boot menu (option 43 sub-option 9) must contain for the Pi to take it (pi-netboot §1.4). */
export const PI_BOOT_MENU_TEXT = "Raspberry Pi Boot";

/**
 * Option 55 (parameter request list) per sender:
 * - Pi 3B ROM: 12 entries, 43,60,67,128..135,66 (official capture, boot-net.adoc; fixture pi3b-rom-discover).
 * - Pi 3-family (3B+ ROM, bootcode.bin): the same plus 1,3 at the end (real capture, pi-netboot §8.1).
 * - Pi 4/5 EEPROM: 1,3,43,60,66,67,128..135 (raspberrypi/rpi-eeprom#69, cmprovision#16).
 */
const REQUEST_LISTS: Readonly<Record<DhcpSender, readonly number[]>> = {
  "pi3b-rom": [43, 60, 67, 128, 129, 130, 131, 132, 133, 134, 135, 66],
  "pi3-family": [43, 60, 67, 128, 129, 130, 131, 132, 133, 134, 135, 66, 1, 3],
  eeprom: [1, 3, 43, 60, 66, 67, 128, 129, 130, 131, 132, 133, 134, 135],
};

const MAGIC_COOKIE = 0x63825363; // RFC 2131 §3: 99.130.83.99
const BOOTREQUEST = 1;
const HTYPE_ETHERNET = 1;

/** Parses "aa:bb:cc:dd:ee:ff" (or dashes) into 6 bytes; throws with the value when malformed. */
export function macBytes(mac: string): Buffer {
  const parts = mac.toLowerCase().split(/[:-]/);
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-f]{2}$/.test(p))) throw new Error(`bad MAC address ${JSON.stringify(mac)}`);
  return Buffer.from(parts.join(""), "hex");
}

const ipv4Bytes = (address: string): Buffer => {
  const octets = address.split(".").map(Number);
  if (octets.length !== 4 || octets.some((o) => !Number.isInteger(o) || o < 0 || o > 255)) throw new Error(`bad IPv4 address ${JSON.stringify(address)}`);
  return Buffer.from(octets);
};

const ipv4Text = (bytes: Buffer, offset = 0): string => [...bytes.subarray(offset, offset + 4)].join(".");

/** Parses an 8-hex-digit serial (the low 32 bits, as the TFTP prefix writes it). */
export function serialNumber(serial: string): number {
  if (!/^[0-9a-fA-F]{1,8}$/.test(serial)) throw new Error(`bad serial ${JSON.stringify(serial)}: expected up to 8 hex digits (the low 32 bits)`);
  return Number.parseInt(serial, 16) >>> 0;
}

/** Pi 3B ROM (BCM2837A0) option 97: 0 + sixteen 0x44 ("DHCP UUID constant" ROM bug, boot-net.adoc). */
export const pi3bRomGuid = (): Buffer => Buffer.concat([Buffer.from([0]), Buffer.alloc(16, 0x44)]);

/** Pi 3B+ ROM and bootcode.bin option 97: 0 + the 32-bit serial little-endian, four times (pi-netboot §1.3). */
export function serialGuid(serial: string): Buffer {
  const guid = Buffer.alloc(17);
  for (let i = 0; i < 4; i++) guid.writeUInt32LE(serialNumber(serial), 1 + 4 * i);
  return guid;
}

/**
 * Pi 4/5 EEPROM option 97 (since 2020-03, DHCP_OPTION97 default): 0, FourCC "RPi4"/"RPi5", board revision
 * little-endian, the MAC's last 4 bytes, serial little-endian (rpi-eeprom docs; real prefix bytes
 * `00:52:50:69:34:11:31:a0:00` in a public log, pi-netboot §3.2).
 */
export function eepromGuid(input: { family: 4 | 5; revision: number; mac: string; serial: string }): Buffer {
  const guid = Buffer.alloc(17);
  guid.write(`RPi${input.family}`, 1, "latin1");
  guid.writeUInt32LE(input.revision >>> 0, 5);
  macBytes(input.mac).copy(guid, 9, 2, 6);
  guid.writeUInt32LE(serialNumber(input.serial), 13);
  return guid;
}

const option = (code: number, body: Buffer): Buffer => Buffer.concat([Buffer.from([code, body.length]), body]);

/** BOOTP header (RFC 2131 §2, 236 bytes) + magic cookie: op 1, Ethernet, flags 0 (the Pi never sets broadcast). */
function header(transactionId: number, mac: string): Buffer {
  const h = Buffer.alloc(240);
  h[0] = BOOTREQUEST;
  h[1] = HTYPE_ETHERNET;
  h[2] = 6; // hlen
  h.writeUInt32BE(transactionId >>> 0, 4);
  macBytes(mac).copy(h, 28); // chaddr; sname and file stay zero
  h.writeUInt32BE(MAGIC_COOKIE, 236);
  return h;
}

/** The options every Pi firmware sends after option 55: 93 arch 0 (x86 BIOS!), 94 UNDI 2.1, 97 the GUID. */
const pxeIdentity = (guid: Buffer): Buffer[] => [option(93, Buffer.from([0, 0])), option(94, Buffer.from([1, 2, 1])), option(97, guid)];

/**
 * DHCPDISCOVER as the firmware sends it: 53, 55, 93, 94, 97, 60, end, in that order, no pad bytes and no
 * padding to 300 bytes (the official capture is 320 bytes of UDP payload).
 */
export function encodeDiscover(input: ClientPacketInput): Buffer {
  return Buffer.concat([
    header(input.transactionId, input.mac),
    option(53, Buffer.from([1])),
    option(55, Buffer.from(REQUEST_LISTS[input.sender])),
    ...pxeIdentity(input.clientGuid),
    option(60, Buffer.from(PI_VENDOR_CLASS, "latin1")),
    Buffer.from([255]),
  ]);
}

/**
 * DHCPREQUEST of the Pi 4/5 EEPROM (the Pi 3 family never sends one): like the DISCOVER but with 50 and 54
 * and **without option 60** (raspberrypi/rpi-eeprom#82: servers that insist on PXEClient never ACK it).
 */
export function encodeRequest(input: RequestInput): Buffer {
  if (input.sender !== "eeprom") throw new Error(`the ${input.sender} firmware never sends a DHCPREQUEST (pi-netboot §1.4)`);
  return Buffer.concat([
    header(input.transactionId, input.mac),
    option(53, Buffer.from([3])),
    option(55, Buffer.from(REQUEST_LISTS[input.sender])),
    ...pxeIdentity(input.clientGuid),
    option(50, ipv4Bytes(input.requestedAddress)),
    option(54, ipv4Bytes(input.serverIdentifier)),
    Buffer.from([255]),
  ]);
}

/** The reply fields the firmware acts on. */
export interface ServerReply {
  readonly messageType: "offer" | "ack" | "nak" | "other";
  readonly transactionId: number;
  readonly clientMac: string;
  readonly yourAddress: string; // yiaddr
  readonly nextServer: string; // siaddr
  readonly serverIdentifier: string | null; // option 54
  readonly subnetMask: string | null; // option 1
  readonly router: string | null; // option 3
  readonly tftpServerName: string | null; // option 66
  /** True when option 43 carries a PXE boot menu (sub-option 9) whose text contains "Raspberry Pi Boot". */
  readonly hasPiBootMenu: boolean;
}

/** Walks DHCP options (RFC 2132 §2): pads skipped, stops at end; throws on a truncated option. */
function readOptions(bytes: Buffer, from: number): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  let i = from;
  while (i < bytes.length) {
    const code = bytes[i]!;
    if (code === 255) break;
    if (code === 0) {
      i += 1;
      continue;
    }
    const length = bytes[i + 1];
    if (length === undefined || i + 2 + length > bytes.length) throw new Error(`option ${code} at byte ${i} runs past the packet end`);
    const body = bytes.subarray(i + 2, i + 2 + length);
    const prior = out.get(code);
    out.set(code, prior ? Buffer.concat([prior, body]) : body); // RFC 3396 concatenation
    i += 2 + length;
  }
  return out;
}

/** Looks for the PXE boot menu (sub-option 9: type u16, desc length u8, text) in an option 43 body. */
function hasBootMenu(body: Buffer | undefined): boolean {
  if (!body) return false;
  let sub: Map<number, Buffer>;
  try {
    sub = readOptions(body, 0);
  } catch {
    return false;
  }
  const menu = sub.get(9);
  if (menu && menu.length >= 3) {
    const text = menu.subarray(3, 3 + menu[2]!).toString("latin1");
    // Pi 4+ EEPROM matches the text as a substring (rpi-eeprom#376), the ROM ignores trailing spaces.
    if (text.includes(PI_BOOT_MENU_TEXT)) return true;
  }
  // Raw (not encapsulated) option 43 holding the bare string also worked on Pi 3 (pi-netboot §1.4).
  return body.toString("latin1").startsWith(PI_BOOT_MENU_TEXT);
}

/** Decodes a server reply; null for anything that is not a well-formed BOOTREPLY. */
export function decodeReply(bytes: Buffer): ServerReply | null {
  if (bytes.length < 240 || bytes[0] !== 2 || bytes.readUInt32BE(236) !== MAGIC_COOKIE) return null;
  let options: Map<number, Buffer>;
  try {
    options = readOptions(bytes, 240);
  } catch {
    return null;
  }
  const type = options.get(53)?.[0];
  const ip = (code: number) => {
    const b = options.get(code);
    return b && b.length >= 4 ? ipv4Text(b) : null;
  };
  return {
    messageType: type === 2 ? "offer" : type === 5 ? "ack" : type === 6 ? "nak" : "other",
    transactionId: bytes.readUInt32BE(4),
    clientMac: [...bytes.subarray(28, 34)].map((b) => b.toString(16).padStart(2, "0")).join(":"),
    yourAddress: ipv4Text(bytes, 16),
    nextServer: ipv4Text(bytes, 20),
    serverIdentifier: ip(54),
    subnetMask: ip(1),
    router: ip(3),
    tftpServerName: options.get(66)?.toString("latin1").replace(/\0+$/, "") ?? null,
    hasPiBootMenu: hasBootMenu(options.get(43)),
  };
}

/** Prefix length of a dotted netmask ("255.255.255.252" -> 30). */
export function prefixLength(netmask: string): number {
  return ipv4Bytes(netmask).reduce((n, b) => n + [...b.toString(2)].filter((c) => c === "1").length, 0);
}
