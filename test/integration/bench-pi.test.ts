/**
 * Protocol Pis end to end: `pirack serve` (nfs-ganesha as its NFS server) in a fileserver namespace with four
 * Pi namespaces, one per model (3B, 3B+, 4, 5). Each runs the emulator's CLI, which netboots the model's way
 * with the real firmware set from Debian's raspi-firmware and kernel packages, mounts the root pirack cloned and
 * exported for it with libnfs, and writes its boot marker, which must then be on the fileserver. Then the same
 * four Pis against dnsmasq (DHCP + TFTP, the Raspberry Pi documentation's settings) for the DHCP/TFTP part, so
 * the emulator is not tuned to pirack's server.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureFirmwareSet } from "../../bench/pi/firmware-set.ts";
import { BOOT_MARKER_PATH, type StageEvent } from "../../bench/pi/index.ts";
import { buildDnsmasqTftpRoot, dnsmasqArgs, linkTree, rigPi, rigRackYaml, type RigPi } from "../../bench/pi/rig.ts";
import { renderGaneshaMainConfig } from "../../appliance/nfs-exports/index.ts";
import { startGanesha } from "../../appliance/nfs-exports/testing/ganesha-server.ts";
import { makeFixtureRoot } from "../../rootfs/testing/fixture-root.ts";
import { isRoot, TestBed, waitFor } from "../support/netns.ts";

const repo = new URL("../..", import.meta.url).pathname;
const NETWORK = "10.46.189.0/24";
const pis: RigPi[] = ["3b", "3b+", "4", "5"].map((model, i) => rigPi(i + 1, NETWORK, model as RigPi["model"]));

const sha256 = async (path: string) => createHash("sha256").update(await readFile(path)).digest("hex");

describe.skipIf(!isRoot())("protocol Pis netboot from pirack and from dnsmasq (root)", () => {
  const bed = new TestBed();
  const piNs = new Map<number, string>();
  let dir: string;
  let fs: string;
  let bootDir: string;
  let initrdSha: string;

  /** Runs the CLI for one Pi in its namespace; returns its stage events. */
  const boot = async (pi: RigPi, extra: string[]): Promise<{ events: StageEvent[]; exitCode: number | undefined; stderr: string }> => {
    const r = await bed.exec(piNs.get(pi.port)!, "node", ["--import", "tsx", join(repo, "bench/pi/main.ts"), "--model", pi.model, "--serial", pi.serial, "--mac", pi.mac, "--ifname", "eth0", "--timeout-s", "400", ...extra], { timeoutMs: 450_000 });
    const events = String(r.stdout)
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as StageEvent);
    console.log(`Pi ${pi.model} (port ${pi.port}): ${events.map((e) => `${e.stage} ${(e.t / 1000).toFixed(1)} s`).join(", ")}`);
    return { events, exitCode: r.exitCode, stderr: String(r.stderr) };
  };

  beforeAll(async () => {
    // /var/tmp: the golden fixture holds device nodes, which a tmpfs /tmp mounted nodev would refuse.
    dir = await mkdtemp(join("/var/tmp", "pirack-benchpi-"));
    bed.defer(() => rm(dir, { recursive: true, force: true }));
    const set = await ensureFirmwareSet();
    bootDir = join(dir, "firmware");
    await linkTree(set.bootDir, bootDir);
    // An initramfs the firmware loads by auto_initramfs (a QEMU Pi would get a real one): exercises that fetch.
    const initrd = randomBytes(300_000);
    await writeFile(join(bootDir, "initramfs8"), initrd);
    await writeFile(join(bootDir, "initramfs_2712"), initrd);
    initrdSha = createHash("sha256").update(initrd).digest("hex");
    await mkdir(join(dir, "images/golden"), { recursive: true });
    await makeFixtureRoot(join(dir, "images/golden"));
    await mkdir(join(dir, "images/golden/var/lib"), { recursive: true });
    await writeFile(join(dir, "rack.yaml"), rigRackYaml({ dir, bootDir, ports: pis.length, network: NETWORK, nfs: "ganesha" }));

    fs = await bed.namespace("pr-bp-fs");
    for (const pi of pis) {
      const ns = await bed.namespace(`pr-bp-p${pi.port}`);
      piNs.set(pi.port, ns);
      await bed.veth({ left: { ns: fs, name: `eth0.${pi.vlan}`, address: `${pi.serverAddress}/30` }, right: { ns, name: "eth0", mac: pi.mac } });
    }
  }, 180_000);

  afterAll(async () => {
    await bed.cleanup();
  });

  describe("pirack serve with nfs-ganesha", () => {
    let stopGanesha: (() => Promise<void>) | undefined;
    let serve: ReturnType<TestBed["spawn"]> | undefined;

    beforeAll(async () => {
      const sysroot = join(dir, "sysroot");
      const exportsFile = join(sysroot, "etc/ganesha/pirack-exports.conf");
      await mkdir(join(sysroot, "etc/ganesha"), { recursive: true });
      await mkdir(join(sysroot, "run/ganesha"), { recursive: true });
      await writeFile(exportsFile, "");
      await writeFile(join(sysroot, "etc/ganesha/ganesha.conf"), renderGaneshaMainConfig({ exportsFile }));
      // pirack reloads ganesha through <sysroot>/run/ganesha/ganesha.pid (appliance/reconcile/roots.ts).
      const ganesha = await startGanesha(fs, join(sysroot, "etc/ganesha/ganesha.conf"), join(sysroot, "run/ganesha"));
      stopGanesha = () => ganesha.stop();
      serve = bed.spawn(fs, "node", [join(repo, "bin/pirack.mjs"), "serve", "--config", join(dir, "rack.yaml"), "--sysroot", sysroot, "--listen", "127.0.0.1:8067"]);
      await waitFor(async () => ((await bed.exec(fs, "curl", ["-sf", "http://127.0.0.1:8067/metrics"])).exitCode === 0 ? true : undefined), "pirack's API", 60_000);
    }, 120_000);

    afterAll(async () => {
      serve?.kill("SIGTERM");
      await serve?.catch(() => undefined);
      await stopGanesha?.();
    });

    it("all four models reach `up`, each marker visible in its own root on the fileserver", async () => {
      const runs = await Promise.all(pis.map((pi) => boot(pi, ["--nfs", "--fetch-dir", join(dir, `fetched-${pi.port}`)])));
      const kernelSha = await sha256(join(bootDir, "kernel8.img"));
      for (const [i, pi] of pis.entries()) {
        const { events, exitCode, stderr } = runs[i]!;
        const log = `${pi.model}: ${JSON.stringify(events)}\n${stderr}`;
        expect(events.map((e) => e.stage), log).toEqual(["dhcp", "firmware", "kernel", "nfs", "up"]);
        expect(exitCode, log).toBe(0);
        const [dhcp, firmware, kernel, nfs] = events;
        expect(dhcp).toMatchObject({ address: pi.piAddress, server: pi.serverAddress });
        if (pi.model.startsWith("3")) expect(dhcp!["xid"]).toBe("26f30339");
        // pirack maps every serial folder to the shared firmware, so each Pi keeps its prefix.
        expect(firmware!["prefix"]).toBe(`${pi.serial}/`);
        expect(kernel!["kernel"]).toMatchObject({ sha256: kernelSha });
        expect(kernel!["initrd"]).toMatchObject({ name: `${pi.serial}/${pi.model === "5" ? "initramfs_2712" : "initramfs8"}`, sha256: initrdSha });
        expect(String(kernel!["cmdline"])).toContain(`nfsroot=${pi.serverAddress}:${dir}/export/${pi.piAddress},vers=3,tcp`);
        expect(nfs).toMatchObject({ hostname: `bench-0${pi.port}` });
        expect(nfs!["publicStanza"]).toContain(`iface eth0.131 inet6 static`);
        const marker = await readFile(join(dir, "export", pi.piAddress, BOOT_MARKER_PATH), "utf8");
        expect(marker.split(" ").slice(0, 3)).toEqual([pi.serial, pi.model, pi.mac]);
        // What a QEMU Pi boots: the very bytes fetched.
        expect(await sha256(join(dir, `fetched-${pi.port}`, "kernel.img"))).toBe(kernelSha);
        expect(await readFile(join(dir, `fetched-${pi.port}`, "cmdline.txt"), "utf8")).toBe(`${String(kernel!["cmdline"])}\n`);
      }
      // Pi 5 looked for kernel_2712.img first (absent in Debian's set) and fell back to kernel8.img.
      expect(runs[3]!.events[2]!["missing"]).toContain(`${pis[3]!.serial}/kernel_2712.img`);
      const status = JSON.parse(String((await bed.exec(fs, "curl", ["-sf", "http://127.0.0.1:8067/api/v1/pis"])).stdout)) as { port: number; mac: string; serial: string; bootStage: string }[];
      expect(status.map((s) => [s.port, s.mac, s.serial])).toEqual(pis.map((p) => [p.port, p.mac, p.serial]));
    }, 500_000);
  });

  describe("dnsmasq (DHCP + TFTP) as the server", () => {
    let dnsmasq: ReturnType<TestBed["spawn"]> | undefined;

    beforeAll(async () => {
      const work = join(dir, "dnsmasq");
      await mkdir(work, { recursive: true });
      await buildDnsmasqTftpRoot(bootDir, join(work, "tftp"), pis, join(dir, "export"));
      dnsmasq = bed.spawn(fs, "dnsmasq", dnsmasqArgs(pis, join(work, "tftp"), work, { logDhcp: true }));
      await waitFor(async () => ((await bed.exec(fs, "ss", ["-lunp"])).stdout.includes(":69 ") ? true : undefined), "dnsmasq listening", 15_000);
    }, 120_000);

    afterAll(async () => {
      dnsmasq?.kill("SIGTERM");
      await dnsmasq?.catch(() => undefined);
    });

    it("the same four Pis get their lease and fetch firmware, kernel and initrd from dnsmasq", async () => {
      const runs = await Promise.all(pis.map((pi) => boot(pi, [])));
      const kernelSha = await sha256(join(bootDir, "kernel8.img"));
      for (const [i, pi] of pis.entries()) {
        const { events, exitCode, stderr } = runs[i]!;
        const log = `${pi.model}: ${JSON.stringify(events)}\n${stderr}\n${await readFile(join(dir, "dnsmasq/dnsmasq.log"), "utf8").catch(() => "")}`.slice(0, 20_000);
        expect(events.map((e) => e.stage), log).toEqual(["dhcp", "firmware", "kernel", "up"]);
        expect(exitCode).toBe(0);
        expect(events[0]).toMatchObject({ address: pi.piAddress, server: pi.serverAddress, requests: pi.model.startsWith("3") ? 0 : 1 });
        expect(events[1]!["prefix"]).toBe(`${pi.serial}/`);
        expect(events[2]!["kernel"]).toMatchObject({ sha256: kernelSha });
        expect(String(events[2]!["cmdline"])).toContain(`ip=${pi.piAddress}::${pi.serverAddress}`);
      }
    }, 500_000);
  });
});
