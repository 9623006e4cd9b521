import { describe, expect, it } from "vitest";
import { dhcpFixture } from "../../test/support/dhcpd-fixtures.ts";
import { decodeReply, encodeDiscover, encodeRequest, eepromGuid, PI3_TRANSACTION_ID, pi3bRomGuid, prefixLength, serialGuid } from "./dhcp-packets.ts";
import { dhcpStages } from "./models.ts";

/** Sets xid (bytes 4-7) and chaddr (28-33) so a packet can be compared with a fixture from another Pi. */
const withIdentity = (packet: Buffer, xid: number, mac: string): Buffer => {
  const copy = Buffer.from(packet);
  copy.writeUInt32BE(xid, 4);
  Buffer.from(mac.replace(/:/g, ""), "hex").copy(copy, 28);
  return copy;
};

describe("Pi DHCP packets, byte for byte against the recorded DISCOVERs", () => {
  it("Pi 3B ROM DISCOVER equals the official capture (12-entry option 55, GUID 0x44 x16, 320 bytes)", () => {
    const [rom] = dhcpStages("3b", { serial: "2828f66d", mac: "b8:27:eb:28:f6:6d" });
    const bytes = encodeDiscover({ sender: rom!.sender, transactionId: rom!.fixedTransactionId!, mac: "b8:27:eb:28:f6:6d", clientGuid: rom!.guid });
    expect(bytes.length).toBe(320);
    expect(bytes.toString("hex")).toBe(dhcpFixture("pi3b-rom-discover").toString("hex"));
  });

  it("Pi 3-family DISCOVER (3B+ ROM, bootcode.bin) equals the real capture of b8:27:eb:9b:65:d4 (serial bd9b65d4)", () => {
    for (const model of ["3b+", "3b"] as const) {
      const stages = dhcpStages(model, { serial: "bd9b65d4", mac: "b8:27:eb:9b:65:d4" });
      const stage = stages.at(-1)!; // bootcode.bin's DHCP, the same for both models
      const bytes = encodeDiscover({ sender: stage.sender, transactionId: stage.fixedTransactionId!, mac: "b8:27:eb:9b:65:d4", clientGuid: stage.guid });
      expect(bytes.toString("hex")).toBe(dhcpFixture("pi3-family-discover").toString("hex"));
    }
    const [rom] = dhcpStages("3b+", { serial: "bd9b65d4", mac: "b8:27:eb:9b:65:d4" });
    expect(rom!.fixedTransactionId).toBe(PI3_TRANSACTION_ID);
    expect(encodeDiscover({ sender: rom!.sender, transactionId: PI3_TRANSACTION_ID, mac: "b8:27:eb:9b:65:d4", clientGuid: rom!.guid })).toEqual(dhcpFixture("pi3-family-discover"));
  });

  it("the same Pi 3 builder with another Pi's identity differs from the fixture only in xid and MAC", () => {
    const bytes = encodeDiscover({ sender: "pi3b-rom", transactionId: 0x12345678, mac: "b8:27:eb:00:00:01", clientGuid: pi3bRomGuid() });
    expect(withIdentity(bytes, 0x26f30339, "b8:27:eb:28:f6:6d")).toEqual(dhcpFixture("pi3b-rom-discover"));
  });

  it.each([
    ["4", "pi4-discover", "pi4-request", "dc:a6:32:2e:f8:ed", "5b154510", 0xd383a6ac, "10.46.189.2", "10.46.189.1"],
    ["5", "pi5-discover", "pi5-request", "d8:3a:dd:12:34:56", "da591740", 0x5a17c0de, "10.46.189.6", "10.46.189.5"],
  ] as const)("Pi %s EEPROM DISCOVER and REQUEST (no option 60) equal the fixtures", (model, discover, request, mac, serial, xid, address, server) => {
    const [stage] = dhcpStages(model, { serial, mac });
    expect(stage!.sendsRequest).toBe(true);
    expect(stage!.fixedTransactionId).toBeNull();
    const base = { sender: stage!.sender, transactionId: xid, mac, clientGuid: stage!.guid };
    expect(encodeDiscover(base).toString("hex")).toBe(dhcpFixture(discover).toString("hex"));
    expect(encodeRequest({ ...base, requestedAddress: address, serverIdentifier: server }).toString("hex")).toBe(dhcpFixture(request).toString("hex"));
  });

  it("option 97 layouts: serial little-endian x4, and RPi4 FourCC + revision + MAC tail + serial", () => {
    expect(serialGuid("bd9b65d4").toString("hex")).toBe("00" + "d4659bbd".repeat(4));
    expect(eepromGuid({ family: 4, revision: 0x00a03111, mac: "dc:a6:32:2e:f8:ed", serial: "5b154510" }).toString("hex")).toBe("00525069341131a000322ef8ed1045155b");
  });

  it("the Pi 3 family never sends a REQUEST", () => {
    expect(() => encodeRequest({ sender: "pi3-family", transactionId: 1, mac: "b8:27:eb:00:00:01", clientGuid: serialGuid("01"), requestedAddress: "10.0.0.2", serverIdentifier: "10.0.0.1" })).toThrow(/never sends/);
  });
});

describe("replies as the firmware reads them", () => {
  it("the official OFFER carries the Raspberry Pi boot menu, the lease and the TFTP server", () => {
    const r = decodeReply(dhcpFixture("official-offer"))!;
    expect(r).toMatchObject({ messageType: "offer", transactionId: 0x26f30339, clientMac: "b8:27:eb:28:f6:6d", yourAddress: "192.168.1.139", nextServer: "192.168.1.1", serverIdentifier: "192.168.1.1", subnetMask: "255.255.255.0", hasPiBootMenu: true });
    expect(prefixLength(r.subnetMask!)).toBe(24);
  });

  it("an OFFER without option 43 has no boot menu; truncated and non-reply packets decode to null", () => {
    const offer = Buffer.from(dhcpFixture("appliance-offer-reference"));
    const at43 = offer.indexOf(Buffer.from("2b20", "hex"), 240);
    const without = Buffer.concat([offer.subarray(0, at43), Buffer.from([255])]);
    expect(decodeReply(without)?.hasPiBootMenu).toBe(false);
    expect(decodeReply(offer)?.hasPiBootMenu).toBe(true);
    expect(decodeReply(dhcpFixture("pi4-discover"))).toBeNull();
    expect(decodeReply(offer.subarray(0, 200))).toBeNull();
    expect(decodeReply(Buffer.concat([offer.subarray(0, 242), Buffer.from([51, 40, 1])]))).toBeNull();
  });
});
