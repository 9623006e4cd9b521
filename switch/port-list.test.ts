import { describe, expect, it } from "vitest";
import { encodePortList, hasPort, parsePortListText, portListHex, portsOf, samePorts, withPort } from "./port-list.ts";

describe("PortList codec (RFC 4363: MSB of octet 1 is port 1)", () => {
  const cases: Record<string, { ports: number[]; octets: number; hex: string }> = {
    "port 1 alone": { ports: [1], octets: 1, hex: "80" },
    "ports 1 and 8": { ports: [1, 8], octets: 1, hex: "81" },
    "port 9 starts octet 2": { ports: [9], octets: 2, hex: "0080" },
    "ports 1-24": { ports: Array.from({ length: 24 }, (_, i) => i + 1), octets: 3, hex: "FFFFFF" },
    "seed VLAN 10 on a 24-port switch": { ports: [1, 24], octets: 3, hex: "800001" },
    "HP 2530 uplink 28 in a 16-octet list": { ports: [28], octets: 16, hex: "00000010000000000000000000000000" },
    "empty list keeps its length": { ports: [], octets: 4, hex: "00000000" },
  };
  it.each(Object.entries(cases))("%s", (_name, c) => {
    const list = encodePortList(c.ports, c.octets);
    expect(portListHex(list)).toBe(c.hex);
    expect(list.length).toBe(c.octets);
    expect(portsOf(list)).toEqual(c.ports);
    for (const p of c.ports) expect(hasPort(list, p)).toBe(true);
  });

  it("withPort flips one bit and keeps every other bit and the length", () => {
    const hp = Buffer.from("000000EFFFFFFFFFFFFFFFFFF8000000", "hex"); // HP 2530 static VLAN 1, filler bits included
    const cleared = withPort(hp, 25, false);
    expect(portListHex(cleared)).toBe("0000006FFFFFFFFFFFFFFFFFF8000000");
    expect(portListHex(withPort(cleared, 25, true))).toBe(portListHex(hp));
    expect(portListHex(hp)).toBe("000000EFFFFFFFFFFFFFFFFFF8000000"); // input untouched
  });

  const outOfRange: Record<string, number> = { "port 0": 0, "past the list": 25, fraction: 1.5 };
  it.each(Object.entries(outOfRange))("refuses %s", (_name, p) => {
    expect(() => withPort(Buffer.alloc(3), p, true)).toThrow(RangeError);
  });

  it("ports past the list are not members", () => {
    expect(hasPort(Buffer.from([0xff]), 9)).toBe(false);
    expect(hasPort(Buffer.from([0xff]), 0)).toBe(false);
  });

  const cliText: Record<string, { text: string; hex: string }> = {
    "Hex-STRING": { text: "Hex-STRING: 80 00 01 ", hex: "800001" },
    "printable octets come as STRING (net-snmp #826)": { text: 'STRING: "@"', hex: "40" },
    "escaped quote": { text: 'STRING: "\\""', hex: "22" },
    "bare hex": { text: "c1", hex: "C1" },
  };
  it.each(Object.entries(cliText))("parses CLI output: %s", (_name, c) => {
    expect(portListHex(parsePortListText(c.text))).toBe(c.hex);
  });

  it("rejects text that is not a PortList", () => {
    expect(() => parsePortListText("INTEGER: 5")).toThrow(/expected a hex PortList/);
  });

  it("samePorts compares only the named ports", () => {
    expect(samePorts(Buffer.from([0x80, 0xff]), Buffer.from([0x80]), [1, 2, 8])).toBe(true);
    expect(samePorts(Buffer.from([0x80]), Buffer.from([0x00]), [1])).toBe(false);
  });
});
