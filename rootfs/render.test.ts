import { describe, expect, it } from "vitest";
import { checkPiRootSpec, isMachineId, renderFstab, renderHosts, renderMachineId, renderPublicInterface, renderRootFiles } from "./render.ts";
import { seedPiSpec } from "./testing/seed-pi.ts";
import type { PiRootSpec } from "./types.ts";

/** Pi 1 of the seed rack (DESIGN.md §5): the story's exact values. */
const pi1: PiRootSpec = seedPiSpec(1);

describe("per-Pi root files for the seed rack's Pi 1 (golden)", () => {
  it.each(renderRootFiles(pi1).map((f) => [f.path, f] as const))("%s", async (path, file) => {
    await expect(file.text).toMatchFileSnapshot(`./golden/pi01/${path}`);
    expect(file.mode).toBe(0o644);
  });

  it("puts the public address on eth0.131 with the /64 and gateway", () => {
    expect(renderPublicInterface(pi1)).toContain("iface eth0.131 inet6 static\n\taddress\t2a00:1098:0:84:1000:1::2\n\tnetmask 64\n\tgateway\t2a00:1098:0:84::1\n");
  });

  it("never declares eth0 itself (ifdown would cut the NFS root)", () => {
    for (const f of renderRootFiles(pi1)) expect(f.text).not.toMatch(/^\s*(auto|iface|allow-hotplug)\s+eth0\s/m);
  });

  it("keeps an explicit prefix length", () => {
    expect(renderPublicInterface({ ...pi1, publicAddress: "2001:db8::5/56" })).toContain("\taddress\t2001:db8::5\n\tnetmask 56\n");
  });

  it("mounts / from the Pi's own export and has no SD-card entries", () => {
    const fstab = renderFstab(pi1);
    expect(fstab).toContain("10.46.189.1:/export/10.46.189.2\t/\tnfs");
    expect(fstab).not.toMatch(/UUID|mmcblk|\/boot/);
  });

  it("lists cluster members in /etc/hosts", () => {
    expect(renderHosts({ ...pi1, extraHosts: [{ address: "2a00:1098:0:84:1000:1::3", names: ["pi02", "db-replica"] }] })).toContain("2a00:1098:0:84:1000:1::3\tpi02 db-replica\n");
  });
});

describe("spec validation", () => {
  const bad: Record<string, Partial<PiRootSpec>> = {
    "hostname with a dot": { hostname: "pi01.example" },
    "hostname with newline": { hostname: "pi01\nevil" },
    "hostname too long": { hostname: "p".repeat(64) },
    "pi address not IPv4": { piAddress: "10.46.189" },
    "VLAN 0": { publicVlan: 0 },
    "VLAN 4095": { publicVlan: 4095 },
    "public address with a space": { publicAddress: "2a00::2 evil" },
    "gateway with a prefix": { publicGateway: "2a00::1/64" },
    "relative export path": { exportPath: "export/10.46.189.2" },
    "export path with ..": { exportPath: "/export/../etc" },
    "export path is /": { exportPath: "/" },
  };
  it.each(Object.entries(bad))("refuses %s", (_n, patch) => {
    expect(() => checkPiRootSpec({ ...pi1, ...patch })).toThrow(/port 1/);
  });

  it("accepts the seed Pi", () => {
    expect(() => checkPiRootSpec(pi1)).not.toThrow();
  });
});

describe("machine-id", () => {
  it("is 32 hex digits with UUID v4 version and variant bits", () => {
    const id = renderMachineId(Buffer.alloc(16, 0xff));
    expect(id).toBe("ffffffffffff4fffbfffffffffffffff\n");
    expect(isMachineId(id)).toBe(true);
  });

  it("needs exactly 16 random bytes", () => {
    expect(() => renderMachineId(Buffer.alloc(8))).toThrow(/16 random bytes/);
  });

  const ids: Record<string, [string | undefined, boolean]> = {
    missing: [undefined, false],
    "empty (first boot)": ["", false],
    "all zero": ["00000000000000000000000000000000\n", false],
    "upper case": ["FFFFFFFFFFFF4FFFBFFFFFFFFFFFFFFF\n", false],
    "without newline": ["0123456789abcdef0123456789abcdef", true],
  };
  it.each(Object.entries(ids))("recognises %s", (_n, [text, ok]) => {
    expect(isMachineId(text)).toBe(ok);
  });
});
