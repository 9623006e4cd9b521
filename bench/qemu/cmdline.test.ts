import { describe, expect, it } from "vitest";
import { adaptCmdlineForVirt } from "./cmdline.ts";

const story =
  "dwc_otg.lpm_enable=0 console=ttyAMA0,115200 console=tty1 elevator=deadline fsck.repair=yes rootwait net.ifnames=0 root=/dev/nfs rootfstype=nfs ip=10.46.189.2::10.46.189.1:255.255.255.252::eth0:off nfsroot=10.46.189.1:/export/10.46.189.2,vers=3,tcp\n";

describe("adaptCmdlineForVirt", () => {
  it.each([
    {
      name: "pirack's cmdline.txt: tty1 dropped, the PL011 console moved last, every other word kept in order",
      input: story,
      want: "dwc_otg.lpm_enable=0 elevator=deadline fsck.repair=yes rootwait net.ifnames=0 root=/dev/nfs rootfstype=nfs ip=10.46.189.2::10.46.189.1:255.255.255.252::eth0:off nfsroot=10.46.189.1:/export/10.46.189.2,vers=3,tcp console=ttyAMA0,115200",
    },
    { name: "no console at all: the virt UART is added", input: "root=/dev/nfs rootwait", want: "root=/dev/nfs rootwait console=ttyAMA0,115200" },
    { name: "only the first line counts, as for the Pi firmware", input: "a=1 console=ttyAMA0\nignored=1\n", want: "a=1 console=ttyAMA0" },
    { name: "tty0 goes too; serial0 (not a virt device) is kept as written", input: "console=tty0 console=serial0,115200 x", want: "console=serial0,115200 x console=ttyAMA0,115200" },
  ])("$name", ({ input, want }) => {
    expect(adaptCmdlineForVirt(input)).toBe(want);
  });
});
