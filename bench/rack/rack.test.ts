import { describe, expect, it } from "vitest";
import { parseConfigText } from "../../appliance/config.ts";
import { benchLayout, parseModels, pidOfRunName, shapeProblems } from "./layout.ts";
import { fileserverVlanSetting, ovsSetPortArgs, parkingVlan, piPortSetting, wiringSettings, type PortVlans } from "./ovs-ports.ts";
import { renderBenchRackYaml } from "./rack-config.ts";

const paths = { firmware: "/fw", exports: "/run/export", images: "/cache/images", state: "/run/state", image: "bookworm-arm64" };

describe("bench layout", () => {
  const layout = benchLayout({ pis: 8, qemu: 1, models: ["3b", "3b+", "4", "5"], pid: 4242 });

  it("puts QEMU Pis first and cycles the protocol models after them, with the story's numbering", () => {
    expect(layout.pis.map((p) => `${p.port}:${p.kind}:${p.model}`)).toEqual(["1:qemu:4", "2:protocol:3b", "3:protocol:3b+", "4:protocol:4", "5:protocol:5", "6:protocol:3b", "7:protocol:3b+", "8:protocol:4"]);
    expect(layout.pis[0]).toMatchObject({ vlan: 10, piAddress: "10.46.189.2", serverAddress: "10.46.189.1", publicAddress: "2a00:1098:0:84:1000:1::2", namespace: "pirack-bench-4242-pi1" });
    expect(layout.pis[1]).toMatchObject({ vlan: 11, piAddress: "10.46.189.6", publicAddress: "2a00:1098:0:84:1000:1::3", mac: "b8:27:eb:be:00:02", serial: "b0be0002" });
    expect(layout.switch).toEqual({ ports: 24, fileserverPort: 24, profile: "procurve" });
  });

  it("keeps VLANs clear of the public VLAN and the /30s inside the network on a big shelf", () => {
    const big = benchLayout({ pis: 150, qemu: 0, models: ["4"], pid: 1 });
    expect(big.firstVlan).toBe(200);
    expect(big.pis.at(-1)).toMatchObject({ vlan: 349, piAddress: "10.46.190.86" });
    expect(big.switch).toEqual({ ports: 151, fileserverPort: 151, profile: "generic" });
  });

  it("rejects bad shapes and model lists with the values", () => {
    expect(shapeProblems({ pis: 0, qemu: 2, models: ["4"], pid: 1 })).toEqual(["--pis must be 1-200, got 0", "--qemu must be 0-0 (at most --pis), got 2"]);
    expect(() => parseModels("4,3a")).toThrow('--models expects a list of 3b, 3b+, 4, 5, got "4,3a"');
    expect(parseModels("3b+, 5")).toEqual(["3b+", "5"]);
  });

  it("recognises its own run names by prefix and pid only", () => {
    expect(pidOfRunName("pirack-bench-4242-pi1")).toBe(4242);
    expect(pidOfRunName("pirack-bench-4242")).toBe(4242);
    expect(pidOfRunName("pirack-bench-pi-abc")).toBeUndefined();
    expect(pidOfRunName("pirack-benchpi-12")).toBeUndefined();
  });

  it("generates a rack config pirack accepts: every port enrolled by plug-in, ganesha, the simulated switch", () => {
    const yaml = renderBenchRackYaml(layout, paths);
    const r = parseConfigText(yaml);
    if (!r.ok) throw new Error(r.problems.join("\n"));
    expect(r.config.ports).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(r.config).toMatchObject({ enrol: "auto", nfs: { server: "ganesha" }, fileserver: { switchPort: 24, manageInterfaces: false }, switch: { driver: "qbridge", host: "100.64.255.10" } });
    expect(r.config.boot.cmdline).toContain("net.ifnames=0");
    expect(r.config.pis).toEqual([]);
  });
});

describe("the wiring follows the switch's Q-BRIDGE state", () => {
  const pi = (pvid: number, untagged: number[], tagged: number[]): PortVlans => ({ port: 1, pvid, untagged, tagged });
  it.each([
    ["pirack's Pi port: VLAN 10 untagged + PVID, 131 tagged", pi(10, [10], [131]), { vlanMode: "native-untagged", tag: 10, trunks: [10, 131] }],
    ["storage only", pi(10, [10], []), { vlanMode: "access", tag: 10, trunks: [] }],
    ["factory default VLAN 1", pi(1, [1], []), { vlanMode: "access", tag: 1, trunks: [] }],
    ["PVID not an untagged VLAN of the port: untagged frames go nowhere", pi(11, [10], [131]), { vlanMode: "native-untagged", tag: 4000, trunks: [4000, 131] }],
    ["131 not tagged: the public VLAN does not pass", pi(10, [10], []), { vlanMode: "access", tag: 10, trunks: [] }],
  ])("%s", (_name, vlans, expected) => {
    expect(piPortSetting(vlans, 4000)).toEqual(expected);
  });

  it("passes VLAN N to the fileserver's eth0.N only while the fileserver port is tagged in N", () => {
    expect(fileserverVlanSetting({ port: 24, pvid: 1, untagged: [1], tagged: [10, 11] }, 10, 4001)).toEqual({ vlanMode: "access", tag: 10, trunks: [] });
    expect(fileserverVlanSetting({ port: 24, pvid: 1, untagged: [1, 12], tagged: [10] }, 12, 4001)).toEqual({ vlanMode: "access", tag: 4001, trunks: [] });
    expect(fileserverVlanSetting(undefined, 10, 4001).tag).toBe(4001);
  });

  it("parks every port on a VLAN of its own and keeps the public uplink on 131", () => {
    const s = wiringSettings([{ port: 1, vlan: 10 }, { port: 2, vlan: 11 }], 24, 131, []);
    expect(s.map((x) => `${x.name}=${x.setting.tag}`)).toEqual([`pi1=${parkingVlan(0)}`, `fs1=${parkingVlan(1)}`, `pi2=${parkingVlan(2)}`, `fs2=${parkingVlan(3)}`, "pub=131"]);
  });

  it("writes ovs-vsctl commands that clear trunks on access ports", () => {
    expect(ovsSetPortArgs("pi1", { vlanMode: "access", tag: 10, trunks: [] })).toEqual(["set", "port", "pi1", "vlan_mode=access", "tag=10", "--", "clear", "port", "pi1", "trunks"]);
    expect(ovsSetPortArgs("pi1", { vlanMode: "native-untagged", tag: 10, trunks: [10, 131] })).toEqual(["set", "port", "pi1", "vlan_mode=native-untagged", "tag=10", "trunks=10,131"]);
  });
});
