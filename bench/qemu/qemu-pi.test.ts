import { describe, expect, it } from "vitest";
import { goldenKey, BENCH_GOLDEN } from "./golden.ts";
import { localMac } from "./link.ts";
import { qemuArgs } from "./qemu-pi.ts";

describe("qemuArgs", () => {
  it("is a TCG virt machine with the Pi's MAC on the given tap and the serial console on stdio", () => {
    const args = qemuArgs({ tap: "tap0", kernel: "/k", initrd: "/i", append: "console=ttyAMA0,115200", mac: "dc:a6:32:01:02:03" });
    const after = (flag: string) => args[args.indexOf(flag) + 1];
    expect([after("-M"), after("-cpu"), after("-m"), after("-serial"), after("-kernel"), after("-initrd"), after("-append")]).toEqual(["virt", "cortex-a53", "512", "stdio", "/k", "/i", "console=ttyAMA0,115200"]);
    expect(args).toContain("tap,id=net0,ifname=tap0,script=no,downscript=no,vnet_hdr=off");
    expect(args).toContain("virtio-net-pci,netdev=net0,mac=dc:a6:32:01:02:03,romfile=");
    expect(args).not.toContain("-enable-kvm");
  });
});

describe("localMac", () => {
  it("sets the locally administered bit and clears the multicast bit", () => {
    expect(localMac(Buffer.from([0xff, 1, 2, 3, 4, 5]))).toBe("fe:01:02:03:04:05");
    expect(localMac(Buffer.from([0x00, 0, 0, 0, 0, 0]))).toBe("02:00:00:00:00:00");
  });
});

describe("goldenKey", () => {
  it("changes with every input of the build and not with the order of extra packages", () => {
    const base = goldenKey(BENCH_GOLDEN);
    expect(goldenKey({ ...BENCH_GOLDEN, suite: "trixie" })).not.toBe(base);
    expect(goldenKey({ ...BENCH_GOLDEN, mirror: "http://mirror.example/debian" })).not.toBe(base);
    expect(goldenKey({ ...BENCH_GOLDEN, include: ["curl", "less"] })).toBe(goldenKey({ ...BENCH_GOLDEN, include: ["less", "curl"] }));
    expect(goldenKey({ ...BENCH_GOLDEN, include: ["openssh-server"] })).toBe(base);
  });
});
