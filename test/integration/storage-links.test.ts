/**
 * The storage-link subsystem against the real kernel and iproute2, inside a namespace made for the test.
 * This kernel has no 802.1Q, so links are made as veth pairs (the one substitution); aliases, addresses, up/down,
 * deletion and `ip -j` observation are the real thing. A second pass must plan nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execa } from "execa";
import { isRoot, TestBed } from "../support/netns.ts";
import { StorageLinks, type DesiredLink } from "../../appliance/reconcile/storage-links.ts";

const bed = new TestBed();
let ns: string;

describe.skipIf(!isRoot())("storage links in a namespace (root)", () => {
  beforeAll(async () => {
    ns = await bed.namespace("pr-links");
  });
  afterAll(() => bed.cleanup());

  it("creates, fixes and deletes only its own links, then converges", async () => {
    const ip = async (args: readonly string[]) => (await execa("ip", ["-n", ns, ...args])).stdout;
    await ip(["link", "add", "eth0.99", "type", "veth", "peer", "name", "op99"]);
    const links = new StorageLinks({
      ip,
      parent: () => "eth0",
      createArgs: (l) => ["link", "add", l.name, "type", "veth", "peer", "name", `pi${l.vlan}`],
    });
    const want = (vlans: number[]): DesiredLink[] =>
      vlans.map((v, i) => ({ name: `eth0.${v}`, vlan: v, address: `10.46.189.${4 * i + 1}/30`, alias: `pirack storage vlan ${v} port ${i + 1}` }));
    const pass = async (d: DesiredLink[]) => {
      for (const a of links.plan(d, await links.observe())) await links.apply(a);
      return links.plan(d, await links.observe());
    };

    expect(await pass(want([10, 11]))).toEqual([]);
    const seen = await links.observe();
    expect(seen.find((l) => l.name === "eth0.11")).toMatchObject({ addresses: ["10.46.189.5/30"], up: true, alias: "pirack storage vlan 11 port 2" });

    await ip(["addr", "add", "192.0.2.1/24", "dev", "eth0.10"]);
    expect(await pass(want([10]))).toEqual([]);
    const after = await links.observe();
    expect(after.map((l) => l.name)).not.toContain("eth0.11");
    expect(after.find((l) => l.name === "eth0.10")?.addresses).toEqual(["10.46.189.1/30"]);
    expect(after.map((l) => l.name)).toContain("eth0.99"); // not ours: untouched
  });
});
