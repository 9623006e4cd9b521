/**
 * Planner: (desired ports, observed switch, port map) -> the VLAN rows to create, the whole PortLists to write,
 * PVIDs and PoE changes. Pure. Only bits of ports pirack owns are changed; every other bit (other ports,
 * non-existent ports, VLANs nobody asked about) is written back exactly as read, at the length read.
 * Also renders the plan as one SET PDU and as the stepwise order legal on strict agents (reference §1.5).
 */
import { NotFoundError, OperationError } from "../lib/errors.ts";
import { hasPort, portsOf, setPort } from "./port-list.ts";
import { PoeMib, QBridge, RowStatus, Truth } from "./oids.ts";
import type { VendorProfile } from "./profiles.ts";
import type { DesiredPort, DesiredSwitchState, Inventory, ObservedSwitch, SwitchChange } from "./types.ts";

/** BER tags used in planned varbinds (net-snmp ObjectType values). */
export const VarbindType = { integer: 2, octetString: 4, gauge32: 66 } as const;

/** A varbind to SET. */
export interface PlannedVarbind {
  readonly oid: string;
  readonly type: number;
  readonly value: number | Buffer | string;
}

/** Old and new value of one PortList. */
export interface ListChange {
  readonly from: Buffer;
  readonly to: Buffer;
}

/** One VLAN whose PortLists change. */
export interface VlanWrite {
  readonly vid: number;
  readonly egress: ListChange;
  readonly untagged: ListChange;
}

/** Everything to do on the switch. */
export interface SwitchPlan {
  readonly changes: readonly SwitchChange[];
  readonly creates: readonly { readonly vid: number; readonly name: string }[];
  readonly activations: readonly number[];
  readonly lists: readonly VlanWrite[];
  readonly pvids: readonly { readonly port: number; readonly from: number | null; readonly to: number }[];
  readonly poe: readonly { readonly port: number; readonly on: boolean; readonly index: string }[];
}

/**
 * The one rule for PoE that cannot be managed: with `switch.poe: false`, or a PSE whose ports do not map to
 * bridge ports (`poeProblem`), desired PoE is dropped (VLAN work still goes ahead; power actions are refused).
 */
export function withoutUnmanagedPoe(desired: DesiredSwitchState, poeEnabled: boolean, inv: Pick<Inventory, "poeProblem"> | null): DesiredSwitchState {
  if (poeEnabled && !inv?.poeProblem) return desired;
  return { ...desired, ports: desired.ports.map((p) => ({ ...p, poe: undefined })) };
}

/** True when the plan writes nothing to VLANs/PVIDs. */
export const vlanWorkEmpty = (p: SwitchPlan): boolean => p.creates.length + p.activations.length + p.lists.length + p.pvids.length === 0;

/** One line of words per change (for `pirack switch apply` and logs). */
export function describeChange(c: SwitchChange): string {
  switch (c.kind) {
    case "createVlan":
      return `create VLAN ${c.vid} "${c.name}"`;
    case "activateVlan":
      return `activate VLAN ${c.vid}`;
    case "join":
      return `port ${c.port}: ${c.tagged ? "tagged" : "untagged"} member of VLAN ${c.vid}`;
    case "leave":
      return `port ${c.port}: leave VLAN ${c.vid}`;
    case "pvid":
      return `port ${c.port}: PVID ${c.from ?? "unset"} -> ${c.to}`;
    case "poe":
      return `port ${c.port}: PoE ${c.on ? "on" : "off"}`;
  }
}

const vlansOf = (d: DesiredPort): number[] => [...(typeof d.untaggedVlan === "number" ? [d.untaggedVlan] : []), ...d.taggedVlans];

/** `named`: the port's VLANs as a set (the fileserver's trunk names every storage VLAN: thousands on a big rack). */
function wantMember(d: DesiredPort, named: ReadonlySet<number>, vid: number, was: boolean): boolean {
  if (named.has(vid)) return true;
  return d.otherVlans === "keep" ? was : false;
}

function wantUntagged(d: DesiredPort, named: ReadonlySet<number>, vid: number, was: boolean): boolean {
  // A VLAN the port names that is not its untagged VLAN is one of its tagged VLANs.
  if (d.untaggedVlan === undefined) return was && !named.has(vid);
  return d.untaggedVlan === vid;
}

function validate(desired: DesiredSwitchState, inv: Inventory): void {
  const known = new Set(inv.ports.map((p) => p.bridgePort));
  const seen = new Set<number>();
  for (const d of desired.ports) {
    if (!known.has(d.port)) throw new NotFoundError("SWITCH_UNKNOWN_PORT", `port ${d.port} is not a bridge port of the switch (it has ${inv.ports.length})`);
    if (seen.has(d.port)) throw new OperationError("SWITCH_DUPLICATE_PORT", `port ${d.port} is listed twice in the desired state`);
    seen.add(d.port);
    for (const vid of [...vlansOf(d), ...(d.pvid === undefined ? [] : [d.pvid])]) {
      if (!Number.isInteger(vid) || vid < 1 || vid > 4094) throw new OperationError("SWITCH_BAD_VLAN", `port ${d.port}: VLAN ${vid} outside 1-4094`);
    }
    if (typeof d.untaggedVlan === "number" && d.taggedVlans.includes(d.untaggedVlan)) {
      throw new OperationError("SWITCH_BAD_VLAN", `port ${d.port}: VLAN ${d.untaggedVlan} both untagged and tagged`);
    }
  }
}

/** Plans the writes that take `observed` to `desired`. Throws on unknown ports, bad VLANs, or PoE without a PoE map. */
export function planSwitch(desired: DesiredSwitchState, observed: ObservedSwitch, inv: Inventory): SwitchPlan {
  validate(desired, inv);
  const changes: SwitchChange[] = [];
  const creates: { vid: number; name: string }[] = [];
  const activations: number[] = [];
  const lists: VlanWrite[] = [];
  const vids = new Set<number>([...observed.vlans.keys(), ...desired.ports.flatMap(vlansOf)]);
  const wanted = new Set(desired.ports.flatMap(vlansOf));
  // Per VLAN only the desired ports that name it or sit in one of its lists can change: indexing them keeps a
  // rack of thousands of ports and VLANs linear (every port for every VLAN was ports x VLANs buffer copies).
  const naming = new Map<number, number[]>();
  desired.ports.forEach((d, i) => {
    for (const vid of vlansOf(d)) {
      const list = naming.get(vid);
      if (list) list.push(i);
      else naming.set(vid, [i]);
    }
  });
  const indexOf = new Map(desired.ports.map((d, i) => [d.port, i]));
  const namedBy = desired.ports.map((d) => new Set(vlansOf(d)));
  const highest = desired.ports.reduce<DesiredPort | undefined>((top, d) => (top === undefined || d.port > top.port ? d : top), undefined);
  for (const vid of [...vids].sort((a, b) => a - b)) {
    const obs = observed.vlans.get(vid);
    const fromE = obs?.egress.length ? obs.egress : Buffer.alloc(inv.portListOctets);
    const fromU = obs?.untagged.length ? obs.untagged : Buffer.alloc(fromE.length);
    const toE: Buffer = Buffer.from(fromE);
    const toU: Buffer = Buffer.from(fromU);
    if (!obs) {
      // dot1qVlanStaticName is SnmpAdminString (SIZE(0..32)).
      const name = Buffer.from(desired.vlanNames?.[vid] ?? `pirack-${vid}`).subarray(0, 32).toString("utf8").replace(/\uFFFD$/, "");
      creates.push({ vid, name });
      changes.push({ kind: "createVlan", vid, name });
    } else if (obs.rowStatus !== RowStatus.active && wanted.has(vid)) {
      activations.push(vid);
      changes.push({ kind: "activateVlan", vid });
    }
    if (highest && highest.port > toE.length * 8) {
      const p = desired.ports.find((d) => d.port > toE.length * 8)!.port;
      throw new OperationError("SWITCH_PORT_LIST_SHORT", `VLAN ${vid}: port ${p} does not fit a ${toE.length}-octet PortList`);
    }
    const touched = new Set(naming.get(vid));
    for (const p of [...portsOf(fromE), ...portsOf(fromU)]) {
      const i = indexOf.get(p);
      if (i !== undefined) touched.add(i);
    }
    // A desired port outside both lists that does not name the VLAN stays out of both: nothing to do for it.
    for (const i of [...touched].sort((a, b) => a - b)) {
      const d = desired.ports[i]!;
      const p = d.port;
      const wasMember = hasPort(fromE, p);
      const wasUntagged = wasMember && hasPort(fromU, p);
      const member = wantMember(d, namedBy[i]!, vid, wasMember);
      const untagged = member && wantUntagged(d, namedBy[i]!, vid, wasUntagged);
      setPort(toE, p, member);
      setPort(toU, p, untagged);
      if (member && (!wasMember || untagged !== wasUntagged)) changes.push({ kind: "join", port: p, vid, tagged: !untagged });
      else if (!member && wasMember) changes.push({ kind: "leave", port: p, vid });
    }
    if (!toE.equals(fromE) || !toU.equals(fromU)) lists.push({ vid, egress: { from: fromE, to: toE }, untagged: { from: fromU, to: toU } });
  }
  const pvids: SwitchPlan["pvids"][number][] = [];
  const poe: SwitchPlan["poe"][number][] = [];
  const byBridgePort = new Map<number, Inventory["ports"][number]>();
  for (const p of inv.ports) if (!byBridgePort.has(p.bridgePort)) byBridgePort.set(p.bridgePort, p);
  for (const d of desired.ports) {
    const want = d.pvid ?? (typeof d.untaggedVlan === "number" ? d.untaggedVlan : undefined);
    const from = observed.pvid.get(d.port) ?? null;
    if (want !== undefined && from !== want) {
      pvids.push({ port: d.port, from, to: want });
      changes.push({ kind: "pvid", port: d.port, from, to: want });
    }
    if (d.poe === undefined) continue;
    const info = byBridgePort.get(d.port);
    if (inv.poeProblem || !info?.poe) throw new OperationError("SWITCH_POE_UNAVAILABLE", `port ${d.port}: PoE cannot be set: ${inv.poeProblem ?? "no PSE port maps to it"}`);
    if (observed.poe.get(d.port)?.adminOn !== d.poe) {
      poe.push({ port: d.port, on: d.poe, index: `${info.poe.group}.${info.poe.port}` });
      changes.push({ kind: "poe", port: d.port, on: d.poe });
    }
  }
  return { changes, creates, activations, lists, pvids, poe };
}

const rowStatus = (vid: number, v: number): PlannedVarbind => ({ oid: `${QBridge.dot1qVlanStaticRowStatus}.${vid}`, type: VarbindType.integer, value: v });
const vlanName = (vid: number, name: string): PlannedVarbind => ({ oid: `${QBridge.dot1qVlanStaticName}.${vid}`, type: VarbindType.octetString, value: Buffer.from(name) });
const egressVb = (vid: number, list: Buffer): PlannedVarbind => ({ oid: `${QBridge.dot1qVlanStaticEgressPorts}.${vid}`, type: VarbindType.octetString, value: list });
const untaggedVb = (vid: number, list: Buffer): PlannedVarbind => ({ oid: `${QBridge.dot1qVlanStaticUntaggedPorts}.${vid}`, type: VarbindType.octetString, value: list });
// dot1qPvid is VlanIndex = Unsigned32 (RFC 4363): Gauge32 on the wire, Integer is refused by strict agents.
const pvidVb = (port: number, vid: number): PlannedVarbind => ({ oid: `${QBridge.dot1qPvid}.${port}`, type: VarbindType.gauge32, value: vid });

/** Varbinds creating a VLAN: createAndGo + name (RowStatus first, reference §1.3), or the createAndWait sequence. */
export function createVarbinds(vid: number, name: string, mode: "createAndGo" | "createAndWait"): PlannedVarbind[][] {
  if (mode === "createAndGo") return [[rowStatus(vid, RowStatus.createAndGo), vlanName(vid, name)]];
  return [[rowStatus(vid, RowStatus.createAndWait)], [vlanName(vid, name)], [rowStatus(vid, RowStatus.active)]];
}

/** RowStatus active(1) for a row left notInService (an interrupted createAndWait). */
export const activateVarbind = (vid: number): PlannedVarbind => rowStatus(vid, RowStatus.active);

/** The whole VLAN/PVID plan as one SET PDU: creates first; PVIDs before the PortLists on AOS-S. */
export function onePduVarbinds(plan: SwitchPlan, profile: VendorProfile): PlannedVarbind[] {
  const creates = plan.creates.flatMap((c) => createVarbinds(c.vid, c.name, "createAndGo").flat());
  const activations = plan.activations.map(activateVarbind);
  const egress = plan.lists.filter((l) => !l.egress.to.equals(l.egress.from)).map((l) => egressVb(l.vid, l.egress.to));
  const untagged = plan.lists.filter((l) => !l.untagged.to.equals(l.untagged.from)).map((l) => untaggedVb(l.vid, l.untagged.to));
  const pvids = plan.pvids.map((p) => pvidVb(p.port, p.to));
  const middle = profile.pvidLeavesOldVlanTagged ? [...pvids, ...egress] : [...egress, ...pvids];
  return [...creates, ...activations, ...middle, ...untagged];
}

const orBytes = (a: Buffer, b: Buffer): Buffer => Buffer.from(a.map((x, i) => x | (b[i] ?? 0)));
const andBytes = (a: Buffer, b: Buffer): Buffer => Buffer.from(a.map((x, i) => x & (b[i] ?? 0)));

/**
 * Membership and PVID writes one varbind per SET, each legal on its own on a strict agent (reference §1.5):
 * 1 egress += new members; 2 PVIDs; 3 untagged -= leavers; 4 untagged += joiners; 5 egress -= leavers.
 * VLAN creation and activation come before (see `createVarbinds`).
 */
export function stepwiseSets(plan: SwitchPlan): PlannedVarbind[][] {
  const steps: PlannedVarbind[][] = [];
  const e1 = new Map<number, Buffer>();
  const u1 = new Map<number, Buffer>();
  for (const l of plan.lists) {
    const e = orBytes(l.egress.from, l.egress.to);
    e1.set(l.vid, e);
    if (!e.equals(l.egress.from)) steps.push([egressVb(l.vid, e)]);
  }
  for (const p of plan.pvids) steps.push([pvidVb(p.port, p.to)]);
  for (const l of plan.lists) {
    const u = andBytes(l.untagged.from, l.untagged.to);
    u1.set(l.vid, u);
    if (!u.equals(l.untagged.from)) steps.push([untaggedVb(l.vid, u)]);
  }
  for (const l of plan.lists) if (!l.untagged.to.equals(u1.get(l.vid) as Buffer)) steps.push([untaggedVb(l.vid, l.untagged.to)]);
  for (const l of plan.lists) if (!l.egress.to.equals(e1.get(l.vid) as Buffer)) steps.push([egressVb(l.vid, l.egress.to)]);
  return steps;
}

/** pethPsePortAdminEnable for one PSE port. */
export const poeVarbind = (index: string, on: boolean): PlannedVarbind => ({
  oid: `${PoeMib.pethPsePortAdminEnable}.${index}`,
  type: VarbindType.integer,
  value: on ? Truth.true : Truth.false,
});

/** Desired state of the rack described in DESIGN.md §1: Pi ports untagged in their VLAN + tagged public, uplink tagged in all. */
export function rackSwitchState(opts: {
  readonly piPorts: readonly { readonly port: number; readonly vlan: number; readonly poe?: boolean }[];
  readonly publicVlan: number;
  readonly uplinkPort: number;
  /** Whether the uplink also carries the public VLAN (default false). */
  readonly uplinkCarriesPublic?: boolean;
  readonly vlanNamePrefix?: string;
}): DesiredSwitchState {
  const prefix = opts.vlanNamePrefix ?? "pirack";
  const storage = opts.piPorts.map((p) => p.vlan);
  const vlanNames: Record<number, string> = { [opts.publicVlan]: `${prefix}-public` };
  for (const p of opts.piPorts) vlanNames[p.vlan] = `${prefix}-port${p.port}`;
  return {
    vlanNames,
    ports: [
      ...opts.piPorts.map((p): DesiredPort => ({ port: p.port, untaggedVlan: p.vlan, taggedVlans: [opts.publicVlan], pvid: p.vlan, poe: p.poe, otherVlans: "remove" })),
      { port: opts.uplinkPort, taggedVlans: opts.uplinkCarriesPublic ? [...storage, opts.publicVlan] : storage, otherVlans: "keep" },
    ],
  };
}
