import { describe, expect, it } from "vitest";
import { dhcpFixture, type DhcpFixtureName } from "../../test/support/dhcpd-fixtures.ts";
import { decodeDhcpPacket } from "./codec.ts";
import { DhcpOption } from "./constants.ts";
import { macOfPacket, parseMac } from "./option-values.ts";
import { decodeOption97, identifyPi, needsPi3OfferDelay, PXE_MENUS } from "./raspberry-pi.ts";

const identityOf = (name: DhcpFixtureName) => {
  const p = decodeDhcpPacket(dhcpFixture(name));
  return identifyPi({ mac: macOfPacket(p), option97: p.options.get(DhcpOption.ClientMachineId), transactionId: p.transactionId });
};

describe("identifyPi on real and constructed packets", () => {
  const cases: Record<string, { fixture: DhcpFixtureName; model: string; family: number; serial: string | null; delay: boolean }> = {
    "Pi 3B ROM: option 97 is the 0x44 constant": { fixture: "pi3b-rom-discover", model: "3B", family: 3, serial: null, delay: true },
    "Pi 3-family (3B+ ROM / bootcode.bin): serial little-endian x4": { fixture: "pi3-family-discover", model: "3-family", family: 3, serial: "bd9b65d4", delay: true },
    "Pi 4 EEPROM: RPi4 layout, revision 00a03111 = 4B": { fixture: "pi4-discover", model: "4B", family: 4, serial: "5b154510", delay: false },
    "Pi 4 REQUEST (no option 60)": { fixture: "pi4-request", model: "4B", family: 4, serial: "5b154510", delay: false },
    "Pi 5 EEPROM: RPi5 layout, revision 00d04170 = 5": { fixture: "pi5-discover", model: "5", family: 5, serial: "da591740", delay: false },
  };
  it.each(Object.entries(cases))("%s", (_name, c) => {
    const id = identityOf(c.fixture);
    expect(id).toMatchObject({ isPi: true, model: c.model, family: c.family, serial: c.serial });
    expect(needsPi3OfferDelay(id, decodeDhcpPacket(dhcpFixture(c.fixture)).transactionId)).toBe(c.delay);
  });
});

describe("identifyPi from partial evidence", () => {
  const serialX4 = (serial: number): Buffer => {
    const b = Buffer.alloc(17);
    for (let i = 0; i < 4; i++) b.writeUInt32LE(serial, 1 + 4 * i);
    return b;
  };
  const cases: Record<string, { mac: string; option97?: Buffer; xid?: number; expect: { isPi: boolean; family: number | null; model: string | null; serial: string | null } }> = {
    "Pi 4 OUI alone (OS DHCP client without 97)": { mac: "dc:a6:32:01:36:c2", expect: { isPi: true, family: 4, model: "4-family", serial: null } },
    "Pi 5 OUI alone": { mac: "2c:cf:67:00:00:01", expect: { isPi: true, family: 5, model: "5-family", serial: null } },
    "Pi 3 OUI alone": { mac: "b8:27:eb:00:00:01", expect: { isPi: true, family: 3, model: "3-family", serial: null } },
    "Pi 4 with DHCP_OPTION97=0 (serial x4, not b8:27:eb)": { mac: "e4:5f:01:aa:bb:cc", option97: serialX4(0x6aee7243), expect: { isPi: true, family: 4, model: "4-family", serial: "6aee7243" } },
    "serial x4 matching the MAC's low 24 bits, unknown OUI": { mac: "02:00:00:9b:65:d4", option97: serialX4(0xbd9b65d4), expect: { isPi: true, family: 3, model: "3-family", serial: "bd9b65d4" } },
    "a laptop": { mac: "00:16:3e:11:22:33", expect: { isPi: false, family: null, model: null, serial: null } },
    "a PXE client with an all-zero GUID": { mac: "52:54:00:12:34:56", option97: Buffer.alloc(17), expect: { isPi: false, family: null, model: null, serial: null } },
  };
  it.each(Object.entries(cases))("%s", (_name, c) => {
    expect(identifyPi({ mac: parseMac(c.mac), option97: c.option97, transactionId: c.xid ?? 1 })).toMatchObject(c.expect);
  });

  it("rejects option 97 of the wrong length or type", () => {
    expect(decodeOption97(Buffer.alloc(16, 0x44))).toBeNull();
    expect(decodeOption97(Buffer.concat([Buffer.from([1]), Buffer.alloc(16, 0x44)]))).toBeNull();
  });
});

describe("PXE menus (option 43)", () => {
  it("the dnsmasq menu is the exact 32 bytes of the official capture", () => {
    const offer = decodeDhcpPacket(dhcpFixture("official-offer"));
    expect(PXE_MENUS.dnsmasq.length).toBe(32);
    expect(PXE_MENUS.dnsmasq.equals(offer.options.get(DhcpOption.VendorSpecific)!)).toBe(true);
    expect(PXE_MENUS.dnsmasq.toString("latin1")).toContain("Raspberry Pi Boot");
  });
  it("the padded Pi 3B ROM menu carries 'Raspberry Pi Boot   '", () => {
    expect(PXE_MENUS["pi3-padded"].length).toBe(35);
    expect(PXE_MENUS["pi3-padded"].toString("latin1")).toContain("Raspberry Pi Boot   \xff");
  });
});
