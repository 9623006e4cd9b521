import { describe, expect, it } from "vitest";
import type { SwitchPlan } from "../../switch/index.ts";
import type { DesiredSwitchState } from "../../switch/types.ts";
import { describePortChanges, switchActions, withPowerOverrides } from "./switch-state.ts";

const desired: DesiredSwitchState = {
  vlanNames: new Map([[11, "pi02"]]),
  ports: [
    { port: 2, untaggedVlan: 11, taggedVlans: [131], pvid: 11, poe: true },
    { port: 3, untaggedVlan: 12, taggedVlans: [131], pvid: 12, poe: true },
  ],
} as unknown as DesiredSwitchState;

const plan = (changes: SwitchPlan["changes"]): SwitchPlan => ({ changes, creates: [], activations: [], lists: [], pvids: [], poe: [] });

describe("switch actions", () => {
  it("lists VLAN rows first, then one action per port in port order, in words", () => {
    const actions = switchActions(
      plan([
        { kind: "join", port: 3, vid: 12, tagged: false },
        { kind: "createVlan", vid: 11, name: "pi02" },
        { kind: "join", port: 2, vid: 11, tagged: false },
        { kind: "join", port: 2, vid: 131, tagged: true },
        { kind: "pvid", port: 2, from: 1, to: 11 },
        { kind: "poe", port: 2, on: true },
        { kind: "leave", port: 3, vid: 1 },
      ]),
      desired,
    );
    expect(actions.map((a) => a.description)).toEqual([
      'switch: create VLAN 11 "pi02"',
      "switch port 2: untagged 11, tagged 131, PVID 11, PoE on",
      "switch port 3: untagged 12, leave VLAN 1",
    ]);
    expect(actions.map((a) => a.subject)).toEqual(["VLAN 11", "port 2", "port 3"]);
    // Every action carries the one plan of the pass, so the write goes out as planned.
    expect(new Set(actions.map((a) => a.plan)).size).toBe(1);
  });

  it("plans nothing for a switch in its desired state", () => {
    expect(switchActions(plan([]), desired)).toEqual([]);
  });

  it("says PoE off and activation", () => {
    expect(describePortChanges([{ kind: "poe", port: 5, on: false }])).toBe("PoE off");
    expect(switchActions(plan([{ kind: "activateVlan", vid: 14 }]), desired)[0]?.description).toBe("switch: activate VLAN 14");
  });

  it("keeps ports an operator powered off off, and leaves ports without PoE alone", () => {
    const held = withPowerOverrides(desired, new Set([3]));
    expect(held.ports.map((p) => p.poe)).toEqual([true, false]);
    expect(withPowerOverrides(desired, new Set())).toBe(desired);
  });
});
