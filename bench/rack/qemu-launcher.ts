/**
 * A QEMU Pi on the bench (adapter): on power-on its namespace first does a Pi 4's netboot fetch with bench/pi
 * (`--fetch-dir`: DHCP, then config.txt, cmdline.txt, the DTB and the kernel over TFTP from pirack), then its link
 * is handed to QEMU (bench/qemu), which boots exactly the bytes the Pi fetched with the root over NFS. It is up
 * when its sshd answers `ssh-keyscan` on its public IPv6 address from the public namespace.
 */
import { execa } from "execa";
import { access, mkdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { adaptCmdlineForVirt, attachTap, detachTap, startQemuPi, type QemuPi, type TapLink } from "../qemu/index.ts";
import type { BenchPi } from "./layout.ts";
import { startProtocolPi, type PiLauncher, type PiReport } from "./pi-process.ts";

/** Where a QEMU Pi's files go. */
export interface QemuLauncherOptions {
  readonly exportsDir: string;
  readonly logsDir: string;
  /** Per-run directory for the fetched boot files. */
  readonly fetchRoot: string;
  readonly publicNamespace: string;
  readonly memoryMb?: number;
}

const exists = (p: string): Promise<boolean> => access(p).then(() => true, () => false);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * pirack's config.txt names no initramfs, so a Pi's own fetch loads none; Debian's arm64 kernel needs one for an
 * NFS root (no CONFIG_IP_PNP). The bench fetches `initrd.img` from pirack over TFTP (tftp-hpa, from the Pi's
 * address) so the guest still boots only bytes pirack served.
 */
async function fetchInitrd(pi: BenchPi, dir: string): Promise<string> {
  const out = join(dir, "initrd.img");
  if (await exists(out)) return out;
  const ns = pi.namespace;
  await execa("ip", ["-n", ns, "addr", "add", `${pi.piAddress}/30`, "dev", "eth0"], { reject: false });
  try {
    const r = await execa("ip", ["netns", "exec", ns, "tftp", "-m", "octet", pi.serverAddress, "-c", "get", "initrd.img", out], { reject: false, timeout: 300_000 });
    if (r.exitCode !== 0 || !(await exists(out))) throw new Error(`tftp of initrd.img from ${pi.serverAddress} failed: ${r.stdout}${r.stderr}`.trim());
  } finally {
    await execa("ip", ["-n", ns, "addr", "flush", "dev", "eth0"], { reject: false });
  }
  return out;
}

/** The launcher of QEMU Pis. */
export const qemuPiLauncher =
  (opts: QemuLauncherOptions): PiLauncher =>
  (pi, report) => {
    let stopped = false;
    let fetch: ReturnType<typeof startProtocolPi> | undefined;
    let qemu: QemuPi | undefined;
    let tap: TapLink | undefined;
    const abort = new AbortController();
    const fail = (reason: string): void => void (!stopped && report({ kind: "failed", reason }));

    const run = async (): Promise<void> => {
      const dir = join(opts.fetchRoot, `pi${pi.port}`);
      await rm(dir, { recursive: true, force: true });
      await mkdir(dir, { recursive: true });
      let fetchFailed: string | undefined;
      const forward = (r: PiReport): void => {
        if (r.kind === "failed") fetchFailed = r.reason;
        else report(r);
      };
      fetch = startProtocolPi(pi, { exportsDir: opts.exportsDir, fetchDir: dir, stderrFile: join(opts.logsDir, `pi${pi.port}.stderr.log`) }, forward);
      const code = await fetch.done;
      if (stopped) return;
      if (code !== 0 || fetchFailed) return fail(`the Pi's netboot fetch failed: ${fetchFailed ?? `bench/pi exited with ${String(code)}`}`);
      const initrd = await fetchInitrd(pi, dir);
      const cmdline = await readFile(join(dir, "cmdline.txt"), "utf8");
      if (stopped) return;
      tap = await attachTap({ netns: pi.namespace, uplink: "eth0" });
      qemu = await startQemuPi({
        netns: pi.namespace,
        tap: tap.tap,
        kernel: join(dir, "kernel.img"),
        initrd,
        append: adaptCmdlineForVirt(cmdline),
        mac: pi.mac,
        consoleLog: join(opts.logsDir, `pi${pi.port}.console.log`),
        signal: abort.signal,
        ...(opts.memoryMb ? { memoryMb: opts.memoryMb } : {}),
      });
      report({ kind: "stage", stage: "qemu" });
      void qemu.exited.then((e) => fail(`qemu exited (${String(e.exitCode ?? e.signal)}): ${e.stderr.trim().slice(-300)}`));
      // Up is the Pi's own word: its sshd answering on its public address, through VLAN 131 on the switch.
      while (!stopped) {
        const r = await execa("ip", ["netns", "exec", opts.publicNamespace, "ssh-keyscan", "-T", "5", "-t", "ed25519", pi.publicAddress], { reject: false, timeout: 20_000 });
        if (/ssh-ed25519 \S+/.test(r.stdout)) {
          if (!stopped) report({ kind: "up" });
          return;
        }
        await sleep(3000);
      }
    };
    run().catch((err: unknown) => fail((err as Error).message));

    return {
      stop: async () => {
        stopped = true;
        abort.abort();
        await fetch?.instance.stop();
        await qemu?.stop(2000).catch(() => undefined);
        if (tap) {
          await detachTap(tap);
          // The uplink is the Pi's cable again for the next power-on: its own MAC back.
          await execa("ip", ["-n", pi.namespace, "link", "set", "eth0", "address", pi.mac], { reject: false });
        }
      },
    };
  };
