/**
 * `pirack serve` on a one-Pi bench for fault tests: a fileserver namespace holding `eth0.10` (a veth standing in
 * for the storage VLAN of port 1) and a Pi namespace behind it. Real clients check the daemon is still serving:
 * BusyBox udhcpc for DHCP, tftp-hpa for TFTP, curl for the API. The daemon's JSON log is parsed as it comes.
 */
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import type { ResultPromise } from "execa";
import { TestBed, waitFor } from "./netns.ts";

const root = new URL("../..", import.meta.url).pathname;

/** One parsed log line of the daemon. */
export type LogLine = Record<string, unknown> & { msg?: string };

/** The rack of the bench: port 1 only, roots and state under `d`. */
export const benchYaml = (d: string, extra = ""): string => `
shelf: bench
fileserver: { interface: eth0, switchPort: 24, manageInterfaces: false }
storage: { network: 10.46.189.0/24, firstVlan: 10 }
public: { prefix: "2a00:1098:0:84::/64", gateway: "2a00:1098:0:84::1", firstAddress: "2a00:1098:0:84:1000:1::2" }
ports: 1
boot: { firmware: ${d}/firmware }
paths: { exports: ${d}/export, images: ${d}/images, state: ${d}/state }
image: golden
nfs: { server: kernel }
enrol: auto
${extra}`;

/** Fault-test bench; `cleanup()` removes every namespace, process and file it made. */
export class ServeBed {
  readonly bed = new TestBed();
  dir = "";
  fs = "";
  pi = "";
  readonly piMac = "b8:27:eb:00:00:01";
  lines: LogLine[] = [];
  private child: ResultPromise | undefined;
  private waiters: { match: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = [];

  /** The config file the daemon runs on (`<dir>/conf/rack.yaml`). */
  get config(): string {
    return join(this.dir, "conf", "rack.yaml");
  }

  /** Makes the namespaces, firmware and config (not the daemon). */
  async setUp(prefix: string): Promise<void> {
    // /var/tmp rather than a tmpfs /tmp: the 50 MB sparse file and roots must not fill memory.
    this.dir = await mkdtemp(join("/var/tmp", `pirack-${prefix}-`));
    await mkdir(join(this.dir, "firmware"), { recursive: true });
    await mkdir(join(this.dir, "conf"));
    await mkdir(join(this.dir, "export"));
    await writeFile(join(this.dir, "firmware/bootcode.bin"), randomBytes(52_480));
    await writeFile(this.config, benchYaml(this.dir));
    const hook = join(this.dir, "hook.sh");
    await writeFile(hook, await readFile(join(root, "test/fixtures/dhcpd/client-hook.sh")));
    await chmod(hook, 0o755);
    this.fs = await this.bed.namespace(`${prefix}-fs`);
    this.pi = await this.bed.namespace(`${prefix}-p1`);
    await this.bed.veth({ left: { ns: this.fs, name: "eth0.10", address: "10.46.189.1/30" }, right: { ns: this.pi, name: "eth0", mac: this.piMac } });
  }

  /** Starts `pirack serve` and waits for its first pass. */
  async start(): Promise<void> {
    this.lines = [];
    this.child = this.bed.spawn(this.fs, "node", [
      join(root, "bin/pirack.mjs"),
      "serve",
      "--config",
      this.config,
      "--sysroot",
      join(this.dir, "sysroot"),
      "--listen",
      "127.0.0.1:8067",
    ]);
    let buffer = "";
    this.child.stdout!.on("data", (chunk: Buffer) => {
      buffer += chunk.toString();
      for (let nl = buffer.indexOf("\n"); nl >= 0; nl = buffer.indexOf("\n")) {
        const text = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        let line: LogLine;
        try {
          line = JSON.parse(text) as LogLine;
        } catch {
          continue; // not a log line
        }
        this.lines.push(line);
        for (const w of this.waiters.splice(0)) {
          if (w.match(line)) w.resolve(line);
          else this.waiters.push(w);
        }
      }
    });
    await this.waitLog((l) => l.msg === "reconcile pass finished" && l.reason === "startup", 60_000);
  }

  /** Stops the daemon with SIGTERM and returns its exit code. */
  async stop(): Promise<number | undefined> {
    const child = this.child;
    this.child = undefined;
    child?.kill("SIGTERM");
    return (await child)?.exitCode;
  }

  /** True while the daemon process runs. */
  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null;
  }

  /** Waits for a log line after index `from` matching `match`. */
  waitLog(match: (l: LogLine) => boolean, timeoutMs = 20_000, from = 0): Promise<LogLine> {
    const found = this.lines.slice(from).find(match);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no matching log line in ${timeoutMs} ms; last: ${JSON.stringify(this.lines.slice(-8).map((l) => l.msg))}`)), timeoutMs);
      this.waiters.push({ match, resolve: (l) => (clearTimeout(t), resolve(l)) });
    });
  }

  /** GET on the API from inside the fileserver namespace; undefined when it does not answer. */
  async api(path: string): Promise<string | undefined> {
    const r = await this.bed.exec(this.fs, "curl", ["-sf", "--max-time", "10", `http://127.0.0.1:8067${path}`]);
    return r.exitCode === 0 ? r.stdout : undefined;
  }

  /** The value of one metric series (0 when absent). */
  async metric(series: string): Promise<number> {
    const text = (await this.api("/metrics")) ?? "";
    const line = text.split("\n").find((l) => l.startsWith(`${series} `));
    return line ? Number(line.split(" ")[1]) : 0;
  }

  /** A DHCP lease for the Pi by udhcpc; returns the milliseconds it took, throws when none came. */
  async dhcpLease(): Promise<number> {
    const started = Date.now();
    const log = join(this.dir, `dhcp-${randomBytes(3).toString("hex")}.log`);
    const r = await this.bed.exec(this.pi, "env", [`HOOK_LOG=${log}`, "udhcpc", "-i", "eth0", "-n", "-q", "-f", "-t", "5", "-T", "2", "-s", join(this.dir, "hook.sh")], { timeoutMs: 30_000 });
    if (r.exitCode !== 0 || !(await readFile(log, "utf8")).includes("ip=10.46.189.2")) throw new Error(`no DHCP lease: ${r.stderr}`);
    return Date.now() - started;
  }

  /** Fetches bootcode.bin over TFTP from the Pi namespace; returns the milliseconds it took, throws on a mismatch. */
  async tftpFetch(): Promise<number> {
    const started = Date.now();
    const out = join(this.dir, `bootcode-${randomBytes(3).toString("hex")}.bin`);
    const r = await this.bed.exec(this.pi, "tftp", ["-m", "octet", "10.46.189.1", "-c", "get", "bootcode.bin", out], { timeoutMs: 30_000 });
    if (r.exitCode !== 0) throw new Error(`tftp failed: ${r.stderr}${r.stdout}`);
    if (!(await readFile(out)).equals(await readFile(join(this.dir, "firmware/bootcode.bin")))) throw new Error("tftp fetched other bytes");
    await rm(out);
    return Date.now() - started;
  }

  /** Waits for `check` (polling). */
  waitFor<T>(check: () => Promise<T | undefined>, what: string, timeoutMs = 20_000): Promise<T> {
    return waitFor(check, what, timeoutMs);
  }

  /** Removes everything. */
  async cleanup(): Promise<void> {
    await this.bed.cleanup();
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
  }
}
