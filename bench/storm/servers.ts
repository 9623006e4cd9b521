/**
 * The two servers a storm is run against, both inside the fileserver namespace: `pirack serve` on a generated
 * rack config (every Pi enrolled on plug-in), and dnsmasq with the Raspberry Pi documentation's netboot
 * settings and the same firmware set. Plus their CPU time and peak RSS from /proc.
 */
import { execa, type ResultPromise } from "execa";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildDnsmasqTftpRoot, dnsmasqArgs, rigRackYaml, type RigPi } from "../pi/rig.ts";
import { makeFixtureRoot } from "../../rootfs/testing/fixture-root.ts";
import { waitFor, type TestBed } from "../../test/support/netns.ts";

const repoRoot = fileURLToPath(new URL("../../", import.meta.url));

/** A running server. */
export interface StormServer {
  readonly name: "pirack" | "dnsmasq";
  readonly pid: number;
  readonly child: ResultPromise;
}

/** CPU ticks (utime + stime, USER_HZ 100) and peak RSS (VmHWM, kB) of a process. */
export async function usage(pid: number): Promise<{ cpuMs: number; peakRssMb: number }> {
  const stat = (await readFile(`/proc/${pid}/stat`, "utf8")).split(") ")[1]!.split(" ");
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  return { cpuMs: (Number(stat[11]) + Number(stat[12])) * 10, peakRssMb: Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024 };
}

/** Starts `pirack serve` for the storm's Pis; resolves once its DHCP sockets are open on every eth0.N. */
export async function startPirack(bed: TestBed, fs: string, input: { dir: string; bootDir: string; pis: readonly RigPi[]; network: string }): Promise<StormServer> {
  const { dir } = input;
  await mkdir(join(dir, "images/golden"), { recursive: true });
  await makeFixtureRoot(join(dir, "images/golden"));
  await writeFile(join(dir, "rack.yaml"), rigRackYaml({ dir, bootDir: input.bootDir, ports: input.pis.length, network: input.network, nfs: "none" }));
  const child = bed.spawn(fs, "node", [join(repoRoot, "bin/pirack.mjs"), "serve", "--config", join(dir, "rack.yaml"), "--sysroot", join(dir, "sysroot"), "--listen", "127.0.0.1:8067"]);
  const open = new RegExp(`^pirack_dhcp_interfaces_open ${input.pis.length}$`, "m");
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`pirack serve exited: ${(await child).stderr}`);
      const r = await execa("ip", ["netns", "exec", fs, "curl", "-sf", "http://127.0.0.1:8067/metrics"], { reject: false });
      return open.test(r.stdout) ? true : undefined;
    },
    `pirack serve with ${input.pis.length} DHCP interfaces open`,
    120_000,
  );
  // `ip netns exec` execs the command, so the pid is node's own.
  return { name: "pirack", pid: child.pid!, child };
}

/** Starts dnsmasq (DHCP + TFTP) for the storm's Pis; resolves once it listens on 67 and 69. */
export async function startDnsmasq(bed: TestBed, fs: string, input: { dir: string; bootDir: string; pis: readonly RigPi[] }): Promise<StormServer> {
  const work = join(input.dir, "dnsmasq");
  await mkdir(work, { recursive: true });
  await buildDnsmasqTftpRoot(input.bootDir, join(work, "tftp"), input.pis, join(input.dir, "export"));
  const child = bed.spawn(fs, "dnsmasq", dnsmasqArgs(input.pis, join(work, "tftp"), work));
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`dnsmasq exited: ${(await child).stderr}`);
      const r = await execa("ip", ["netns", "exec", fs, "ss", "-lun"], { reject: false });
      return r.stdout.includes(":67 ") && r.stdout.includes(":69 ") ? true : undefined;
    },
    "dnsmasq listening on 67 and 69",
    30_000,
  );
  return { name: "dnsmasq", pid: child.pid!, child };
}

/** Stops a server and waits for it. */
export async function stopServer(server: StormServer): Promise<void> {
  server.child.kill("SIGTERM");
  const done = await Promise.race([server.child.then(() => true, () => true), new Promise<boolean>((r) => setTimeout(() => r(false), 10_000))]);
  if (!done) server.child.kill("SIGKILL");
  await server.child.catch(() => undefined);
}
