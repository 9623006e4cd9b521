/**
 * Discovery: builds the port map bridge port <-> ifIndex <-> ifName <-> PoE group.port. RFC 3621 defines no
 * mapping from a PSE port to an interface (reference §2.1), so the mapping comes from the vendor profile or,
 * for "auto", from the only reading consistent with the tables; when two readings disagree the PoE map is
 * ambiguous and PoE is refused rather than guessed.
 */
import type { Varbind } from "net-snmp";
import { OperationError } from "../lib/errors.ts";
import { BridgeMib, IfMib, oidSuffix, PoeMib, QBridge, System } from "./oids.ts";
import { selectProfile, unsupportedSwitches, type VendorProfile } from "./profiles.ts";
import { hasValue, type SnmpReader } from "./snmp-client.ts";
import type { Inventory, PortInfo, VendorProfileName } from "./types.ts";

/** The raw tables discovery needs. */
export interface DiscoveryTables {
  readonly sysDescr: string;
  readonly sysObjectId: string;
  /** dot1dBasePortIfIndex rows: bridge port -> ifIndex. */
  readonly basePortIfIndex: ReadonlyMap<number, number>;
  readonly ifName: ReadonlyMap<number, string>;
  /** pethPsePortAdminEnable row indexes as [group, port]. */
  readonly poePorts: readonly (readonly [number, number])[];
  /** Lengths of the dot1qVlanStaticEgressPorts values read. */
  readonly portListLengths: readonly number[];
}

const text = (v: unknown): string => (Buffer.isBuffer(v) ? v.toString("utf8") : String(v ?? ""));

/** Refuses switch families the Q-BRIDGE driver cannot drive; throws `OperationError` SWITCH_UNSUPPORTED. */
export function checkSupported(sysObjectId: string): void {
  const oid = sysObjectId.replace(/^\./, "");
  const hit = unsupportedSwitches.find((u) => oid.startsWith(u.prefix));
  if (hit) throw new OperationError("SWITCH_UNSUPPORTED", `${hit.family} switch (sysObjectID ${oid}) ${hit.reason}`);
}

/** Pure: tables -> inventory. Never throws for PoE trouble; it is reported in `poeProblem`. */
export function decodeInventory(t: DiscoveryTables, configured?: "auto" | VendorProfileName): Inventory {
  const profile = selectProfile(configured, t.sysObjectId);
  const base: Omit<PortInfo, "poe">[] = [...t.basePortIfIndex]
    .sort(([a], [b]) => a - b)
    .map(([bridgePort, ifIndex]) => ({ bridgePort, ifIndex, ifName: t.ifName.get(ifIndex) ?? `if${ifIndex}` }));
  const { map, problem } = mapPoe(base, t.poePorts, profile);
  return {
    sysDescr: t.sysDescr,
    sysObjectId: t.sysObjectId,
    profile: profile.name,
    ports: base.map((p) => ({ ...p, poe: map.get(p.bridgePort) ?? null })),
    // Agents differ (HP 2530: 16 octets for 28 ports); the longest list read is what the agent uses.
    portListOctets: Math.max(Math.ceil(Math.max(0, ...base.map((p) => p.bridgePort)) / 8), ...t.portListLengths),
    poeProblem: problem,
  };
}

type PoeMap = Map<number, { group: number; port: number }>;

/** Maps PSE ports to bridge ports with `key` (ifIndex or bridge port); null when some PSE port matches nothing. */
function mapBy(base: readonly Omit<PortInfo, "poe">[], poePorts: DiscoveryTables["poePorts"], key: "ifIndex" | "bridgePort"): PoeMap | null {
  const byKey = new Map(base.map((p) => [p[key], p.bridgePort]));
  const map: PoeMap = new Map();
  for (const [group, port] of poePorts) {
    const bridgePort = byKey.get(port);
    if (bridgePort === undefined || map.has(bridgePort)) return null;
    map.set(bridgePort, { group, port });
  }
  return map;
}

function mapPoe(base: readonly Omit<PortInfo, "poe">[], poePorts: DiscoveryTables["poePorts"], profile: VendorProfile): { map: PoeMap; problem: string | null } {
  if (poePorts.length === 0) return { map: new Map(), problem: "the switch has no pethPsePortTable (no PoE)" };
  const groups = new Set(poePorts.map(([g]) => g));
  if (profile.poeIndex !== "auto") {
    const map = mapBy(base, poePorts, profile.poeIndex);
    return map ? { map, problem: null } : { map: new Map(), problem: `PSE port indexes do not match ${profile.poeIndex} numbers (profile ${profile.name})` };
  }
  if (groups.size > 1) return { map: new Map(), problem: `PSE ports in ${groups.size} groups (a stack): set a vendor profile that maps them` };
  const byIfIndex = mapBy(base, poePorts, "ifIndex");
  const byBridge = mapBy(base, poePorts, "bridgePort");
  if (byIfIndex && byBridge) {
    const same = [...byIfIndex].every(([bp, idx]) => byBridge.get(bp)?.port === idx.port);
    if (!same) return { map: new Map(), problem: "PSE port indexes match both ifIndex and bridge port numbers with different results: ambiguous" };
    return { map: byIfIndex, problem: null };
  }
  const map = byIfIndex ?? byBridge;
  return map ? { map, problem: null } : { map: new Map(), problem: "PSE port indexes match neither ifIndex nor bridge port numbers" };
}

const intRows = (rows: readonly Varbind[], column: string): Map<number, number> => {
  const out = new Map<number, number>();
  for (const vb of rows) {
    const idx = oidSuffix(vb.oid, column);
    if (idx !== null && typeof vb.value === "number") out.set(Number(idx), vb.value);
  }
  return out;
};

/** Reads the discovery tables through `reader` and decodes them. */
export async function readInventory(reader: SnmpReader, configured?: "auto" | VendorProfileName): Promise<Inventory> {
  const [descr, objectId] = await reader.get([System.sysDescr, System.sysObjectId]);
  const sysObjectId = hasValue(objectId) ? text(objectId.value) : "";
  checkSupported(sysObjectId);
  const basePorts = await reader.walk(BridgeMib.dot1dBasePortIfIndex);
  const names = await reader.walk(IfMib.ifName);
  const poe = await reader.walk(PoeMib.pethPsePortAdminEnable);
  const egress = await reader.walk(QBridge.dot1qVlanStaticEgressPorts);
  if (basePorts.length === 0) throw new OperationError("SWITCH_NO_BRIDGE_MIB", "the switch serves no dot1dBasePortIfIndex rows: not a Q-BRIDGE switch");
  const ifName = new Map<number, string>();
  for (const vb of names) {
    const idx = oidSuffix(vb.oid, IfMib.ifName);
    if (idx !== null) ifName.set(Number(idx), text(vb.value));
  }
  return decodeInventory(
    {
      sysDescr: hasValue(descr) ? text(descr.value) : "",
      sysObjectId,
      basePortIfIndex: intRows(basePorts, BridgeMib.dot1dBasePortIfIndex),
      ifName,
      poePorts: poe.flatMap((vb) => {
        const [g, p, ...rest] = (oidSuffix(vb.oid, PoeMib.pethPsePortAdminEnable) ?? "").split(".").map(Number);
        return g !== undefined && p !== undefined && rest.length === 0 ? [[g, p] as const] : [];
      }),
      portListLengths: egress.filter((vb) => Buffer.isBuffer(vb.value)).map((vb) => (vb.value as Buffer).length),
    },
    configured,
  );
}
