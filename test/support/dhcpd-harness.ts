/**
 * Drives the DHCP server and real DHCP clients inside TestBed namespaces: the server runs as
 * `appliance/dhcpd/standalone.ts` (JSON lines out, JSON commands in); udhcpc, dhclient and the raw
 * replayer run in the client namespaces and report what the client actually received.
 */
import { mkdtemp, readFile, rm, writeFile, chmod } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { ResultPromise } from "execa";
import type { DhcpScope, DhcpSettings } from "../../appliance/dhcpd/index.ts";
import { waitFor, type TestBed } from "./netns.ts";

const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
const hookScript = join(repoRoot, "test/fixtures/dhcpd/client-hook.sh");

/** A line the standalone server printed. */
export type DhcpdEvent = { event: string } & Record<string, unknown>;

/** Config of one standalone server run. */
export interface DhcpdRunConfig {
  scopes: DhcpScope[];
  settings?: Partial<DhcpSettings>;
  interfaceCheckMs?: number;
  retry?: { initialMs: number; maxMs: number };
  logLevel?: string;
  events?: ("request" | "reply" | "interface")[];
}

/** A running standalone DHCP server in a namespace. */
export class DhcpdProcess {
  readonly events: DhcpdEvent[] = [];

  private constructor(readonly child: ResultPromise) {
    createInterface({ input: child.stdout! }).on("line", (line) => {
      try {
        this.events.push(JSON.parse(line) as DhcpdEvent);
      } catch {
        this.events.push({ event: "garbage", line });
      }
    });
  }

  /**
   * Starts the server in `ns` and waits for its "ready" line. With `privileges`, it runs as that uid with
   * only the listed capabilities (ambient, so `ip neigh` children get them too), through setpriv(1).
   */
  static async start(bed: TestBed, ns: string, config: DhcpdRunConfig, privileges?: { uid: number; caps: string[] }): Promise<DhcpdProcess> {
    const node = ["node", "--import", "tsx", join(repoRoot, "appliance/dhcpd/standalone.ts"), JSON.stringify(config)];
    const caps = privileges?.caps.map((c) => `+${c}`).join(",") || "-all";
    const command = privileges
      ? ["setpriv", `--reuid=${privileges.uid}`, `--regid=${privileges.uid}`, "--clear-groups", `--inh-caps=-all${caps === "-all" ? "" : `,${caps}`}`, ...(caps === "-all" ? [] : [`--ambient-caps=${caps}`]), ...node]
      : node;
    const child = bed.spawn(ns, command[0]!, command.slice(1));
    const p = new DhcpdProcess(child);
    await p.waitForEvent((e) => e.event === "ready", "dhcpd ready", 20_000);
    return p;
  }

  /** Index to pass as `since` so only later events count. */
  mark(): number {
    return this.events.length;
  }

  /** Waits for an event matching `predicate` printed at or after `since`. */
  waitForEvent(predicate: (e: DhcpdEvent) => boolean, what: string, timeoutMs = 10_000, since = 0): Promise<DhcpdEvent> {
    return waitFor(
      () => {
        if (this.child.exitCode !== null) throw new Error(`dhcpd exited (${this.child.exitCode}) while waiting for ${what}: ${String(this.child.stderr ?? "")}`);
        return this.events.slice(since).find(predicate);
      },
      what,
      timeoutMs,
    );
  }

  /** True while the server process is running. */
  alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The server's metrics as "name{labels}" -> value. */
  async metrics(): Promise<Map<string, number>> {
    const since = this.mark();
    this.child.stdin!.write(`${JSON.stringify({ cmd: "metrics" })}\n`);
    const e = await this.waitForEvent((x) => x.event === "metrics", "metrics", 10_000, since);
    const values = new Map<string, number>();
    for (const line of String(e.text).split("\n")) {
      const m = /^(\S+) (\S+)$/.exec(line);
      if (m && !line.startsWith("#")) values.set(m[1]!, Number(m[2]));
    }
    return values;
  }

  /** Sends a new scope set to the live server and waits until it was applied. */
  async updateScopes(scopes: DhcpScope[]): Promise<void> {
    const since = this.mark();
    this.child.stdin!.write(`${JSON.stringify({ cmd: "scopes", scopes })}\n`);
    await this.waitForEvent((x) => x.event === "scopes", "scopes applied", 10_000, since);
  }
}

/** What a client's hook saw at "bound": KEY -> VALUE. */
export type ClientLease = Record<string, string>;

function lastBoundBlock(log: string): ClientLease | undefined {
  const blocks = log.split(/^== /m).filter(Boolean);
  const bound = blocks.reverse().find((b) => /^(bound|BOUND)\b/.test(b) && b.includes("\n-- end"));
  if (!bound) return undefined;
  return Object.fromEntries(bound.split("\n").slice(1).filter((l) => l.includes("=")).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
}

/** A private temp dir, removed at cleanup, with a hook wrapper that logs into it (dhclient clears the env). */
async function clientDir(bed: TestBed): Promise<{ dir: string; hook: string; log: string }> {
  const dir = await mkdtemp(join(tmpdir(), "pirack-dhcpd-"));
  bed.defer(() => rm(dir, { recursive: true, force: true }));
  const log = join(dir, "hook.log");
  const hook = join(dir, "hook.sh");
  await writeFile(hook, `#!/bin/sh\nHOOK_LOG=${log} exec ${hookScript} "$@"\n`);
  await chmod(hook, 0o755);
  return { dir, hook, log };
}

/** PXE vendor class every Pi firmware sends. */
export const PI_VENDOR_CLASS = "PXEClient:Arch:00000:UNDI:002001";

/** Runs BusyBox udhcpc once (`-q -n`) and returns the lease its hook saw. */
export async function runUdhcpc(bed: TestBed, ns: string, iface: string, opts: { vendorClass?: string } = {}): Promise<ClientLease> {
  const { hook, log } = await clientDir(bed);
  const r = await bed.exec(ns, "busybox", ["udhcpc", "-i", iface, "-n", "-q", "-f", "-t", "5", "-T", "1", "-A", "1", "-s", hook, "-V", opts.vendorClass ?? PI_VENDOR_CLASS, "-O", "43", "-O", "66"], { timeoutMs: 20_000 });
  const lease = lastBoundBlock(await readFile(log, "utf8").catch(() => ""));
  if (!lease) throw new Error(`udhcpc in ${ns} got no lease (exit ${r.exitCode}): ${r.stderr}`);
  return lease;
}

/** Runs ISC dhclient until its hook reports BOUND, stops it, and returns what it saw. */
export async function runDhclient(bed: TestBed, ns: string, iface: string): Promise<ClientLease> {
  const { dir, hook, log } = await clientDir(bed);
  const conf = join(dir, "dhclient.conf");
  await writeFile(
    conf,
    [
      `send vendor-class-identifier "${PI_VENDOR_CLASS}";`,
      "option pxe-menu code 43 = string;",
      "request subnet-mask, routers, broadcast-address, dhcp-server-identifier, tftp-server-name, pxe-menu, dhcp-lease-time;",
      "",
    ].join("\n"),
  );
  const child = bed.spawn(ns, "dhclient", ["-1", "-d", "-sf", hook, "-cf", conf, "-lf", join(dir, "leases"), "-pf", join(dir, "pid"), iface]);
  try {
    return await waitFor(async () => lastBoundBlock(await readFile(log, "utf8").catch(() => "")), `dhclient BOUND in ${ns}`, 20_000);
  } finally {
    child.kill("SIGKILL");
    await child.catch(() => undefined);
  }
}

/** One replayed payload and the reply it got. */
export interface RawExchange {
  xid: number;
  sentAt: number;
  reply: { hex: string; receivedAt: number; srcIp: string; dstIp: string; dstMac: string } | null;
}

/** Replays payloads byte for byte from `ns` (see dhcpd-raw-client.ts) and returns each reply. */
export async function replayRaw(bed: TestBed, ns: string, iface: string, payloads: Buffer[], timeoutMs = 3_000): Promise<RawExchange[]> {
  const script = join(repoRoot, "test/support/dhcpd-raw-client.ts");
  const r = await bed.exec(ns, "node", ["--import", "tsx", script, JSON.stringify({ iface, payloads: payloads.map((p) => p.toString("hex")), timeoutMs })], {
    timeoutMs: 30_000 + payloads.length * timeoutMs,
  });
  if (r.exitCode !== 0) throw new Error(`raw replay in ${ns} failed (${r.exitCode}): ${r.stderr}`);
  return r.stdout.split("\n").filter(Boolean).map((l) => JSON.parse(l) as RawExchange);
}
