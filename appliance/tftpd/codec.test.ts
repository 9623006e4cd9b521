import { describe, expect, it } from "vitest";
import { DecodeError } from "../../lib/errors.ts";
import { decodePacket, encodeAck, encodeDataHeader, encodeError, encodeOack, encodeRequest, type TftpRequest } from "./codec.ts";

// Real packet bytes from pi-netboot.md §8.6 (raspberrypi/firmware#1041, rpi-eeprom#74, boot-net.adoc).
const captures = {
  "Pi 3 ROM RRQ bootcode.bin, no options": {
    hex: "0001626f6f74636f64652e62696e006f6374657400",
    packet: { kind: "rrq", filename: "bootcode.bin", mode: "octet", options: [] },
  },
  "start.elf stage RRQ with tsize 0": {
    hex: "000166697875702e646174006f63746574007473697a65003000",
    packet: { kind: "rrq", filename: "fixup.dat", mode: "octet", options: [["tsize", "0"]] },
  },
  "Pi 4 RRQ with serial folder, tsize and blksize 1024": {
    hex: "000164393738303535382f7374617274342e656c66006f63746574007473697a65003000626c6b73697a65003130323400",
    packet: { kind: "rrq", filename: "d9780558/start4.elf", mode: "octet", options: [["tsize", "0"], ["blksize", "1024"]] },
  },
  "real server OACK tsize=6660": { hex: "00067473697a65003636363000", packet: { kind: "oack", options: [["tsize", "6660"]] } },
  "Pi client abort: ERROR 0 Early terminate": {
    hex: "000500004561726c79207465726d696e61746500",
    packet: { kind: "error", code: 0, message: "Early terminate" },
  },
} as const;

describe("decodePacket on captured bytes", () => {
  it.each(Object.entries(captures))("%s", (_name, { hex, packet }) => {
    expect(decodePacket(Buffer.from(hex, "hex"))).toEqual(packet);
  });

  it.each(Object.entries(captures).filter(([, c]) => c.packet.kind === "rrq"))("%s re-encodes byte for byte", (_name, { hex, packet }) => {
    expect(encodeRequest(packet as TftpRequest).toString("hex")).toBe(hex);
  });

  it("encodes the OACK and ERROR of the captures byte for byte", () => {
    expect(encodeOack([["tsize", "6660"]]).toString("hex")).toBe(captures["real server OACK tsize=6660"].hex);
    expect(encodeError(0, "Early terminate").toString("hex")).toBe(captures["Pi client abort: ERROR 0 Early terminate"].hex);
    expect(encodeError(1, "File not found").toString("hex")).toBe("0005000146696c65206e6f7420666f756e6400");
  });
});

describe("decodePacket edge cases", () => {
  const cases = {
    "option names are case-insensitive": ["000141006f6374657400 424c4b53495a45 00 3130323400", { kind: "rrq", filename: "A", mode: "octet", options: [["blksize", "1024"]] }],
    "mode is case-insensitive": ["000141004f4354455400", { kind: "rrq", filename: "A", mode: "octet", options: [] }],
    "WRQ": ["00024100 6f6374657400", { kind: "wrq", filename: "A", mode: "octet", options: [] }],
    "ACK with padding": ["0004ffff0000", { kind: "ack", block: 65535 }],
    "DATA": ["00030001616263", { kind: "data", block: 1, data: Buffer.from("abc") }],
    "ERROR without NUL": ["0005000278", { kind: "error", code: 2, message: "x" }],
  } as const;
  it.each(Object.entries(cases))("%s", (_name, [hex, packet]) => {
    expect(decodePacket(Buffer.from(hex.replace(/ /g, ""), "hex"))).toEqual(packet);
  });

  const bad = {
    "too short": "0001",
    "unknown opcode": "00090000",
    "RRQ without mode": "00014100",
    "RRQ filename not terminated": "00014141",
    "option without value": "00014100 6f6374657400 7473697a6500",
    "OACK option without value": "00067473697a6500",
  };
  it.each(Object.entries(bad))("rejects %s with DecodeError", (_name, hex) => {
    expect(() => decodePacket(Buffer.from(hex.replace(/ /g, ""), "hex"))).toThrow(DecodeError);
  });

  it("wraps block numbers to 16 bits in ACK and DATA headers", () => {
    expect(encodeAck(65536).toString("hex")).toBe("00040000");
    expect(encodeDataHeader(65537).toString("hex")).toBe("00030001");
  });
});
