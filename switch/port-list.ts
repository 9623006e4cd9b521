/**
 * PortList codec (RFC 4363 PortList TEXTUAL-CONVENTION): octet 1 covers ports 1-8, octet 2 ports 9-16, and
 * inside each octet the most significant bit is the lowest port. Length is not fixed by the MIB (HP 2530:
 * 16 octets for 28 ports), so every operation keeps the length it was given.
 */
import { DecodeError } from "../lib/errors.ts";

/** Bit mask of port `p` (1-based) inside its octet: MSB first. */
const maskOf = (p: number): number => 0x80 >> ((p - 1) & 7);

/** True when bridge port `p` is set in `list` (ports beyond the list's length are not members). */
export function hasPort(list: Uint8Array, p: number): boolean {
  return p >= 1 && ((list[(p - 1) >> 3] ?? 0) & maskOf(p)) !== 0;
}

/** A copy of `list` (same length) with port `p` set or cleared; throws when `p` does not fit. */
export function withPort(list: Uint8Array, p: number, on: boolean): Buffer {
  const out = Buffer.from(list);
  if (!Number.isInteger(p) || p < 1 || p > out.length * 8) {
    throw new RangeError(`port ${p} outside a ${out.length}-octet port list (ports 1-${out.length * 8})`);
  }
  const i = (p - 1) >> 3;
  out[i] = on ? (out[i] ?? 0) | maskOf(p) : (out[i] ?? 0) & ~maskOf(p);
  return out;
}

/** Sets or clears port `p` in `list` itself (the caller has checked that `p` fits). */
export function setPort(list: Uint8Array, p: number, on: boolean): void {
  const i = (p - 1) >> 3;
  list[i] = on ? (list[i] ?? 0) | maskOf(p) : (list[i] ?? 0) & ~maskOf(p);
}

/** Every set port in ascending order. */
export function portsOf(list: Uint8Array): number[] {
  const ports: number[] = [];
  for (let i = 0; i < list.length; i++) {
    const octet = list[i] ?? 0;
    if (octet === 0) continue;
    for (let b = 0; b < 8; b++) if (octet & (0x80 >> b)) ports.push(i * 8 + b + 1);
  }
  return ports;
}

/** A list of `octets` octets with exactly `ports` set. */
export function encodePortList(ports: Iterable<number>, octets: number): Buffer {
  let out: Buffer = Buffer.alloc(octets);
  for (const p of ports) out = withPort(out, p, true);
  return out;
}

/** Hex form used in logs and by `snmpset ... x`: "80 00 01" -> "800001". */
export const portListHex = (list: Uint8Array): string => Buffer.from(list).toString("hex").toUpperCase();

/**
 * Parses a PortList as the Net-SNMP CLI prints it: `Hex-STRING: 80 00 01`, or `STRING: "@"` when every octet
 * happens to be printable (net-snmp issue #826), or a bare hex string.
 */
export function parsePortListText(text: string): Buffer {
  const t = text.trim();
  const quoted = /^STRING:\s*"(.*)"$/s.exec(t);
  if (quoted) return Buffer.from((quoted[1] ?? "").replace(/\\(.)/g, "$1"), "latin1");
  const hex = t.replace(/^Hex-STRING:\s*/, "").replace(/\s+/g, "");
  if (!/^([0-9a-fA-F]{2})*$/.test(hex)) throw new DecodeError("SNMP_BAD_PORT_LIST", `expected a hex PortList, got ${JSON.stringify(text)}`);
  return Buffer.from(hex, "hex");
}

/** True when `a` and `b` have the same bits for every port in `ports` (lengths may differ). */
export function samePorts(a: Uint8Array, b: Uint8Array, ports: Iterable<number>): boolean {
  for (const p of ports) if (hasPort(a, p) !== hasPort(b, p)) return false;
  return true;
}
