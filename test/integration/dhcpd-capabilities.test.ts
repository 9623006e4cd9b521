/**
 * The capabilities docs/dhcp.md promises, checked for real: the server runs as `nobody` with only
 * CAP_NET_BIND_SERVICE in broadcast mode; unicast mode additionally needs CAP_NET_ADMIN (neighbour
 * entries); without CAP_NET_BIND_SERVICE it cannot bind port 67 and keeps retrying.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DhcpScope } from "../../appliance/dhcpd/policy.ts";
import { dhcpFixture } from "../support/dhcpd-fixtures.ts";
import { DhcpdProcess, replayRaw, runUdhcpc } from "../support/dhcpd-harness.ts";
import { ip, isRoot, TestBed } from "../support/netns.ts";

const NOBODY = 65534;
const scope: DhcpScope = { port: 1, vlan: 10, interfaceName: "eth0.10", serverAddress: "10.46.189.1", clientAddress: "10.46.189.2", netmask: "255.255.255.252" };

describe.skipIf(!isRoot())("dhcpd privileges (needs root to create namespaces and drop to nobody)", () => {
  const bed = new TestBed();
  let fs = "";
  let pi = "";

  beforeAll(async () => {
    fs = await bed.namespace("dcfs");
    pi = await bed.namespace("dcpi");
    await bed.veth({ left: { ns: fs, name: "eth0.10", address: "10.46.189.1/30" }, right: { ns: pi, name: "eth0", mac: "dc:a6:32:2e:f8:ed" } });
  });
  afterAll(() => bed.cleanup());

  it("as nobody with only CAP_NET_BIND_SERVICE it serves udhcpc (broadcast replies)", async () => {
    const server = await DhcpdProcess.start(bed, fs, { scopes: [scope], settings: { pi3OfferDelayMs: 0 } }, { uid: NOBODY, caps: ["net_bind_service"] });
    await server.waitForEvent((e) => e.event === "interface" && e.state === "open", "eth0.10 open");
    expect(await runUdhcpc(bed, pi, "eth0")).toMatchObject({ ip: "10.46.189.2", siaddr: "10.46.189.1" });
    server.child.kill("SIGTERM");
    await server.child;
  });

  it("as nobody without CAP_NET_BIND_SERVICE port 67 stays closed and is retried", async () => {
    const server = await DhcpdProcess.start(bed, fs, { scopes: [scope], retry: { initialMs: 100, maxMs: 200 } }, { uid: NOBODY, caps: [] });
    const e = await server.waitForEvent((x) => x.event === "interface" && x.state === "waiting", "eth0.10 waiting");
    expect(String(e.reason)).toMatch(/bind 0\.0\.0\.0:67 .*errno 13/);
    server.child.kill("SIGTERM");
    await server.child;
  });

  it("unicast mode as nobody needs CAP_NET_ADMIN as well, for the neighbour entry", async () => {
    const server = await DhcpdProcess.start(bed, fs, { scopes: [scope], settings: { pi3OfferDelayMs: 0, replyAddressing: "unicast" } }, { uid: NOBODY, caps: ["net_bind_service", "net_admin"] });
    const [x] = await replayRaw(bed, pi, "eth0", [dhcpFixture("pi4-discover")]);
    expect(x?.reply).toMatchObject({ dstIp: "10.46.189.2", dstMac: "dc:a6:32:2e:f8:ed" });
    expect(await ip("-n", fs, "neigh", "show", "dev", "eth0.10")).toContain("PERMANENT");
    server.child.kill("SIGTERM");
    await server.child;
  });

  it("unicast mode without CAP_NET_ADMIN cannot pin the neighbour: it falls back to broadcast and counts it", async () => {
    await ip("-n", fs, "neigh", "flush", "dev", "eth0.10", "nud", "permanent");
    const server = await DhcpdProcess.start(bed, fs, { scopes: [scope], settings: { pi3OfferDelayMs: 0, replyAddressing: "unicast" } }, { uid: NOBODY, caps: ["net_bind_service"] });
    const [x] = await replayRaw(bed, pi, "eth0", [dhcpFixture("pi4-discover")], 1_000);
    expect(x?.reply).toMatchObject({ dstIp: "255.255.255.255", dstMac: "ff:ff:ff:ff:ff:ff" });
    expect((await server.metrics()).get("pirack_dhcp_neighbour_errors_total")).toBe(1);
    server.child.kill("SIGTERM");
    await server.child;
  });
});
