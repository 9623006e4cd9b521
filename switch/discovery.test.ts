import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { decodeInventory, readInventory, type DiscoveryTables } from "./discovery.ts";
import { readFdb, readObserved } from "./observe.ts";
import { portsOf } from "./port-list.ts";
import { vendorProfiles } from "./profiles.ts";
import { decodeSnmprec, snmprecReader } from "./snmprec.ts";

const hpWalk = decodeSnmprec(readFileSync(new URL("../test/fixtures/switch/hp-2530-24g-poe.snmprec", import.meta.url), "utf8"));

describe("recorded walk of a real HP 2530-24G-PoE+", () => {
  it("builds the port map: bridge port = ifIndex = PoE index on ports 1-24, SFP ports 25-28 without PoE", async () => {
    const inv = await readInventory(snmprecReader(hpWalk));
    expect(inv.profile).toBe("procurve");
    expect(inv.sysDescr).toMatch(/^HP J9773A 2530-24G-PoEP/);
    expect(inv.ports).toHaveLength(28);
    expect(inv.portListOctets).toBe(16);
    expect(inv.poeProblem).toBeNull();
    expect(inv.ports[0]).toEqual({ bridgePort: 1, ifIndex: 1, ifName: "1", poe: { group: 1, port: 1 } });
    expect(inv.ports[23]).toEqual({ bridgePort: 24, ifIndex: 24, ifName: "24", poe: { group: 1, port: 24 } });
    expect(inv.ports.slice(24).map((p) => [p.bridgePort, p.poe])).toEqual([
      [25, null],
      [26, null],
      [27, null],
      [28, null],
    ]);
  });

  it("reads static VLANs as stored (filler bits kept), empty PVIDs as unknown, PoE and PSE", async () => {
    const reader = snmprecReader(hpWalk);
    const inv = await readInventory(reader);
    const obs = await readObserved(reader, inv, vendorProfiles.procurve, { poe: true });
    expect([...obs.vlans.keys()]).toEqual([1, 160, 161, 162, 163, 174]);
    expect(obs.vlans.get(1)?.egress.toString("hex")).toBe("000000effffffffffffffffff8000000");
    expect(obs.vlans.get(1)?.name).toBe("DEFAULT_VLAN");
    expect(portsOf(obs.vlans.get(174)?.untagged ?? Buffer.alloc(0))).toEqual(Array.from({ length: 24 }, (_, i) => i + 1));
    expect(obs.pvid.get(1)).toBeNull(); // the recording has empty dot1qPvid values
    expect(obs.pvid.get(25)).toBe(1);
    expect(obs.linkUp.get(28)).toBe(true);
    expect(obs.linkUp.get(1)).toBe(false);
    expect(obs.poe.get(1)).toEqual({ port: 1, adminOn: true, detection: "searching", powerClass: null, watts: null });
    expect(obs.pse).toEqual({ budgetWatts: 195, consumptionWatts: 0, operStatus: "on" });
  });

  it("maps FDB ids to VLANs through dot1qVlanFdbId (fdbId 2 is VLAN 160) and drops self entries", async () => {
    const reader = snmprecReader(hpWalk);
    const fdb = await readFdb(reader, await readInventory(reader));
    expect(fdb).toHaveLength(8);
    expect(fdb).toContainEqual({ mac: "14:58:d0:66:d2:e7", vlan: 160, port: 28, ifIndex: 28 });
    expect(fdb).toContainEqual({ mac: "3c:a9:f4:33:bc:14", vlan: 161, port: 28, ifIndex: 28 });
    expect(fdb.some((e) => e.mac === "1c:98:ec:6e:d1:c0")).toBe(false);
  });
});

const tables = (over: Partial<DiscoveryTables>): DiscoveryTables => ({
  sysDescr: "test",
  sysObjectId: "1.3.6.1.4.1.8072.3.2.10",
  basePortIfIndex: new Map([1, 2, 3, 4].map((p) => [p, p])),
  ifName: new Map(),
  poePorts: [1, 2, 3, 4].map((p) => [1, p] as const),
  portListLengths: [1],
  ...over,
});

describe("PoE map", () => {
  const cases: Record<string, { t: Partial<DiscoveryTables>; poe: (number | null)[] | null; problem?: RegExp }> = {
    "all numberings equal": { t: {}, poe: [1, 2, 3, 4] },
    "ifIndex offset (1001...), PSE indexed by bridge port": { t: { basePortIfIndex: new Map([1, 2, 3, 4].map((p) => [p, 1000 + p])) }, poe: [1, 2, 3, 4] },
    "PSE indexed by ifIndex 49153... (JetStream style)": {
      t: { basePortIfIndex: new Map([1, 2, 3, 4].map((p) => [p, 49152 + p])), poePorts: [1, 2, 3, 4].map((p) => [1, 49152 + p] as const) },
      poe: [49153, 49154, 49155, 49156],
    },
    "indexes fit both ifIndex and bridge port differently: ambiguous": {
      t: { basePortIfIndex: new Map([1, 2, 3, 4].map((p) => [p, p + 1])), poePorts: [2, 3, 4].map((p) => [1, p] as const) },
      poe: null,
      problem: /ambiguous/,
    },
    "PSE ports in two groups (a stack)": { t: { poePorts: [[1, 1], [2, 1]] }, poe: null, problem: /2 groups/ },
    "PSE index matching nothing": { t: { poePorts: [[1, 9]] }, poe: null, problem: /neither/ },
    "no PoE table": { t: { poePorts: [] }, poe: null, problem: /no pethPsePortTable/ },
    "fewer PSE ports than ports": { t: { poePorts: [[1, 1], [1, 2]] }, poe: [1, 2, null, null] },
  };
  it.each(Object.entries(cases))("%s", (_name, c) => {
    const inv = decodeInventory(tables(c.t));
    if (c.problem) {
      expect(inv.poeProblem).toMatch(c.problem);
      expect(inv.ports.every((p) => p.poe === null)).toBe(true);
    } else {
      expect(inv.poeProblem).toBeNull();
      expect(inv.ports.map((p) => p.poe?.port ?? null)).toEqual(c.poe);
    }
  });

  it("a profile's fixed mapping wins over auto", () => {
    const t = tables({ basePortIfIndex: new Map([1, 2, 3, 4].map((p) => [p, p + 1])), poePorts: [2, 3, 4].map((p) => [1, p] as const) });
    expect(decodeInventory(t, "procurve").ports.map((p) => p.poe?.port ?? null)).toEqual([2, 3, 4, null]); // by ifIndex
  });

  it("PortList length: the longest static list read, at least enough octets for every port", () => {
    expect(decodeInventory(tables({ portListLengths: [16, 16] })).portListOctets).toBe(16);
    expect(decodeInventory(tables({ portListLengths: [], basePortIfIndex: new Map([[26, 26]]) })).portListOctets).toBe(4);
  });
});

describe("unsupported switches", () => {
  const reader = (objectId: string) => snmprecReader(decodeSnmprec(`1.3.6.1.2.1.1.1.0|4|x\n1.3.6.1.2.1.1.2.0|6|${objectId}\n`));
  const cases: Record<string, [string, RegExp]> = {
    "Cisco IOS": ["1.3.6.1.4.1.9.1.1208", /Cisco IOS.*no Q-BRIDGE writes/],
    "Aruba CX": ["1.3.6.1.4.1.47196.4.1.1.1.100", /Aruba CX/],
    "no BRIDGE-MIB at all": ["1.3.6.1.4.1.8072.3.2.10", /not a Q-BRIDGE switch/],
  };
  it.each(Object.entries(cases))("%s is refused with the reason", async (_name, [oid, message]) => {
    await expect(readInventory(reader(oid))).rejects.toThrow(message);
  });
});

describe(".snmprec codec", () => {
  it("decodes tags, hex values, empty values, and sorts by OID", () => {
    const vbs = decodeSnmprec("1.3.6.1.10|2|5\n1.3.6.1.9|4x|8001\n1.3.6.1.9.1|66|\n# comment\n\n1.3.6.1.2|6|1.3.6.1.4.1\n");
    expect(vbs.map((v) => v.oid)).toEqual(["1.3.6.1.2", "1.3.6.1.9", "1.3.6.1.9.1", "1.3.6.1.10"]);
    expect(vbs[1]?.value).toEqual(Buffer.from([0x80, 0x01]));
    expect(vbs[2]?.value).toBeNull();
    expect(vbs[3]?.value).toBe(5);
  });
  it("names the bad line", () => {
    expect(() => decodeSnmprec("1.3.6.1|2|1\nnonsense\n")).toThrow(/line 2/);
  });
});
