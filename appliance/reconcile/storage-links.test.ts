import { describe, expect, it } from "vitest";
import { decodeIpJson, StorageLinks, type DesiredLink, type ObservedLink } from "./storage-links.ts";

// Trimmed from `ip -j link show` and `ip -j addr show` (iproute2 6.1, Debian 12) in a namespace holding one
// pirack link and one other. Only `link show` carries ifalias.
const LINK_JSON = JSON.stringify([
  { ifindex: 1, ifname: "lo", flags: ["LOOPBACK", "UP", "LOWER_UP"] },
  { ifindex: 5, ifname: "eth0.10", flags: ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"], ifalias: "pirack storage vlan 10 port 1" },
  { ifindex: 6, ifname: "eth0.99", flags: ["BROADCAST"] },
]);
const ADDR_JSON = JSON.stringify([
  { ifindex: 1, ifname: "lo", flags: ["LOOPBACK", "UP", "LOWER_UP"], addr_info: [{ family: "inet", local: "127.0.0.1", prefixlen: 8 }] },
  {
    ifindex: 5,
    ifname: "eth0.10",
    flags: ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"],
    addr_info: [
      { family: "inet", local: "10.46.189.1", prefixlen: 30 },
      { family: "inet6", local: "fe80::1", prefixlen: 64 },
    ],
  },
  { ifindex: 6, ifname: "eth0.99", flags: ["BROADCAST"], addr_info: [] },
]);

const link = (vlan: number, port: number, address: string): DesiredLink => ({
  name: `eth0.${vlan}`,
  vlan,
  address,
  alias: `pirack storage vlan ${vlan} port ${port}`,
});

describe("storage links", () => {
  it("decodes ip -j addr show", () => {
    expect(decodeIpJson(LINK_JSON, ADDR_JSON)).toEqual([
      { name: "lo", addresses: ["127.0.0.1/8"], up: true },
      { name: "eth0.10", alias: "pirack storage vlan 10 port 1", addresses: ["10.46.189.1/30"], up: true },
      { name: "eth0.99", addresses: [], up: false },
    ]);
  });

  const observed = decodeIpJson(LINK_JSON, ADDR_JSON);
  const subsystem = new StorageLinks({ ip: async () => "[]", parent: () => "eth0" });
  const cases: Record<string, [DesiredLink[], ObservedLink[], string[]]> = {
    "nothing to do": [[link(10, 1, "10.46.189.1/30")], observed, []],
    "missing link is created": [
      [link(10, 1, "10.46.189.1/30"), link(11, 2, "10.46.189.5/30")],
      observed,
      ["create eth0.11 (VLAN 11) with 10.46.189.5/30"],
    ],
    "wrong address is replaced": [[link(10, 1, "10.46.190.1/30")], observed, ["set eth0.10 address 10.46.190.1/30"]],
    "link no longer planned is deleted": [[], observed, ["delete eth0.10"]],
    "an operator's interface of the same name is left alone": [[link(99, 90, "10.46.189.9/30")], observed, ["delete eth0.10"]],
    "a down link is brought up": [
      [link(10, 1, "10.46.189.1/30")],
      [{ name: "eth0.10", alias: "pirack storage vlan 10 port 1", addresses: ["10.46.189.1/30"], up: false }],
      ["bring eth0.10 up"],
    ],
  };
  it.each(Object.entries(cases))("%s", (_n, [desired, seen, expected]) => {
    expect(subsystem.plan(desired, seen).map((a) => a.description)).toEqual(expected);
  });

  it("issues 802.1Q iproute2 commands on the configured parent", async () => {
    const calls: string[] = [];
    const s = new StorageLinks({ ip: async (args) => (calls.push(args.join(" ")), "[]"), parent: () => "bond0" });
    const [create] = s.plan([link(12, 3, "10.46.189.9/30")], []);
    await s.apply(create!);
    expect(calls).toEqual([
      "link add link bond0 name eth0.12 type vlan id 12",
      "link set eth0.12 alias pirack storage vlan 12 port 3",
      "addr add 10.46.189.9/30 dev eth0.12",
      "link set eth0.12 up",
    ]);
  });
});
