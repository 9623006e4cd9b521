/**
 * One QEMU Pi netboots from `pirack serve` end to end (issue 11, item 3). The fileserver namespace runs pirack
 * (DHCP, TFTP, roots, exports: nfs-ganesha) on `eth0.10`; the Pi's namespace first does the Pi's part of the
 * netboot with real clients (udhcpc with a Pi's vendor class, then curl's TFTP client fetching config.txt, cmdline.txt,
 * kernel8.img and initrd.img from pirack), then hands its link to QEMU, which boots exactly those bytes with
 * the root over NFS from ganesha. systemd must reach multi-user, and sshd must answer `ssh-keyscan` on the Pi's
 * public IPv6 address from a public namespace, with the host key pirack generated for this Pi.
 *
 * Wiring as on the bench: Pi, fileserver and public network meet in a switch namespace running Open vSwitch's
 * userspace datapath, the Pi's port untagged VLAN 10 + tagged 131, so the guest's `eth0.131` (ifupdown, from
 * the stanza pirack wrote) is real 802.1Q. Artifacts and the golden image come from the bench cache
 * (PIRACK_BENCH_CACHE, default /var/cache/pirack-bench); on an empty cache they are built first (the image
 * build takes minutes under qemu-user: see docs/bench.md).
 */
import { execa } from "execa";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderGaneshaMainConfig } from "../../appliance/nfs-exports/index.ts";
import { startGanesha } from "../../appliance/nfs-exports/testing/ganesha-server.ts";
import { adaptCmdlineForVirt, attachTap, ensureGoldenImage, prepareArtifacts, startQemuPi, type BenchArtifacts, type GoldenImage, type QemuPi } from "../../bench/qemu/index.ts";
import { isRoot, TestBed, waitFor } from "../support/netns.ts";
import { startOvs } from "../support/ovs.ts";

const repo = new URL("../..", import.meta.url).pathname;
const cacheDir = process.env["PIRACK_BENCH_CACHE"] ?? "/var/cache/pirack-bench";
const MAC = "dc:a6:32:11:0b:01"; // a Pi 4 OUI (Raspberry Pi Trading)
const PI = "10.46.189.2";
const SERVER = "10.46.189.1";
const PUBLIC = "2a00:1098:0:84:1000:1::2";
const BOOT_TIMEOUT_MS = 10 * 60_000;

const rackYaml = (d: string, golden: GoldenImage, artifacts: BenchArtifacts) => `
shelf: qemu
fileserver: { interface: eth0, switchPort: 24, manageInterfaces: false }
storage: { network: 10.46.189.0/24, firstVlan: 10 }
public: { prefix: "2a00:1098:0:84::/64", gateway: "2a00:1098:0:84::1", firstAddress: "${PUBLIC}" }
ports: 1
boot:
  cmdline: "dwc_otg.lpm_enable=0 console=ttyAMA0,115200 console=tty1 elevator=deadline fsck.repair=yes rootwait net.ifnames=0"
  nfsOptions: "vers=3,tcp"
  firmware: ${artifacts.firmwareDir}
paths: { exports: ${d}/export, images: ${golden.imagesDir}, state: ${d}/state }
image: ${golden.name}
nfs: { server: ganesha }
enrol: auto
`;

describe.skipIf(!isRoot())("a QEMU Pi netboots from pirack to systemd and sshd on its public address (root)", () => {
  const bed = new TestBed();
  const timings: Record<string, number> = {};
  let dir: string;
  let fs: string, sw: string, piNs: string, pub: string;
  let artifacts: BenchArtifacts;
  let golden: GoldenImage;
  let pi: QemuPi | undefined;
  let consoleLog: string;
  const fetched = new Map<string, Buffer>();

  const timed = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const t = Date.now();
    const v = await fn();
    timings[name] = (Date.now() - t) / 1000;
    return v;
  };
  const api = async (path: string) => {
    const r = await bed.exec(fs, "curl", ["-sf", `http://127.0.0.1:8067${path}`]);
    return r.exitCode === 0 ? r.stdout : undefined;
  };

  beforeAll(async () => {
    artifacts = await timed("artifacts", () => prepareArtifacts({ cacheDir }));
    golden = await timed("golden image", () => ensureGoldenImage({ cacheDir }));
    // /var/tmp: the Pi's root holds device nodes, which a nodev tmpfs /tmp would refuse.
    dir = await mkdtemp("/var/tmp/pirack-qemu-");
    bed.defer(() => rm(dir, { recursive: true, force: true }));
    consoleLog = join(dir, "pi1.console.log");

    fs = await bed.namespace("pq-fs");
    sw = await bed.namespace("pq-sw");
    piNs = await bed.namespace("pq-p1");
    pub = await bed.namespace("pq-pub");
    const ovs = await startOvs(sw, join(dir, "ovs"));
    bed.defer(() => ovs.stop());
    await ovs.vsctl("add-br", "rack", "--", "set", "bridge", "rack", "datapath_type=netdev");
    await bed.veth({ left: { ns: fs, name: "eth0.10", address: `${SERVER}/30` }, right: { ns: sw, name: "fs10" } });
    await bed.veth({ left: { ns: piNs, name: "uplink", mac: MAC }, right: { ns: sw, name: "port1" } });
    await bed.veth({ left: { ns: pub, name: "eth0" }, right: { ns: sw, name: "public" } });
    await execa("ip", ["-n", pub, "addr", "add", "2a00:1098:0:84::1/64", "dev", "eth0", "nodad"]);
    // The switch as pirack would leave it: the Pi's port untagged in its storage VLAN with the public VLAN tagged.
    await ovs.vsctl("add-port", "rack", "fs10", "tag=10");
    await ovs.vsctl("add-port", "rack", "port1", "vlan_mode=native-untagged", "tag=10", "trunks=10,131");
    await ovs.vsctl("add-port", "rack", "public", "tag=131");

    const sysroot = join(dir, "sysroot");
    const exportsFile = join(sysroot, "etc/ganesha/pirack-exports.conf");
    await mkdir(join(sysroot, "etc/ganesha"), { recursive: true });
    await mkdir(join(sysroot, "run/ganesha"), { recursive: true });
    await writeFile(exportsFile, "");
    await writeFile(join(sysroot, "etc/ganesha/ganesha.conf"), renderGaneshaMainConfig({ exportsFile }));
    const ganesha = await startGanesha(fs, join(sysroot, "etc/ganesha/ganesha.conf"), join(sysroot, "run/ganesha"));
    bed.defer(() => ganesha.stop());

    await writeFile(join(dir, "rack.yaml"), rackYaml(dir, golden, artifacts));
    bed.spawn(fs, "node", [join(repo, "bin/pirack.mjs"), "serve", "--config", join(dir, "rack.yaml"), "--sysroot", sysroot, "--listen", "127.0.0.1:8067"]);
    await waitFor(() => api("/metrics"), "the appliance's API", 60_000);
  }, 40 * 60_000);

  afterAll(async () => {
    await pi?.stop();
    await bed.cleanup();
    console.log(`bench-qemu timings (s): ${JSON.stringify(timings)}; artifacts ${artifacts?.cacheHit ? "cached" : "built"}, golden image ${golden?.cacheHit ? "cached" : "built"} (${golden?.buildSeconds.toFixed(0)} s when built)`);
  }, 60_000);

  it("the Pi's namespace gets its address from pirack and fetches its boot files over TFTP", async () => {
    const hook = join(dir, "hook.sh");
    await writeFile(hook, await readFile(join(repo, "test/fixtures/dhcpd/client-hook.sh")));
    await chmod(hook, 0o755);
    const dhcp = await timed("dhcp", () =>
      bed.exec(piNs, "env", [`HOOK_LOG=${join(dir, "dhcp.log")}`, "udhcpc", "-i", "uplink", "-n", "-q", "-f", "-t", "10", "-T", "3", "-V", "PXEClient:Arch:00000:UNDI:002001", "-s", hook], { timeoutMs: 60_000 }),
    );
    expect(dhcp.exitCode, dhcp.stderr).toBe(0);
    expect(await readFile(join(dir, "dhcp.log"), "utf8")).toContain(`ip=${PI}`);
    await timed("tftp", async () => {
      for (const name of ["config.txt", "cmdline.txt", "kernel8.img", "initrd.img"]) {
        const out = join(dir, "fetched", name);
        await mkdir(join(dir, "fetched"), { recursive: true });
        // blksize 1468, as a Pi 4's EEPROM asks for (pi-netboot.md): 512-byte blocks make the 33 MB kernel crawl.
        const r = await bed.exec(piNs, "curl", ["-sS", "--tftp-blksize", "1468", "--max-time", "240", "-o", out, `tftp://${SERVER}/${name}`], { timeoutMs: 250_000 });
        expect(r.exitCode, `${name}: ${r.stdout}${r.stderr}`).toBe(0);
        fetched.set(name, await readFile(out));
      }
    });
    expect(fetched.get("config.txt")!.toString()).toContain("arm_64bit=1");
    expect(fetched.get("cmdline.txt")!.toString()).toContain(`ip=${PI}::${SERVER}:255.255.255.252::eth0:off nfsroot=${SERVER}:${dir}/export/${PI},vers=3,tcp`);
    // The bytes pirack served are the artifacts' (the kernel is 33 MB: a TFTP transfer of the real thing).
    expect(fetched.get("kernel8.img")!.equals(await readFile(artifacts.kernel))).toBe(true);
    expect(fetched.get("initrd.img")!.equals(await readFile(artifacts.initrd))).toBe(true);
  }, 5 * 60_000);

  it("QEMU boots the fetched kernel, initrd and cmdline.txt to systemd's multi-user target over the NFS root", async () => {
    expect(fetched.size, "the fetch test must pass first").toBe(4);
    const root = join(dir, "export", PI);
    // pirack clones and exports the root of a Pi it enrolled on its first DISCOVER.
    await waitFor(async () => ((await readFile(join(root, "etc/hostname"), "utf8").catch(() => "")) === "qemu-01\n" ? true : undefined), "port 1's root", 5 * 60_000);
    // ...and the export answers the Pi (asked from its namespace while it still holds its DHCP address).
    await waitFor(async () => ((await bed.exec(piNs, "nfs-ls", [`nfs://${SERVER}${root}?version=3`])).stdout.includes("etc") ? true : undefined), "the root's NFS export", 120_000);
    await attachTap({ netns: piNs, uplink: "uplink" });
    pi = await startQemuPi({
      netns: piNs,
      tap: "tap0",
      kernel: join(dir, "fetched/kernel8.img"),
      initrd: join(dir, "fetched/initrd.img"),
      append: adaptCmdlineForVirt(fetched.get("cmdline.txt")!.toString()),
      mac: MAC,
      consoleLog,
    });
    try {
      timings["nfs root mounted"] = (await pi.waitForConsole(/pirack-initramfs: root \S+ mounted/, BOOT_TIMEOUT_MS)).seconds;
      timings["multi-user"] = (await pi.waitForConsole(/Reached target.*Multi-User System/, BOOT_TIMEOUT_MS)).seconds;
      expect(pi.console()).not.toMatch(/FAILED\] Failed to start/);
    } catch (err) {
      console.log(`--- serial console of the QEMU Pi (${consoleLog}) ---\n${pi.console()}\n--- end of console ---`);
      throw err;
    }
  }, BOOT_TIMEOUT_MS + 6 * 60_000);

  it("sshd answers ssh-keyscan on the Pi's public IPv6 address (eth0.131, tagged) with pirack's host key", async () => {
    expect(pi, "the boot test must pass first").toBeDefined();
    const hostKey = (await readFile(join(dir, "export", PI, "etc/ssh/ssh_host_ed25519_key.pub"), "utf8")).split(" ").slice(0, 2).join(" ");
    const started = Date.now();
    try {
      const line = await waitFor(
        async () => {
          const r = await bed.exec(pub, "ssh-keyscan", ["-T", "5", "-t", "ed25519", PUBLIC], { timeoutMs: 20_000 });
          return r.stdout.split("\n").find((l) => l.includes("ssh-ed25519")) ?? undefined;
        },
        "sshd on the public address",
        180_000,
      );
      timings["ssh-keyscan after multi-user"] = (Date.now() - started) / 1000;
      expect(line.split(" ").slice(1, 3).join(" ")).toBe(hostKey);
    } catch (err) {
      console.log(`--- serial console of the QEMU Pi (${consoleLog}) ---\n${pi!.console()}\n--- end of console ---`);
      throw err;
    }
  }, 4 * 60_000);
});
