/* eslint-disable @typescript-eslint/no-explicit-any -- cases mutate raw YAML documents of any shape */
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { parseConfigText, parsePorts, validateConfig } from "./config.ts";

const seedText = readFileSync(new URL("../examples/seed-rack.yaml", import.meta.url), "utf8");

/** A minimal valid config; cases override parts of it. */
const base = () => ({
  storage: { network: "10.46.189.0/24" },
  public: { prefix: "2a00:1098:0:84::/64", gateway: "2a00:1098:0:84::1", firstAddress: "2a00:1098:0:84:1000:1::2" },
  ports: "1-8",
});

describe("validateConfig", () => {
  it("fills every default in one place", () => {
    const r = validateConfig(base());
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.config).toMatchObject({
      shelf: "pirack",
      fileserver: { interface: "eth0", switchPort: 24, manageInterfaces: true },
      storage: { firstVlan: 10 },
      public: { vlan: 131 },
      ports: [1, 2, 3, 4, 5, 6, 7, 8],
      boot: { nfsOptions: "vers=3,tcp", firmware: "/srv/pirack/firmware" },
      paths: { exports: "/export", images: "/srv/pirack/images", state: "/var/lib/pirack" },
      image: "bookworm-arm64",
      nfs: { server: "kernel" },
      switch: { driver: "none", port: 161, poe: true },
      enrol: "auto",
      pis: [],
    });
    expect(Object.isFrozen(r.config.fileserver)).toBe(true);
  });

  it("accepts both shipped examples", () => {
    for (const file of ["seed-rack.yaml", "shelf-96.yaml"]) {
      const r = parseConfigText(readFileSync(new URL(`../examples/${file}`, import.meta.url), "utf8"));
      expect(r.ok ? [] : r.problems, file).toEqual([]);
    }
  });

  const cases: Record<string, [(c: Record<string, any>) => void, string[]]> = {
    "bad CIDR": [(c) => (c.storage.network = "10.46.189.0/33"), ["storage.network: prefix length 33 is larger than 32"]],
    "CIDR with host bits": [(c) => (c.storage.network = "10.46.189.7/24"), ["storage.network: 10.46.189.7/24 has host bits set (network is 10.46.189.0/24)"]],
    "not an address": [(c) => (c.storage.network = "10.46.289.0/24"), ['storage.network: "10.46.289.0" is not an IPv4 address']],
    "storage network too small": [
      (c) => ((c.storage.network = "10.46.189.0/28"), (c.ports = "1-8")),
      ["storage.network: 10.46.189.0/28 holds 4 /30 networks but port 8 needs the 8th; use a /27 or larger"],
    ],
    "VLAN outside 1-4094": [(c) => (c.storage.firstVlan = 0), ["storage.firstVlan: VLAN must be 1-4094"]],
    "last VLAN past 4094": [(c) => (c.storage.firstVlan = 4090), ["storage.firstVlan: port 8 would get VLAN 4097, above 4094"]],
    "storage VLAN collides with public": [
      (c) => (c.public.vlan = 12),
      ["public.vlan: VLAN 12 is also the storage VLAN of port 3 (storage.firstVlan 10)"],
    ],
    "duplicate port in list": [(c) => (c.ports = [1, 2, 2]), ["ports: port 2 is listed twice"]],
    "duplicate port in ranges": [(c) => (c.ports = "1-4,3"), ["ports: port 3 is listed twice"]],
    "unparseable port": [(c) => (c.ports = "1-4,a"), ['ports: "a" is not a port or range like 1-8']],
    "fileserver port among Pi ports": [(c) => (c.ports = "20-24"), ["ports: port 24 is the fileserver's trunk port (fileserver.switchPort)"]],
    "duplicate names": [
      (c) => (c.pis = [{ port: 1, name: "web" }, { port: 2, name: "web" }]),
      ["pis[1].name: web is already used by pis[0]"],
    ],
    "duplicate serials": [
      (c) => (c.pis = [{ port: 1, serial: "0660cd37" }, { port: 2, serial: "0660cd37" }]),
      ["pis[1].serial: 0660cd37 is already used by pis[0]"],
    ],
    "duplicate pi ports": [(c) => (c.pis = [{ port: 1 }, { port: 1 }]), ["pis[1].port: 1 is already used by pis[0]"]],
    "pi on an unlisted port": [(c) => (c.pis = [{ port: 9 }]), ["pis[0].port: port 9 is not in ports"]],
    "public address outside its prefix": [
      (c) => (c.public.firstAddress = "2a00:1098:0:85::2"),
      ["public.firstAddress: 2a00:1098:0:85::2 is outside 2a00:1098:0:84::/64"],
    ],
    "gateway outside its prefix": [(c) => (c.public.gateway = "2a00:1098::1"), ["public.gateway: 2a00:1098::1 is outside 2a00:1098:0:84::/64"]],
    "last public address past the prefix": [
      (c) => (c.public.firstAddress = "2a00:1098:0:84:ffff:ffff:ffff:fffe"),
      ["public.firstAddress: port 8's address would fall outside 2a00:1098:0:84::/64"],
    ],
    "unknown top-level key": [(c) => (c.colour = "blue"), [expect.stringMatching(/^colour: unknown key/) as unknown as string]],
    "unknown nested key": [(c) => (c.storage.netmask = "x"), ["storage: unknown key netmask"]],
    "missing switch credentials": [
      (c) => (c.switch = { driver: "qbridge", host: "192.0.2.10" }),
      ["switch.snmp: credentials are required when switch.driver is qbridge"],
    ],
    "missing switch host": [
      (c) => (c.switch = { driver: "qbridge", snmp: { version: "2c", community: "private" } }),
      ["switch.host: is required when switch.driver is qbridge"],
    ],
    "short v3 keys": [
      (c) => (c.switch = { driver: "qbridge", host: "h", snmp: { version: "3", user: "u", authKey: "short", privKey: "short" } }),
      ["switch.snmp.authKey: authKey needs at least 8 characters (RFC 3414)", "switch.snmp.privKey: privKey needs at least 8 characters (RFC 3414)"],
    ],
    "missing required section": [(c) => delete c.public, ["public: is required"]],
    "multi-line cmdline": [(c) => (c.boot = { cmdline: "a\nb" }), ["boot.cmdline: must be a single line"]],
  };

  it.each(Object.entries(cases))("rejects %s", (_name, [mutate, expected]) => {
    const c: Record<string, any> = base();
    mutate(c);
    const r = validateConfig(c);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problems).toEqual(expected);
  });

  it("lists every problem of a badly broken file at once", () => {
    const r = parseConfigText(
      [
        "shelf: Hex_A",
        "storage: { network: 10.46.189.1/24, firstVlan: 4095 }",
        "public: { prefix: 2a00:1098:0:84::/64, gateway: 2a00:1098:0:85::1, firstAddress: '2a00:1098:0:84::2' }",
        "ports: 1-3",
        "colour: blue",
        "pis: [ { port: 1, name: pi01, serial: 0660CD37 }, { port: 2, name: pi01 } ]",
      ].join("\n"),
    );
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problems).toEqual([
      "colour: unknown key (expected one of shelf, fileserver, storage, public, ports, boot, paths, image, nfs, switch, dhcp, tftp, enrol, pis)",
      "shelf: must be a host name label: a-z, 0-9 and '-', 1-63 characters",
      "storage.firstVlan: VLAN must be 1-4094",
      "pis[0].serial: must be the 8 lower-case hex digits of the Pi's serial (as in its TFTP folder)",
      "storage.network: 10.46.189.1/24 has host bits set (network is 10.46.189.0/24)",
      "public.gateway: 2a00:1098:0:85::1 is outside 2a00:1098:0:84::/64",
      "pis[1].name: pi01 is already used by pis[0]",
    ]);
    expect(r.problems).toContain("pis[1].name: pi01 is already used by pis[0]");
  });

  it("reports YAML syntax errors with their position", () => {
    const r = parseConfigText("ports: [1, 2\nshelf: x");
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problems[0]).toMatch(/^\(yaml\) line \d+ column \d+: /);
  });

  it("parses the seed example", () => {
    const r = parseConfigText(seedText);
    expect(r.ok && r.config.ports).toEqual([1, 2]);
  });
});

describe("parsePorts", () => {
  it.each([
    ["range", "1-8", [1, 2, 3, 4, 5, 6, 7, 8]],
    ["list and ranges", "1,3,5-7", [1, 3, 5, 6, 7]],
    ["spaces", " 2 , 4-5 ", [2, 4, 5]],
    ["one number", 7, [7]],
    ["array", [3, 1], [1, 3]],
  ] as const)("%s", (_n, spec, expected) => {
    expect(parsePorts(spec as never).ports).toEqual(expected);
  });
  it("rejects reversed ranges", () => {
    expect(parsePorts("5-2").problems).toEqual(['"5-2" is not a valid range (ports are 1-4096, low-high)']);
  });
});

describe("parseConfigText never throws", () => {
  const valid = `storage: { network: 10.46.189.0/24 }
public: { prefix: "2a00:1098:0:84::/64", gateway: "2a00:1098:0:84::1", firstAddress: "2a00:1098:0:84:1000:1::2" }
ports: 1-2
`;
  // A 1 KB "billion laughs": nine levels of nine aliases would expand to 9^9 strings.
  const laughs = ["a: &a [x, x, x, x, x, x, x, x, x]", ..."bcdefghi".split("").map((l, i) => `${l}: &${l} [${Array(9).fill(`*${"abcdefgh"[i]}`).join(", ")}]`)].join("\n");
  const cases: Record<string, [string, RegExp]> = {
    "alias to an undefined anchor": [`${valid}image: *golden\n`, /^\(yaml\): Unresolved alias \(the anchor must be set before the alias\): golden$/],
    "billion laughs": [laughs, /^\(yaml\): Excessive alias count indicates a resource exhaustion attack$/],
    "binary garbage": ["\u0000\u0001\u0002: [", /^\(yaml\) line 1 column \d+: /],
  };
  it.each(Object.entries(cases))("%s", (_, [text, problem]) => {
    expect(laughs.length).toBeLessThan(1024);
    const r = parseConfigText(text);
    expect(r.ok ? [] : r.problems).toHaveLength(1);
    expect(r.ok ? "" : r.problems[0]).toMatch(problem);
  });

  it("lists at most 50 problems and says how many more there were", () => {
    const r = parseConfigText(valid + Array.from({ length: 120 }, (_, i) => `k${i}: 1`).join("\n"));
    expect(r.ok ? [] : r.problems.length).toBe(51);
    expect(r.ok ? "" : r.problems[50]).toBe("(and 70 more problems)");
  });
});

describe("wrong type and missing are told apart", () => {
  const valid = `storage: { network: 10.46.189.0/24 }
public: { prefix: "2a00:1098:0:84::/64", gateway: "2a00:1098:0:84::1", firstAddress: "2a00:1098:0:84:1000:1::2" }
ports: 1-2
`;
  const cases: Record<string, [string, string[]]> = {
    "number for a string": ["switch: { driver: qbridge, host: sw, snmp: { version: '2c', community: 7 } }", ["switch.snmp.community: must be a string, got the number 7"]],
    "missing string": ["switch: { driver: qbridge, host: sw, snmp: { version: '2c' } }", ["switch.snmp.community: is required"]],
    "fraction for an integer": ["switch: { port: 1.5 }", ["switch.port: must be an integer, got the number 1.5"]],
    "string for a mapping": ["fileserver: eth0", ['fileserver: must be a mapping, got the string "eth0"']],
    "list for a number": ["tftp: { cacheBytes: [1] }", ["tftp.cacheBytes: must be a number, got a list"]],
    "number for a boolean": ["dhcp: { sendRouter: 1 }", ["dhcp.sendRouter: must be true or false, got the number 1"]],
    "null for a string": ["shelf: null", ["shelf: must be a string, got null"]],
  };
  it.each(Object.entries(cases))("%s", (_, [extra, problems]) => {
    const r = parseConfigText(`${valid}${extra}\n`);
    expect(r.ok ? [] : r.problems).toEqual(problems);
  });
});
