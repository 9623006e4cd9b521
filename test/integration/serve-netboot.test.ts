/**
 * The whole appliance on a bench of namespaces: `pirack serve` runs in a fileserver namespace holding `eth0.10`
 * and `eth0.11` (veths standing in for the VLANs), and real clients in two Pi namespaces netboot from it:
 * BusyBox udhcpc gets each Pi its own /30 `.2`, tftp-hpa fetches the generated cmdline.txt and a firmware file.
 * The API then reports what the appliance learned.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtemp, readFile, rm, writeFile, mkdir, chmod } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { isRoot, TestBed, waitFor } from "../support/netns.ts";
import { makeFixtureRoot } from "../../rootfs/testing/fixture-root.ts";

const root = new URL("../..", import.meta.url).pathname;
const bed = new TestBed();
let dir: string;
let fs: string;
const pis: { ns: string; mac: string }[] = [];

const rackYaml = (d: string) => `
shelf: bench
fileserver: { interface: eth0, switchPort: 24, manageInterfaces: false }
storage: { network: 10.46.189.0/24, firstVlan: 10 }
public: { prefix: "2a00:1098:0:84::/64", gateway: "2a00:1098:0:84::1", firstAddress: "2a00:1098:0:84:1000:1::2" }
ports: 1-2
boot: { firmware: ${d}/firmware, nfsOptions: "vers=3,tcp" }
paths: { exports: ${d}/export, images: ${d}/images, state: ${d}/state }
image: golden
nfs: { server: kernel }
enrol: auto
`;

const api = async (path: string) => {
  const r = await bed.exec(fs, "curl", ["-sf", `http://127.0.0.1:8067${path}`]);
  return r.exitCode === 0 ? r.stdout : undefined;
};

describe.skipIf(!isRoot())("pirack serve netboots Pis in namespaces (root)", () => {
  beforeAll(async () => {
    // /var/tmp: the golden fixture holds device nodes, which a tmpfs /tmp mounted nodev would refuse.
    dir = await mkdtemp(join("/var/tmp", "pirack-e2e-"));
    await mkdir(join(dir, "firmware"), { recursive: true });
    await writeFile(join(dir, "firmware/bootcode.bin"), randomBytes(52_480));
    await writeFile(join(dir, "rack.yaml"), rackYaml(dir));
    await mkdir(join(dir, "images/golden"), { recursive: true });
    await makeFixtureRoot(join(dir, "images/golden"));
    const hook = join(dir, "hook.sh");
    await writeFile(hook, await readFile(join(root, "test/fixtures/dhcpd/client-hook.sh")));
    await chmod(hook, 0o755);

    fs = await bed.namespace("pr-e2e-fs");
    for (const [i, vlan] of [
      [1, 10],
      [2, 11],
    ] as const) {
      const ns = await bed.namespace(`pr-e2e-p${i}`);
      const mac = `b8:27:eb:00:00:0${i}`;
      await bed.veth({
        left: { ns: fs, name: `eth0.${vlan}`, address: `10.46.189.${4 * (i - 1) + 1}/30` },
        right: { ns, name: "eth0", mac },
      });
      pis.push({ ns, mac });
    }
    bed.spawn(fs, "node", [
      join(root, "bin/pirack.mjs"),
      "serve",
      "--config",
      join(dir, "rack.yaml"),
      "--sysroot",
      join(dir, "sysroot"),
      "--listen",
      "127.0.0.1:8067",
    ]);
    await waitFor(() => api("/metrics"), "the appliance's API", 90_000);
  });

  afterAll(async () => {
    await bed.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  it("gives each Pi its own /30 address and serves each its own cmdline.txt", async () => {
    for (const [i, pi] of pis.entries()) {
      const log = join(dir, `dhcp-${i}.log`);
      const r = await bed.exec(pi.ns, "env", [`HOOK_LOG=${log}`, "udhcpc", "-i", "eth0", "-n", "-q", "-f", "-t", "5", "-T", "2", "-s", join(dir, "hook.sh")], {
        timeoutMs: 30_000,
      });
      expect(r.exitCode, r.stderr).toBe(0);
      const got = await readFile(log, "utf8");
      expect(got).toContain(`ip=10.46.189.${4 * i + 2}`);
      expect(got).toContain(`siaddr=10.46.189.${4 * i + 1}`);

      const out = join(dir, `cmdline-${i}.txt`);
      const t = await bed.exec(pi.ns, "tftp", ["-m", "octet", `10.46.189.${4 * i + 1}`, "-c", "get", "cmdline.txt", out]);
      expect(t.exitCode, t.stderr + t.stdout).toBe(0);
      const pi2 = `10.46.189.${4 * i + 2}`;
      const server = `10.46.189.${4 * i + 1}`;
      expect(await readFile(out, "utf8")).toBe(
        `dwc_otg.lpm_enable=0 console=ttyAMA0,115200 console=tty1 elevator=deadline fsck.repair=yes rootwait root=/dev/nfs rootfstype=nfs ip=${pi2}::${server}:255.255.255.252::eth0:off nfsroot=${server}:${dir}/export/${pi2},vers=3,tcp\n`,
      );
    }
    const fw = join(dir, "bootcode-copy.bin");
    const t = await bed.exec(pis[0]!.ns, "tftp", ["-m", "octet", "10.46.189.1", "-c", "get", "bootcode.bin", fw]);
    expect(t.exitCode).toBe(0);
    expect(await readFile(fw)).toEqual(await readFile(join(dir, "firmware/bootcode.bin")));
  });

  it("reports what it learned on the API", async () => {
    const status = JSON.parse((await api("/api/v1/pis"))!) as { port: number; mac: string | null; bootStage: string; enrolled: boolean }[];
    expect(status.map((s) => [s.port, s.mac, s.bootStage, s.enrolled])).toEqual([
      [1, pis[0]!.mac, "firmware", true],
      [2, pis[1]!.mac, "firmware", true],
    ]);
    const metrics = (await api("/metrics"))!;
    expect(metrics).toMatch(/pirack_pis_enrolled 2/);
    // Kept for the next start of pirack, so auto-enrolled Pis stay enrolled (and exported) across restarts.
    const saved = JSON.parse(await readFile(join(dir, "state/pis.json"), "utf8")) as { pis: { port: number; mac: string }[] };
    expect(saved.pis.map((p) => [p.port, p.mac])).toEqual([
      [1, pis[0]!.mac],
      [2, pis[1]!.mac],
    ]);
  });

  it("clones a root for each Pi it saw, exports exactly those, and rebuilds one on request keeping the old aside", async () => {
    const root1 = join(dir, "export/10.46.189.2");
    await waitFor(async () => (await readFile(join(root1, "etc/hostname"), "utf8").catch(() => undefined)) === "bench-01\n" || undefined, "port 1's root", 60_000);
    await waitFor(async () => (await readFile(join(dir, "export/10.46.189.6/etc/hostname"), "utf8").catch(() => undefined)) === "bench-02\n" || undefined, "port 2's root", 60_000);
    const exportsFile = join(dir, "sysroot/etc/exports.d/pirack.exports");
    const lines = await waitFor(async () => {
      const text = await readFile(exportsFile, "utf8").catch(() => "");
      const l = text.split("\n").filter((x) => x.startsWith("/"));
      return l.length === 2 ? l : undefined;
    }, "exports of both roots", 30_000);
    expect(lines).toEqual([`${root1} 10.46.189.2(rw,sync,no_subtree_check,no_root_squash)`, `${dir}/export/10.46.189.6 10.46.189.6(rw,sync,no_subtree_check,no_root_squash)`]);
    expect(await readFile(join(root1, "etc/network/interfaces.d/eth0.131"), "utf8")).toContain("\taddress\t2a00:1098:0:84:1000:1::2\n");

    await writeFile(join(root1, "written-by-the-pi"), "keep me\n");
    const r = await bed.exec(fs, "curl", ["-sf", "-X", "POST", "http://127.0.0.1:8067/api/v1/pis/1/rebuild"], { timeoutMs: 120_000 });
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    const result = (JSON.parse(r.stdout) as { result: { oldPath: string; path: string } }).result;
    expect(result.path).toBe(root1);
    expect(await readFile(join(result.oldPath, "written-by-the-pi"), "utf8")).toBe("keep me\n");
    await expect(readFile(join(root1, "written-by-the-pi"))).rejects.toThrow(/ENOENT/);
    expect(await readFile(join(root1, "etc/hostname"), "utf8")).toBe("bench-01\n");
  });
});
