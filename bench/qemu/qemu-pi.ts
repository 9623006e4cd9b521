/**
 * One emulated Pi: `qemu-system-aarch64 -M virt` under TCG (this machine has no usable KVM, and an aarch64
 * guest on x86 needs TCG anyway), run inside the Pi's network namespace, its NIC a virtio-net on a tap there
 * carrying the Pi's MAC. It boots the kernel, initrd and command line the Pi fetched from pirack
 * (`-kernel/-initrd/-append`); the serial console (the virt PL011, `ttyAMA0`) goes to a log file and is
 * watched for milestones. The tap must exist already (`attachTap` in link.ts makes one on the Pi's uplink).
 */
import { execa, type ResultPromise } from "execa";
import { createWriteStream } from "node:fs";
import { OperationError } from "../../lib/errors.ts";

/** Options of `startQemuPi`. */
export interface QemuPiOptions {
  /** Network namespace the Pi lives in (QEMU runs there). */
  readonly netns: string;
  /** Tap device in that namespace, bridged to the Pi's uplink. */
  readonly tap: string;
  readonly kernel: string;
  readonly initrd: string;
  /** The `-append` value (see `adaptCmdlineForVirt` for turning `cmdline.txt` into it). */
  readonly append: string;
  /** The Pi's MAC: the guest's NIC answers with it, as the Pi did during its DHCP/TFTP fetch. */
  readonly mac: string;
  readonly memoryMb?: number;
  /** Default cortex-a53 (a Pi 3's core; `max` costs more under TCG for features a Pi lacks). */
  readonly cpu?: string;
  /** File receiving the serial console, appended to. */
  readonly consoleLog: string;
  /** Aborting stops the Pi (the bench's PoE rail). */
  readonly signal?: AbortSignal;
  readonly qemuBinary?: string;
}

/** How QEMU ended. */
export interface QemuExit {
  readonly exitCode: number | undefined;
  readonly signal: string | undefined;
  readonly stderr: string;
}

/** A running emulated Pi. */
export interface QemuPi {
  readonly pid: number;
  /** Seconds since QEMU was started, for milestone timings. */
  elapsedSeconds(): number;
  /** Resolves when QEMU exits (guest powered off, killed, or failed to start). */
  readonly exited: Promise<QemuExit>;
  /** The console output so far. */
  console(): string;
  /** Resolves with the first match of `pattern` on the console and when it came; rejects on timeout or exit. */
  waitForConsole(pattern: RegExp, timeoutMs: number): Promise<{ match: RegExpMatchArray; seconds: number }>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once QEMU is gone. */
  stop(graceMs?: number): Promise<QemuExit>;
}

/** The QEMU argument list for one Pi (exported for tests and for the bench's logs). */
export function qemuArgs(o: Pick<QemuPiOptions, "tap" | "kernel" | "initrd" | "append" | "mac" | "memoryMb" | "cpu">): string[] {
  return [
    "-M", "virt",
    "-cpu", o.cpu ?? "cortex-a53",
    "-smp", "1",
    "-m", String(o.memoryMb ?? 512),
    "-nodefaults",
    "-display", "none",
    // A reboot inside the guest ends QEMU: the bench's power rail decides whether the Pi starts again.
    "-no-reboot",
    "-serial", "stdio",
    "-kernel", o.kernel,
    "-initrd", o.initrd,
    "-append", o.append,
    // vnet_hdr=off: the guest computes its own checksums. With offload, frames leave the tap with partial
    // checksums, which a userspace switch (OVS netdev, testbed.md §9) forwards as they are and receivers drop.
    "-netdev", `tap,id=net0,ifname=${o.tap},script=no,downscript=no,vnet_hdr=off`,
    "-device", `virtio-net-pci,netdev=net0,mac=${o.mac},romfile=`,
    // Entropy for the guest's early boot (sshd, systemd) without waiting on jitter.
    "-device", "virtio-rng-pci",
  ];
}

const MAX_CONSOLE_CHARS = 4_000_000;

/** Starts QEMU in the Pi's namespace; resolves once the process exists (it may still fail: watch `exited`). */
export async function startQemuPi(opts: QemuPiOptions): Promise<QemuPi> {
  if (opts.signal?.aborted) throw new OperationError("QEMU_ABORTED", `pi in ${opts.netns} was powered off before QEMU started`);
  const started = Date.now();
  const log = createWriteStream(opts.consoleLog, { flags: "a" });
  const child: ResultPromise = execa("ip", ["netns", "exec", opts.netns, opts.qemuBinary ?? "qemu-system-aarch64", ...qemuArgs(opts)], {
    reject: false,
    stdin: "ignore",
    buffer: { stdout: false, stderr: true },
    encoding: "utf8",
  });
  let text = "";
  const waiters = new Set<() => void>();
  child.stdout?.on("data", (chunk: Buffer) => {
    log.write(chunk);
    text += chunk.toString("utf8");
    if (text.length > MAX_CONSOLE_CHARS) text = text.slice(-MAX_CONSOLE_CHARS / 2);
    for (const w of waiters) w();
  });
  const exited: Promise<QemuExit> = child.then((r) => {
    for (const w of waiters) w();
    return { exitCode: r.exitCode, signal: r.signal, stderr: typeof r.stderr === "string" ? r.stderr : "" };
  });
  let done = false;
  void exited.then(() => {
    done = true;
    log.end();
  });
  if (child.pid === undefined) {
    const r = await exited;
    throw new OperationError("QEMU_START_FAILED", `qemu in ${opts.netns} did not start: ${r.stderr.trim()}`);
  }
  const pid = child.pid;

  const stop = async (graceMs = 5000): Promise<QemuExit> => {
    if (!done) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      await exited;
      clearTimeout(timer);
    }
    return exited;
  };
  opts.signal?.addEventListener("abort", () => void stop(), { once: true });

  const waitForConsole = (pattern: RegExp, timeoutMs: number) =>
    new Promise<{ match: RegExpMatchArray; seconds: number }>((resolve, reject) => {
      const check = () => {
        const match = text.match(pattern);
        if (match) {
          finish();
          resolve({ match, seconds: (Date.now() - started) / 1000 });
        } else if (done) {
          finish();
          reject(new OperationError("QEMU_EXITED", `qemu in ${opts.netns} exited before the console showed ${pattern}`));
        }
      };
      const finish = () => {
        waiters.delete(check);
        clearTimeout(timer);
      };
      // finish() runs only from check() and the timer, both after this line.
      const timer = setTimeout(() => {
        finish();
        reject(new OperationError("QEMU_CONSOLE_TIMEOUT", `expected ${pattern} on the console of the pi in ${opts.netns} within ${timeoutMs} ms, it did not appear`));
      }, timeoutMs);
      waiters.add(check);
      check();
    });

  return { pid, elapsedSeconds: () => (Date.now() - started) / 1000, exited, console: () => text, waitForConsole, stop };
}
