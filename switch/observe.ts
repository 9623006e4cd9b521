/**
 * Observation: reads the switch's actual state (static VLAN table, PVIDs, link, PoE, PSE power, FDB) and
 * decodes it into plain data keyed by bridge port. Membership is read from the Static table, never the
 * Current table, because the Static lists are what gets written back (reference §1.4).
 */
import type { Varbind } from "net-snmp";
import { BridgeMib, detectionName, Detection, IfMib, oidSuffix, PoeMib, QBridge } from "./oids.ts";
import type { VendorProfile } from "./profiles.ts";
import type { SnmpReader } from "./snmp-client.ts";
import type { FdbEntry, Inventory, ObservedSwitch, ObservedVlan, PoePortStatus, PsePower } from "./types.ts";

/** Rows of one column keyed by index string. */
export function column(rows: readonly Varbind[], oid: string): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const vb of rows) {
    const idx = oidSuffix(vb.oid, oid);
    if (idx !== null) out.set(idx, vb.value);
  }
  return out;
}

const num = (v: unknown): number | null => (typeof v === "number" ? v : null);
const buf = (v: unknown): Buffer => (Buffer.isBuffer(v) ? v : Buffer.alloc(0));

/** Reads the static VLAN table. */
export async function readVlans(reader: SnmpReader): Promise<Map<number, ObservedVlan>> {
  const rows = await reader.walk(QBridge.dot1qVlanStaticTable + ".1");
  const names = column(rows, QBridge.dot1qVlanStaticName);
  const egress = column(rows, QBridge.dot1qVlanStaticEgressPorts);
  const untagged = column(rows, QBridge.dot1qVlanStaticUntaggedPorts);
  const status = column(rows, QBridge.dot1qVlanStaticRowStatus);
  const vlans = new Map<number, ObservedVlan>();
  // A VLAN exists when its RowStatus is in a walk (reference §1.3), not when a GET answers.
  for (const [idx, rs] of status) {
    vlans.set(Number(idx), {
      name: buf(names.get(idx)).toString("utf8"),
      egress: buf(egress.get(idx)),
      untagged: buf(untagged.get(idx)),
      rowStatus: num(rs) ?? 0,
    });
  }
  return vlans;
}

/** Reads link state by bridge port. */
export async function readLinks(reader: SnmpReader, inv: Inventory): Promise<Map<number, boolean>> {
  const oper = column(await reader.walk(IfMib.ifOperStatus), IfMib.ifOperStatus);
  return new Map(inv.ports.map((p) => [p.bridgePort, oper.get(String(p.ifIndex)) === 1]));
}

/** Reads PoE status by bridge port (only ports in the PoE map). */
export async function readPoe(reader: SnmpReader, inv: Inventory, profile: VendorProfile): Promise<Map<number, PoePortStatus>> {
  const out = new Map<number, PoePortStatus>();
  if (inv.poeProblem) return out;
  const rows = await reader.walk(PoeMib.pethPsePortTable + ".1");
  const admin = column(rows, PoeMib.pethPsePortAdminEnable);
  const detection = column(rows, PoeMib.pethPsePortDetectionStatus);
  const classes = column(rows, PoeMib.pethPsePortPowerClassifications);
  const power = profile.portPower ? column(await reader.walk(profile.portPower.oid), profile.portPower.oid) : new Map<string, unknown>();
  for (const p of inv.ports) {
    if (!p.poe) continue;
    const idx = `${p.poe.group}.${p.poe.port}`;
    const det = num(detection.get(idx)) ?? 0;
    const cls = num(classes.get(idx));
    const raw = num(power.get(idx));
    out.set(p.bridgePort, {
      port: p.bridgePort,
      adminOn: admin.get(idx) === 1,
      detection: detectionName(det),
      // Classification is only valid while delivering power (RFC 3621); class0..4 are encoded 1..5.
      powerClass: det === Detection.deliveringPower && cls !== null ? cls - 1 : null,
      watts: raw === null || !profile.portPower ? null : profile.portPower.unit === "mW" ? raw / 1000 : raw,
    });
  }
  return out;
}

/** Reads the main PSE (group 1) budget and consumption, or null without a PSE. */
export async function readPse(reader: SnmpReader, profile: VendorProfile): Promise<PsePower | null> {
  const rows = await reader.walk(PoeMib.pethMainPseTable);
  if (rows.length === 0) return null;
  const budget = num(column(rows, PoeMib.pethMainPsePower).get("1"));
  const used = num(column(rows, PoeMib.pethMainPseConsumptionPower).get("1"));
  const oper = num(column(rows, PoeMib.pethMainPseOperStatus).get("1"));
  return {
    budgetWatts: budget,
    consumptionWatts: used === null ? null : profile.mainConsumptionUnit === "mW" ? used / 1000 : used,
    operStatus: oper === 1 ? "on" : oper === 2 ? "off" : oper === 3 ? "faulty" : "unknown",
  };
}

/** Reads everything the planner and `switch show` need. */
export async function readObserved(reader: SnmpReader, inv: Inventory, profile: VendorProfile, opts: { poe: boolean }): Promise<ObservedSwitch> {
  const vlans = await readVlans(reader);
  const pvidRows = column(await reader.walk(QBridge.dot1qPvid), QBridge.dot1qPvid);
  const pvid = new Map(inv.ports.map((p) => [p.bridgePort, num(pvidRows.get(String(p.bridgePort)))]));
  const linkUp = await readLinks(reader, inv);
  const poe = opts.poe ? await readPoe(reader, inv, profile) : new Map<number, PoePortStatus>();
  const pse = opts.poe ? await readPse(reader, profile) : null;
  return { vlans, pvid, linkUp, poe, pse };
}

const macText = (parts: readonly number[]): string => parts.map((b) => b.toString(16).padStart(2, "0")).join(":");

/** Pure: FDB rows -> learned entries (status learned(3), port known), VLAN through dot1qVlanFdbId (HP: fdbId != vid). */
export function decodeFdb(fdbRows: readonly Varbind[], vlanFdbRows: readonly Varbind[], inv: Inventory): FdbEntry[] {
  const ports = column(fdbRows, QBridge.dot1qTpFdbPort);
  const status = column(fdbRows, QBridge.dot1qTpFdbStatus);
  const vlanOfFdb = new Map<number, number>();
  for (const [idx, fdbId] of column(vlanFdbRows, QBridge.dot1qVlanFdbId)) {
    const vid = Number(idx.split(".")[1]);
    if (typeof fdbId === "number" && Number.isInteger(vid)) vlanOfFdb.set(fdbId, vid);
  }
  const ifIndexOf = new Map(inv.ports.map((p) => [p.bridgePort, p.ifIndex]));
  const out: FdbEntry[] = [];
  for (const [idx, port] of ports) {
    const parts = idx.split(".").map(Number);
    if (parts.length !== 7 || typeof port !== "number" || port === 0) continue; // port 0: known, not learned
    const st = status.get(idx);
    if (st !== undefined && st !== 3) continue; // self(4)/mgmt(5) addresses are the switch's own
    const fdbId = parts[0] as number;
    out.push({ mac: macText(parts.slice(1)), vlan: vlanOfFdb.get(fdbId) ?? null, port, ifIndex: ifIndexOf.get(port) ?? null });
  }
  return out;
}

/** Reads the forwarding database; the switch's own bridge address is dropped. */
export async function readFdb(reader: SnmpReader, inv: Inventory): Promise<FdbEntry[]> {
  const fdb = await reader.walk(QBridge.dot1qTpFdbTable + ".1");
  const vlanFdb = await reader.walk(QBridge.dot1qVlanFdbId);
  const [own] = await reader.get([BridgeMib.dot1dBaseBridgeAddress]);
  const ownMac = Buffer.isBuffer(own?.value) ? macText([...own.value]) : null;
  return decodeFdb(fdb, vlanFdb, inv).filter((e) => e.mac !== ownMac);
}
