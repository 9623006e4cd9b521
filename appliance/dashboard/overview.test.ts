import { describe, expect, it } from "vitest";
import type { PiStatus } from "../appliance.ts";
import { buildOverview, portNamed, problemsOf } from "./overview.ts";

const pi = (port: number, extra: Partial<PiStatus> = {}): PiStatus => ({
  port,
  name: `pi0${port}`,
  vlan: 9 + port,
  interface: `eth0.${9 + port}`,
  piAddress: `10.46.189.${4 * port - 2}`,
  serverAddress: `10.46.189.${4 * port - 3}`,
  publicAddress: `2a00::${port}`,
  mac: null,
  serial: null,
  model: null,
  enrolled: true,
  role: "none",
  power: "on",
  bootStage: "unseen",
  stuck: null,
  lastBoot: null,
  lastSeen: null,
  ...extra,
});

describe("portNamed", () => {
  it("finds the port whose address or interface a text names, not a longer address containing it", () => {
    const pis = [pi(1), pi(3)];
    expect(portNamed("clone golden image to /export/10.46.189.10", pis)).toBe(3);
    expect(portNamed("write /etc/network/interfaces.d/eth0.10", pis)).toBe(1);
    expect(portNamed("write /etc/network/interfaces.d/eth0.101", pis)).toBeNull();
    expect(portNamed("switch apply", pis)).toBeNull();
  });
});

describe("problemsOf", () => {
  it("puts the last pass's failures, the subsystems' health and stuck boots in words with their port", () => {
    const problems = problemsOf({
      pis: [pi(1, { stuck: { stage: "firmware", forSeconds: 200 } }), pi(2)],
      lastPass: {
        reason: "timer",
        startedAt: new Date(0),
        durationMs: 5,
        applied: [],
        failed: [
          { kind: "cloneRoot", subject: "/export/10.46.189.6", description: "port 2: clone golden image to /export/10.46.189.6", subsystem: "roots", error: "port 2: clone golden image to /export/10.46.189.6: golden image /srv/x does not exist" },
          { kind: "apply", subject: "switch", description: "push VLANs", subsystem: "switch", error: "SNMP timeout" },
        ],
      },
      health: [{ subsystem: "dhcp", port: 1, text: "eth0.10 (VLAN 10) is missing", since: "" }],
    });
    expect(problems).toEqual([
      { port: 2, subsystem: "roots", text: "clone golden image to /export/10.46.189.6: golden image /srv/x does not exist" },
      { port: null, subsystem: "switch", text: "push VLANs failed: SNMP timeout" },
      { port: 1, subsystem: "dhcp", text: "eth0.10 (VLAN 10) is missing" },
      { port: 1, subsystem: "boot", text: "pi01 stuck at firmware for 200 s" },
    ]);
  });
});

describe("buildOverview", () => {
  it("draws every switch port up to the highest, with the fileserver's trunk and empty ports", () => {
    const ov = buildOverview({
      shelf: "hex-a",
      now: new Date(0),
      fileserver: { switchPort: 6, interface: "eth0" },
      pis: [pi(1), pi(3)],
      timeline: () => [{ startedAt: new Date(1000), stages: [{ stage: "power", at: new Date(1000) }, { stage: "dhcp", at: new Date(3500) }] }],
      poe: new Map([[1, { port: 1, adminOn: true, detection: "deliveringPower", powerClass: 3, watts: 4.2 }]]),
      pse: { budgetWatts: 370, consumptionWatts: 12, operStatus: "on" },
      switchPorts: null,
      lastPass: undefined,
      health: [],
      activity: { dhcpRequests: 1, dhcpReplies: 1, tftpTransfers: 0, tftpBytes: 0 },
      workloads: new Map([[3, { role: "db", healthy: true, state: "primary", detail: "primary (writable)" }]]),
    });
    expect(ov.slots.map((s) => s.kind)).toEqual(["pi", "empty", "pi", "empty", "empty", "fileserver"]);
    expect(ov.slots.map((s) => (s.kind === "pi" ? s.workload : undefined))).toEqual([null, undefined, { role: "db", healthy: true, state: "primary", detail: "primary (writable)" }, undefined, undefined, undefined]);
    const first = ov.slots[0]!;
    expect(first.kind === "pi" && first.poe).toEqual({ detection: "deliveringPower", watts: 4.2, powerClass: 3 });
    expect(first.kind === "pi" && first.boots[0]!.stages).toEqual([
      { stage: "power", t: 0 },
      { stage: "dhcp", t: 2500 },
    ]);
    expect(ov.lastPass).toBeNull();
  });
});
