/**
 * The socket and memory part of `bench/scale`: a network namespace of its own holding one veth `eth0.N` per Pi
 * port (every name the plan binds; its peer `pN` beside it, as this kernel has no dummy devices), then (1) the DHCP server alone opening its device-bound socket on each, timed,
 * and (2) `pirack serve` itself on that namespace (DHCP and TFTP on every interface, the API, the reconciler) with
 * the rack the in-process phases enrolled: its start-up pass must have nothing to do, and its RSS is read once
 * it has settled. Traffic: none; the namespace and everything in it are removed by the registered cleanup.
 */
import { execa, type ResultPromise } from "execa";
import { randomBytes } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseConfigText } from "../../appliance/config.ts";
import { planRack } from "../../appliance/plan.ts";

/** What the namespace phase measured for one rack size. */
export interface DaemonFigures {
  readonly interfaces: number;
  /** DhcpServer.start(): one SO_BINDTODEVICE socket per eth0.N, adopted by dgram. */
  readonly dhcpOpenMs: number;
  readonly dhcpOpen: number;
  /** One read of every socket's kernel drop counter (/proc/net/udp), as the server does every 2 s. */
  readonly dropSampleMs: number;
  /** `pirack serve` from exec until "appliance started" (config, state, API, DHCP and TFTP sockets). */
  readonly serveStartMs: number;
  /** Its start-up pass over the enrolled rack, as it logged it; must have applied nothing. */
  readonly servePassMs: number;
  readonly servePassApplied: number;
  /** A pass of the settled serve (after SIGHUP: the same config again), as it logged it; must apply nothing. */
  readonly serveRestPassMs: number;
  readonly serveRestPassApplied: number;
  /** VmRSS of the settled daemon. */
  readonly serveRssMiB: number;
}

const SETTLE_MS = 3_000;

/** Interface names of the rack in `dir/rack.yaml`, as the plan binds them. */
async function interfaceNames(dir: string): Promise<string[]> {
  const parsed = parseConfigText(await readFile(join(dir, "config", "rack.yaml"), "utf8"));
  if (!parsed.ok) throw new Error(parsed.problems.join("; "));
  return planRack(parsed.config).ports.map((p) => p.interfaceName);
}

/** Polls `check` every 200 ms until it returns a value, or fails after `timeoutMs`. */
async function until<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Builds the namespace, runs both measurements in it and registers the removal of everything in `cleanups`. */
export async function measureDaemon(n: number, dir: string, benchDir: string, cleanups: (() => Promise<void>)[]): Promise<DaemonFigures> {
  const ns = `pscale-${randomBytes(3).toString("hex")}`;
  await execa("ip", ["netns", "add", ns]);
  let removed = false;
  const removeNs = async () => {
    if (removed) return;
    removed = true;
    // Deleting the namespace deletes every veth pair in it.
    await execa("ip", ["netns", "del", ns], { reject: false });
  };
  cleanups.push(removeNs);
  const children: ResultPromise[] = [];
  cleanups.push(async () => {
    for (const c of children) c.kill("SIGKILL");
    await Promise.allSettled(children);
  });
  try {
    const names = await interfaceNames(dir);
    const batch = join(dir, "links.batch");
    await writeFile(batch, ["link set lo up", ...names.flatMap((name) => [`link add ${name} type veth peer name p${name.slice(name.indexOf(".") + 1)}`, `link set ${name} up`]), ""].join("\n"));
    await execa("ip", ["-n", ns, "-batch", batch]);

    const sockets = await execa("ip", ["netns", "exec", ns, "node", "--import", "tsx", join(benchDir, "sockets-main.ts"), join(dir, "config", "rack.yaml")], { stderr: "inherit" });
    const s = JSON.parse(sockets.stdout.trim().split("\n").at(-1)!) as { dhcpOpenMs: number; dhcpOpen: number; dropSampleMs: number };
    if (s.dhcpOpen !== n) throw new Error(`dhcp opened ${s.dhcpOpen} of ${n} sockets`);

    const logPath = join(dir, "serve.log");
    const started = Date.now();
    const serve = execa("ip", ["netns", "exec", ns, "node", join(benchDir, "../../bin/pirack.mjs"), "serve", "--config", join(dir, "config", "rack.yaml"), "--sysroot", join(dir, "sysroot")], {
      reject: false,
      stdout: { file: logPath },
      stderr: "inherit",
    });
    children.push(serve);
    // The last line may be half-written while serve logs: only complete lines are read.
    const lines = async () => (await readFile(logPath, "utf8").catch(() => "")).split("\n").slice(0, -1).filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    const ready = await until("pirack serve to start", 600_000, async () => {
      if (serve.exitCode !== undefined && serve.exitCode !== null) throw new Error(`pirack serve exited with ${serve.exitCode}; see ${logPath}`);
      const all = await lines();
      const up = all.find((l) => l.msg === "appliance started");
      const pass = all.find((l) => l.msg === "reconcile pass finished");
      return up && pass ? { up, pass } : undefined;
    });
    const serveStartMs = (ready.up.time as number) - started;
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    const status = await readFile(`/proc/${serve.pid}/status`, "utf8");
    const rssKiB = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]);
    // The start-up pass shares the event loop with opening every socket; one at rest is what a reload costs.
    const passesBefore = (await lines()).filter((l) => l.msg === "reconcile pass finished").length;
    serve.kill("SIGHUP");
    const rest = await until("serve's pass after SIGHUP", 120_000, async () => (await lines()).filter((l) => l.msg === "reconcile pass finished")[passesBefore]);
    serve.kill("SIGTERM");
    await serve;
    return {
      interfaces: names.length,
      ...s,
      serveStartMs,
      servePassMs: ready.pass.durationMs as number,
      servePassApplied: ready.pass.applied as number,
      serveRestPassMs: rest.durationMs as number,
      serveRestPassApplied: rest.applied as number,
      serveRssMiB: rssKiB / 1024,
    };
  } finally {
    await removeNs();
  }
}
