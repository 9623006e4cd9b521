/**
 * The DHCP server against real clients across veth "VLANs": a fileserver namespace with eth0.10
 * (10.46.189.1/30) and eth0.11 (10.46.189.5/30), one Pi namespace behind each. BusyBox udhcpc, ISC
 * dhclient and byte-exact replayed Pi packets must each get exactly their own VLAN's answer.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeDhcpPacket } from "../../appliance/dhcpd/codec.ts";
import { DhcpOption } from "../../appliance/dhcpd/constants.ts";
import { messageTypeOf, textOption } from "../../appliance/dhcpd/option-values.ts";
import type { DhcpScope } from "../../appliance/dhcpd/policy.ts";
import { PXE_MENUS } from "../../appliance/dhcpd/raspberry-pi.ts";
import { dhcpFixture } from "../support/dhcpd-fixtures.ts";
import { DhcpdProcess, replayRaw, runDhclient, runUdhcpc } from "../support/dhcpd-harness.ts";
import { ip, isRoot, TestBed } from "../support/netns.ts";

const PI3_DELAY_MS = 400;
const scope10: DhcpScope = { port: 1, vlan: 10, interfaceName: "eth0.10", serverAddress: "10.46.189.1", clientAddress: "10.46.189.2", netmask: "255.255.255.252" };
const scope11: DhcpScope = { port: 2, vlan: 11, interfaceName: "eth0.11", serverAddress: "10.46.189.5", clientAddress: "10.46.189.6", netmask: "255.255.255.252" };
const scope12: DhcpScope = { port: 3, vlan: 12, interfaceName: "eth0.12", serverAddress: "10.46.189.9", clientAddress: "10.46.189.10", netmask: "255.255.255.252" };

describe.skipIf(!isRoot())("dhcpd with real clients on per-VLAN veths (needs root for namespaces)", () => {
  const bed = new TestBed();
  let fs = "";
  let pi10 = "";
  let pi11 = "";
  let server: DhcpdProcess;

  /** Links Pi namespace `pi` to the fileserver as `eth0.<vlan>` <-> `eth0`. */
  const link = (pi: string, vlan: number, serverCidr: string, mac: string) =>
    bed.veth({ left: { ns: fs, name: `eth0.${vlan}`, address: serverCidr }, right: { ns: pi, name: "eth0", mac } });

  /** Interfaces on which the server saw requests from, or sent replies to, `mac`. */
  const interfacesSeenFor = (mac: string) => [...new Set(server.events.filter((e) => (e.event === "request" || e.event === "reply") && e.mac === mac).map((e) => e.interfaceName))];

  /** Forgets whatever address a previous client put on a Pi's eth0. */
  const resetClient = (pi: string) => ip("-n", pi, "addr", "flush", "dev", "eth0");

  beforeAll(async () => {
    fs = await bed.namespace("dfs");
    pi10 = await bed.namespace("dp10");
    pi11 = await bed.namespace("dp11");
    await link(pi10, 10, "10.46.189.1/30", "dc:a6:32:00:00:10");
    await link(pi11, 11, "10.46.189.5/30", "d8:3a:dd:00:00:11");
    server = await DhcpdProcess.start(bed, fs, {
      scopes: [scope10, scope11],
      settings: { pi3OfferDelayMs: PI3_DELAY_MS },
      interfaceCheckMs: 200,
      retry: { initialMs: 100, maxMs: 800 },
    });
  });

  afterAll(() => bed.cleanup());

  it("udhcpc on both VLANs at once: each gets its own .2, siaddr and option 66 = .1, and the PXE menu", async () => {
    await Promise.all([resetClient(pi10), resetClient(pi11)]);
    const [a, b] = await Promise.all([runUdhcpc(bed, pi10, "eth0"), runUdhcpc(bed, pi11, "eth0")]);
    expect(a).toMatchObject({ ip: "10.46.189.2", siaddr: "10.46.189.1", tftp: "10.46.189.1", serverid: "10.46.189.1", subnet: "255.255.255.252", opt43: PXE_MENUS.dnsmasq.toString("hex") });
    expect(b).toMatchObject({ ip: "10.46.189.6", siaddr: "10.46.189.5", tftp: "10.46.189.5", serverid: "10.46.189.5", subnet: "255.255.255.252" });
    // Each Pi's messages were heard, and answered, only on its own VLAN's interface.
    expect(interfacesSeenFor("dc:a6:32:00:00:10")).toEqual(["eth0.10"]);
    expect(interfacesSeenFor("d8:3a:dd:00:00:11")).toEqual(["eth0.11"]);
  });

  it("dhclient on both VLANs at once: each gets its own .2, next-server and option 66 = .1", async () => {
    await Promise.all([resetClient(pi10), resetClient(pi11)]);
    const [a, b] = await Promise.all([runDhclient(bed, pi10, "eth0"), runDhclient(bed, pi11, "eth0")]);
    expect(a).toMatchObject({ new_ip_address: "10.46.189.2", new_next_server: "10.46.189.1", new_tftp_server_name: "10.46.189.1", new_dhcp_server_identifier: "10.46.189.1", new_vendor_class_identifier: "PXEClient" });
    expect(b).toMatchObject({ new_ip_address: "10.46.189.6", new_next_server: "10.46.189.5", new_tftp_server_name: "10.46.189.5", new_dhcp_server_identifier: "10.46.189.5" });
    // dhclient prints option 43 as colon-separated hex without leading zeros.
    expect(a.new_pxe_menu).toBe([...PXE_MENUS.dnsmasq].map((x) => x.toString(16)).join(":"));
    expect(interfacesSeenFor("dc:a6:32:00:00:10")).toEqual(["eth0.10"]);
    expect(interfacesSeenFor("d8:3a:dd:00:00:11")).toEqual(["eth0.11"]);
  });

  it("a replayed real Pi 3 DISCOVER gets the OFFER with the exact option 43, after the Pi 3 delay", async () => {
    const [x] = await replayRaw(bed, pi10, "eth0", [dhcpFixture("pi3-family-discover")]);
    expect(x?.reply).not.toBeNull();
    const offer = decodeDhcpPacket(Buffer.from(x!.reply!.hex, "hex"));
    expect(messageTypeOf(offer)).toBe("OFFER");
    expect(offer.yourAddress).toBe("10.46.189.2");
    expect(offer.serverAddress).toBe("10.46.189.1");
    expect(offer.options.get(DhcpOption.VendorSpecific)?.toString("hex")).toBe("0601030a0400505845091400001152617370626572727920506920426f6f74ff");
    expect(offer.options.get(DhcpOption.ClientMachineId)?.toString("hex")).toBe("00" + "d4659bbd".repeat(4));
    expect(offer.optionItems.some((i) => i.code === 0)).toBe(false);
    expect(x!.reply!.receivedAt - x!.sentAt).toBeGreaterThanOrEqual(PI3_DELAY_MS - 20);
    const request = await server.waitForEvent((e) => e.event === "request" && e.mac === "b8:27:eb:9b:65:d4", "Pi 3 request event");
    expect(request).toMatchObject({ port: 1, vlan: 10, serial: "bd9b65d4", model: "3-family", messageType: "DISCOVER" });
  });

  it("replayed Pi 4 DISCOVER and REQUEST (no option 60) get OFFER and ACK at once, only from their own VLAN", async () => {
    const [offerX, ackX] = await replayRaw(bed, pi10, "eth0", [dhcpFixture("pi4-discover"), dhcpFixture("pi4-request")]);
    const offer = decodeDhcpPacket(Buffer.from(offerX!.reply!.hex, "hex"));
    const ack = decodeDhcpPacket(Buffer.from(ackX!.reply!.hex, "hex"));
    expect(messageTypeOf(offer)).toBe("OFFER");
    expect(messageTypeOf(ack)).toBe("ACK");
    expect(ack.yourAddress).toBe("10.46.189.2");
    expect(textOption(ack, DhcpOption.TftpServerName)).toBe("10.46.189.1");
    expect(ack.options.get(DhcpOption.VendorSpecific)?.equals(PXE_MENUS.dnsmasq)).toBe(true);
    expect(offerX!.reply!.receivedAt - offerX!.sentAt).toBeLessThan(PI3_DELAY_MS);
    // The same Pi 4 REQUEST on VLAN 11 names server 10.46.189.1, which is not VLAN 11's: no answer there.
    const [other] = await replayRaw(bed, pi11, "eth0", [dhcpFixture("pi4-request")], 1_000);
    expect(other?.reply).toBeNull();
  });

  it("an interface removed and recreated is served again", async () => {
    const since = server.mark();
    await ip("-n", fs, "link", "del", "eth0.10");
    await server.waitForEvent((e) => e.event === "interface" && e.interfaceName === "eth0.10" && e.state === "waiting", "eth0.10 waiting", 10_000, since);
    await link(pi10, 10, "10.46.189.1/30", "dc:a6:32:00:00:10");
    await server.waitForEvent((e) => e.event === "interface" && e.interfaceName === "eth0.10" && e.state === "open", "eth0.10 reopened", 10_000, since);
    const lease = await runUdhcpc(bed, pi10, "eth0");
    expect(lease).toMatchObject({ ip: "10.46.189.2", siaddr: "10.46.189.1" });
  });

  it("a scope added on the live server for a missing interface is served once the interface appears", async () => {
    const pi12 = await bed.namespace("dp12");
    const since = server.mark();
    await server.updateScopes([scope10, scope11, scope12]);
    await server.waitForEvent((e) => e.event === "interface" && e.interfaceName === "eth0.12" && e.state === "waiting", "eth0.12 waiting", 10_000, since);
    await link(pi12, 12, "10.46.189.9/30", "2c:cf:67:00:00:12");
    await server.waitForEvent((e) => e.event === "interface" && e.interfaceName === "eth0.12" && e.state === "open", "eth0.12 open", 10_000, since);
    expect(await runUdhcpc(bed, pi12, "eth0")).toMatchObject({ ip: "10.46.189.10", siaddr: "10.46.189.9", tftp: "10.46.189.9" });
  });

  it("counts what it saw", async () => {
    const m = await server.metrics();
    expect(m.get('pirack_dhcp_replies_total{type="OFFER"}')).toBeGreaterThanOrEqual(6);
    expect(m.get('pirack_dhcp_replies_total{type="ACK"}')).toBeGreaterThanOrEqual(5);
    expect(m.get('pirack_dhcp_ignored_total{reason="other-server"}')).toBeGreaterThanOrEqual(1);
    expect(m.get("pirack_dhcp_interfaces_open")).toBe(3);
  });
});

describe.skipIf(!isRoot())("dhcpd in unicast reply mode (dnsmasq style; needs root)", () => {
  const bed = new TestBed();
  let fs = "";
  let pi = "";

  beforeAll(async () => {
    fs = await bed.namespace("dufs");
    pi = await bed.namespace("dup10");
    await bed.veth({ left: { ns: fs, name: "eth0.10", address: "10.46.189.1/30" }, right: { ns: pi, name: "eth0", mac: "dc:a6:32:2e:f8:ed" } });
  });
  afterAll(() => bed.cleanup());

  it("pins a permanent neighbour entry and unicasts OFFER/ACK to yiaddr at chaddr; udhcpc still binds", async () => {
    await DhcpdProcess.start(bed, fs, { scopes: [scope10], settings: { replyAddressing: "unicast", pi3OfferDelayMs: 0 } });
    const [offer, ack] = await replayRaw(bed, pi, "eth0", [dhcpFixture("pi4-discover"), dhcpFixture("pi4-request")]);
    for (const x of [offer, ack]) expect(x?.reply).toMatchObject({ srcIp: "10.46.189.1", dstIp: "10.46.189.2", dstMac: "dc:a6:32:2e:f8:ed" });
    expect(await ip("-n", fs, "neigh", "show", "dev", "eth0.10")).toMatch(/10\.46\.189\.2 lladdr dc:a6:32:2e:f8:ed PERMANENT/);
    expect(await runUdhcpc(bed, pi, "eth0")).toMatchObject({ ip: "10.46.189.2", siaddr: "10.46.189.1" });
  });
});
