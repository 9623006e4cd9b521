/**
 * The racks `bench/scale` measures: `n` Pi ports on one fileserver, in shelves of 96 with a gap of two ports
 * between shelves (so the port list is several ranges, as a real multi-shelf rack's is), storage VLANs up to the
 * top of the 802.1Q range, the public VLAN at 4094, and a storage network just large enough for the highest port.
 */
import { MAX_VLAN } from "../../appliance/config.ts";

/** Pis per shelf and the switch ports left unused between two shelves. */
export const SHELF_PIS = 96;
const SHELF_GAP = 2;
/** Storage VLAN of port p is p + 1, so the highest port may be MAX_VLAN - 2 (the public VLAN is MAX_VLAN). */
const FIRST_VLAN = 2;
const PUBLIC_VLAN = MAX_VLAN;

/** The port ranges of an `n`-Pi rack: `"1-96,99-194,..."`, and the highest port. */
export function shelfRanges(n: number): { spec: string; ports: number[]; shelves: number } {
  const ranges: string[] = [];
  const ports: number[] = [];
  let left = n;
  for (let shelf = 0; left > 0; shelf++) {
    const first = shelf * (SHELF_PIS + SHELF_GAP) + 1;
    const count = Math.min(SHELF_PIS, left);
    ranges.push(count === 1 ? `${first}` : `${first}-${first + count - 1}`);
    for (let p = first; p < first + count; p++) ports.push(p);
    left -= count;
  }
  const top = ports.at(-1) ?? 0;
  if (top + FIRST_VLAN - 1 >= PUBLIC_VLAN) throw new Error(`${n} Pis need switch port ${top}, whose VLAN would pass ${PUBLIC_VLAN - 1}`);
  return { spec: ranges.join(","), ports, shelves: ranges.length };
}

/** The smallest storage network holding a /30 per port up to `maxPort`, from 10.64.0.0. */
export function storageNetworkFor(maxPort: number): string {
  const prefix = 32 - Math.max(2, Math.ceil(Math.log2(maxPort * 4)));
  return `10.64.0.0/${prefix}`;
}

/** Where a bench rack keeps its files. */
export interface ScaleRackPaths {
  readonly exports: string;
  readonly images: string;
  readonly state: string;
  readonly firmware: string;
}

/**
 * rack.yaml of an `n`-Pi bench rack, no switch driver: every Pi enrolled by sighting (`enrol: auto`), or with
 * `roots: false` only identified (`enrol: manual`: no root is cloned, so the rest of the rack can be measured
 * at sizes whose clones would take longer than the run may).
 */
export function scaleRackYaml(n: number, paths: ScaleRackPaths, roots = true): string {
  const { spec, ports } = shelfRanges(n);
  const top = ports.at(-1) ?? 1;
  return [
    "shelf: scale",
    "fileserver: { interface: eth0, switchPort: 4096, manageInterfaces: true }",
    `storage: { network: ${storageNetworkFor(top)}, firstVlan: ${FIRST_VLAN} }`,
    `public: { vlan: ${PUBLIC_VLAN}, prefix: "2a00:1098:0:84::/64", gateway: "2a00:1098:0:84::1", firstAddress: "2a00:1098:0:84:1000:1::2" }`,
    `ports: "${spec}"`,
    `boot: { firmware: ${paths.firmware}, nfsOptions: "vers=3,tcp" }`,
    `paths: { exports: ${paths.exports}, images: ${paths.images}, state: ${paths.state} }`,
    "image: bookworm-arm64",
    "nfs: { server: kernel }",
    "switch: { driver: none }",
    `enrol: ${roots ? "auto" : "manual"}`,
    "",
  ].join("\n");
}
