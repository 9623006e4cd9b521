/**
 * Deterministic DHCP fuzz input: random datagrams and real packets mutated in the ways parsers break
 * (bit flips, truncation, bad option lengths, junk options, bogus overload, odd htype/hlen). The same
 * seed always gives the same sequence, so a failure can be replayed.
 */
import { dhcpFixture } from "./dhcpd-fixtures.ts";

/** mulberry32: small seeded PRNG returning [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The real packets mutations start from. */
export const fuzzSeeds = (): Buffer[] => (["pi3-family-discover", "pi3b-rom-discover", "pi4-discover", "pi4-request", "pi5-discover", "pi5-request"] as const).map(dhcpFixture);

/** Yields `count` fuzz datagrams for `seed`. */
export function* fuzzPackets(seed: number, count: number): Generator<Buffer> {
  const rnd = seededRandom(seed);
  const int = (n: number) => Math.floor(rnd() * n);
  const seeds = fuzzSeeds();
  const pick = () => Buffer.from(seeds[int(seeds.length)]!);
  const noise = (n: number) => {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = int(256);
    return b;
  };
  const mutations: ((b: Buffer) => Buffer)[] = [
    () => noise(int(600)), // pure noise
    (b) => {
      for (let i = 0, n = 1 + int(8); i < n; i++) b[int(b.length)]! ^= 1 << int(8); // bit flips anywhere
      return b;
    },
    (b) => b.subarray(0, int(b.length)), // truncation
    (b) => {
      b[240 + int(b.length - 240)] = int(256); // one options byte, often a length
      return b;
    },
    (b) => Buffer.concat([b.subarray(0, 240), noise(int(300))]), // junk options after a good header
    (b) => {
      b.fill(int(256), 44, 236); // sname/file garbage plus overload with a random value
      return Buffer.concat([b.subarray(0, b.length - 1), Buffer.from([52, 1, int(6), 255])]);
    },
    (b) => {
      b[1] = int(256); // htype
      b[2] = int(40); // hlen
      return b;
    },
    (b) => {
      const at = b.indexOf(Buffer.from([53, 1]), 240); // message type to any value
      if (at > 0) b[at + 2] = int(256);
      return b;
    },
    (b) => Buffer.concat([b.subarray(0, b.length - 1), Buffer.from([int(256), 255])]), // option code without its length
    (b) => b, // an untouched real packet now and then
  ];
  for (let i = 0; i < count; i++) yield mutations[int(mutations.length)]!(pick());
}
