/**
 * Vendor profiles of the Q-BRIDGE driver: what differs between switch families, each with its evidence
 * (reference/switch-snmp.md §3). To add a vendor, add a profile here and, if it cannot be driven through
 * Q-BRIDGE at all, an entry in `unsupportedSwitches` so discovery refuses it with a clear reason.
 */
import { HpIcfPoe } from "./oids.ts";
import type { VendorProfileName } from "./types.ts";

/** Behaviour switches of the driver per vendor. */
export interface VendorProfile {
  readonly name: VendorProfileName;
  /** sysObjectID prefixes that select this profile under `profile: auto`. */
  readonly sysObjectIdPrefixes: readonly string[];
  /** How pethPsePortTable `group.port` maps to a port: through ifIndex, the bridge port, or decided at discovery. */
  readonly poeIndex: "ifIndex" | "bridgePort" | "auto";
  /**
   * HP/Aruba AOS-S: a dot1qPvid SET makes the port untagged in the new VLAN and leaves the old one as a tagged
   * member (netdisco Layer2/HP.pm). The driver then sends PVIDs before the PortLists in one PDU, so the
   * PortLists written afterwards remove that left-over membership.
   */
  readonly pvidLeavesOldVlanTagged: boolean;
  /** Vendor per-port power column (indexed like pethPsePortTable) and its unit. */
  readonly portPower: { readonly oid: string; readonly unit: "mW" | "W" } | null;
  /** Unit of pethMainPseConsumptionPower (RFC 3621 says watts; Netgear reports milliwatts). */
  readonly mainConsumptionUnit: "W" | "mW";
}

const generic: VendorProfile = {
  name: "generic",
  sysObjectIdPrefixes: [],
  poeIndex: "auto",
  pvidLeavesOldVlanTagged: false,
  portPower: null,
  mainConsumptionUnit: "W",
};

/** The profiles, most specific first. */
export const vendorProfiles: Readonly<Record<VendorProfileName, VendorProfile>> = {
  generic,
  procurve: {
    ...generic,
    name: "procurve",
    // HP enterprise 11: ProCurve/AOS-S 2530/2930/3810 (the recorded 2530 walk: 1.3.6.1.4.1.11.2.3.7.11.137).
    sysObjectIdPrefixes: ["1.3.6.1.4.1.11.2.3.7.11"],
    poeIndex: "ifIndex",
    pvidLeavesOldVlanTagged: true,
    portPower: { oid: HpIcfPoe.hpicfPoePethPsePortPower, unit: "mW" },
  },
  netgear: {
    ...generic,
    name: "netgear",
    // Netgear enterprise 4526; OpenL2M saw tag edits "succeed" without effect, covered by read-back verify.
    sysObjectIdPrefixes: ["1.3.6.1.4.1.4526"],
    portPower: { oid: "1.3.6.1.4.1.4526.10.15.1.1.1.2", unit: "mW" },
    mainConsumptionUnit: "mW",
  },
};

/** Switch families discovery refuses, with the reason (reference §3). */
export const unsupportedSwitches: readonly { readonly prefix: string; readonly family: string; readonly reason: string }[] = [
  { prefix: "1.3.6.1.4.1.9.1.", family: "Cisco IOS/IOS-XE", reason: "takes no Q-BRIDGE writes (needs vmVlan/VTP, not implemented)" },
  { prefix: "1.3.6.1.4.1.47196.", family: "Aruba CX", reason: "uses IEEE8021-Q-BRIDGE-MIB (not implemented)" },
  { prefix: "1.3.6.1.4.1.2636.", family: "Juniper", reason: "SNMP is read-only for configuration" },
  { prefix: "1.3.6.1.4.1.14988.", family: "MikroTik", reason: "SNMP writes are not supported" },
  { prefix: "1.3.6.1.4.1.41112.", family: "Ubiquiti UniFi", reason: "managed by its controller, SNMP read-only" },
];

/** Picks the profile for a switch: the configured one, else by sysObjectID, else generic. */
export function selectProfile(configured: "auto" | VendorProfileName | undefined, sysObjectId: string): VendorProfile {
  if (configured && configured !== "auto") return vendorProfiles[configured];
  const oid = sysObjectId.replace(/^\./, "");
  for (const p of Object.values(vendorProfiles)) if (p.sysObjectIdPrefixes.some((pre) => oid.startsWith(pre))) return p;
  return generic;
}
