/**
 * A protocol Pi as a process (adapter): `bench/pi/main.ts` inside the Pi's namespace, which performs the model's
 * DHCP + TFTP boot and (with --nfs) mounts its root and writes a marker into it. Its stdout is one JSON line per
 * stage; the bench believes `up` only once the marker it names is visible in the root on the fileserver.
 */
import { access } from "node:fs/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { BenchPi } from "./layout.ts";
import { spawnIn, type Child } from "./netns.ts";
import { nodeTs } from "./node-ts.ts";

/** What a running Pi tells the bench. */
export type PiReport = { readonly kind: "stage"; readonly stage: string; readonly detail?: Record<string, unknown> } | { readonly kind: "up" } | { readonly kind: "failed"; readonly reason: string };

/** A powered Pi; `stop()` is the power going away. */
export interface PiInstance {
  stop(): Promise<void>;
}

/** Starts a Pi on power-on; reports go to `report`. */
export type PiLauncher = (pi: BenchPi, report: (r: PiReport) => void) => PiInstance;

/** Options of the protocol Pi process. */
export interface ProtocolPiOptions {
  readonly exportsDir: string;
  readonly ifname?: string;
  /** Save what it fetched here (QEMU Pis boot those bytes); no NFS stage then. */
  readonly fetchDir?: string;
  readonly stderrFile?: string;
}

/** One JSON stage line of bench/pi. */
interface StageLine {
  readonly stage?: string;
  readonly error?: string;
  readonly reason?: string;
  readonly marker?: string;
  readonly file?: string;
  readonly [key: string]: unknown;
}

/** Where a Pi's marker lands on the fileserver: its export root plus the path the Pi wrote inside it. */
export const markerOnFileserver = (exportsDir: string, pi: BenchPi, inRoot: string): string => join(exportsDir, pi.piAddress, inRoot.replace(/^\/+/, ""));

/** Runs bench/pi once; resolves with its exit code when it ends. */
export function startProtocolPi(pi: BenchPi, opts: ProtocolPiOptions, report: (r: PiReport) => void): { instance: PiInstance; done: Promise<number | undefined> } {
  // A real Pi keeps trying for as long as it has power; the budget only bounds a Pi the bench forgot.
  const args = ["--model", pi.model, "--serial", pi.serial, "--mac", pi.mac, "--ifname", opts.ifname ?? "eth0", "--timeout-s", "900"];
  const { cmd, args: full } = nodeTs("bench/pi/main.ts", opts.fetchDir ? [...args, "--fetch-dir", opts.fetchDir] : [...args, "--nfs"]);
  const child: Child = spawnIn(pi.namespace, cmd, full, { stdout: "pipe", stderr: opts.stderrFile ? { file: opts.stderrFile } : "ignore" });
  let stopped = false;
  let sawUp = false;
  createInterface({ input: child.process.stdout! }).on("line", (line) => {
    let msg: StageLine;
    try {
      msg = JSON.parse(line) as StageLine;
    } catch {
      return; // not a stage line
    }
    if (stopped || typeof msg.stage !== "string") return;
    if (msg.stage === "failed") return report({ kind: "failed", reason: String(msg.error ?? msg.reason ?? "the pi reported a failed boot") });
    // In fetch mode (a QEMU Pi's first half) "up" only means the files are saved; the guest is not up yet.
    if (msg.stage !== "up" || opts.fetchDir) return report({ kind: "stage", stage: msg.stage === "up" ? "fetched" : msg.stage, detail: msg });
    sawUp = true;
    const inRoot = typeof msg.marker === "string" ? msg.marker : typeof msg.file === "string" ? msg.file : undefined;
    if (!inRoot) return report({ kind: "failed", reason: "the pi said up without naming the file it wrote" });
    const onServer = markerOnFileserver(opts.exportsDir, pi, inRoot);
    void access(onServer).then(
      () => !stopped && report({ kind: "up" }),
      () => !stopped && report({ kind: "failed", reason: `the pi wrote ${inRoot} but ${onServer} does not exist on the fileserver` }),
    );
  });
  const done = child.process.then((r) => r.exitCode);
  void done.then((code) => {
    if (!stopped && !sawUp && !opts.fetchDir && code !== 0) report({ kind: "failed", reason: `bench/pi exited with ${String(code)} before it was up` });
  });
  return {
    done,
    instance: {
      stop: async () => {
        stopped = true;
        child.kill("SIGKILL");
        await child.exited;
      },
    },
  };
}

/** The launcher of protocol Pis. */
export const protocolPiLauncher =
  (opts: { exportsDir: string; logsDir: string }): PiLauncher =>
  (pi, report) =>
    startProtocolPi(pi, { exportsDir: opts.exportsDir, stderrFile: join(opts.logsDir, `pi${pi.port}.stderr.log`) }, report).instance;
