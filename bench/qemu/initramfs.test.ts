import { describe, expect, it } from "vitest";
import { moduleLoadOrder, renderInit } from "./initramfs.ts";

// Lines as depmod writes them for Debian's 6.1 arm64 kernel (dependencies listed last-loaded first).
const dep = [
  "kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko",
  "kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko",
  "kernel/net/core/failover.ko:",
  "kernel/fs/nfs/nfsv3.ko: kernel/fs/nfs_common/nfs_acl.ko kernel/fs/nfs/nfs.ko kernel/fs/lockd/lockd.ko kernel/net/sunrpc/sunrpc.ko",
  "kernel/fs/nfs/nfs.ko: kernel/fs/lockd/lockd.ko kernel/net/sunrpc/sunrpc.ko",
  "kernel/fs/lockd/lockd.ko: kernel/net/sunrpc/sunrpc.ko",
  "kernel/fs/nfs_common/nfs_acl.ko: kernel/net/sunrpc/sunrpc.ko",
  "kernel/net/sunrpc/sunrpc.ko:",
  "kernel/net/8021q/8021q.ko.xz: kernel/net/802/garp.ko.xz",
  "kernel/net/802/garp.ko.xz:",
  "",
].join("\n");

describe("moduleLoadOrder", () => {
  it("puts every dependency before its user, each once", () => {
    expect(moduleLoadOrder(dep, "", ["virtio_net", "nfsv3"])).toEqual([
      "kernel/net/core/failover.ko",
      "kernel/drivers/net/net_failover.ko",
      "kernel/drivers/net/virtio_net.ko",
      "kernel/net/sunrpc/sunrpc.ko",
      "kernel/fs/lockd/lockd.ko",
      "kernel/fs/nfs/nfs.ko",
      "kernel/fs/nfs_common/nfs_acl.ko",
      "kernel/fs/nfs/nfsv3.ko",
    ]);
  });

  it("matches compressed modules and treats - and _ alike", () => {
    expect(moduleLoadOrder(dep, "", ["8021q", "net-failover"])).toEqual(["kernel/net/802/garp.ko.xz", "kernel/net/8021q/8021q.ko.xz", "kernel/net/core/failover.ko", "kernel/drivers/net/net_failover.ko"]);
  });

  it("skips built-in modules and names a missing one with who needed it", () => {
    expect(moduleLoadOrder(dep, "kernel/drivers/virtio/virtio_pci.ko\n", ["virtio_pci"])).toEqual([]);
    expect(() => moduleLoadOrder("kernel/a.ko: kernel/b.ko\n", "", ["a"])).toThrow(/expected module b .*needed by a\)/);
  });
});

describe("renderInit", () => {
  it("takes ip= and nfsroot= from the kernel command line and ends in switch_root", () => {
    const init = renderInit();
    expect(init.startsWith("#!/bin/busybox sh\n")).toBe(true);
    expect(init).toContain("ip=*) IP=");
    expect(init).toContain("nfsroot=*) NFSROOT=");
    expect(init).toContain("IFS=: read -r CLIENT SERVER GATEWAY NETMASK HOST DEVICE AUTOCONF");
    expect(init).toMatch(/exec switch_root \/root "\$INIT"\n$/);
  });
});
