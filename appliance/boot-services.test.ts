import { describe, expect, it } from "vitest";
import { validateConfig } from "./config.ts";
import { dhcpScopes, piBootView, stageOfFile } from "./boot-services.ts";
import { planRack } from "./plan.ts";

const r = validateConfig({
  storage: { network: "10.46.189.0/24" },
  public: { prefix: "2a00:1098:0:84::/64", gateway: "2a00:1098:0:84::1", firstAddress: "2a00:1098:0:84:1000:1::2" },
  ports: "1,3",
  pis: [{ port: 3, serial: "0660cd37" }],
});
if (!r.ok) throw new Error(r.problems.join("\n"));
const plan = planRack(r.config);

describe("boot services mapping", () => {
  it("makes one DHCP scope per storage VLAN", () => {
    expect(dhcpScopes(plan)).toEqual([
      { port: 1, vlan: 10, interfaceName: "eth0.10", serverAddress: "10.46.189.1", clientAddress: "10.46.189.2", netmask: "255.255.255.252" },
      { port: 3, vlan: 12, interfaceName: "eth0.12", serverAddress: "10.46.189.9", clientAddress: "10.46.189.10", netmask: "255.255.255.252" },
    ]);
  });

  it.each([
    ["a Pi's address", "10.46.189.10", { port: 3, serial: "0660cd37" }],
    ["the other Pi's address", "10.46.189.2", { port: 1, serial: null }],
    ["a fileserver address", "10.46.189.1", null],
    ["an address of an unlisted port", "10.46.189.6", null],
  ])("resolves %s", (_n, address, expected) => {
    const view = piBootView(plan, address);
    if (expected === null) expect(view).toBeNull();
    else {
      expect(view).toMatchObject(expected);
      expect(view!.cmdline).toContain(`ip=${address}::`);
    }
  });

  it.each([
    ["bootcode.bin", "firmware"],
    ["0660cd37/start.elf", "firmware"],
    ["0660cd37/cmdline.txt", "firmware"],
    ["0660cd37/kernel8.img", "kernel"],
    ["bcm2710-rpi-3-b.dtb", "kernel"],
    ["overlays/disable-bt.dtbo", "kernel"],
  ] as const)("%s marks stage %s", (file, stage) => {
    expect(stageOfFile(file)).toBe(stage);
  });
});
