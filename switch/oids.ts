/**
 * Numeric OIDs pirack reads and writes. Debian ships almost no IETF MIB files, so everything is numeric;
 * names follow the MIB objects (reference/switch-snmp.md §1.1, §2.1, §2.3).
 */

/** SNMPv2-MIB system group (RFC 3418). */
export const System = {
  sysDescr: "1.3.6.1.2.1.1.1.0",
  sysObjectId: "1.3.6.1.2.1.1.2.0",
  sysUpTime: "1.3.6.1.2.1.1.3.0",
  sysName: "1.3.6.1.2.1.1.5.0",
} as const;

/** IF-MIB ifTable / ifXTable columns (RFC 2863), indexed by ifIndex. */
export const IfMib = {
  ifTable: "1.3.6.1.2.1.2.2",
  ifDescr: "1.3.6.1.2.1.2.2.1.2",
  ifType: "1.3.6.1.2.1.2.2.1.3",
  ifPhysAddress: "1.3.6.1.2.1.2.2.1.6",
  ifAdminStatus: "1.3.6.1.2.1.2.2.1.7",
  ifOperStatus: "1.3.6.1.2.1.2.2.1.8", // up(1) down(2)
  ifXTable: "1.3.6.1.2.1.31.1.1",
  ifName: "1.3.6.1.2.1.31.1.1.1.1",
  ifHighSpeed: "1.3.6.1.2.1.31.1.1.1.15",
  ifAlias: "1.3.6.1.2.1.31.1.1.1.18",
} as const;

/** BRIDGE-MIB (RFC 4188): the only standard bridge port -> ifIndex map. */
export const BridgeMib = {
  dot1dBaseBridgeAddress: "1.3.6.1.2.1.17.1.1.0",
  dot1dBaseNumPorts: "1.3.6.1.2.1.17.1.2.0",
  dot1dBasePortTable: "1.3.6.1.2.1.17.1.4",
  dot1dBasePortIfIndex: "1.3.6.1.2.1.17.1.4.1.2",
} as const;

/** Q-BRIDGE-MIB (RFC 4363). "Port" here is always the bridge port number. */
export const QBridge = {
  dot1qTpFdbTable: "1.3.6.1.2.1.17.7.1.2.2",
  dot1qTpFdbPort: "1.3.6.1.2.1.17.7.1.2.2.1.2", // .fdbId.mac[6]
  dot1qTpFdbStatus: "1.3.6.1.2.1.17.7.1.2.2.1.3", // learned(3)
  dot1qVlanCurrentTable: "1.3.6.1.2.1.17.7.1.4.2",
  dot1qVlanFdbId: "1.3.6.1.2.1.17.7.1.4.2.1.3", // .timeMark.vid
  dot1qVlanStaticTable: "1.3.6.1.2.1.17.7.1.4.3",
  dot1qVlanStaticName: "1.3.6.1.2.1.17.7.1.4.3.1.1",
  dot1qVlanStaticEgressPorts: "1.3.6.1.2.1.17.7.1.4.3.1.2",
  dot1qVlanForbiddenEgressPorts: "1.3.6.1.2.1.17.7.1.4.3.1.3",
  dot1qVlanStaticUntaggedPorts: "1.3.6.1.2.1.17.7.1.4.3.1.4",
  dot1qVlanStaticRowStatus: "1.3.6.1.2.1.17.7.1.4.3.1.5",
  dot1qPortVlanTable: "1.3.6.1.2.1.17.7.1.4.5",
  dot1qPvid: "1.3.6.1.2.1.17.7.1.4.5.1.1", // VlanIndex = Unsigned32, send as Gauge32
} as const;

/** POWER-ETHERNET-MIB (RFC 3621), port rows indexed `.group.port`, main PSE rows `.group`. */
export const PoeMib = {
  pethPsePortTable: "1.3.6.1.2.1.105.1.1",
  pethPsePortAdminEnable: "1.3.6.1.2.1.105.1.1.1.3", // true(1) false(2)
  pethPsePortDetectionStatus: "1.3.6.1.2.1.105.1.1.1.6",
  pethPsePortPowerClassifications: "1.3.6.1.2.1.105.1.1.1.10", // class0..4 = 1..5
  pethMainPseTable: "1.3.6.1.2.1.105.1.3.1",
  pethMainPsePower: "1.3.6.1.2.1.105.1.3.1.1.2", // Watts
  pethMainPseOperStatus: "1.3.6.1.2.1.105.1.3.1.1.3",
  pethMainPseConsumptionPower: "1.3.6.1.2.1.105.1.3.1.1.4", // Watts (Netgear: mW)
  pethPsePortOnOffNotification: "1.3.6.1.2.1.105.0.1",
} as const;

/** HP-ICF-POE-MIB: per-port watts on HP/Aruba AOS-S, indexed like pethPsePortTable (reference §2.1). */
export const HpIcfPoe = {
  hpicfPoePethPsePortPower: "1.3.6.1.4.1.11.2.14.11.1.9.1.1.1.3", // mW
} as const;

/** SNMPv2 notifications (RFC 3418, RFC 2863). */
export const Notification = {
  snmpTrapOid: "1.3.6.1.6.3.1.1.4.1.0",
  linkDown: "1.3.6.1.6.3.1.1.5.3",
  linkUp: "1.3.6.1.6.3.1.1.5.4",
  ifIndex: "1.3.6.1.2.1.2.2.1.1",
} as const;

/** RowStatus textual convention values (RFC 2579). */
export const RowStatus = { active: 1, notInService: 2, notReady: 3, createAndGo: 4, createAndWait: 5, destroy: 6 } as const;

/** TruthValue (RFC 2579). */
export const Truth = { true: 1, false: 2 } as const;

/** pethPsePortDetectionStatus values (RFC 3621). */
export const Detection = { disabled: 1, searching: 2, deliveringPower: 3, fault: 4, test: 5, otherFault: 6 } as const;

/** Readable names of pethPsePortDetectionStatus values. */
export const detectionName = (v: number): string =>
  (["?", "disabled", "searching", "deliveringPower", "fault", "test", "otherFault"] as const)[v] ?? `unknown(${v})`;

/** ifOperStatus values (RFC 2863). */
export const OperStatus = { up: 1, down: 2 } as const;

/** The index part of `oid` below `base` ("1.3.6.1.2.1.105.1.1.1.3.1.5" under the column -> "1.5"), or null. */
export function oidSuffix(oid: string, base: string): string | null {
  return oid.startsWith(base + ".") ? oid.slice(base.length + 1) : null;
}

/** Parses "1.3.6" (or ".1.3.6") into numbers. */
export const oidParts = (oid: string): number[] => oid.replace(/^\./, "").split(".").map(Number);

/** Lexicographic comparison of two OIDs given as numbers (RFC 3416 §4.2.2 ordering). */
export function compareOid(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = (a[i] as number) - (b[i] as number);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}
