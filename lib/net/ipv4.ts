/** IPv4 addresses and prefixes as 32-bit unsigned integers: parse, format, subnet arithmetic. Pure. */

/** An IPv4 prefix: `network` is the first address (host bits zero), `length` the prefix length. */
export interface Ipv4Prefix {
  readonly network: number;
  readonly length: number;
}

/** Parses dotted-quad text into an unsigned 32-bit integer, or returns undefined if it is not one. */
export function parseIpv4(text: string): number | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (!/^(0|[1-9]\d{0,2})$/.test(part)) return undefined;
    const octet = Number(part);
    if (octet > 255) return undefined;
    value = value * 256 + octet;
  }
  return value;
}

/** Formats an unsigned 32-bit integer as dotted-quad text. */
export function formatIpv4(value: number): string {
  return [value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff].join(".");
}

/** The netmask of a prefix length as an unsigned integer (length 0 gives 0). */
export function prefixMask(length: number): number {
  return length === 0 ? 0 : (0xffffffff << (32 - length)) >>> 0;
}

/** Parses `a.b.c.d/n`; returns a reason string when the text is not a valid network with zero host bits. */
export function parseIpv4Prefix(text: string): Ipv4Prefix | string {
  const match = /^([^/]+)\/(\d{1,2})$/.exec(text);
  if (!match) return `expected an IPv4 network like 10.46.189.0/24, got "${text}"`;
  const address = parseIpv4(match[1] ?? "");
  const length = Number(match[2]);
  if (address === undefined) return `"${match[1]}" is not an IPv4 address`;
  if (length > 32) return `prefix length ${length} is larger than 32`;
  const network = (address & prefixMask(length)) >>> 0;
  if (network !== address) return `${text} has host bits set (network is ${formatIpv4(network)}/${length})`;
  return { network, length };
}

/** Number of addresses in a prefix. */
export function prefixSize(prefix: Ipv4Prefix): number {
  return 2 ** (32 - prefix.length);
}
