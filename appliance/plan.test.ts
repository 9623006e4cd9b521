import { describe, expect, it } from "vitest";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { parseConfigText, validateConfig, type Config } from "./config.ts";
import { planFiles, planPort, planRack } from "./plan.ts";

const example = (file: string): Config => {
  const r = parseConfigText(readFileSync(new URL(`../examples/${file}`, import.meta.url), "utf8"));
  if (!r.ok) throw new Error(r.problems.join("\n"));
  return r.config;
};
const config = (over: Record<string, unknown>): Config => {
  const r = validateConfig({
    storage: { network: "10.46.189.0/24" },
    public: { prefix: "2a00:1098:0:84::/64", gateway: "2a00:1098:0:84::1", firstAddress: "2a00:1098:0:84:1000:1::2" },
    ports: "1-8",
    ...over,
  });
  if (!r.ok) throw new Error(r.problems.join("\n"));
  return r.config;
};

// The story's text (seeds/, "Network on the fileserver" and "Network on the Raspberry Pi"), tabs as published.
const STORY_ETH0_10 = "auto eth0.10\niface eth0.10 inet static\n\taddress 10.46.189.1\n\tnetmask 255.255.255.252\n";
const STORY_ETH0_11 = "auto eth0.11\niface eth0.11 inet static\n\taddress 10.46.189.5\n\tnetmask 255.255.255.252\n";
const STORY_ETH0_131 = "auto eth0.131\niface eth0.131 inet6 static\n\taddress\t2a00:1098:0:84:1000:1::2\n\tnetmask 64\n\tgateway\t2a00:1098:0:84::1\n";
const STORY_IP = "ip=10.46.189.2::10.46.189.1:255.255.255.252::eth0:off nfsroot=10.46.189.1:/export/10.46.189.2";

describe("the seed example reproduces the story", () => {
  const files = planFiles(planRack(example("seed-rack.yaml")));

  it("writes the fileserver stanzas byte for byte", () => {
    expect(files.get("fileserver/etc/network/interfaces.d/eth0.10")).toBe(STORY_ETH0_10);
    expect(files.get("fileserver/etc/network/interfaces.d/eth0.11")).toBe(STORY_ETH0_11);
  });

  it("writes the Pi's public stanza byte for byte", () => {
    expect(files.get("pis/pi01/root/etc/network/interfaces.d/eth0.131")).toBe(STORY_ETH0_131);
  });

  it("writes a single-line cmdline with the story's ip= and nfsroot=", () => {
    const cmdline = files.get("pis/pi01/boot/cmdline.txt")!;
    expect(cmdline.split("\n")).toEqual([expect.any(String), ""]);
    expect(cmdline).toContain(`root=/dev/nfs rootfstype=nfs ${STORY_IP}\n`);
    expect(cmdline.startsWith("dwc_otg.lpm_enable=0 console=ttyAMA0,115200 console=tty1 elevator=deadline fsck.repair=yes rootwait ")).toBe(true);
  });

  it("matches the golden tree file for file", () => {
    const dir = new URL("../test/fixtures/plan/seed-rack", import.meta.url).pathname;
    const walk = (d: string): string[] =>
      readdirSync(d).flatMap((n) => (statSync(join(d, n)).isDirectory() ? walk(join(d, n)) : [relative(dir, join(d, n))]));
    const golden = new Map(walk(dir).map((rel) => [rel, readFileSync(join(dir, rel), "utf8")]));
    expect(new Map(files)).toEqual(golden);
  });
});

describe("planPort", () => {
  it.each([
    ["first port of a /24", {}, 1, { vlan: 10, network: "10.46.189.0", serverAddress: "10.46.189.1", piAddress: "10.46.189.2", broadcast: "10.46.189.3" }],
    ["last /30 of a /24", { ports: "1-64", fileserver: { switchPort: 65 } }, 64, { vlan: 73, serverAddress: "10.46.189.253", piAddress: "10.46.189.254", broadcast: "10.46.189.255" }],
    [
      "port 96 of a /22",
      { storage: { network: "10.46.184.0/22", firstVlan: 200 }, ports: "1-96", fileserver: { switchPort: 100 } },
      96,
      { vlan: 295, network: "10.46.185.124", serverAddress: "10.46.185.125", piAddress: "10.46.185.126", interfaceName: "eth0.295" },
    ],
    [
      "port 200 of a /21",
      { storage: { network: "10.46.176.0/21", firstVlan: 1000 }, ports: "1-200", fileserver: { switchPort: 201 } },
      200,
      { vlan: 1199, network: "10.46.179.28", piAddress: "10.46.179.30", exportPath: "/export/10.46.179.30" },
    ],
    ["public address of port 2", {}, 2, { publicAddress: "2a00:1098:0:84:1000:1::3", publicInterface: "eth0.131", publicPrefixLength: 64 }],
    ["default name", { shelf: "hex-b" }, 7, { name: "hex-b-07", netmask: "255.255.255.252", prefixLength: 30 }],
  ] as const)("%s", (_name, over, port, expected) => {
    expect(planPort(config(over), port)).toMatchObject(expected);
  });

  it("appends nfsOptions after the export path", () => {
    const p = planPort(config({ boot: { nfsOptions: "vers=3,tcp", cmdline: "" } }), 1);
    expect(p.files.cmdline).toBe(
      "root=/dev/nfs rootfstype=nfs ip=10.46.189.2::10.46.189.1:255.255.255.252::eth0:off nfsroot=10.46.189.1:/export/10.46.189.2,vers=3,tcp\n",
    );
  });

  it("writes RFC 5952 text when the operator's :: no longer fits", () => {
    const p = planPort(config({ public: { prefix: "2a00:1098:0:84::/64", gateway: "2a00:1098:0:84::1", firstAddress: "2a00:1098:0:84::ffff" } }), 2);
    expect(p.publicAddress).toBe("2a00:1098:0:84::1:0");
  });
});

describe("planRack", () => {
  it("plans 96 ports with distinct VLANs, /30s and addresses", () => {
    const plan = planRack(example("shelf-96.yaml"));
    expect(plan.ports).toHaveLength(96);
    for (const key of ["vlan", "piAddress", "serverAddress", "publicAddress", "name", "interfaceName"] as const) {
      expect(new Set(plan.ports.map((p) => p[key])).size, key).toBe(96);
    }
  });

  it("tags every storage VLAN on the fileserver port and untags each Pi's own", () => {
    const plan = planRack(example("seed-rack.yaml"));
    expect(plan.switchPorts).toEqual([
      { port: 1, untaggedVlan: 10, pvid: 10, taggedVlans: [131], poe: true },
      { port: 2, untaggedVlan: 11, pvid: 11, taggedVlans: [131], poe: true },
      { port: 24, taggedVlans: [10, 11] },
    ]);
  });

  it("exports only enrolled Pis: listed ones, and learned ones under enrol auto", () => {
    const c = config({ pis: [{ port: 3 }] });
    const learned = new Map([[5, { port: 5, serial: "0660cd37", mac: "b8:27:eb:9b:65:d4" }]]);
    const lines = planRack(c, learned).exportsFile.split("\n").filter((l) => l.startsWith("/"));
    expect(lines).toEqual([
      "/export/10.46.189.10 10.46.189.10(rw,sync,no_subtree_check,no_root_squash)",
      "/export/10.46.189.18 10.46.189.18(rw,sync,no_subtree_check,no_root_squash)",
    ]);
    const manual = planRack(config({ pis: [{ port: 3 }], enrol: "manual" }), learned);
    expect(manual.ports.filter((p) => p.enrolled).map((p) => p.port)).toEqual([3]);
    expect(planRack(c, learned).ports[4]).toMatchObject({ serial: "0660cd37", mac: "b8:27:eb:9b:65:d4" });
  });
});
