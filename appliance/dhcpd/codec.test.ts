import { describe, expect, it } from "vitest";
import { DecodeError } from "../../lib/errors.ts";
import { dhcpFixture, dhcpFixtureDir, type DhcpFixtureName } from "../../test/support/dhcpd-fixtures.ts";
import { createDhcpPacket, decodeDhcpPacket, encodeDhcpPacket, ipv4Bytes } from "./codec.ts";
import { DhcpOption } from "./constants.ts";
import { describeDhcpPacket, ipv4Option, macOfPacket, messageTypeOf, parameterRequestList, textOption } from "./option-values.ts";

const fixtures: DhcpFixtureName[] = [
  "pi3-family-discover",
  "pi3b-rom-discover",
  "official-offer",
  "appliance-offer-reference",
  "pi4-discover",
  "pi4-request",
  "pi5-discover",
  "pi5-request",
];

describe("decodeDhcpPacket golden decodes", () => {
  it.each(fixtures)("%s decodes to its golden file", async (name) => {
    const packet = decodeDhcpPacket(dhcpFixture(name));
    await expect(JSON.stringify(describeDhcpPacket(packet), null, 2) + "\n").toMatchFileSnapshot(`${dhcpFixtureDir}golden/${name}.json`);
  });

  it("reads the real Pi 3-family DISCOVER field by field", () => {
    const p = decodeDhcpPacket(dhcpFixture("pi3-family-discover"));
    expect(p.transactionId).toBe(0x26f30339);
    expect(p.flags).toBe(0);
    expect(macOfPacket(p)).toBe("b8:27:eb:9b:65:d4");
    expect(messageTypeOf(p)).toBe("DISCOVER");
    expect(parameterRequestList(p)).toEqual([43, 60, 67, 128, 129, 130, 131, 132, 133, 134, 135, 66, 1, 3]);
    expect(p.options.get(DhcpOption.ClientArchitecture)?.toString("hex")).toBe("0000");
    expect(p.options.get(DhcpOption.ClientNetworkInterface)?.toString("hex")).toBe("010201");
    expect(p.options.get(DhcpOption.ClientMachineId)?.toString("hex")).toBe("00" + "d4659bbd".repeat(4));
    expect(textOption(p, DhcpOption.VendorClass)).toBe("PXEClient:Arch:00000:UNDI:002001");
    expect(p.optionItems.map((i) => i.code)).toEqual([53, 55, 93, 94, 97, 60, 255]);
  });

  it("reads the official OFFER's PXE options", () => {
    const p = decodeDhcpPacket(dhcpFixture("official-offer"));
    expect(p.yourAddress).toBe("192.168.1.139");
    expect(p.serverAddress).toBe("192.168.1.1");
    expect(ipv4Option(p, DhcpOption.ServerIdentifier)).toBe("192.168.1.1");
    expect(p.options.get(DhcpOption.VendorSpecific)?.toString("hex")).toBe("0601030a0400505845091400001152617370626572727920506920426f6f74ff");
  });

  it("reads the Pi 4 REQUEST without option 60", () => {
    const p = decodeDhcpPacket(dhcpFixture("pi4-request"));
    expect(messageTypeOf(p)).toBe("REQUEST");
    expect(p.options.has(DhcpOption.VendorClass)).toBe(false);
    expect(ipv4Option(p, DhcpOption.RequestedAddress)).toBe("10.46.189.2");
  });
});

describe("round trips", () => {
  it.each(fixtures)("%s: decode -> encode is byte-exact", (name) => {
    const bytes = dhcpFixture(name);
    expect(encodeDhcpPacket(decodeDhcpPacket(bytes)).toString("hex")).toBe(bytes.toString("hex"));
  });

  const tweaks: Record<string, (b: Buffer) => Buffer> = {
    "pad options between options": (b) => Buffer.concat([b.subarray(0, 243), Buffer.from([0, 0, 0]), b.subarray(243)]),
    "trailing zeros after end": (b) => Buffer.concat([b, Buffer.alloc(40)]),
    "no end option": (b) => b.subarray(0, b.length - 1),
    "option split in two (RFC 3396)": (b) => Buffer.concat([b.subarray(0, b.length - 1), Buffer.from([12, 2, 0x61, 0x62, 12, 1, 0x63, 255])]),
  };
  it.each(Object.entries(tweaks))("keeps %s exactly", (_name, tweak) => {
    const bytes = tweak(dhcpFixture("pi3-family-discover"));
    expect(encodeDhcpPacket(decodeDhcpPacket(bytes)).equals(bytes)).toBe(true);
  });

  it("concatenates a split option in the merged view", () => {
    const b = dhcpFixture("pi3-family-discover");
    const split = Buffer.concat([b.subarray(0, b.length - 1), Buffer.from([12, 2, 0x61, 0x62, 12, 1, 0x63, 255])]);
    expect(textOption(decodeDhcpPacket(split), DhcpOption.HostName)).toBe("abc");
  });
});

describe("option overload (option 52)", () => {
  const overloaded = (value: number): Buffer => {
    const b = Buffer.from(dhcpFixture("pi3-family-discover"));
    // file (byte 108) holds option 12 "pi"; sname (byte 44) holds option 66 "x".
    Buffer.from([12, 2, 0x70, 0x69, 255]).copy(b, 108);
    Buffer.from([66, 1, 0x78, 255]).copy(b, 44);
    return Buffer.concat([b.subarray(0, b.length - 1), Buffer.from([52, 1, value, 255])]);
  };
  const cases: Record<string, { value: number; hostName?: string; tftp?: string }> = {
    "1 = file holds options": { value: 1, hostName: "pi" },
    "2 = sname holds options": { value: 2, tftp: "x" },
    "3 = both": { value: 3, hostName: "pi", tftp: "x" },
  };
  it.each(Object.entries(cases))("%s", (_name, c) => {
    const bytes = overloaded(c.value);
    const p = decodeDhcpPacket(bytes);
    expect(textOption(p, DhcpOption.HostName)).toBe(c.hostName);
    expect(textOption(p, DhcpOption.TftpServerName)).toBe(c.tftp);
    expect(encodeDhcpPacket(p).equals(bytes)).toBe(true);
  });
});

describe("malformed input raises typed errors", () => {
  const base = dhcpFixture("pi3-family-discover");
  const cases: Record<string, { bytes: Buffer; code: string }> = {
    "empty packet": { bytes: Buffer.alloc(0), code: "DHCP_TRUNCATED" },
    "truncated header": { bytes: base.subarray(0, 100), code: "DHCP_TRUNCATED" },
    "header without cookie": { bytes: base.subarray(0, 236), code: "DHCP_NO_MAGIC_COOKIE" },
    "wrong magic cookie": { bytes: Buffer.concat([base.subarray(0, 236), Buffer.from("63825364", "hex"), base.subarray(240)]), code: "DHCP_NO_MAGIC_COOKIE" },
    "option length past the end": { bytes: Buffer.concat([base.subarray(0, base.length - 1), Buffer.from([12, 40, 1, 2])]), code: "DHCP_OPTION_OVERRUN" },
    "option code without length": { bytes: Buffer.concat([base.subarray(0, base.length - 1), Buffer.from([12])]), code: "DHCP_OPTION_OVERRUN" },
    "hlen 7 for Ethernet": { bytes: Buffer.concat([base.subarray(0, 2), Buffer.from([7]), base.subarray(3)]), code: "DHCP_BAD_HLEN" },
    "hlen 17": { bytes: Buffer.concat([Buffer.from([1, 32, 17]), base.subarray(3)]), code: "DHCP_BAD_HLEN" },
    "op 3": { bytes: Buffer.concat([Buffer.from([3]), base.subarray(1)]), code: "DHCP_BAD_OP" },
    "overload value 4": { bytes: Buffer.concat([base.subarray(0, base.length - 1), Buffer.from([52, 1, 4, 255])]), code: "DHCP_BAD_OVERLOAD" },
    "overloaded file with an overrun": {
      bytes: (() => {
        const b = Buffer.from(base);
        Buffer.from([12, 200]).copy(b, 108);
        return Buffer.concat([b.subarray(0, b.length - 1), Buffer.from([52, 1, 1, 255])]);
      })(),
      code: "DHCP_OPTION_OVERRUN",
    },
  };
  it.each(Object.entries(cases))("%s", (_name, c) => {
    let caught: unknown;
    try {
      decodeDhcpPacket(c.bytes);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(DecodeError);
    expect((caught as DecodeError).code).toBe(c.code);
  });
});

describe("createDhcpPacket", () => {
  it("rebuilds the official OFFER byte for byte from named fields", () => {
    const official = dhcpFixture("official-offer");
    const d = decodeDhcpPacket(official);
    const built = createDhcpPacket({
      op: 2,
      transactionId: 0x26f30339,
      clientHardwareAddress: Buffer.from("b827eb28f66d", "hex"),
      yourAddress: "192.168.1.139",
      serverAddress: "192.168.1.1",
      options: d.optionItems.filter((i) => i.code !== 255).map((i) => [i.code, i.data] as const),
    });
    expect(encodeDhcpPacket(built).toString("hex")).toBe(official.toString("hex"));
  });

  it("pads short replies with zeros after the end option up to 300 bytes, never with pad options", () => {
    const p = createDhcpPacket({ op: 2, transactionId: 1, clientHardwareAddress: Buffer.alloc(6), options: [[53, Buffer.from([6])]] });
    const bytes = encodeDhcpPacket(p);
    expect(bytes.length).toBe(300);
    expect(p.optionItems.map((i) => i.code)).toEqual([53, 255]);
  });

  it("splits an option longer than 255 bytes into consecutive items", () => {
    const long = Buffer.alloc(300, 7);
    const p = createDhcpPacket({ op: 2, transactionId: 1, clientHardwareAddress: Buffer.alloc(6), options: [[43, long]] });
    expect(p.optionItems.map((i) => [i.code, i.data.length])).toEqual([[43, 255], [43, 45], [255, 0]]);
    expect(decodeDhcpPacket(encodeDhcpPacket(p)).options.get(43)?.equals(long)).toBe(true);
  });
});

describe("ipv4Bytes", () => {
  it("reads dotted quads and refuses anything else, naming the text", () => {
    expect([...ipv4Bytes("10.46.189.2")]).toEqual([10, 46, 189, 2]);
    expect([...ipv4Bytes("0.0.0.0")]).toEqual([0, 0, 0, 0]);
    expect([...ipv4Bytes("255.255.255.252")]).toEqual([255, 255, 255, 252]);
    expect([...ipv4Bytes("010.1.1.1")]).toEqual([10, 1, 1, 1]);
    for (const bad of ["", "1.2.3", "1.2.3.4.", ".1.2.3", "1.2.3.4.5", "1..2.3", "256.1.1.1", "1.2.3.1000", " 1.2.3.4", "1.2.3.4 ", "a.b.c.d", "1.2.3.-4", "::1"]) {
      expect(() => ipv4Bytes(bad), bad).toThrow(new DecodeError("DHCP_BAD_ADDRESS", `expected a dotted-quad IPv4 address, got ${JSON.stringify(bad)}`));
    }
  });

  it("macOfPacket gives the chaddr's six bytes as lower-case colon text", () => {
    const packet = createDhcpPacket({ op: 1, transactionId: 1, clientHardwareAddress: Buffer.from("DCA632A00003", "hex"), options: [] });
    expect(macOfPacket(decodeDhcpPacket(encodeDhcpPacket(packet)))).toBe("dc:a6:32:a0:00:03");
  });
});
