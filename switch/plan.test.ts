import { describe, expect, it } from "vitest";
import { decodeInventory } from "./discovery.ts";
import { describeChange, onePduVarbinds, planSwitch, rackSwitchState, stepwiseSets, createVarbinds, type PlannedVarbind, type SwitchPlan } from "./plan.ts";
import { encodePortList, portsOf } from "./port-list.ts";
import { vendorProfiles } from "./profiles.ts";
import { SimSwitchModel } from "./sim/model.ts";
import { simProfile, type SimProfileName } from "./sim/profiles.ts";
import { applySet } from "./sim/set-rules.ts";
import type { DesiredSwitchState, Inventory, ObservedSwitch, ObservedVlan, PoePortStatus } from "./types.ts";

const E = "1.3.6.1.2.1.17.7.1.4.3.1.2";
const U = "1.3.6.1.2.1.17.7.1.4.3.1.4";
const RS = "1.3.6.1.2.1.17.7.1.4.3.1.5";
const PVID = "1.3.6.1.2.1.17.7.1.4.5.1.1";

/** Inventory and observed state read straight from a simulator model (the fake world of these tests). */
function inventoryOf(m: SimSwitchModel): Inventory {
  return decodeInventory(
    {
      sysDescr: m.profile.sysDescr,
      sysObjectId: m.profile.sysObjectId,
      basePortIfIndex: new Map(m.ports.map((p) => [p.bridgePort, p.ifIndex])),
      ifName: new Map(m.ports.map((p) => [p.ifIndex, p.ifName])),
      poePorts: m.ports.flatMap((p) => (p.poeIndex ? [[p.poeIndex.group, p.poeIndex.port] as const] : [])),
      portListLengths: [m.octets],
    },
    m.profile.name === "procurve" ? "procurve" : "generic",
  );
}
function observedOf(m: SimSwitchModel): ObservedSwitch {
  const vlans = new Map<number, ObservedVlan>([...m.vlans].map(([vid, v]) => [vid, { name: v.name, egress: Buffer.from(v.egress), untagged: Buffer.from(v.untagged), rowStatus: v.rowStatus }]));
  const poe = new Map<number, PoePortStatus>(m.ports.map((p) => [p.bridgePort, { port: p.bridgePort, adminOn: p.poeAdmin, detection: "x", powerClass: null, watts: null }]));
  return { vlans, pvid: new Map(m.ports.map((p) => [p.bridgePort, p.pvid])), linkUp: new Map(), poe, pse: null };
}
const timers = { setTimeout: () => 0, clearTimeout: () => undefined };
const model = (profile: SimProfileName, ports = 24) => new SimSwitchModel({ profile: simProfile(profile), ports, timers });
const seed = rackSwitchState({ piPorts: [{ port: 1, vlan: 10, poe: true }, { port: 2, vlan: 11, poe: true }], publicVlan: 131, uplinkPort: 24 });
const oids = (vbs: readonly PlannedVarbind[]) => vbs.map((v) => v.oid);

describe("planSwitch", () => {
  it("seed rack on a factory-default switch", () => {
    const m = model("generic");
    const plan = planSwitch(seed, observedOf(m), inventoryOf(m));
    expect(plan.creates).toEqual([
      { vid: 10, name: "pirack-port1" },
      { vid: 11, name: "pirack-port2" },
      { vid: 131, name: "pirack-public" },
    ]);
    const lists = Object.fromEntries(plan.lists.map((l) => [l.vid, { egress: portsOf(l.egress.to), untagged: portsOf(l.untagged.to) }]));
    expect(lists[10]).toEqual({ egress: [1, 24], untagged: [1] });
    expect(lists[11]).toEqual({ egress: [2, 24], untagged: [2] });
    expect(lists[131]).toEqual({ egress: [1, 2], untagged: [] });
    expect(lists[1]?.egress).toEqual(Array.from({ length: 22 }, (_, i) => i + 3)); // ports 3-24 stay, 1 and 2 leave
    expect(plan.pvids).toEqual([
      { port: 1, from: 1, to: 10 },
      { port: 2, from: 1, to: 11 },
    ]);
    expect(plan.poe).toEqual([]); // already on
    expect(plan.changes.map(describeChange)).toContain("port 1: leave VLAN 1");
    expect(plan.changes.map(describeChange)).toContain("port 24: tagged member of VLAN 10");
  });

  const poeCases: Record<string, { adminOn: boolean; want: boolean | undefined; planned: boolean }> = {
    "on wanted, off now": { adminOn: false, want: true, planned: true },
    "off wanted, on now": { adminOn: true, want: false, planned: true },
    "on wanted, on now": { adminOn: true, want: true, planned: false },
    "not managed": { adminOn: false, want: undefined, planned: false },
  };
  it.each(Object.entries(poeCases))("PoE: %s", (_n, c) => {
    const m = model("generic");
    const port = m.port(1);
    if (port) port.poeAdmin = c.adminOn;
    const plan = planSwitch({ ports: [{ port: 1, taggedVlans: [], otherVlans: "keep", poe: c.want }] }, observedOf(m), inventoryOf(m));
    expect(plan.poe.length).toBe(c.planned ? 1 : 0);
  });

  const refused: Record<string, { desired: DesiredSwitchState; code: string }> = {
    "unknown port": { desired: { ports: [{ port: 99, taggedVlans: [], otherVlans: "keep" }] }, code: "SWITCH_UNKNOWN_PORT" },
    "port listed twice": { desired: { ports: [1, 1].map((port) => ({ port, taggedVlans: [], otherVlans: "keep" as const })) }, code: "SWITCH_DUPLICATE_PORT" },
    "VLAN 4095": { desired: { ports: [{ port: 1, untaggedVlan: 4095, taggedVlans: [], otherVlans: "remove" }] }, code: "SWITCH_BAD_VLAN" },
    "untagged and tagged at once": { desired: { ports: [{ port: 1, untaggedVlan: 10, taggedVlans: [10], otherVlans: "remove" }] }, code: "SWITCH_BAD_VLAN" },
  };
  it.each(Object.entries(refused))("refuses %s", (_n, c) => {
    const m = model("generic");
    expect(() => planSwitch(c.desired, observedOf(m), inventoryOf(m))).toThrow(expect.objectContaining({ code: c.code }));
  });

  it("refuses PoE on an ambiguous PoE map", () => {
    const m = model("generic");
    const inv = { ...inventoryOf(m), poeProblem: "ambiguous" };
    expect(() => planSwitch({ ports: [{ port: 1, taggedVlans: [], otherVlans: "keep", poe: true }] }, observedOf(m), inv)).toThrow(
      expect.objectContaining({ code: "SWITCH_POE_UNAVAILABLE" }),
    );
  });

  it("VLAN names are cut to the 32 octets of SnmpAdminString", () => {
    const m = model("generic");
    const plan = planSwitch({ ports: [{ port: 1, untaggedVlan: 7, taggedVlans: [], otherVlans: "remove" }], vlanNames: { 7: "x".repeat(40) } }, observedOf(m), inventoryOf(m));
    expect(plan.creates).toEqual([{ vid: 7, name: "x".repeat(32) }]);
  });

  it("the uplink keeps its untagged VLAN, PVID and operator VLANs", () => {
    const m = model("generic");
    m.addVlan(200, "ops", [23, 24], []);
    const plan = planSwitch(seed, observedOf(m), inventoryOf(m));
    expect(plan.lists.find((l) => l.vid === 200)).toBeUndefined();
    expect(plan.pvids.find((p) => p.port === 24)).toBeUndefined();
    const vlan1 = plan.lists.find((l) => l.vid === 1);
    expect(portsOf(vlan1?.untagged.to ?? Buffer.alloc(0))).toContain(24);
  });
});

describe("SET rendering", () => {
  const planFor = (profile: SimProfileName): SwitchPlan => {
    const m = model(profile);
    return planSwitch(seed, observedOf(m), inventoryOf(m));
  };

  it("one PDU: RowStatus createAndGo first, egress before PVID before untagged (generic)", () => {
    const vbs = onePduVarbinds(planFor("generic"), vendorProfiles.generic);
    expect(vbs[0]).toEqual({ oid: `${RS}.10`, type: 2, value: 4 });
    const first = (prefix: string) => oids(vbs).findIndex((o) => o.startsWith(prefix + "."));
    expect(first(E)).toBeLessThan(first(PVID));
    expect(first(PVID)).toBeLessThan(first(U));
    expect(vbs.find((v) => v.oid === `${PVID}.1`)).toEqual({ oid: `${PVID}.1`, type: 66, value: 10 }); // Gauge32
  });

  it("one PDU on AOS-S: PVIDs before the PortLists, lists at the agent's 16-octet length", () => {
    const vbs = onePduVarbinds(planFor("procurve"), vendorProfiles.procurve);
    const first = (prefix: string) => oids(vbs).findIndex((o) => o.startsWith(prefix + "."));
    expect(first(PVID)).toBeLessThan(first(E));
    for (const v of vbs.filter((v) => v.oid.startsWith(E) || v.oid.startsWith(U))) expect((v.value as Buffer).length).toBe(16);
  });

  it("stepwise move of an access port from VLAN A to B follows the strict order", () => {
    const m = model("generic", 8);
    m.addVlan(20, "b", [8], []);
    const plan = planSwitch({ ports: [{ port: 1, untaggedVlan: 20, taggedVlans: [], otherVlans: "remove" }] }, observedOf(m), inventoryOf(m));
    const steps = stepwiseSets(plan).map((s) => s.map((v) => `${v.oid.startsWith(E) ? "egress" : v.oid.startsWith(U) ? "untagged" : "pvid"}.${v.oid.split(".").pop()}=${Buffer.isBuffer(v.value) ? portsOf(v.value).join(",") : v.value}`));
    expect(steps).toEqual([["egress.20=1,8"], ["pvid.1=20"], ["untagged.1=2,3,4,5,6,7,8"], ["untagged.20=1"], ["egress.1=2,3,4,5,6,7,8"]]);
  });

  it("createAndWait is wait, name, active", () => {
    expect(createVarbinds(5, "x", "createAndWait").map((s) => s.map((v) => v.value))).toEqual([[5], [Buffer.from("x")], [1]]);
  });
});

/** Small deterministic PRNG (mulberry32) so the sequence test is reproducible. */
function rng(seedValue: number): () => number {
  let a = seedValue;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Applies a plan like the driver does: one PDU, else the stepwise order; every stepwise SET must be legal. */
function applyToModel(m: SimSwitchModel, desired: DesiredSwitchState, profile: typeof vendorProfiles.generic): boolean {
  const inv = inventoryOf(m);
  const plan = planSwitch(desired, observedOf(m), inv);
  if (plan.creates.length + plan.lists.length + plan.pvids.length === 0) return false;
  if (applySet(m, onePduVarbinds(plan, profile)).status === 0) return false;
  const fresh = planSwitch(desired, observedOf(m), inv);
  for (const c of fresh.creates) {
    if (applySet(m, createVarbinds(c.vid, c.name, "createAndGo")[0] ?? []).status === 0) continue;
    for (const s of createVarbinds(c.vid, c.name, "createAndWait")) expect(applySet(m, s)).toMatchObject({ status: 0 });
  }
  for (const s of stepwiseSets(fresh)) expect(applySet(m, s), JSON.stringify(s.map((v) => v.oid))).toMatchObject({ status: 0 });
  return true;
}

describe("random sequences of desired states against the simulator's SET rules", () => {
  it.each(["generic", "strict", "procurve"] as const)("%s: every state is reached in one round and re-plans empty", (profile) => {
    const rand = rng(0x5eed + profile.length);
    const m = model(profile, 8);
    let stepwise = 0;
    for (let i = 0; i < 60; i++) {
      const pis = [1, 2, 3, 4, 5, 6, 7].filter(() => rand() < 0.6).map((port) => ({ port, vlan: 10 + Math.floor(rand() * 5) }));
      const desired: DesiredSwitchState = {
        ports: [
          ...pis.map((p) => ({ port: p.port, untaggedVlan: p.vlan, taggedVlans: rand() < 0.5 ? [131] : [], otherVlans: "remove" as const })),
          { port: 8, taggedVlans: [...new Set(pis.map((p) => p.vlan))], otherVlans: "keep" as const },
        ],
      };
      if (applyToModel(m, desired, vendorProfiles[profile === "procurve" ? "procurve" : "generic"])) stepwise++;
      const after = planSwitch(desired, observedOf(m), inventoryOf(m));
      expect(after.changes.map(describeChange), `iteration ${i}`).toEqual([]);
      for (const p of pis) expect(portsOf(m.vlans.get(p.vlan)?.untagged ?? encodePortList([], 1))).toContain(p.port);
    }
    if (profile === "strict") expect(stepwise).toBeGreaterThan(0);
  });
});

/**
 * The planner before it indexed ports by VLAN (every desired port visited for every VLAN, ports x VLANs): its
 * VLAN-list part, kept as the reference the indexed planner must agree with exactly.
 */
function referenceLists(desired: DesiredSwitchState, observed: ObservedSwitch, octets: number) {
  const vlansOf = (d: DesiredSwitchState["ports"][number]) => [...(typeof d.untaggedVlan === "number" ? [d.untaggedVlan] : []), ...d.taggedVlans];
  const has = (l: Buffer, p: number) => portsOf(l).includes(p);
  const changes: unknown[] = [];
  const lists: unknown[] = [];
  const vids = new Set<number>([...observed.vlans.keys(), ...desired.ports.flatMap(vlansOf)]);
  for (const vid of [...vids].sort((a, b) => a - b)) {
    const obs = observed.vlans.get(vid);
    const fromE = obs?.egress.length ? obs.egress : Buffer.alloc(octets);
    const fromU = obs?.untagged.length ? obs.untagged : Buffer.alloc(fromE.length);
    const e = new Set(portsOf(fromE));
    const u = new Set(portsOf(fromU));
    for (const d of desired.ports) {
      const p = d.port;
      const wasMember = has(fromE, p);
      const wasUntagged = wasMember && has(fromU, p);
      const member = vlansOf(d).includes(vid) || (d.otherVlans === "keep" && wasMember);
      const untagged = member && (d.untaggedVlan === undefined ? wasUntagged && !d.taggedVlans.includes(vid) : d.untaggedVlan === vid);
      if (member) e.add(p);
      else e.delete(p);
      if (untagged) u.add(p);
      else u.delete(p);
      if (member && (!wasMember || untagged !== wasUntagged)) changes.push({ kind: "join", port: p, vid, tagged: !untagged });
      else if (!member && wasMember) changes.push({ kind: "leave", port: p, vid });
    }
    const toE = encodePortList(e, fromE.length);
    const toU = encodePortList(u, fromU.length);
    if (!toE.equals(fromE) || !toU.equals(fromU)) lists.push({ vid, egress: { from: fromE, to: toE }, untagged: { from: fromU, to: toU } });
  }
  return { changes, lists };
}

describe("planSwitch on racks of many ports", () => {
  it.each([1, 2, 3, 4, 5, 6])("agrees with the per-port reference on a random switch state (seed %i)", (seed) => {
    let x = seed * 7919;
    const rnd = (n: number) => ((x = (x * 1103515245 + 12345) % 2 ** 31), x % n);
    const m = model("generic", 48);
    // VLANs already on the switch, some ours, some not, with random members (untagged bits sometimes without egress).
    for (let vid = 2; vid < 40; vid++) {
      if (rnd(3) === 0) continue;
      const members = Array.from({ length: 48 }, (_, i) => i + 1).filter(() => rnd(4) === 0);
      m.addVlan(vid, `v${vid}`, members, members.filter(() => rnd(2) === 0).concat(rnd(5) === 0 ? [rnd(48) + 1] : []));
    }
    const piPorts = Array.from({ length: 40 }, (_, i) => i + 1).filter(() => rnd(5) !== 0).map((port) => ({ port, vlan: port + 1 }));
    const desired = rackSwitchState({ piPorts, publicVlan: 45, uplinkPort: 48 });
    const plan = planSwitch(desired, observedOf(m), inventoryOf(m));
    const ref = referenceLists(desired, observedOf(m), m.octets);
    expect(plan.lists).toEqual(ref.lists);
    expect(plan.changes.filter((c) => c.kind === "join" || c.kind === "leave")).toEqual(ref.changes);
  });
});
