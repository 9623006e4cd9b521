/**
 * Behaviour profiles of the simulated switch: how a real model numbers its ports, sizes its PortLists,
 * validates SETs and which side effects it has. Each quirk names its evidence (reference/switch-snmp.md).
 */

/** Names accepted by `--profile`. */
export type SimProfileName = "generic" | "strict" | "procurve";

/** Everything that differs between simulated switch models. */
export interface SimProfile {
  readonly name: SimProfileName;
  readonly sysDescr: string;
  readonly sysObjectId: string;
  /** PortList length in octets for a switch with `ports` bridge ports. */
  portListOctets(ports: number): number;
  /** True when a PortList SET of a different length is refused with wrongLength. */
  readonly exactPortListLength: boolean;
  /** bridge port -> ifIndex. */
  ifIndexOf(bridgePort: number): number;
  /** bridge port -> ifName. */
  ifNameOf(bridgePort: number): string;
  /** bridge port -> POWER-ETHERNET-MIB `group.port` index, or null for a port without PoE. */
  poeIndexOf(bridgePort: number, ifIndex: number): { group: number; port: number } | null;
  /**
   * "pdu": the combined result of a whole SET PDU is checked (an A->B move in one PDU is fine);
   * "varbind": every varbind must leave a legal state on its own, so order inside a PDU matters (§1.5).
   */
  readonly validate: "pdu" | "varbind";
  /** RowStatus create actions the agent accepts (OpenL2M: some devices only take one of them). */
  readonly rowCreate: readonly ("createAndGo" | "createAndWait")[];
  /**
   * HP/Aruba AOS-S: setting dot1qPvid makes the port an untagged member of the new VLAN and leaves the old
   * native VLAN as a *tagged* member (netdisco Layer2/HP.pm, reference §1.5).
   */
  readonly pvidMovesUntagged: boolean;
  /** HP 2530 walk: static VLAN 1 lists carry bits for ports that do not exist (29-101). */
  readonly defaultVlanFillerBits: boolean;
  /** HP 2530 walk: FDB ids are allocated sequentially and are not the VLAN id. */
  readonly sequentialFdbIds: boolean;
  /** HP-ICF-POE-MIB per-port power in mW (hpicfPoePethPsePortPower). */
  readonly perPortMilliwatts: boolean;
  /** Nominal PSE budget in watts (pethMainPsePower). */
  readonly pseBudgetWatts: number;
}

const generic: SimProfile = {
  name: "generic",
  sysDescr: "pirack simulated PoE switch (generic Q-BRIDGE profile)",
  sysObjectId: "1.3.6.1.4.1.8072.3.2.10",
  portListOctets: (ports) => Math.ceil(ports / 8),
  exactPortListLength: false,
  // A switch whose ifIndex is not the bridge port (like the Cisco 10101 or JetStream 49153 numberings):
  // discovery must go through dot1dBasePortIfIndex.
  ifIndexOf: (p) => 1000 + p,
  ifNameOf: (p) => `ge-0/0/${p}`,
  poeIndexOf: (p) => ({ group: 1, port: p }),
  validate: "pdu",
  rowCreate: ["createAndGo", "createAndWait"],
  pvidMovesUntagged: false,
  defaultVlanFillerBits: false,
  sequentialFdbIds: false,
  perPortMilliwatts: false,
  pseBudgetWatts: 370,
};

const strict: SimProfile = {
  ...generic,
  name: "strict",
  sysDescr: "pirack simulated PoE switch (strict profile: per-varbind validation, createAndWait only)",
  exactPortListLength: true,
  validate: "varbind",
  rowCreate: ["createAndWait"],
};

const procurve: SimProfile = {
  name: "procurve",
  // Copied from the recorded HP 2530-24G-PoE+ walk (test/fixtures/switch/hp-2530-24g-poe.snmprec).
  sysDescr: "HP J9773A 2530-24G-PoEP Switch, revision YA.16.02.0008, ROM YA.15.19 (pirack simulation)",
  sysObjectId: "1.3.6.1.4.1.11.2.3.7.11.137",
  portListOctets: (ports) => Math.max(16, Math.ceil(ports / 8)),
  exactPortListLength: true,
  ifIndexOf: (p) => p,
  ifNameOf: (p) => String(p),
  // AOS-S: pethPsePortTable index is group 1 and the ifIndex (netdisco Layer2/HP.pm).
  poeIndexOf: (_p, ifIndex) => ({ group: 1, port: ifIndex }),
  validate: "pdu",
  rowCreate: ["createAndGo", "createAndWait"],
  pvidMovesUntagged: true,
  defaultVlanFillerBits: true,
  sequentialFdbIds: true,
  perPortMilliwatts: true,
  pseBudgetWatts: 195,
};

/** The profile table. */
export const simProfiles: Readonly<Record<SimProfileName, SimProfile>> = { generic, strict, procurve };

/** Looks a profile up by name; throws with the known names. */
export function simProfile(name: string): SimProfile {
  const p = (simProfiles as Record<string, SimProfile>)[name];
  if (!p) throw new RangeError(`unknown simulator profile ${JSON.stringify(name)}, expected one of ${Object.keys(simProfiles).join(", ")}`);
  return p;
}
