import { describe, expect, it } from "vitest";
import { SimSwitchModel } from "./model.ts";
import { simProfile, type SimProfileName } from "./profiles.ts";
import { applySet, SetError, type SetVarbind } from "./set-rules.ts";
import { portsOf } from "../port-list.ts";

const timers = { setTimeout: () => 0, clearTimeout: () => undefined };
const model = (profile: SimProfileName) => new SimSwitchModel({ profile: simProfile(profile), ports: 8, timers });
const E = (vid: number, hex: string): SetVarbind => ({ oid: `1.3.6.1.2.1.17.7.1.4.3.1.2.${vid}`, type: 4, value: Buffer.from(hex, "hex") });
const U = (vid: number, hex: string): SetVarbind => ({ oid: `1.3.6.1.2.1.17.7.1.4.3.1.4.${vid}`, type: 4, value: Buffer.from(hex, "hex") });
const RS = (vid: number, v: number): SetVarbind => ({ oid: `1.3.6.1.2.1.17.7.1.4.3.1.5.${vid}`, type: 2, value: v });
const PVID = (port: number, vid: number, type = 66): SetVarbind => ({ oid: `1.3.6.1.2.1.17.7.1.4.5.1.1.${port}`, type, value: vid });
const POE = (port: number, v: number): SetVarbind => ({ oid: `1.3.6.1.2.1.105.1.1.1.3.1.${port}`, type: 2, value: v });

// Moving port 1 from VLAN 1 to VLAN 20 in one PDU (reference §1.5 steps 1-5).
const moveInOnePdu = [RS(20, 4), E(20, "80"), PVID(1, 20), U(1, "7f"), U(20, "80"), E(1, "7f")];

describe("simulator SET rules", () => {
  const cases: Record<string, { profile: SimProfileName; varbinds: SetVarbind[]; status: keyof typeof SetError; index?: number }> = {
    "createAndGo with members in one PDU": { profile: "generic", varbinds: [RS(20, 4), E(20, "01")], status: "noError" },
    "createAndGo on an existing row": { profile: "generic", varbinds: [RS(1, 4)], status: "inconsistentValue" },
    "createAndGo on an agent that only has createAndWait": { profile: "strict", varbinds: [RS(20, 4)], status: "wrongValue" },
    "destroy the default VLAN": { profile: "generic", varbinds: [RS(1, 6)], status: "wrongValue" },
    "column of a missing row": { profile: "generic", varbinds: [E(30, "01")], status: "noCreation" },
    "PVID as Integer": { profile: "generic", varbinds: [PVID(1, 1, 2)], status: "wrongType" },
    "PVID naming a missing VLAN": { profile: "generic", varbinds: [PVID(1, 99)], status: "inconsistentValue" },
    "untagged before egress": { profile: "generic", varbinds: [RS(20, 4), U(20, "01")], status: "inconsistentValue" },
    "a port untagged in two VLANs": { profile: "generic", varbinds: [RS(20, 4), E(20, "01"), U(20, "01")], status: "inconsistentValue" },
    "short PortList on a strict agent": { profile: "strict", varbinds: [E(1, "")], status: "wrongLength" },
    "PortList too long": { profile: "generic", varbinds: [E(1, "ffff")], status: "wrongLength" },
    "PoE TruthValue 3": { profile: "generic", varbinds: [POE(1, 3)], status: "wrongValue" },
    "read-only column": { profile: "generic", varbinds: [{ oid: "1.3.6.1.2.1.105.1.1.1.6.1.1", type: 2, value: 1 }], status: "notWritable" },
    "A->B move in one PDU, whole-PDU agent": { profile: "generic", varbinds: moveInOnePdu, status: "noError" },
    "A->B move in the legal order, per-varbind agent": { profile: "strict", varbinds: [RS(20, 5), ...moveInOnePdu.slice(1)], status: "noError" },
    "untagged in B before leaving A, whole-PDU agent": { profile: "generic", varbinds: [RS(20, 4), E(20, "80"), U(20, "80"), PVID(1, 20), U(1, "7f"), E(1, "7f")], status: "noError" },
    "untagged in B before leaving A, per-varbind agent": { profile: "strict", varbinds: [RS(20, 5), E(20, "80"), U(20, "80"), PVID(1, 20), U(1, "7f"), E(1, "7f")], status: "inconsistentValue", index: 3 },
  };
  it.each(Object.entries(cases))("%s", (_n, c) => {
    const m = model(c.profile);
    const before = JSON.stringify([...m.vlans].map(([vid, v]) => [vid, v.egress.toString("hex"), v.untagged.toString("hex")]));
    const out = applySet(m, c.varbinds);
    expect(out.status).toBe(SetError[c.status]);
    if (c.index) expect(out.index).toBe(c.index);
    if (c.status !== "noError") {
      // Refused SETs leave nothing behind, not even a created row.
      expect(JSON.stringify([...m.vlans].map(([vid, v]) => [vid, v.egress.toString("hex"), v.untagged.toString("hex")]))).toBe(before);
    }
  });

  it("procurve: a PVID change leaves the old VLAN as a tagged member", () => {
    const m = model("procurve");
    expect(applySet(m, [RS(20, 4), PVID(1, 20)]).status).toBe(0);
    expect(portsOf(m.vlans.get(20)?.untagged ?? Buffer.alloc(0))).toEqual([1]);
    expect(portsOf(m.vlans.get(1)?.egress ?? Buffer.alloc(0))).toContain(1);
    expect(portsOf(m.vlans.get(1)?.untagged ?? Buffer.alloc(0))).not.toContain(1);
  });

  it("PoE off drops the Pi's link, on brings power, link and the FDB entry back", () => {
    const pending: (() => void)[] = [];
    const m = new SimSwitchModel({ profile: simProfile("generic"), ports: 4, timers: { setTimeout: (fn) => pending.push(fn), clearTimeout: () => undefined } });
    const events: string[] = [];
    m.on("event", (e) => events.push(e.kind === "link" ? `link ${e.up}` : e.kind === "poe" ? `poe ${e.detection}` : `${e.kind}`));
    applySet(m, [POE(1, 2)]);
    while (pending.length) pending.shift()?.();
    applySet(m, [POE(1, 1)]);
    while (pending.length) pending.shift()?.();
    expect(events).toEqual(["poe 1", "link false", "fdb", "poe 2", "poe 3", "link true", "fdb"]);
  });
});
