import { describe, expect, it } from "vitest";
import { encodePortList } from "./port-list.ts";
import { renderApplyResult, renderSwitchShow, switchShowRows } from "./show.ts";
import type { Inventory, ObservedSwitch } from "./types.ts";

const inv: Inventory = {
  sysDescr: "t",
  sysObjectId: "1.3",
  profile: "generic",
  portListOctets: 1,
  poeProblem: null,
  ports: [1, 2, 8].map((p) => ({ bridgePort: p, ifIndex: 1000 + p, ifName: `ge-0/0/${p}`, poe: p === 8 ? null : { group: 1, port: p } })),
};
const obs: ObservedSwitch = {
  vlans: new Map([
    [10, { name: "a", egress: encodePortList([1, 8], 1), untagged: encodePortList([1], 1), rowStatus: 1 }],
    [131, { name: "p", egress: encodePortList([1, 2], 1), untagged: encodePortList([], 1), rowStatus: 1 }],
  ]),
  pvid: new Map([
    [1, 10],
    [2, null],
    [8, 1],
  ]),
  linkUp: new Map([[1, true]]),
  poe: new Map([
    [1, { port: 1, adminOn: true, detection: "deliveringPower", powerClass: 4, watts: 5.137 }],
    [2, { port: 2, adminOn: false, detection: "disabled", powerClass: null, watts: null }],
  ]),
  pse: { budgetWatts: 195, consumptionWatts: 5, operStatus: "on" },
};

describe("switch show", () => {
  it("one row per port with VLANs, PVID, link, PoE and watts", () => {
    const rows = switchShowRows(inv, obs);
    expect(rows[0]).toEqual({ port: 1, ifIndex: 1001, ifName: "ge-0/0/1", untaggedVlans: [10], taggedVlans: [131], pvid: 10, link: "up", poe: "deliveringPower", powerClass: 4, watts: 5.137 });
    expect(rows[1]).toMatchObject({ port: 2, untaggedVlans: [], taggedVlans: [131], pvid: null, link: "down", poe: "off" });
    expect(rows[2]).toMatchObject({ port: 8, taggedVlans: [10], poe: null });
    expect(switchShowRows(inv, obs, [2]).map((r) => r.port)).toEqual([2]);
  });

  it("renders a table", () => {
    expect(renderSwitchShow(switchShowRows(inv, obs), obs)).toBe(
      [
        "PORT  NAME      UNTAGGED  TAGGED  PVID  LINK  POE              CLASS  WATTS",
        "1     ge-0/0/1  10        131     10    up    deliveringPower  4      5.1",
        "2     ge-0/0/2  -         131     -     down  off              -      -",
        "8     ge-0/0/8  -         10      1     down  -                -      -",
        "",
        "PoE: 5 W of 195 W used, PSE on",
        "",
      ].join("\n"),
    );
  });

  it("renders apply results", () => {
    expect(renderApplyResult({ changes: [], setRequests: 0, rounds: 0, usedStepwise: false })).toBe("switch already in the desired state\n");
    expect(renderApplyResult({ changes: [{ kind: "pvid", port: 1, from: 1, to: 10 }], setRequests: 1, rounds: 1, usedStepwise: true })).toBe(
      "port 1: PVID 1 -> 10\n1 SET request(s), 1 write round(s), stepwise order\n",
    );
  });
});
