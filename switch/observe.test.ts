import { describe, expect, it } from "vitest";
import { decodeInventory } from "./discovery.ts";
import { readPoe, readPse } from "./observe.ts";
import { vendorProfiles } from "./profiles.ts";
import { decodeSnmprec, snmprecReader } from "./snmprec.ts";

const pse = (consumption: number) => snmprecReader(decodeSnmprec(`1.3.6.1.2.1.105.1.3.1.1.2.1|66|370\n1.3.6.1.2.1.105.1.3.1.1.3.1|2|1\n1.3.6.1.2.1.105.1.3.1.1.4.1|66|${consumption}\n`));

describe("PSE power units", () => {
  const cases: Record<string, { profile: keyof typeof vendorProfiles; raw: number; watts: number }> = {
    "RFC 3621 watts": { profile: "generic", raw: 42, watts: 42 },
    "Netgear milliwatts": { profile: "netgear", raw: 12345, watts: 12.345 },
  };
  it.each(Object.entries(cases))("%s", async (_n, c) => {
    expect(await readPse(pse(c.raw), vendorProfiles[c.profile])).toEqual({ budgetWatts: 370, consumptionWatts: c.watts, operStatus: "on" });
  });
  it("no PSE table: null", async () => {
    expect(await readPse(snmprecReader([]), vendorProfiles.generic)).toBeNull();
  });
});

describe("per-port PoE", () => {
  const inv = decodeInventory(
    {
      sysDescr: "",
      sysObjectId: "1.3.6.1.4.1.11.2.3.7.11.137",
      basePortIfIndex: new Map([
        [1, 1],
        [2, 2],
      ]),
      ifName: new Map(),
      poePorts: [
        [1, 1],
        [1, 2],
      ],
      portListLengths: [16],
    },
    "procurve",
  );
  const reader = snmprecReader(
    decodeSnmprec(
      [
        "1.3.6.1.2.1.105.1.1.1.3.1.1|2|1",
        "1.3.6.1.2.1.105.1.1.1.3.1.2|2|2",
        "1.3.6.1.2.1.105.1.1.1.6.1.1|2|3",
        "1.3.6.1.2.1.105.1.1.1.6.1.2|2|1",
        "1.3.6.1.2.1.105.1.1.1.10.1.1|2|5",
        "1.3.6.1.2.1.105.1.1.1.10.1.2|2|1",
        "1.3.6.1.4.1.11.2.14.11.1.9.1.1.1.3.1.1|66|4200",
      ].join("\n"),
    ),
  );
  it("class only while delivering (class4 = 5 on the wire), HP watts from mW", async () => {
    const poe = await readPoe(reader, inv, vendorProfiles.procurve);
    expect(poe.get(1)).toEqual({ port: 1, adminOn: true, detection: "deliveringPower", powerClass: 4, watts: 4.2 });
    expect(poe.get(2)).toEqual({ port: 2, adminOn: false, detection: "disabled", powerClass: null, watts: null });
  });
});
