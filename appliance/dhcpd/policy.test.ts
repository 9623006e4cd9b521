import { describe, expect, it } from "vitest";
import { dhcpFixture, type DhcpFixtureName } from "../../test/support/dhcpd-fixtures.ts";
import { createDhcpPacket, decodeDhcpPacket, encodeDhcpPacket, type DhcpPacket } from "./codec.ts";
import { DhcpOption, DhcpMessageType } from "./constants.ts";
import { ipv4Value, macBytes, macOfPacket, messageTypeOf, parseMac, textOption } from "./option-values.ts";
import { decideDhcpReply, isSourceOnScope, resolveDhcpSettings, type DhcpDecision, type DhcpScope, type DhcpSettings } from "./policy.ts";
import { identifyPi, PXE_MENUS } from "./raspberry-pi.ts";

const port1: DhcpScope = { port: 1, vlan: 10, interfaceName: "eth0.10", serverAddress: "10.46.189.1", clientAddress: "10.46.189.2", netmask: "255.255.255.252" };

const decide = (request: DhcpPacket, settings: Partial<DhcpSettings> = {}, knownPi = false): DhcpDecision =>
  decideDhcpReply({
    request,
    scope: port1,
    settings: resolveDhcpSettings(settings),
    identity: identifyPi({ mac: macOfPacket(request), option97: request.options.get(DhcpOption.ClientMachineId), transactionId: request.transactionId }),
    knownPi,
  });

const fixture = (name: DhcpFixtureName) => decodeDhcpPacket(dhcpFixture(name));

/** A hand-made client message. */
const request = (o: { type: number; mac?: string; ciaddr?: string; giaddr?: string; flags?: number; op?: number; options?: [number, Buffer][] }): DhcpPacket =>
  decodeDhcpPacket(
    encodeDhcpPacket(
      createDhcpPacket({
        op: o.op ?? 1,
        transactionId: 0x1234,
        clientHardwareAddress: macBytes(parseMac(o.mac ?? "00:16:3e:11:22:33")),
        clientAddress: o.ciaddr,
        gatewayAddress: o.giaddr,
        flags: o.flags,
        options: [[DhcpOption.MessageType, Buffer.from([o.type])], ...(o.options ?? [])],
      }),
    ),
  );

const replyOf = (d: DhcpDecision) => {
  if (d.kind !== "reply") throw new Error(`expected a reply, got ${JSON.stringify(d)}`);
  return d;
};

describe("OFFER to the real Pi 3-family DISCOVER", () => {
  it("is the reference appliance OFFER (pi-netboot §8.5) plus option 66, byte for byte", () => {
    const d = replyOf(decide(fixture("pi3-family-discover")));
    const reference = dhcpFixture("appliance-offer-reference");
    // Option 66 = "10.46.189.1" goes right after option 28 (1c 04 0a2ebd03) in our order.
    const at = reference.indexOf(Buffer.from("1c040a2ebd03", "hex")) + 6;
    const expected = Buffer.concat([reference.subarray(0, at), Buffer.from([66, 11]), Buffer.from("10.46.189.1"), reference.subarray(at)]);
    expect(encodeDhcpPacket(d.packet).toString("hex")).toBe(expected.toString("hex"));
  });

  it("is delayed for the Pi 3 ROM by the configured time and sent to 255.255.255.255", () => {
    const d = replyOf(decide(fixture("pi3-family-discover"), { pi3OfferDelayMs: 1500 }));
    expect(d.delayMs).toBe(1500);
    expect(d.destination).toEqual({ kind: "broadcast", port: 68 });
  });

  it("carries the padded menu when selected", () => {
    const d = replyOf(decide(fixture("pi3b-rom-discover"), { pxeMenu: "pi3-padded" }));
    expect(d.packet.options.get(DhcpOption.VendorSpecific)).toEqual(PXE_MENUS["pi3-padded"]);
    expect(d.packet.options.get(DhcpOption.ClientMachineId)?.toString("hex")).toBe("00" + "44".repeat(16));
  });
});

describe("decisions", () => {
  type Expect = { kind: "reply"; type: string; yiaddr?: string; to?: string; delayMs?: number; has?: number[]; lacks?: number[] } | { kind: "ignore"; reason: string } | { kind: "noted"; type: string };
  const cases: Record<string, { packet: () => DhcpPacket; settings?: Partial<DhcpSettings>; knownPi?: boolean; expect: Expect }> = {
    "Pi 4 DISCOVER: OFFER .2 at once, with 43/60/97/66": { packet: () => fixture("pi4-discover"), expect: { kind: "reply", type: "OFFER", yiaddr: "10.46.189.2", delayMs: 0, has: [1, 3, 28, 43, 51, 54, 60, 66, 97], to: "broadcast" } },
    "Pi 4 REQUEST without option 60: ACK": { packet: () => fixture("pi4-request"), expect: { kind: "reply", type: "ACK", yiaddr: "10.46.189.2", has: [43, 60, 97, 66, 51] } },
    "Pi 5 REQUEST naming another server (port 2's .5): ignored": { packet: () => fixture("pi5-request"), expect: { kind: "ignore", reason: "other-server" } },
    "REQUEST for another address: NAK, broadcast": {
      packet: () => request({ type: DhcpMessageType.Request, options: [[50, ipv4Value("10.46.189.6")]] }),
      expect: { kind: "reply", type: "NAK", yiaddr: "0.0.0.0", to: "broadcast", has: [54, 56], lacks: [51, 1, 43] },
    },
    "REQUEST without address or ciaddr: NAK": { packet: () => request({ type: DhcpMessageType.Request }), expect: { kind: "reply", type: "NAK" } },
    "INIT-REBOOT REQUEST for .2: ACK": { packet: () => request({ type: DhcpMessageType.Request, options: [[50, ipv4Value("10.46.189.2")]] }), expect: { kind: "reply", type: "ACK", yiaddr: "10.46.189.2", lacks: [43, 60, 97] } },
    "RENEWING REQUEST (ciaddr .2): ACK unicast to ciaddr": { packet: () => request({ type: DhcpMessageType.Request, ciaddr: "10.46.189.2" }), expect: { kind: "reply", type: "ACK", to: "10.46.189.2:68" } },
    "RENEWING REQUEST from a wrong ciaddr: NAK": { packet: () => request({ type: DhcpMessageType.Request, ciaddr: "10.46.189.9" }), expect: { kind: "reply", type: "NAK" } },
    "INFORM: ACK without yiaddr or lease time, to ciaddr": { packet: () => request({ type: DhcpMessageType.Inform, ciaddr: "10.46.189.2" }), expect: { kind: "reply", type: "ACK", yiaddr: "0.0.0.0", to: "10.46.189.2:68", lacks: [51] } },
    "RELEASE: noted": { packet: () => request({ type: DhcpMessageType.Release, ciaddr: "10.46.189.2" }), expect: { kind: "noted", type: "RELEASE" } },
    "DECLINE: noted": { packet: () => request({ type: DhcpMessageType.Decline, options: [[50, ipv4Value("10.46.189.2")]] }), expect: { kind: "noted", type: "DECLINE" } },
    "non-Pi DISCOVER answered as a generic client (no PXE options)": { packet: () => request({ type: DhcpMessageType.Discover }), expect: { kind: "reply", type: "OFFER", has: [1, 3, 51, 54, 66], lacks: [43, 60, 97] } },
    "non-Pi PXE DISCOVER answered with 60 and 97 but no Pi menu": {
      packet: () => request({ type: DhcpMessageType.Discover, options: [[60, Buffer.from("PXEClient:Arch:00007:UNDI:003016")], [97, Buffer.alloc(17)]] }),
      expect: { kind: "reply", type: "OFFER", has: [60, 97], lacks: [43] },
    },
    "client identifier echoed (RFC 6842)": { packet: () => request({ type: DhcpMessageType.Discover, options: [[61, Buffer.from("01001122334455", "hex")]] }), expect: { kind: "reply", type: "OFFER", has: [61] } },
    "client identifier echoed in a NAK": { packet: () => request({ type: DhcpMessageType.Request, options: [[61, Buffer.from("01001122334455", "hex")], [50, ipv4Value("10.46.189.9")]] }), expect: { kind: "reply", type: "NAK", has: [61] } },
    "non-Pi DISCOVER ignored when configured": { packet: () => request({ type: DhcpMessageType.Discover }), settings: { nonPiClients: "ignore" }, expect: { kind: "ignore", reason: "non-pi-client" } },
    "a MAC seen as a Pi before is still a Pi": { packet: () => request({ type: DhcpMessageType.Discover }), settings: { nonPiClients: "ignore" }, knownPi: true, expect: { kind: "reply", type: "OFFER", has: [43] } },
    "broadcast flag set: broadcast even in unicast mode": { packet: () => request({ type: DhcpMessageType.Discover, flags: 0x8000 }), settings: { replyAddressing: "unicast" }, expect: { kind: "reply", type: "OFFER", to: "broadcast" } },
    "unicast mode: to yiaddr after a neighbour entry": { packet: () => fixture("pi4-discover"), settings: { replyAddressing: "unicast" }, expect: { kind: "reply", type: "OFFER", to: "10.46.189.2:68 via dc:a6:32:2e:f8:ed" } },
    "relayed (giaddr set): to the relay's port 67": { packet: () => request({ type: DhcpMessageType.Discover, giaddr: "10.0.0.1" }), expect: { kind: "reply", type: "OFFER", to: "10.0.0.1:67" } },
    "router option off": { packet: () => fixture("pi4-discover"), settings: { sendRouter: false }, expect: { kind: "reply", type: "OFFER", lacks: [3] } },
    "Pi 3 delay off": { packet: () => fixture("pi3-family-discover"), settings: { pi3OfferDelayMs: 0 }, expect: { kind: "reply", type: "OFFER", delayMs: 0 } },
    "a server message (OFFER) is not a request": { packet: () => request({ type: DhcpMessageType.Offer }), expect: { kind: "ignore", reason: "not-a-request" } },
    "a BOOTREPLY op is not a request": { packet: () => request({ type: DhcpMessageType.Discover, op: 2 }), expect: { kind: "ignore", reason: "not-a-request" } },
    "plain BOOTP (no option 53)": { packet: () => request({ type: 0 }), expect: { kind: "ignore", reason: "no-message-type" } },
  };

  it.each(Object.entries(cases))("%s", (_name, c) => {
    const d = decide(c.packet(), c.settings, c.knownPi);
    const e = c.expect;
    if (e.kind === "ignore") return expect(d).toEqual({ kind: "ignore", reason: e.reason });
    if (e.kind === "noted") return expect(d).toEqual({ kind: "noted", messageType: e.type });
    const r = replyOf(d);
    expect(r.messageType).toBe(e.type);
    expect(messageTypeOf(r.packet)).toBe(e.type);
    expect(r.packet.transactionId).toBe(c.packet().transactionId);
    expect(r.packet.optionItems.some((i) => i.code === 0)).toBe(false);
    if (e.yiaddr) expect(r.packet.yourAddress).toBe(e.yiaddr);
    if (e.delayMs !== undefined) expect(r.delayMs).toBe(e.delayMs);
    if (e.to) {
      const dst = r.destination;
      const to = dst.kind === "broadcast" ? "broadcast" : `${dst.address}:${dst.port}${dst.neighbour ? ` via ${dst.neighbour.mac}` : ""}`;
      expect(to).toBe(e.to);
    }
    for (const code of e.has ?? []) expect(r.packet.options.has(code), `option ${code}`).toBe(true);
    for (const code of e.lacks ?? []) expect(r.packet.options.has(code), `option ${code}`).toBe(false);
    if (e.type !== "NAK") {
      expect(r.packet.serverAddress).toBe("10.46.189.1");
      expect(textOption(r.packet, DhcpOption.TftpServerName)).toBe("10.46.189.1");
    }
  });
});

describe("reply size (issue 9: a 64 KB option 61 was echoed into a 64 KB OFFER)", () => {
  const u16 = (n: number) => Buffer.from([n >> 8, n & 0xff]);
  const pxe: [number, Buffer] = [60, Buffer.from("PXEClient:Arch:00007:UNDI:003016")];

  it.each([
    ["no option 57: 576-byte datagrams", [], 548],
    ["option 57 below the RFC minimum counts as 576", [[57, u16(300)]], 548],
    ["option 57 = 1000", [[57, u16(1000)]], 972],
    ["option 57 above one Ethernet frame is capped at 1500", [[57, u16(65535)]], 1472],
  ] as [string, [number, Buffer][], number][])("%s", (_name, options, max) => {
    for (const idBytes of [7, 400, 1200, 64_000]) {
      const r = replyOf(decide(request({ type: DhcpMessageType.Discover, options: [...options, [61, Buffer.alloc(idBytes, 0xab)]] })));
      const bytes = encodeDhcpPacket(r.packet).length;
      expect(bytes, `${idBytes}-byte client id`).toBeLessThanOrEqual(max);
      // Small echoes still go back (RFC 6842); oversized ones are dropped, never truncated.
      const echoed = r.packet.options.get(DhcpOption.ClientIdentifier);
      if (echoed) expect(echoed.length).toBe(idBytes);
      if (idBytes === 7) expect(echoed?.length).toBe(7);
      if (idBytes === 64_000) expect(echoed).toBeUndefined();
    }
  });

  it("drops the client identifier before the machine id, and keeps every option of our own", () => {
    // 61 alone too big for 548, 97 small: only 61 goes.
    const r = replyOf(decide(request({ type: DhcpMessageType.Discover, options: [pxe, [97, Buffer.alloc(17)], [61, Buffer.alloc(500, 1)]] })));
    expect(r.packet.options.has(DhcpOption.ClientIdentifier)).toBe(false);
    expect(r.packet.options.get(DhcpOption.ClientMachineId)).toEqual(Buffer.alloc(17));
    for (const code of [1, 3, 28, 51, 53, 54, 60, 66]) expect(r.packet.options.has(code), `option ${code}`).toBe(true);
    // Both oversized: both go.
    const both = replyOf(decide(request({ type: DhcpMessageType.Discover, options: [pxe, [97, Buffer.alloc(600, 2)], [61, Buffer.alloc(300, 1)]] })));
    expect([both.packet.options.has(61), both.packet.options.has(97)]).toEqual([false, false]);
    expect(encodeDhcpPacket(both.packet).length).toBeLessThanOrEqual(548);
  });

  it("bounds a NAK the same way", () => {
    const r = replyOf(decide(request({ type: DhcpMessageType.Request, options: [[61, Buffer.alloc(10_000, 1)], [50, ipv4Value("10.46.189.9")]] })));
    expect(r.messageType).toBe("NAK");
    expect(encodeDhcpPacket(r.packet).length).toBeLessThanOrEqual(548);
  });
});

describe("source address outside the arrival interface's subnet", () => {
  const wrong = (packet: DhcpPacket) =>
    decideDhcpReply({ request: packet, scope: port1, settings: resolveDhcpSettings(), identity: identifyPi({ mac: macOfPacket(packet), option97: undefined, transactionId: 1 }), knownPi: false, sourceOnScope: false });

  it("isSourceOnScope: 0.0.0.0, the scope's /30 and relayed requests pass; other sources do not", () => {
    const plain = request({ type: DhcpMessageType.Discover });
    const relayed = request({ type: DhcpMessageType.Discover, giaddr: "10.0.0.1" });
    expect(["0.0.0.0", "10.46.189.2", "10.46.189.1", "10.46.189.3", undefined].map((s) => isSourceOnScope(port1, s, plain))).toEqual([true, true, true, true, true]);
    expect(["10.46.189.6", "10.46.189.4", "192.168.1.2", "junk"].map((s) => isSourceOnScope(port1, s, plain))).toEqual([false, false, false, false]);
    expect(isSourceOnScope(port1, "10.0.0.1", relayed)).toBe(true);
  });

  it("gets no OFFER or ACK, only the NAK a moved Pi needs", () => {
    expect(wrong(request({ type: DhcpMessageType.Discover }))).toEqual({ kind: "ignore", reason: "wrong-source" });
    expect(wrong(request({ type: DhcpMessageType.Inform, ciaddr: "10.46.189.6" }))).toEqual({ kind: "ignore", reason: "wrong-source" });
    expect(wrong(request({ type: DhcpMessageType.Request, options: [[50, ipv4Value("10.46.189.2")]] }))).toEqual({ kind: "ignore", reason: "wrong-source" });
    expect(replyOf(wrong(request({ type: DhcpMessageType.Request, ciaddr: "10.46.189.6" }))).messageType).toBe("NAK");
  });
});
