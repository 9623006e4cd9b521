/**
 * The bench Pi's initramfs: arm64 busybox plus the few kernel modules an NFS-root Pi needs. Debian's arm64
 * kernel has `CONFIG_IP_PNP` off and NFS, virtio and 802.1Q as modules (reference/testbed.md §3), so the
 * kernel alone cannot act on `ip=` and `nfsroot=`; this initramfs does, from the kernel's own command line,
 * the way the kernel's nfsroot code would: configure the device named in `ip=`, mount `nfsroot=`, switch root.
 * `renderInit` and `moduleLoadOrder` are pure; `buildInitramfs` writes the tree and packs it (cpio newc, gzip).
 */
import { execa } from "execa";
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { promisify } from "node:util";
import { gzip } from "node:zlib";
import { OperationError } from "../../lib/errors.ts";

/**
 * Modules loaded before the root is mounted: the virt machine's NIC (virtio-net over PCI), the NFS v3 and v4
 * clients, and 8021q so the root's ifupdown can create `eth0.131` (the root has no /lib/modules of this kernel
 * to autoload it from).
 */
export const INITRAMFS_MODULES = ["virtio_pci", "virtio_net", "nfsv3", "nfsv4", "8021q"] as const;

// modules.dep and modules.builtin spell names with '-' or '_' interchangeably; the kernel treats them as one.
const canonical = (name: string) => name.replace(/-/g, "_");
const moduleName = (path: string) => canonical(basename(path).replace(/\.ko(\.(xz|zst|gz))?$/, ""));

/**
 * Paths (relative to /lib/modules/KVER) of `wanted` and all their dependencies, dependencies first, each once.
 * Built-in modules are skipped; a module that is neither listed nor built in throws.
 */
export function moduleLoadOrder(modulesDep: string, modulesBuiltin: string, wanted: readonly string[]): string[] {
  const deps = new Map<string, { path: string; deps: string[] }>();
  for (const line of modulesDep.split("\n")) {
    const m = /^([^:]+):\s*(.*)$/.exec(line);
    if (m?.[1]) deps.set(moduleName(m[1]), { path: m[1], deps: (m[2] ?? "").split(/\s+/).filter(Boolean) });
  }
  const builtin = new Set(modulesBuiltin.split("\n").filter(Boolean).map(moduleName));
  const order: string[] = [];
  const visit = (name: string, chain: string[]) => {
    const entry = deps.get(canonical(name));
    if (!entry) {
      if (builtin.has(canonical(name))) return;
      throw new OperationError("INITRAMFS_NO_MODULE", `expected module ${name} in modules.dep or modules.builtin (needed by ${chain.join(" <- ") || "the initramfs"}), found neither`);
    }
    if (order.includes(entry.path)) return;
    // modules.dep lists a module's dependencies with the ones loaded last first; load them in reverse.
    for (const d of [...entry.deps].reverse()) visit(moduleName(d), [name, ...chain]);
    if (!order.includes(entry.path)) order.push(entry.path);
  };
  for (const w of wanted) visit(w, []);
  return order;
}

/**
 * `/init`: busybox sh. Parses `ip=<client>:<server>:<gateway>:<netmask>:<hostname>:<device>:<autoconf>` and
 * `nfsroot=[<server>:]<path>[,<options>]` as the kernel's nfsroot.rst defines them, waits for the device, sets
 * the address, mounts the root (v3 with `nolock`: no lockd/statd on the server side of the bench), and runs
 * `init=` (default /sbin/init). Progress lines start with `pirack-initramfs:` for the serial console.
 */
export function renderInit(): string {
  return `#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
say() { echo "pirack-initramfs: $* (t=$(cut -d' ' -f1 /proc/uptime)s)"; }
fail() { say "FAILED: $*"; sleep 5; poweroff -f; }
say "started"
while read -r m; do insmod "$m" || say "insmod $m failed"; done < /etc/modules.load
IP=; NFSROOT=; INIT=/sbin/init; RW=rw
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    ip=*) IP="\${arg#ip=}" ;;
    nfsroot=*) NFSROOT="\${arg#nfsroot=}" ;;
    init=*) INIT="\${arg#init=}" ;;
    ro) RW=ro ;;
  esac
done
[ -n "$IP" ] || fail "no ip= on the kernel command line"
[ -n "$NFSROOT" ] || fail "no nfsroot= on the kernel command line"
IFS=: read -r CLIENT SERVER GATEWAY NETMASK HOST DEVICE AUTOCONF <<EOF
$IP
EOF
DEVICE="\${DEVICE:-eth0}"
n=0
until [ -e "/sys/class/net/$DEVICE" ]; do
  n=$((n + 1)); [ $n -gt 300 ] && fail "network device $DEVICE did not appear"
  sleep 0.1
done
prefix=0
for octet in $(echo "$NETMASK" | tr . ' '); do
  while [ "$octet" -gt 0 ]; do prefix=$((prefix + (octet & 1))); octet=$((octet >> 1)); done
done
[ -n "$NETMASK" ] || prefix=32
ip link set lo up
ip link set "$DEVICE" up
ip addr add "$CLIENT/$prefix" dev "$DEVICE" || fail "ip addr add $CLIENT/$prefix dev $DEVICE"
[ -n "$GATEWAY" ] && ip route add default via "$GATEWAY" dev "$DEVICE"
[ -n "$HOST" ] && hostname "$HOST"
say "$DEVICE $CLIENT/$prefix"
SPEC="\${NFSROOT%%,*}"
OPTS=
case "$NFSROOT" in *,*) OPTS="\${NFSROOT#*,}" ;; esac
case "$SPEC" in *:*) ;; *) SPEC="$SERVER:$SPEC" ;; esac
case ",$OPTS," in
  *,vers=4*) mount -t nfs4 -o "$RW\${OPTS:+,$OPTS}" "$SPEC" /root ;;
  *) mount -t nfs -o "$RW,nolock\${OPTS:+,$OPTS}" "$SPEC" /root ;;
esac || fail "mount $SPEC ($OPTS)"
say "root $SPEC mounted"
[ -x "/root$INIT" ] || [ -L "/root$INIT" ] || fail "$INIT not found on the root"
mount --move /dev /root/dev || umount /dev
umount /sys
umount /proc
exec switch_root /root "$INIT"
`;
}

/** What `buildInitramfs` needs: an unpacked kernel .deb (after `depmod -b`), its version, the busybox-static .deb. */
export interface InitramfsInputs {
  readonly kernelRoot: string;
  readonly kernelVersion: string;
  readonly busyboxDeb: string;
  readonly out: string;
  readonly modules?: readonly string[];
}

/** Builds the initramfs at `inputs.out`; returns the modules it holds, in load order. */
export async function buildInitramfs(inputs: InitramfsInputs): Promise<string[]> {
  const moduleDir = join(inputs.kernelRoot, "lib/modules", inputs.kernelVersion);
  const dep = await readFile(join(moduleDir, "modules.dep"), "utf8");
  const builtin = await readFile(join(moduleDir, "modules.builtin"), "utf8").catch(() => "");
  const order = moduleLoadOrder(dep, builtin, inputs.modules ?? INITRAMFS_MODULES);
  const tree = await mkdtemp(join(dirname(inputs.out), ".initramfs-"));
  try {
    for (const d of ["bin", "sbin", "proc", "sys", "dev", "root", "etc"]) await mkdir(join(tree, d), { recursive: true });
    const bb = await execa("sh", ["-c", 'dpkg-deb --fsys-tarfile "$1" | tar -x -C "$2" ./bin/busybox', "sh", inputs.busyboxDeb, tree], { reject: false });
    if (bb.exitCode !== 0) throw new OperationError("INITRAMFS_BUSYBOX", `extracting bin/busybox from ${inputs.busyboxDeb} failed: ${bb.stderr.trim()}`);
    const loads: string[] = [];
    for (const rel of order) {
      const target = join(tree, "lib/modules", inputs.kernelVersion, rel);
      await mkdir(dirname(target), { recursive: true });
      await copyFile(join(moduleDir, rel), target);
      // busybox insmod reads plain .ko files; a compressed module (later Debian kernels) is unpacked here.
      const plain = await decompressModule(target);
      loads.push(plain.slice(tree.length));
    }
    await writeFile(join(tree, "etc/modules.load"), `${loads.join("\n")}\n`);
    await writeFile(join(tree, "init"), renderInit());
    await chmod(join(tree, "init"), 0o755);
    const cpio = await execa("sh", ["-c", "find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0"], { cwd: tree, encoding: "buffer", reject: false });
    if (cpio.exitCode !== 0) throw new OperationError("INITRAMFS_CPIO", `cpio exited with ${cpio.exitCode}: ${Buffer.from(cpio.stderr).toString().trim()}`);
    await writeFile(inputs.out, await promisify(gzip)(Buffer.from(cpio.stdout), { level: 6 }));
    return loads;
  } finally {
    await rm(tree, { recursive: true, force: true });
  }
}

async function decompressModule(path: string): Promise<string> {
  const m = /^(.*\.ko)\.(xz|zst|gz)$/.exec(path);
  if (!m?.[1]) return path;
  const tool = { xz: "xz", zst: "zstd", gz: "gzip" }[m[2] as "xz" | "zst" | "gz"];
  const r = await execa(tool, ["-d", "-q", "-f", path], { reject: false });
  if (r.exitCode !== 0) throw new OperationError("INITRAMFS_MODULE_DECOMPRESS", `${tool} -d ${path} failed: ${r.stderr.trim()}`);
  return m[1];
}
