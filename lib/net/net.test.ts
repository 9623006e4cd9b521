import { describe, expect, it } from "vitest";
import { formatIpv4, parseIpv4, parseIpv4Prefix, prefixMask } from "./ipv4.ts";
import { compressionOf, formatIpv6, ipv6InPrefix, parseIpv6, parseIpv6Prefix } from "./ipv6.ts";

describe("ipv4", () => {
  it.each([
    ["0.0.0.0", 0],
    ["10.46.189.2", 0x0a2ebd02],
    ["255.255.255.255", 0xffffffff],
  ])("round-trips %s", (text, value) => {
    expect(parseIpv4(text)).toBe(value);
    expect(formatIpv4(value)).toBe(text);
  });
  it.each(["1.2.3", "1.2.3.256", "01.2.3.4", "a.b.c.d", "1.2.3.4.5", ""])("rejects %s", (text) => {
    expect(parseIpv4(text)).toBeUndefined();
  });
  it("computes masks", () => {
    expect(formatIpv4(prefixMask(30))).toBe("255.255.255.252");
    expect(prefixMask(0)).toBe(0);
    expect(formatIpv4(prefixMask(32))).toBe("255.255.255.255");
  });
  it("parses prefixes", () => {
    expect(parseIpv4Prefix("10.46.184.0/22")).toEqual({ network: 0x0a2eb800, length: 22 });
    expect(parseIpv4Prefix("10.46.189.0")).toMatch(/^expected an IPv4 network/);
  });
});

describe("ipv6", () => {
  it.each([
    ["2a00:1098:0:84:1000:1::2", "2a00:1098:0:84:1000:1:0:2"],
    ["::1", "0:0:0:0:0:0:0:1"],
    ["::", "0:0:0:0:0:0:0:0"],
    ["2A00:1098:0:84::1", "2a00:1098:0:84:0:0:0:1"],
  ])("parses %s", (text, full) => {
    const v = parseIpv6(text)!;
    expect(parseIpv6(full)).toBe(v);
  });
  it.each(["1::2::3", "1:2:3:4:5:6:7:8:9", "12345::", "g::1", "1:2:3:4:5:6:7"])("rejects %s", (text) => {
    expect(parseIpv6(text)).toBeUndefined();
  });
  it("formats per RFC 5952 without a style", () => {
    expect(formatIpv6(parseIpv6("2001:db8:0:0:1:0:0:1")!)).toBe("2001:db8::1:0:0:1");
    expect(formatIpv6(parseIpv6("2001:db8:0:1:1:1:1:1")!)).toBe("2001:db8:0:1:1:1:1:1");
  });
  it("keeps the operator's :: placement while it still fits", () => {
    const style = compressionOf("2a00:1098:0:84:1000:1::2");
    expect(style).toEqual({ start: 6, count: 1 });
    expect(formatIpv6(parseIpv6("2a00:1098:0:84:1000:1::2")! + 1n, style)).toBe("2a00:1098:0:84:1000:1::3");
  });
  it("checks prefix membership", () => {
    const p = parseIpv6Prefix("2a00:1098:0:84::/64");
    if (typeof p === "string") throw new Error(p);
    expect(ipv6InPrefix(parseIpv6("2a00:1098:0:84:ffff::1")!, p)).toBe(true);
    expect(ipv6InPrefix(parseIpv6("2a00:1098:0:85::1")!, p)).toBe(false);
    expect(parseIpv6Prefix("2a00:1098:0:84::1/64")).toBe("2a00:1098:0:84::1/64 has host bits set");
  });
});
