/**
 * `pirack bench` end to end with 8 protocol Pis of mixed models (bench/pi: byte-faithful Pi 3B ROM, 3B+, Pi 4 and
 * Pi 5 DHCP/TFTP, then the NFS root through libnfs): the bench runs as its own process, pirack serve inside the
 * fileserver namespace powers the Pis through the simulated switch, Open vSwitch carries the VLANs. Checked from
 * the outside: every Pi's marker in its root on the fileserver, a power cycle through `pirack power cycle`, a port
 * put on the wrong VLAN behind pirack's back (with Net-SNMP's snmpset), and a teardown that leaves nothing.
 *
 * The firmware set is Debian's raspi-firmware with the kernel's DTBs (bench/pi/firmware-set.ts); kernel8.img is
 * cut to its first 4 MiB: protocol Pis never run it, and 8 Pis fetching 33 MB in TFTP lock-step through the
 * userspace datapath would take most of the time box (the QEMU test boots the whole kernel).
 */
import { execa, type ResultPromise } from "execa";
import { access, copyFile, mkdir, mkdtemp, open, readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureFirmwareSet } from "../../bench/pi/index.ts";
import { makeFixtureRoot } from "../../rootfs/testing/fixture-root.ts";
import { freePort as freeTcpPort } from "../support/free-port.ts";
import { isRoot } from "../support/netns.ts";

const repo = new URL("../..", import.meta.url).pathname;
const hasOvs = await execa("bash", ["-c", "command -v ovs-vswitchd && command -v ganesha.nfsd && command -v nfs-cp"], { reject: false }).then((r) => r.exitCode === 0);

let dir: string;
let bench: ResultPromise | undefined;
let apiUrl: string;
const lines: { at: number; text: string }[] = [];

/** Resolves with the first output line matching `re` after index `from`; rejects after `timeoutMs`. */
function waitForLine(re: RegExp, timeoutMs: number, from = 0): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const tick = () => {
      const i = lines.findIndex((l, k) => k >= from && re.test(l.text));
      if (i >= 0) return resolve(i);
      if (bench?.exitCode !== null && bench?.exitCode !== undefined) return reject(new Error(`the bench exited (${bench.exitCode}) before ${re}:\n${tail()}`));
      if (Date.now() > deadline) return reject(new Error(`no line ${re} within ${timeoutMs} ms:\n${tail()}`));
      setTimeout(tick, 200);
    };
    tick();
  });
}
const tail = () => lines.slice(-40).map((l) => l.text).join("\n");
const pid = () => bench?.pid ?? 0;
const runDir = () => `/var/tmp/pirack-bench-${pid()}`;

describe.skipIf(!isRoot() || !hasOvs)("pirack bench with 8 protocol Pis (root, Open vSwitch, ganesha)", () => {
  beforeAll(async () => {
    dir = await mkdtemp("/var/tmp/pirack-benchtest-");
    const set = await ensureFirmwareSet();
    const firmware = join(dir, "firmware");
    await mkdir(firmware, { recursive: true });
    for (const name of await readdir(set.bootDir)) {
      if (name === "kernel8.img") continue;
      await copyFile(join(set.bootDir, name), join(firmware, name)).catch(() => undefined); // a directory (overlays) is skipped
    }
    const kernel = await open(join(set.bootDir, "kernel8.img"));
    const head = Buffer.alloc(4 << 20);
    const { bytesRead } = await kernel.read(head, 0, head.length, 0);
    await kernel.close();
    const out = await open(join(firmware, "kernel8.img"), "w");
    await out.write(head.subarray(0, bytesRead));
    await out.close();
    await mkdir(join(dir, "images/golden"), { recursive: true });
    await makeFixtureRoot(join(dir, "images/golden"));

    const port = await freeTcpPort();
    apiUrl = `http://127.0.0.1:${port}`;
    const args = ["bench", "--pis", "8", "--qemu", "0", "--models", "3b,3b+,4,5", "--firmware", firmware, "--image", join(dir, "images/golden"), "--listen", `127.0.0.1:${port}`, "--logs", join(dir, "logs")];
    bench = execa(process.execPath, [join(repo, "bin/pirack.mjs"), ...args], { reject: false, buffer: false, stdout: "pipe", stderr: "pipe", env: { FORCE_COLOR: "0" }, forceKillAfterDelay: false });
    for (const stream of [bench.stdout!, bench.stderr!]) createInterface({ input: stream }).on("line", (text) => lines.push({ at: Date.now(), text }));
    await waitForLine(/\d+ of 8 Pis up/, 540_000).catch(async (err: Error) => {
      const serveLog = await readFile(join(dir, "logs/serve.log"), "utf8").catch(() => "(no serve.log)");
      throw new Error(`${err.message}\n--- serve.log (last lines) ---\n${serveLog.split("\n").slice(-15).join("\n")}`);
    });
  }, 600_000);

  afterAll(async () => {
    if (bench && bench.exitCode === null) {
      bench.kill("SIGTERM");
      await Promise.race([bench, new Promise((r) => setTimeout(r, 60_000))]);
      bench.kill("SIGKILL");
    }
    // A test that failed half-way must not leave a run behind: the next bench removes leftovers, this does too.
    const names = (await execa("ip", ["netns", "list"], { reject: false })).stdout.split("\n").filter((n) => n.startsWith(`pirack-bench-${pid()}-`));
    for (const n of names) await execa("ip", ["netns", "del", n.split(" ")[0]!], { reject: false });
    await rm(runDir(), { recursive: true, force: true });
    if (dir) await rm(dir, { recursive: true, force: true });
  }, 120_000);

  it("boots all 8 Pis to up: each wrote its marker into the root pirack cloned and exported for it", async () => {
    expect(lines.map((l) => l.text).find((t) => /of 8 Pis up/.test(t)), tail()).toMatch(/8 of 8 Pis up/);
    for (let p = 1; p <= 8; p++) {
      // The first boot writes pirack-bench-booted, later boots (pirack power-cycles a Pi whose root came late)
      // a file of their own beside it.
      const lib = join(runDir(), "export", `10.46.189.${4 * (p - 1) + 2}`, "var/lib");
      const markers = (await readdir(lib)).filter((n) => n.startsWith("pirack-bench-booted"));
      expect(markers.length, `port ${p}`).toBeGreaterThan(0);
      for (const m of markers) expect(await readFile(join(lib, m), "utf8")).toMatch(new RegExp(`^b0be000${p} (3b|3b\\+|4|5) `));
    }
    const status = (await (await fetch(`${apiUrl}/api/v1/pis`)).json()) as { port: number; model: string | null; enrolled: boolean; power: string }[];
    expect(status.map((s) => [s.port, s.enrolled, s.power])).toEqual([1, 2, 3, 4, 5, 6, 7, 8].map((p) => [p, true, "on"]));
    expect(new Set(status.map((s) => s.model)).size).toBeGreaterThanOrEqual(3);
  });

  it("reboots a Pi through `pirack power cycle`: its stage goes back to power and returns to up", async () => {
    const from = lines.length;
    const r = await execa(process.execPath, [join(repo, "bin/pirack.mjs"), "power", "cycle", "3", "--api", apiUrl], { reject: false, timeout: 60_000 });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain("poeOff");
    const off = await waitForLine(/port 3: power off/, 30_000, from);
    const power = await waitForLine(/port 3 pi4 \S+: power at/, 30_000, off);
    await waitForLine(/port 3 pi4 \S+: up at/, 240_000, power);
  }, 330_000);

  it("a Pi whose port is on the wrong VLAN does not boot, is reported stuck, and boots once pirack's next pass fixes the switch", async () => {
    const fs = `pirack-bench-${pid()}-fs`;
    // Right after one of pirack's passes the next is a minute away (its timer; no event here asks for one), so the
    // wrong VLAN holds long enough to be seen as stuck.
    const serveLog = join(dir, "logs/serve.log");
    const passes = async () => ((await readFile(serveLog, "utf8")).match(/"msg":"reconcile pass finished"/g) ?? []).length;
    const before = await passes();
    const passDeadline = Date.now() + 90_000;
    while ((await passes()) === before && Date.now() < passDeadline) await new Promise((r) => setTimeout(r, 250));
    const from = lines.length;
    // Behind pirack's back: port 7's PVID to VLAN 1 (a ProCurve then makes 1 its untagged VLAN, 16 tagged).
    const set = await execa("ip", ["netns", "exec", fs, "snmpset", "-v2c", "-c", "private", "-t", "3", "-r", "2", "100.64.255.10", "1.3.6.1.2.1.17.7.1.4.5.1.1.7", "u", "1"], { reject: false, env: { MIBS: "" } });
    expect(set.exitCode, set.stderr).toBe(0);
    await waitForLine(/wiring follows the switch: .*\bpi7\b/, 30_000, from);
    const cycle = await execa(process.execPath, [join(repo, "bin/pirack.mjs"), "power", "cycle", "7", "--api", apiUrl], { reject: false, timeout: 60_000 });
    expect(cycle.exitCode, cycle.stderr).toBe(0);
    const on = await waitForLine(/port 7: power on/, 30_000, from);
    const stuck = await waitForLine(/port 7 pi4 \S+: power \(stuck\)/, 120_000, on);
    // Nothing past power while stuck: no DHCP answer reached it on VLAN 1.
    expect(lines.slice(on, stuck).some((l) => /port 7 pi4 \S+: (dhcp|firmware|kernel|up)/.test(l.text))).toBe(false);
    const fixed = await waitForLine(/wiring follows the switch: .*\bpi7\b/, 120_000, stuck);
    await waitForLine(/port 7 pi4 \S+: up at/, 240_000, fixed);
  }, 600_000);

  it("SIGTERM takes down every namespace, process and the run directory", async () => {
    bench!.kill("SIGTERM");
    const r = await Promise.race([bench!, new Promise<undefined>((res) => setTimeout(() => res(undefined), 90_000))]);
    expect(r, tail()).toBeDefined();
    // Every Pi was up when the signal came: exit 0. The last lines may still be in the pipe for a moment.
    expect(bench!.exitCode, tail()).toBe(0);
    await waitForLine(/bench removed/, 5_000).catch(() => undefined);
    expect(lines.some((l) => /bench removed/.test(l.text)), tail()).toBe(true);
    const left = (await execa("ip", ["netns", "list"])).stdout.split("\n").filter((n) => n.startsWith(`pirack-bench-${pid()}-`));
    expect(left).toEqual([]);
    await expect(access(runDir())).rejects.toThrow(/ENOENT/);
    const procs = await execa("pgrep", ["-f", runDir()], { reject: false });
    expect(procs.stdout).toBe("");
    expect(await readFile(join(dir, "logs/serve.log"), "utf8")).toContain("appliance started");
  }, 120_000);
});
