/** IPv6 addresses as 128-bit bigints: parse, format (keeping an operator's own `::` placement), prefixes. Pure. */

/** An IPv6 prefix: `network` has zero host bits, `length` is 0..128. */
export interface Ipv6Prefix {
  readonly network: bigint;
  readonly length: number;
}

const GROUPS = 8;

/** Parses IPv6 text (no zone, no embedded IPv4) into a bigint, or undefined when it is not valid. */
export function parseIpv6(text: string): bigint | undefined {
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const split = (s: string): string[] => (s === "" ? [] : s.split(":"));
  const head = split(halves[0] ?? "");
  const tail = halves.length === 2 ? split(halves[1] ?? "") : [];
  const missing = GROUPS - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill("0"), ...tail];
  let value = 0n;
  for (const group of groups) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(group)) return undefined;
    value = (value << 16n) | BigInt(parseInt(group, 16));
  }
  return value;
}

/** Where an address text put its `::`: first group index and number of groups, or undefined for none. */
export function compressionOf(text: string): { start: number; count: number } | undefined {
  const halves = text.split("::");
  if (halves.length !== 2) return undefined;
  const head = halves[0] === "" ? 0 : (halves[0] ?? "").split(":").length;
  const tail = halves[1] === "" ? 0 : (halves[1] ?? "").split(":").length;
  return { start: head, count: GROUPS - head - tail };
}

const groupsOf = (value: bigint): number[] =>
  Array.from({ length: GROUPS }, (_, i) => Number((value >> BigInt(16 * (GROUPS - 1 - i))) & 0xffffn));

/**
 * Formats an address in lower case. With `style` (the `::` placement of an address the operator wrote), the same
 * groups are compressed when they are still zero, so `...:1000:1::2` is followed by `...:1000:1::3` as an operator
 * would write it; otherwise RFC 5952 §4.2: the longest run of two or more zero groups, the first on a tie.
 */
export function formatIpv6(value: bigint, style?: { start: number; count: number }): string {
  const groups = groupsOf(value);
  let run = style && groups.slice(style.start, style.start + style.count).every((g) => g === 0) ? style : undefined;
  if (!run) {
    let best: { start: number; count: number } | undefined;
    for (let i = 0; i < GROUPS; ) {
      if (groups[i] !== 0) {
        i++;
        continue;
      }
      let j = i;
      while (j < GROUPS && groups[j] === 0) j++;
      if (j - i >= 2 && (!best || j - i > best.count)) best = { start: i, count: j - i };
      i = j;
    }
    run = best;
  }
  const hex = groups.map((g) => g.toString(16));
  if (!run) return hex.join(":");
  return `${hex.slice(0, run.start).join(":")}::${hex.slice(run.start + run.count).join(":")}`;
}

/** Parses `addr/len` with zero host bits; returns a reason string when invalid. */
export function parseIpv6Prefix(text: string): Ipv6Prefix | string {
  const match = /^([^/]+)\/(\d{1,3})$/.exec(text);
  if (!match) return `expected an IPv6 prefix like 2a00:1098:0:84::/64, got "${text}"`;
  const address = parseIpv6(match[1] ?? "");
  const length = Number(match[2]);
  if (address === undefined) return `"${match[1]}" is not an IPv6 address`;
  if (length > 128) return `prefix length ${length} is larger than 128`;
  const mask = length === 0 ? 0n : ((1n << 128n) - 1n) ^ ((1n << BigInt(128 - length)) - 1n);
  if ((address & mask) !== address) return `${text} has host bits set`;
  return { network: address, length };
}

/** True when `address` lies inside `prefix`. */
export function ipv6InPrefix(address: bigint, prefix: Ipv6Prefix): boolean {
  const shift = BigInt(128 - prefix.length);
  return address >> shift === prefix.network >> shift;
}
