/**
 * The simulated switch's MIB view: projects the model onto the OIDs a real switch serves (system, IF-MIB,
 * BRIDGE-MIB, Q-BRIDGE-MIB, POWER-ETHERNET-MIB, HP-ICF-POE-MIB on the procurve profile), sorted for
 * GETNEXT/GETBULK in lexicographic OID order (RFC 3416 §4.2.2).
 */
import { BridgeMib, compareOid, HpIcfPoe, IfMib, oidParts, PoeMib, QBridge, System } from "../oids.ts";

export { compareOid, oidParts };
import type { SimSwitchModel } from "./model.ts";

/** BER tags used in the view. */
export const ValueTag = { integer: 2, octetString: 4, oid: 6, counter: 65, gauge: 66, timeTicks: 67 } as const;

/** One instance in the view. */
export interface ViewEntry {
  readonly oid: string;
  readonly parts: readonly number[];
  readonly type: number;
  readonly value: unknown;
}


const macBytes = (mac: string): Buffer => Buffer.from(mac.replace(/:/g, ""), "hex");
const macIndex = (mac: string): string => [...macBytes(mac)].join(".");

/** Builds the sorted view of `model`. */
export function buildView(model: SimSwitchModel): ViewEntry[] {
  const out: [string, number, unknown][] = [];
  const add = (oid: string, type: number, value: unknown): void => void out.push([oid, type, value]);
  const { integer, octetString, oid, gauge, timeTicks } = ValueTag;

  add(System.sysDescr, octetString, Buffer.from(model.profile.sysDescr));
  add(System.sysObjectId, oid, model.profile.sysObjectId);
  add(System.sysUpTime, timeTicks, model.uptimeTicks());
  add(System.sysName, octetString, Buffer.from(`sim-${model.profile.name}`));

  add("1.3.6.1.2.1.2.1.0", integer, model.ports.length); // ifNumber
  for (const p of model.ports) {
    const i = p.ifIndex;
    add(`1.3.6.1.2.1.2.2.1.1.${i}`, integer, i);
    add(`${IfMib.ifDescr}.${i}`, octetString, Buffer.from(`port ${p.bridgePort}`));
    add(`${IfMib.ifType}.${i}`, integer, 6); // ethernetCsmacd
    add(`1.3.6.1.2.1.2.2.1.5.${i}`, gauge, p.linkUp ? 1_000_000_000 : 0);
    add(`${IfMib.ifPhysAddress}.${i}`, octetString, macBytes(p.mac));
    add(`${IfMib.ifAdminStatus}.${i}`, integer, 1);
    add(`${IfMib.ifOperStatus}.${i}`, integer, p.linkUp ? 1 : 2);
    add(`1.3.6.1.2.1.2.2.1.9.${i}`, timeTicks, p.lastChangeTicks);
    add(`${IfMib.ifName}.${i}`, octetString, Buffer.from(p.ifName));
    add(`${IfMib.ifHighSpeed}.${i}`, gauge, p.linkUp ? 1000 : 0);
    add(`${IfMib.ifAlias}.${i}`, octetString, Buffer.alloc(0));
  }

  add(BridgeMib.dot1dBaseBridgeAddress, octetString, macBytes(model.bridgeMac));
  add(BridgeMib.dot1dBaseNumPorts, integer, model.ports.length);
  add("1.3.6.1.2.1.17.1.3.0", integer, 2); // dot1dBaseType transparent-only
  for (const p of model.ports) {
    add(`1.3.6.1.2.1.17.1.4.1.1.${p.bridgePort}`, integer, p.bridgePort);
    add(`${BridgeMib.dot1dBasePortIfIndex}.${p.bridgePort}`, integer, p.ifIndex);
  }

  add("1.3.6.1.2.1.17.7.1.1.1.0", integer, 1); // dot1qVlanVersionNumber
  add("1.3.6.1.2.1.17.7.1.1.2.0", integer, 4094); // dot1qMaxVlanId
  add("1.3.6.1.2.1.17.7.1.1.3.0", gauge, 512); // dot1qMaxSupportedVlans
  add("1.3.6.1.2.1.17.7.1.1.4.0", gauge, model.vlans.size); // dot1qNumVlans
  for (const e of model.fdb.values()) {
    add(`${QBridge.dot1qTpFdbPort}.${e.fdbId}.${macIndex(e.mac)}`, integer, e.port);
    add(`${QBridge.dot1qTpFdbStatus}.${e.fdbId}.${macIndex(e.mac)}`, integer, e.status);
  }
  for (const [vid, v] of model.vlans) {
    // Current table = static table here (no GVRP); time mark 0.
    add(`${QBridge.dot1qVlanFdbId}.0.${vid}`, gauge, v.fdbId);
    add(`1.3.6.1.2.1.17.7.1.4.2.1.4.0.${vid}`, octetString, Buffer.from(v.egress));
    add(`1.3.6.1.2.1.17.7.1.4.2.1.5.0.${vid}`, octetString, Buffer.from(v.untagged));
    add(`1.3.6.1.2.1.17.7.1.4.2.1.6.0.${vid}`, integer, 2); // permanent
    add(`${QBridge.dot1qVlanStaticName}.${vid}`, octetString, Buffer.from(v.name));
    add(`${QBridge.dot1qVlanStaticEgressPorts}.${vid}`, octetString, Buffer.from(v.egress));
    add(`${QBridge.dot1qVlanForbiddenEgressPorts}.${vid}`, octetString, Buffer.from(v.forbidden));
    add(`${QBridge.dot1qVlanStaticUntaggedPorts}.${vid}`, octetString, Buffer.from(v.untagged));
    add(`${QBridge.dot1qVlanStaticRowStatus}.${vid}`, integer, v.rowStatus);
  }
  for (const p of model.ports) {
    add(`${QBridge.dot1qPvid}.${p.bridgePort}`, gauge, p.pvid);
    add(`1.3.6.1.2.1.17.7.1.4.5.1.2.${p.bridgePort}`, integer, 1); // admitAll
    add(`1.3.6.1.2.1.17.7.1.4.5.1.3.${p.bridgePort}`, integer, 2); // ingress filtering false
  }

  for (const p of model.ports) {
    if (!p.poeIndex) continue;
    const i = `${p.poeIndex.group}.${p.poeIndex.port}`;
    add(`${PoeMib.pethPsePortAdminEnable}.${i}`, integer, p.poeAdmin ? 1 : 2);
    add(`1.3.6.1.2.1.105.1.1.1.4.${i}`, integer, 2); // PowerPairsControlAbility false
    add(`1.3.6.1.2.1.105.1.1.1.5.${i}`, integer, 1); // signal pairs
    add(`${PoeMib.pethPsePortDetectionStatus}.${i}`, integer, p.detection);
    add(`1.3.6.1.2.1.105.1.1.1.7.${i}`, integer, 3); // priority low
    add(`${PoeMib.pethPsePortPowerClassifications}.${i}`, integer, p.powerClass);
  }
  const consumed = model.ports.reduce((w, p) => w + p.milliwatts, 0);
  add(`${PoeMib.pethMainPsePower}.1`, gauge, model.profile.pseBudgetWatts);
  add(`${PoeMib.pethMainPseOperStatus}.1`, integer, 1);
  add(`${PoeMib.pethMainPseConsumptionPower}.1`, gauge, Math.round(consumed / 1000));
  add("1.3.6.1.2.1.105.1.3.1.1.5.1", integer, 80); // usage threshold %
  if (model.profile.perPortMilliwatts) {
    for (const p of model.ports) {
      if (p.poeIndex) add(`${HpIcfPoe.hpicfPoePethPsePortPower}.${p.poeIndex.group}.${p.poeIndex.port}`, gauge, p.milliwatts);
    }
  }

  return out
    .map(([o, type, value]) => ({ oid: o, parts: oidParts(o), type, value }))
    .sort((a, b) => compareOid(a.parts, b.parts));
}

/** Index of the first entry strictly after `parts`, or `view.length`. */
export function nextIndex(view: readonly ViewEntry[], parts: readonly number[]): number {
  let lo = 0;
  let hi = view.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (compareOid((view[mid] as ViewEntry).parts, parts) <= 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
