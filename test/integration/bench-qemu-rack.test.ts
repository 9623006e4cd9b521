/**
 * `pirack bench` with one QEMU Pi: the switch powers it, it does a Pi 4's netboot fetch from pirack, QEMU boots the
 * fetched kernel over the NFS root ganesha exports (the golden arm64 image from bench/qemu's cache, built on first
 * use), systemd reaches multi-user, and sshd answers `ssh-keyscan` on the Pi's public IPv6 address from the public
 * namespace, through VLAN 131 on the Open vSwitch wiring, with the host key pirack generated in its root.
 * The serial console is printed when it fails.
 */
import { execa, type ResultPromise } from "execa";
import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../support/free-port.ts";
import { isRoot } from "../support/netns.ts";

const repo = new URL("../..", import.meta.url).pathname;
const tools = await execa("bash", ["-c", "command -v ovs-vswitchd && command -v ganesha.nfsd && command -v qemu-system-aarch64"], { reject: false });
const PUBLIC = "2a00:1098:0:84:1000:1::2";

let dir: string;
let bench: ResultPromise | undefined;
const lines: string[] = [];
const consoleLog = () => readFile(join(dir, "logs/pi1.console.log"), "utf8").catch(() => "(no console log)");

async function waitForLine(re: RegExp, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!lines.some((l) => re.test(l))) {
    if (bench?.exitCode !== null && bench?.exitCode !== undefined) throw new Error(`the bench exited (${bench.exitCode}) before ${re}:\n${lines.slice(-30).join("\n")}\n--- serial console ---\n${(await consoleLog()).slice(-6000)}`);
    if (Date.now() > deadline) throw new Error(`no line ${re} within ${timeoutMs} ms:\n${lines.slice(-30).join("\n")}\n--- serial console ---\n${(await consoleLog()).slice(-6000)}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

describe.skipIf(!isRoot() || tools.exitCode !== 0)("pirack bench with a QEMU Pi (root, QEMU TCG, Open vSwitch, ganesha)", () => {
  beforeAll(async () => {
    dir = await mkdtemp("/var/tmp/pirack-benchqemu-");
    const port = await freePort();
    bench = execa(process.execPath, [join(repo, "bin/pirack.mjs"), "bench", "--pis", "1", "--qemu", "1", "--listen", `127.0.0.1:${port}`, "--logs", join(dir, "logs")], {
      reject: false,
      buffer: false,
      stdout: "pipe",
      stderr: "pipe",
      // Teardown after SIGTERM takes seconds; execa's default would SIGKILL the bench 5 s into it.
      forceKillAfterDelay: false,
    });
    for (const s of [bench.stdout!, bench.stderr!]) createInterface({ input: s }).on("line", (l) => lines.push(l));
    // First use builds the artifacts and the golden image (minutes under qemu-user), then the boot itself.
    await waitForLine(/\d+ of 1 Pis up/, 45 * 60_000);
  }, 46 * 60_000);

  afterAll(async () => {
    if (bench && bench.exitCode === null) {
      bench.kill("SIGTERM");
      await Promise.race([bench, new Promise((r) => setTimeout(r, 60_000))]);
      bench.kill("SIGKILL");
    }
    if (dir) await rm(dir, { recursive: true, force: true });
  }, 90_000);

  it("boots to systemd's multi-user target and sshd answers on the public address with the key pirack made", async () => {
    expect(lines.find((l) => /of 1 Pis up/.test(l)), `${lines.slice(-30).join("\n")}\n--- serial console ---\n${(await consoleLog()).slice(-6000)}`).toMatch(/1 of 1 Pis up/);
    const serial = await consoleLog();
    expect(serial, serial.slice(-6000)).toMatch(/Reached target.*Multi-User System|multi-user\.target/);
    const pub = `pirack-bench-${bench!.pid}-pub`;
    const scan = await execa("ip", ["netns", "exec", pub, "ssh-keyscan", "-T", "10", "-t", "ed25519", PUBLIC], { reject: false, timeout: 60_000 });
    const root = join(`/var/tmp/pirack-bench-${bench!.pid}`, "export/10.46.189.2");
    const key = (await readFile(join(root, "etc/ssh/ssh_host_ed25519_key.pub"), "utf8")).split(" ")[1];
    expect(scan.stdout, scan.stderr).toContain(`ssh-ed25519 ${key}`);
  }, 120_000);

  it("tears everything down on SIGTERM", async () => {
    const pid = bench!.pid;
    bench!.kill("SIGTERM");
    await Promise.race([bench!, new Promise((r) => setTimeout(r, 90_000))]);
    await new Promise((r) => setTimeout(r, 1000)); // the last lines may still be in the pipe
    expect(lines.some((l) => /bench removed/.test(l)), lines.slice(-10).join("\n")).toBe(true);
    expect((await execa("ip", ["netns", "list"])).stdout.split("\n").filter((n) => n.startsWith(`pirack-bench-${pid}-`))).toEqual([]);
    expect((await readdir("/var/tmp")).filter((n) => n === `pirack-bench-${pid}`)).toEqual([]);
  }, 120_000);
});
