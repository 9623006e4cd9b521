/**
 * DHCPv4 codec (RFC 2131 §2, RFC 2132, RFC 3396): bytes <-> `DhcpPacket`. Pure. Lossless: every option
 * item (pads and end included), the raw `sname`/`file` fields and any bytes after the end option are
 * kept, so `encodeDhcpPacket(decodeDhcpPacket(b))` equals `b` byte for byte.
 */
import { DecodeError } from "../../lib/errors.ts";
import { BootOp, DhcpOption, HeaderOffset, MAGIC_COOKIE, MIN_BOOTP_MESSAGE_BYTES } from "./constants.ts";

/** One option as it sits on the wire; pad (0) and end (255) carry no data. */
export interface DhcpOptionItem {
  readonly code: number;
  readonly data: Buffer;
}

/** Where an overloaded option block came from (option 52, RFC 2132 §9.3). */
type OptionArea = "options" | "file" | "sname";

/** A decoded DHCP message; header fields by name, options both raw (`optionItems`) and merged (`options`). */
export interface DhcpPacket {
  readonly op: number; // op
  readonly hardwareType: number; // htype, 1 = Ethernet
  readonly hardwareAddressLength: number; // hlen
  readonly hops: number; // hops
  readonly transactionId: number; // xid, unsigned 32 bit
  readonly secondsElapsed: number; // secs
  readonly flags: number; // flags, bit 15 = broadcast
  readonly clientAddress: string; // ciaddr, dotted quad
  readonly yourAddress: string; // yiaddr
  readonly serverAddress: string; // siaddr: next server (TFTP)
  readonly gatewayAddress: string; // giaddr: relay agent
  readonly clientHardwareAddress: Buffer; // chaddr, all 16 bytes
  readonly serverName: Buffer; // sname, all 64 bytes (may hold options when overloaded)
  readonly bootFileName: Buffer; // file, all 128 bytes (may hold options when overloaded)
  /** Items of the options field in wire order, pads and end included. */
  readonly optionItems: readonly DhcpOptionItem[];
  /** Bytes after the end option (zero padding up to the BOOTP minimum, usually). */
  readonly trailer: Buffer;
  /** Merged view: options field, then `file`, then `sname` (RFC 2131 §4.1), split options concatenated (RFC 3396). */
  readonly options: ReadonlyMap<number, Buffer>;
}

/** Fields for building a packet; options are given in the order they must appear on the wire. */
export interface DhcpPacketInit {
  op: number;
  transactionId: number;
  clientHardwareAddress: Buffer; // up to 16 bytes, zero-filled to 16
  hardwareType?: number;
  hardwareAddressLength?: number;
  hops?: number;
  secondsElapsed?: number;
  flags?: number;
  clientAddress?: string;
  yourAddress?: string;
  serverAddress?: string;
  gatewayAddress?: string;
  serverName?: string;
  bootFileName?: string;
  /** [code, data] in wire order; data longer than 255 bytes is split into several items (RFC 3396). */
  options: readonly (readonly [number, Buffer])[];
  /** Zero-pad after the end option up to the BOOTP minimum of 300 bytes (RFC 1542 §2.1); default true. */
  padToMinimum?: boolean;
}

const ZERO_ADDRESS = "0.0.0.0";

// Shared, never written: packets are immutable values and the encoder copies from them. `Buffer.alloc` makes a
// new ArrayBuffer each time, and a few of those per packet were most of the codec's garbage (bench/dhcp profile).
const EMPTY = Buffer.alloc(0);
const ZEROS = Buffer.alloc(MIN_BOOTP_MESSAGE_BYTES);

/** Dotted quad of four bytes at `offset`. */
export function readIpv4(buf: Buffer, offset = 0): string {
  return `${buf[offset]}.${buf[offset + 1]}.${buf[offset + 2]}.${buf[offset + 3]}`;
}

/** Four bytes of a dotted quad; throws a DecodeError naming the bad text. */
export function ipv4Bytes(address: string): Buffer {
  const out = Buffer.allocUnsafe(4);
  writeIpv4(address, out, 0);
  return out;
}

/**
 * Writes a dotted quad's four bytes at `offset` (on every reply's path: one scan of the text, no split, no
 * regular expression, no array); throws a DecodeError naming the bad text.
 */
function writeIpv4(address: string, out: Buffer, offset: number): void {
  let part = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i <= address.length; i++) {
    const c = i < address.length ? address.charCodeAt(i) : 46; // the end closes the last part like a "."
    if (c >= 48 && c <= 57 && digits < 3) {
      value = value * 10 + (c - 48);
      digits++;
    } else if (c === 46 && digits > 0 && value <= 255 && part < 4) {
      out[offset + part++] = value;
      value = 0;
      digits = 0;
    } else {
      part = -1;
      break;
    }
  }
  if (part !== 4) throw new DecodeError("DHCP_BAD_ADDRESS", `expected a dotted-quad IPv4 address, got ${JSON.stringify(address)}`);
}

/**
 * Parses one option block (options field, or an overloaded `file`/`sname`) into items.
 * Returns the items and the offset just past the end option (or the block's end when there is none).
 */
function decodeOptionBlock(block: Buffer, area: OptionArea): { items: DhcpOptionItem[]; endAt: number } {
  const items: DhcpOptionItem[] = [];
  let at = 0;
  while (at < block.length) {
    const code = block[at] as number;
    if (code === DhcpOption.Pad || code === DhcpOption.End) {
      items.push({ code, data: EMPTY });
      at += 1;
      if (code === DhcpOption.End) return { items, endAt: at };
      continue;
    }
    if (at + 1 >= block.length) {
      throw new DecodeError("DHCP_OPTION_OVERRUN", `option ${code} in ${area} at byte ${at} has no length byte`);
    }
    const length = block[at + 1] as number;
    if (at + 2 + length > block.length) {
      throw new DecodeError(
        "DHCP_OPTION_OVERRUN",
        `option ${code} in ${area} at byte ${at} claims ${length} bytes, only ${block.length - at - 2} remain`,
      );
    }
    items.push({ code, data: block.subarray(at + 2, at + 2 + length) });
    at += 2 + length;
  }
  return { items, endAt: at };
}

/** Merges items into one value per code, concatenating repeats in order (RFC 3396 §7). */
function mergeOptions(blocks: readonly (readonly DhcpOptionItem[])[]): Map<number, Buffer> {
  const merged = new Map<number, Buffer>();
  for (const items of blocks) {
    for (const { code, data } of items) {
      if (code === DhcpOption.Pad || code === DhcpOption.End) continue;
      const prev = merged.get(code);
      merged.set(code, prev ? Buffer.concat([prev, data]) : data);
    }
  }
  return merged;
}

/**
 * Decodes one UDP payload; throws `DecodeError` (with a stable `code`) for anything malformed. The packet's fields
 * and option values are views of `bytes`, not copies (a copy per option was a third of decoding and most of its
 * garbage): the caller hands over a buffer it does not change afterwards, as dgram does (every datagram arrives in
 * a buffer of its own).
 */
export function decodeDhcpPacket(bytes: Buffer): DhcpPacket {
  if (bytes.length < HeaderOffset.cookie) {
    throw new DecodeError("DHCP_TRUNCATED", `expected at least ${HeaderOffset.cookie} header bytes, got ${bytes.length}`);
  }
  if (bytes.length < HeaderOffset.options || bytes.readUInt32BE(HeaderOffset.cookie) !== MAGIC_COOKIE) {
    const seen = bytes.length >= HeaderOffset.options ? bytes.subarray(HeaderOffset.cookie, HeaderOffset.options).toString("hex") : "end of packet";
    throw new DecodeError("DHCP_NO_MAGIC_COOKIE", `expected magic cookie 63825363 at byte 236, got ${seen}`);
  }
  const op = bytes[HeaderOffset.op] as number;
  if (op !== BootOp.Request && op !== BootOp.Reply) {
    throw new DecodeError("DHCP_BAD_OP", `expected op 1 (request) or 2 (reply), got ${op}`);
  }
  const hardwareType = bytes[HeaderOffset.htype] as number;
  const hardwareAddressLength = bytes[HeaderOffset.hlen] as number;
  // chaddr is 16 bytes (RFC 2131 §2); Ethernet (htype 1) addresses are 6 (RFC 1700 ARP hardware types).
  if (hardwareAddressLength > 16 || (hardwareType === 1 && hardwareAddressLength !== 6)) {
    throw new DecodeError("DHCP_BAD_HLEN", `expected hlen 6 for htype 1 and at most 16 otherwise, got htype ${hardwareType} hlen ${hardwareAddressLength}`);
  }

  const { items: optionItems, endAt } = decodeOptionBlock(bytes.subarray(HeaderOffset.options), "options");
  const serverName = bytes.subarray(HeaderOffset.sname, HeaderOffset.file);
  const bootFileName = bytes.subarray(HeaderOffset.file, HeaderOffset.cookie);

  const blocks: DhcpOptionItem[][] = [optionItems];
  const overload = optionItems.find((i) => i.code === DhcpOption.Overload);
  if (overload) {
    const value = overload.data.length === 1 ? (overload.data[0] as number) : 0;
    if (value < 1 || value > 3) {
      throw new DecodeError("DHCP_BAD_OVERLOAD", `expected option 52 to be one byte 1..3, got ${overload.data.toString("hex") || "nothing"}`);
    }
    // RFC 2131 §4.1: options field first, then `file`, then `sname`.
    if (value & 1) blocks.push(decodeOptionBlock(bootFileName, "file").items);
    if (value & 2) blocks.push(decodeOptionBlock(serverName, "sname").items);
  }

  return {
    op,
    hardwareType,
    hardwareAddressLength,
    hops: bytes[HeaderOffset.hops] as number,
    transactionId: bytes.readUInt32BE(HeaderOffset.xid),
    secondsElapsed: bytes.readUInt16BE(HeaderOffset.secs),
    flags: bytes.readUInt16BE(HeaderOffset.flags),
    clientAddress: readIpv4(bytes, HeaderOffset.ciaddr),
    yourAddress: readIpv4(bytes, HeaderOffset.yiaddr),
    serverAddress: readIpv4(bytes, HeaderOffset.siaddr),
    gatewayAddress: readIpv4(bytes, HeaderOffset.giaddr),
    clientHardwareAddress: bytes.subarray(HeaderOffset.chaddr, HeaderOffset.sname),
    serverName,
    bootFileName,
    optionItems,
    trailer: bytes.subarray(HeaderOffset.options + endAt),
    options: mergeOptions(blocks),
  };
}

/** Length in bytes of `encodeDhcpPacket(packet)`, without encoding it. */
export function encodedDhcpLength(packet: DhcpPacket): number {
  let optionBytes = 0;
  for (const i of packet.optionItems) optionBytes += i.code === DhcpOption.Pad || i.code === DhcpOption.End ? 1 : 2 + i.data.length;
  return HeaderOffset.options + optionBytes + packet.trailer.length;
}

/** Encodes a packet exactly as its fields and items say (no reordering, no added padding). */
export function encodeDhcpPacket(packet: DhcpPacket): Buffer {
  const out = Buffer.alloc(encodedDhcpLength(packet));
  out[HeaderOffset.op] = packet.op;
  out[HeaderOffset.htype] = packet.hardwareType;
  out[HeaderOffset.hlen] = packet.hardwareAddressLength;
  out[HeaderOffset.hops] = packet.hops;
  out.writeUInt32BE(packet.transactionId >>> 0, HeaderOffset.xid);
  out.writeUInt16BE(packet.secondsElapsed, HeaderOffset.secs);
  out.writeUInt16BE(packet.flags, HeaderOffset.flags);
  writeIpv4(packet.clientAddress, out, HeaderOffset.ciaddr);
  writeIpv4(packet.yourAddress, out, HeaderOffset.yiaddr);
  writeIpv4(packet.serverAddress, out, HeaderOffset.siaddr);
  writeIpv4(packet.gatewayAddress, out, HeaderOffset.giaddr);
  packet.clientHardwareAddress.copy(out, HeaderOffset.chaddr, 0, 16);
  packet.serverName.copy(out, HeaderOffset.sname, 0, 64);
  packet.bootFileName.copy(out, HeaderOffset.file, 0, 128);
  out.writeUInt32BE(MAGIC_COOKIE, HeaderOffset.cookie);
  let at: number = HeaderOffset.options;
  for (const { code, data } of packet.optionItems) {
    out[at++] = code;
    if (code === DhcpOption.Pad || code === DhcpOption.End) continue;
    if (data.length > 255) throw new DecodeError("DHCP_OPTION_TOO_LONG", `option ${code} holds ${data.length} bytes, at most 255 fit one item`);
    out[at++] = data.length;
    data.copy(out, at);
    at += data.length;
  }
  packet.trailer.copy(out, at);
  return out;
}

/** A fixed-size, zero-filled field holding `text` (sname/file); throws if it does not fit with a NUL. */
function fixedField(text: string | undefined, size: number, name: string): Buffer {
  if (text === undefined) return ZEROS.subarray(0, size);
  const field = Buffer.alloc(size);
  const bytes = Buffer.from(text, "latin1");
  if (bytes.length >= size) throw new DecodeError("DHCP_FIELD_TOO_LONG", `${name} holds at most ${size - 1} bytes, got ${bytes.length}`);
  bytes.copy(field);
  return field;
}

/** Builds a packet from named fields: options in the given order, an end option, never a pad option. */
export function createDhcpPacket(init: DhcpPacketInit): DhcpPacket {
  const optionItems: DhcpOptionItem[] = [];
  for (const [code, data] of init.options) {
    // RFC 3396 §6: a value longer than 255 bytes is sent as consecutive items of the same code.
    for (let at = 0; at === 0 || at < data.length; at += 255) optionItems.push({ code, data: data.subarray(at, at + 255) });
  }
  optionItems.push({ code: DhcpOption.End, data: EMPTY });
  const length = HeaderOffset.options + optionItems.reduce((n, i) => n + (i.code === DhcpOption.End ? 1 : 2 + i.data.length), 0);
  // Zeros after the end option are not options (RFC 2131 §3); dnsmasq pads the same way. Pi EEPROMs
  // before 2020-01-17 rejected pad *options* between options, which this never emits (rpi-eeprom#82).
  const padBytes = (init.padToMinimum ?? true) ? Math.max(0, MIN_BOOTP_MESSAGE_BYTES - length) : 0;
  const chaddr = Buffer.alloc(16);
  init.clientHardwareAddress.copy(chaddr, 0, 0, 16);
  return {
    op: init.op,
    hardwareType: init.hardwareType ?? 1,
    hardwareAddressLength: init.hardwareAddressLength ?? 6,
    hops: init.hops ?? 0,
    transactionId: init.transactionId >>> 0,
    secondsElapsed: init.secondsElapsed ?? 0,
    flags: init.flags ?? 0,
    clientAddress: init.clientAddress ?? ZERO_ADDRESS,
    yourAddress: init.yourAddress ?? ZERO_ADDRESS,
    serverAddress: init.serverAddress ?? ZERO_ADDRESS,
    gatewayAddress: init.gatewayAddress ?? ZERO_ADDRESS,
    clientHardwareAddress: chaddr,
    serverName: fixedField(init.serverName, 64, "sname"),
    bootFileName: fixedField(init.bootFileName, 128, "file"),
    optionItems,
    trailer: ZEROS.subarray(0, padBytes),
    options: mergeOptions([optionItems]),
  };
}
