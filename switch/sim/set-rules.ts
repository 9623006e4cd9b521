/**
 * SET semantics of the simulated switch: applies a SET PDU to a draft copy of the state, checks the rules a
 * strict Q-BRIDGE agent enforces (reference/switch-snmp.md §1.3-1.5) per PDU or per varbind as the profile
 * says, and commits only when every varbind is acceptable (no partial SETs).
 */
import { hasPort, withPort } from "../port-list.ts";
import { oidSuffix, PoeMib, QBridge, RowStatus, Truth } from "../oids.ts";
import type { SimSwitchModel, SimVlan } from "./model.ts";

/** SNMPv2 error-status values (RFC 3416 §3). */
export const SetError = {
  noError: 0,
  genErr: 5,
  noAccess: 6,
  wrongType: 7,
  wrongLength: 8,
  wrongValue: 10,
  noCreation: 11,
  inconsistentValue: 12,
  commitFailed: 14,
  notWritable: 17,
} as const;

/** BER tags of the value types a SET may carry. */
const Tag = { integer: 2, octetString: 4, gauge: 66 } as const;

/** One varbind of a SET request. */
export interface SetVarbind {
  readonly oid: string;
  readonly type: number;
  readonly value: unknown;
}

/** Outcome of a SET: errorStatus and 1-based errorIndex (0 when accepted). */
export interface SetOutcome {
  readonly status: number;
  readonly index: number;
  readonly reason?: string;
}

interface Draft {
  vlans: Map<number, SimVlan>;
  pvid: Map<number, number>;
  poe: Map<number, boolean>;
}

class Reject extends Error {
  constructor(
    readonly status: number,
    reason: string,
  ) {
    super(reason);
  }
}

const cloneVlan = (v: SimVlan): SimVlan => ({ ...v, egress: Buffer.from(v.egress), untagged: Buffer.from(v.untagged), forbidden: Buffer.from(v.forbidden) });

/** Applies `varbinds` to `model` atomically, or returns why not. `commit: false` only tests. */
export function applySet(model: SimSwitchModel, varbinds: readonly SetVarbind[], commit = true): SetOutcome {
  const draft: Draft = {
    vlans: new Map([...model.vlans].map(([vid, v]) => [vid, cloneVlan(v)])),
    pvid: new Map(model.ports.map((p) => [p.bridgePort, p.pvid])),
    poe: new Map(model.ports.map((p) => [p.bridgePort, p.poeAdmin])),
  };
  for (let i = 0; i < varbinds.length; i++) {
    const vb = varbinds[i] as SetVarbind;
    try {
      applyOne(model, draft, vb);
      if (model.profile.validate === "varbind") check(model, draft);
    } catch (err) {
      if (err instanceof Reject) return { status: err.status, index: i + 1, reason: err.message };
      throw err;
    }
  }
  if (model.profile.validate === "pdu") {
    try {
      check(model, draft);
    } catch (err) {
      if (err instanceof Reject) return { status: err.status, index: varbinds.length, reason: err.message };
      throw err;
    }
  }
  if (commit) commitDraft(model, draft);
  return { status: SetError.noError, index: 0 };
}

function commitDraft(model: SimSwitchModel, draft: Draft): void {
  model.vlans.clear();
  for (const [vid, v] of [...draft.vlans].sort(([a], [b]) => a - b)) model.vlans.set(vid, v);
  for (const port of model.ports) {
    port.pvid = draft.pvid.get(port.bridgePort) ?? port.pvid;
    model.setPoeAdmin(port, draft.poe.get(port.bridgePort) ?? port.poeAdmin);
  }
  model.touch();
}

function applyOne(model: SimSwitchModel, draft: Draft, vb: SetVarbind): void {
  const staticCell = oidSuffix(vb.oid, QBridge.dot1qVlanStaticTable + ".1");
  if (staticCell !== null) return applyStatic(model, draft, vb, staticCell);
  const pvidIndex = oidSuffix(vb.oid, QBridge.dot1qPvid);
  if (pvidIndex !== null) return applyPvid(model, draft, vb, Number(pvidIndex));
  const poeIndex = oidSuffix(vb.oid, PoeMib.pethPsePortAdminEnable);
  if (poeIndex !== null) return applyPoe(model, draft, vb, poeIndex);
  throw new Reject(SetError.notWritable, `${vb.oid} is not writable`);
}

function applyStatic(model: SimSwitchModel, draft: Draft, vb: SetVarbind, cell: string): void {
  const [columnText, vidText, ...rest] = cell.split(".");
  const column = Number(columnText);
  const vid = Number(vidText);
  if (rest.length || !Number.isInteger(vid) || vid < 1 || vid > 4094) throw new Reject(SetError.noCreation, `no VLAN row at ${vb.oid}`);
  const row = draft.vlans.get(vid);
  if (column === 5) return applyRowStatus(model, draft, vb, vid, row);
  if (!row) throw new Reject(SetError.noCreation, `VLAN ${vid} does not exist`);
  if (column === 1) {
    if (vb.type !== Tag.octetString) throw new Reject(SetError.wrongType, "dot1qVlanStaticName is an OCTET STRING");
    const name = Buffer.from(vb.value as Buffer);
    if (name.length > 32) throw new Reject(SetError.wrongLength, `name of ${name.length} octets exceeds 32`);
    row.name = name.toString("utf8");
    return;
  }
  if (column < 2 || column > 4) throw new Reject(SetError.notWritable, `${vb.oid} is not writable`);
  if (vb.type !== Tag.octetString || !Buffer.isBuffer(vb.value)) throw new Reject(SetError.wrongType, "PortList is an OCTET STRING");
  const list = portList(model, vb.value);
  if (column === 2) row.egress = list;
  else if (column === 3) row.forbidden = list;
  else row.untagged = list;
}

function portList(model: SimSwitchModel, value: Buffer): Buffer {
  if (value.length === model.octets) return Buffer.from(value);
  if (model.profile.exactPortListLength || value.length > model.octets) {
    throw new Reject(SetError.wrongLength, `PortList of ${value.length} octets, agent uses ${model.octets}`);
  }
  // Lenient agents accept a shorter list and treat the missing octets as zero.
  return Buffer.concat([value, Buffer.alloc(model.octets - value.length)]);
}

function applyRowStatus(model: SimSwitchModel, draft: Draft, vb: SetVarbind, vid: number, row: SimVlan | undefined): void {
  if (vb.type !== Tag.integer) throw new Reject(SetError.wrongType, "RowStatus is an INTEGER");
  const action = Number(vb.value);
  if (action === RowStatus.createAndGo || action === RowStatus.createAndWait) {
    const name = action === RowStatus.createAndGo ? "createAndGo" : "createAndWait";
    if (row) throw new Reject(SetError.inconsistentValue, `VLAN ${vid} exists, ${name} refused (RFC 2579)`);
    if (!model.profile.rowCreate.includes(name)) throw new Reject(SetError.wrongValue, `${name} not supported by this agent`);
    draft.vlans.set(vid, {
      name: "",
      egress: Buffer.alloc(model.octets),
      untagged: Buffer.alloc(model.octets),
      forbidden: Buffer.alloc(model.octets),
      rowStatus: action === RowStatus.createAndGo ? RowStatus.active : RowStatus.notInService,
      fdbId: model.allocateFdbId(vid),
    });
    return;
  }
  if (!row) throw new Reject(SetError.inconsistentValue, `VLAN ${vid} does not exist`);
  if (action === RowStatus.active || action === RowStatus.notInService) {
    row.rowStatus = action;
    return;
  }
  if (action === RowStatus.destroy) {
    if (vid === 1) throw new Reject(SetError.wrongValue, "the default VLAN cannot be deleted");
    draft.vlans.delete(vid);
    return;
  }
  throw new Reject(SetError.wrongValue, `RowStatus ${action} is not a valid action`);
}

function applyPvid(model: SimSwitchModel, draft: Draft, vb: SetVarbind, bridgePort: number): void {
  if (!model.port(bridgePort)) throw new Reject(SetError.noCreation, `bridge port ${bridgePort} does not exist`);
  // dot1qPvid is VlanIndex = Unsigned32 (RFC 4363); Integer is refused like snmpd-based agents do.
  if (vb.type !== Tag.gauge) throw new Reject(SetError.wrongType, "dot1qPvid is Unsigned32");
  const vid = Number(vb.value);
  const target = draft.vlans.get(vid);
  if (!target) throw new Reject(SetError.inconsistentValue, `PVID ${vid}: no such VLAN`);
  const old = draft.pvid.get(bridgePort) ?? 1;
  draft.pvid.set(bridgePort, vid);
  if (model.profile.pvidMovesUntagged && old !== vid) {
    // AOS-S: the port becomes an untagged member of the new VLAN; the old native VLAN keeps it *tagged*.
    target.egress = withPort(target.egress, bridgePort, true);
    target.untagged = withPort(target.untagged, bridgePort, true);
    const previous = draft.vlans.get(old);
    if (previous) {
      previous.untagged = withPort(previous.untagged, bridgePort, false);
      previous.egress = withPort(previous.egress, bridgePort, true);
    }
  }
}

function applyPoe(model: SimSwitchModel, draft: Draft, vb: SetVarbind, index: string): void {
  const port = model.ports.find((p) => p.poeIndex && `${p.poeIndex.group}.${p.poeIndex.port}` === index);
  if (!port) throw new Reject(SetError.noCreation, `no PSE port ${index}`);
  if (vb.type !== Tag.integer) throw new Reject(SetError.wrongType, "pethPsePortAdminEnable is a TruthValue");
  const v = Number(vb.value);
  if (v !== Truth.true && v !== Truth.false) throw new Reject(SetError.wrongValue, `TruthValue ${v}`);
  draft.poe.set(port.bridgePort, v === Truth.true);
}

/** The strict-agent rules, checked on real ports only (filler bits past the last port are ignored). */
function check(model: SimSwitchModel, draft: Draft): void {
  const untaggedIn = new Map<number, number>();
  for (const [vid, v] of draft.vlans) {
    for (const port of model.ports) {
      const p = port.bridgePort;
      if (hasPort(v.untagged, p) && !hasPort(v.egress, p)) throw new Reject(SetError.inconsistentValue, `VLAN ${vid}: port ${p} untagged but not a member`);
      if (hasPort(v.forbidden, p) && hasPort(v.egress, p)) throw new Reject(SetError.inconsistentValue, `VLAN ${vid}: port ${p} both member and forbidden`);
      if (hasPort(v.untagged, p)) {
        const other = untaggedIn.get(p);
        if (other !== undefined) throw new Reject(SetError.inconsistentValue, `port ${p} untagged in VLANs ${other} and ${vid}`);
        untaggedIn.set(p, vid);
      }
    }
  }
  for (const [p, vid] of draft.pvid) {
    const v = draft.vlans.get(vid);
    if (!v) throw new Reject(SetError.inconsistentValue, `port ${p}: PVID ${vid} names a deleted VLAN`);
    if (!hasPort(v.egress, p)) throw new Reject(SetError.inconsistentValue, `port ${p}: PVID ${vid} but not a member of it`);
  }
}
