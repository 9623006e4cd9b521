/**
 * Test and bench rig for protocol Pis on a direct-veth topology: Pi identities per model, the boot directory
 * pirack serves (the real firmware set, hard-linked), the rack.yaml for `pirack serve`, and dnsmasq as the
 * reference DHCP+TFTP server with the Raspberry Pi documentation's netboot settings (`pxe-service=0,"Raspberry
 * Pi Boot"`, `enable-tftp`, a tftp-root holding one folder per serial, as pxetools lays it out).
 */
import { copyFile, link, mkdir, readdir, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { PI_MODELS, type PiModel } from "./models.ts";

/** One Pi port of a rig: port p (1-based) on VLAN 9 + p, the (p-1)th /30 of the storage network. */
export interface RigPi {
  readonly port: number;
  readonly vlan: number;
  readonly model: PiModel;
  readonly serial: string;
  readonly mac: string;
  readonly serverAddress: string;
  readonly piAddress: string;
}

const hex = (n: number, width: number) => n.toString(16).padStart(width, "0");

/** Dotted address of the 32-bit number. */
const dotted = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");

/**
 * Port `port`'s Pi: models round-robin over 3b, 3b+, 4, 5 unless given; Pi 3 MACs are b8:27:eb + the serial's
 * low 24 bits (pi-netboot §4), Pi 4 dc:a6:32, Pi 5 d8:3a:dd (MACs unrelated to the serial).
 */
export function rigPi(port: number, network: string, model: PiModel = PI_MODELS[(port - 1) % PI_MODELS.length]!): RigPi {
  const [a = 0, b = 0, c = 0, d = 0] = network.split("/")[0]!.split(".").map(Number);
  const base = (((a << 24) | (b << 16) | (c << 8) | d) >>> 0) + (port - 1) * 4;
  const serial = `${model === "4" ? "1" : model === "5" ? "5" : "e"}${hex(0xa00000 + port, 7)}`;
  const low = Number.parseInt(serial, 16) & 0xffffff;
  const oui = model === "4" ? "dc:a6:32" : model === "5" ? "d8:3a:dd" : "b8:27:eb";
  const mac = `${oui}:${hex(low >> 16, 2)}:${hex((low >> 8) & 255, 2)}:${hex(low & 255, 2)}`;
  return { port, vlan: 9 + port, model, serial, mac, serverAddress: dotted(base + 1), piAddress: dotted(base + 2) };
}

/** Hard-links (or copies, across filesystems) every file of `from` into `to`. */
export async function linkTree(from: string, to: string): Promise<void> {
  await mkdir(to, { recursive: true });
  for (const name of await readdir(from)) {
    const src = join(from, name);
    if (!(await stat(src)).isFile()) continue;
    await link(src, join(to, name)).catch(async (err: NodeJS.ErrnoException) => {
      if (err.code === "EXDEV" || err.code === "EPERM") await copyFile(src, join(to, name));
      else if (err.code !== "EEXIST") throw err;
    });
  }
}

/** pirack's rack.yaml for a rig: ports 1..n, storage VLANs from 10, auto enrolment, the given NFS server. */
export function rigRackYaml(input: { dir: string; bootDir: string; ports: number; network: string; nfs: "ganesha" | "none" | "kernel" }): string {
  return `shelf: bench
fileserver: { interface: eth0, switchPort: 200, manageInterfaces: false }
storage: { network: ${input.network}, firstVlan: 10 }
public: { prefix: "2a00:1098:0:84::/64", gateway: "2a00:1098:0:84::1", firstAddress: "2a00:1098:0:84:1000:1::2" }
ports: 1-${input.ports}
boot: { firmware: ${input.bootDir}, nfsOptions: "vers=3,tcp", cmdline: "console=ttyAMA0,115200 net.ifnames=0 rootwait" }
paths: { exports: ${input.dir}/export, images: ${input.dir}/images, state: ${input.dir}/state }
image: golden
nfs: { server: ${input.nfs} }
enrol: auto
`;
}

/** The cmdline.txt a rig Pi gets from dnsmasq: the same shape pirack renders. */
export const rigCmdline = (pi: RigPi, exportsDir: string): string =>
  `console=ttyAMA0,115200 net.ifnames=0 rootwait root=/dev/nfs rootfstype=nfs ip=${pi.piAddress}::${pi.serverAddress}:255.255.255.252::eth0:off nfsroot=${pi.serverAddress}:${exportsDir}/${pi.piAddress},vers=3,tcp\n`;

/**
 * dnsmasq's TFTP root: every firmware file at the top and, per Pi, a `<serial>/` folder with the same files plus
 * that Pi's cmdline.txt and config.txt (the official per-serial layout; pxetools, boot-net.adoc).
 */
export async function buildDnsmasqTftpRoot(bootDir: string, root: string, pis: readonly RigPi[], exportsDir: string): Promise<void> {
  await linkTree(bootDir, root);
  for (const pi of pis) {
    const folder = join(root, pi.serial);
    await linkTree(bootDir, folder);
    await writeFile(join(folder, "cmdline.txt"), rigCmdline(pi, exportsDir));
    await writeFile(join(folder, "config.txt"), "[all]\nenable_uart=1\narm_64bit=1\n");
  }
}

/**
 * dnsmasq arguments: full DHCP on each eth0.N with its one address (a /30), the Pi PXE menu, TFTP on the
 * same process; no DNS, no ping before offering (which adds 3 s), leases and logs in `workDir`.
 */
export function dnsmasqArgs(pis: readonly RigPi[], tftpRoot: string, workDir: string, opts: { logDhcp?: boolean } = {}): string[] {
  const args = [
    "--keep-in-foreground",
    "--port=0",
    "--user=root",
    "--no-ping",
    "--dhcp-authoritative",
    "--except-interface=lo",
    `--dhcp-leasefile=${join(workDir, "dnsmasq.leases")}`,
    `--pid-file=${join(workDir, "dnsmasq.pid")}`,
    `--log-facility=${join(workDir, "dnsmasq.log")}`,
    '--pxe-service=0,"Raspberry Pi Boot"',
    "--enable-tftp",
    `--tftp-root=${tftpRoot}`,
    ...(opts.logDhcp ? ["--log-dhcp"] : []),
  ];
  for (const pi of pis) args.push(`--interface=eth0.${pi.vlan}`, `--dhcp-range=set:p${pi.port},${pi.piAddress},${pi.piAddress},255.255.255.252,1h`);
  return args;
}
