/**
 * TFTP wire format (RFC 1350 packets, RFC 2347 option extension): bytes <-> typed packets.
 * Pure: no sockets, no clock, no logging. Bad input throws `DecodeError` with code `TFTP_MALFORMED`.
 */
import { DecodeError } from "../../lib/errors.ts";

/** Packet opcodes, the first two bytes of every TFTP packet (RFC 1350 §5, RFC 2347 for OACK). */
export const Opcode = {
  ReadRequest: 1, // RRQ
  WriteRequest: 2, // WRQ
  Data: 3, // DATA
  Ack: 4, // ACK
  Error: 5, // ERROR
  OptionAck: 6, // OACK (RFC 2347)
} as const;

/** ERROR packet codes (RFC 1350 appendix; 8 added by RFC 2347). */
export const TftpErrorCode = {
  NotDefined: 0, // "see message": also what a Pi sends with "Early terminate"
  FileNotFound: 1,
  AccessViolation: 2,
  DiskFull: 3,
  IllegalOperation: 4,
  UnknownTransferId: 5,
  FileExists: 6,
  NoSuchUser: 7,
  OptionsRefused: 8, // RFC 2347: option negotiation failed
} as const;

/** A read or write request; `options` keeps the client's order, names lower-cased (RFC 2347: case-insensitive). */
export interface TftpRequest {
  readonly kind: "rrq" | "wrq";
  readonly filename: string;
  readonly mode: string;
  readonly options: ReadonlyArray<readonly [name: string, value: string]>;
}

/** Every packet kind pirack can receive or send. */
export type TftpPacket =
  | TftpRequest
  | { readonly kind: "data"; readonly block: number; readonly data: Buffer }
  | { readonly kind: "ack"; readonly block: number }
  | { readonly kind: "error"; readonly code: number; readonly message: string }
  | { readonly kind: "oack"; readonly options: ReadonlyArray<readonly [name: string, value: string]> };

/** Header bytes before the payload of a DATA packet: opcode (2) + block number (2). */
export const DATA_HEADER_BYTES = 4;

const malformed = (what: string): DecodeError => new DecodeError("TFTP_MALFORMED", what);

/**
 * Splits a run of NUL-terminated strings (RFC 1350 request layout). Strings are decoded as latin1 so
 * every byte maps to one character and nothing is lost; the path policy rejects what it does not like.
 */
function readStrings(buf: Buffer, start: number): string[] {
  const out: string[] = [];
  let pos = start;
  while (pos < buf.length) {
    const end = buf.indexOf(0, pos);
    if (end < 0) throw malformed(`expected a NUL-terminated string at offset ${pos}, packet ends at ${buf.length}`);
    out.push(buf.toString("latin1", pos, end));
    pos = end + 1;
  }
  return out;
}

/** Decodes one datagram; throws `DecodeError` for anything that is not a well-formed TFTP packet. */
export function decodePacket(buf: Buffer): TftpPacket {
  if (buf.length < 4) throw malformed(`expected at least 4 bytes, got ${buf.length}`);
  const opcode = buf.readUInt16BE(0);
  switch (opcode) {
    case Opcode.ReadRequest:
    case Opcode.WriteRequest: {
      // filename NUL mode NUL [option NUL value NUL]... (RFC 1350 §5, RFC 2347 §2)
      const strings = readStrings(buf, 2);
      const [filename, mode, ...rest] = strings;
      if (filename === undefined || mode === undefined) throw malformed(`expected filename and mode, got ${strings.length} strings`);
      if (rest.length % 2 !== 0) throw malformed(`option "${rest[rest.length - 1]}" has no value`);
      const options: [string, string][] = [];
      for (let i = 0; i < rest.length; i += 2) options.push([rest[i]!.toLowerCase(), rest[i + 1]!]);
      return { kind: opcode === Opcode.ReadRequest ? "rrq" : "wrq", filename, mode: mode.toLowerCase(), options };
    }
    case Opcode.Data:
      return { kind: "data", block: buf.readUInt16BE(2), data: buf.subarray(4) };
    case Opcode.Ack:
      // Some clients pad ACKs; only the first four bytes carry meaning.
      return { kind: "ack", block: buf.readUInt16BE(2) };
    case Opcode.Error: {
      // code (2) then an optional NUL-terminated message; tolerate a missing NUL from sloppy clients.
      const end = buf.indexOf(0, 4);
      return { kind: "error", code: buf.readUInt16BE(2), message: buf.toString("latin1", 4, end < 0 ? buf.length : end) };
    }
    case Opcode.OptionAck: {
      const strings = readStrings(buf, 2);
      if (strings.length % 2 !== 0) throw malformed(`oack option "${strings[strings.length - 1]}" has no value`);
      const options: [string, string][] = [];
      for (let i = 0; i < strings.length; i += 2) options.push([strings[i]!.toLowerCase(), strings[i + 1]!]);
      return { kind: "oack", options };
    }
    default:
      throw malformed(`unknown opcode ${opcode}`);
  }
}

const strings = (opcode: number, parts: readonly string[]): Buffer => {
  const bodies = parts.map((p) => Buffer.from(p, "latin1"));
  const out = Buffer.alloc(2 + bodies.reduce((n, b) => n + b.length + 1, 0));
  out.writeUInt16BE(opcode, 0);
  let pos = 2;
  for (const b of bodies) {
    b.copy(out, pos);
    pos += b.length + 1; // the NUL terminator is already zero from alloc
  }
  return out;
};

/** Encodes an RRQ or WRQ (used by tests, fuzzers and benchmarks as a client). */
export function encodeRequest(req: TftpRequest): Buffer {
  return strings(req.kind === "rrq" ? Opcode.ReadRequest : Opcode.WriteRequest, [req.filename, req.mode, ...req.options.flat()]);
}

/** Encodes an OACK carrying the accepted options in the order given (RFC 2347 §3). */
export function encodeOack(options: ReadonlyArray<readonly [string, string]>): Buffer {
  return strings(Opcode.OptionAck, options.flat());
}

/** Encodes an ERROR packet: code and a human-readable message (RFC 1350 §5). */
export function encodeError(code: number, message: string): Buffer {
  // opcode (2) | code (2) | message | NUL
  const text = Buffer.from(message, "latin1");
  const packet = Buffer.alloc(4 + text.length + 1);
  packet.writeUInt16BE(Opcode.Error, 0);
  packet.writeUInt16BE(code, 2);
  text.copy(packet, 4);
  return packet;
}

/** Encodes an ACK for `block` (clients only; used by tests and the benchmark). */
export function encodeAck(block: number): Buffer {
  const out = Buffer.alloc(4);
  out.writeUInt16BE(Opcode.Ack, 0);
  out.writeUInt16BE(block & 0xffff, 2);
  return out;
}

/** Encodes a DATA header for `block` (wrapped to 16 bits: RFC 1350 has no rollover rule, 0 follows 65535). */
export function encodeDataHeader(block: number): Buffer {
  const out = Buffer.allocUnsafe(DATA_HEADER_BYTES);
  writeDataHeader(out, block);
  return out;
}

/** Writes a DATA header for `block` into the first four bytes of `packet`. */
export function writeDataHeader(packet: Buffer, block: number): void {
  packet.writeUInt16BE(Opcode.Data, 0);
  packet.writeUInt16BE(block & 0xffff, 2);
}
