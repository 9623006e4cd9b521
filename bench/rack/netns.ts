/**
 * Namespaces, links and processes of the bench (adapter). Links are created straight inside their namespaces
 * (`ip -n A link add X type veth peer name Y netns B`), so nothing ever appears in the root namespace, not even
 * for a moment. Every child runs in its own process group, so a kill takes whatever it started with it.
 */
import { execa, type ResultPromise } from "execa";
import { readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { pidOfRunName, RUN_PREFIX } from "./layout.ts";

/** Runs `ip` with arguments; throws with stderr on failure. */
export async function ip(...args: string[]): Promise<string> {
  return (await execa("ip", args)).stdout;
}

/** Runs a command inside a namespace and waits for it (no throw; the caller checks exitCode). */
export function execIn(ns: string, cmd: string, args: readonly string[], opts: { timeoutMs?: number } = {}) {
  return execa("ip", ["netns", "exec", ns, cmd, ...args], { reject: false, timeout: opts.timeoutMs ?? 30_000 });
}

/** Creates namespace `name` with loopback up and IPv6 off unless `ipv6`; the switch's ports must never speak. */
export async function createNamespace(name: string, opts: { ipv6: boolean }): Promise<void> {
  await ip("netns", "add", name);
  await ip("-n", name, "link", "set", "lo", "up");
  if (!opts.ipv6) {
    await execIn(name, "sysctl", ["-q", "-w", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"]);
  } else {
    // Addresses are static; no router solicitations or DAD delays inside the rack.
    await execIn(name, "sysctl", ["-q", "-w", "net.ipv6.conf.default.accept_dad=0", "net.ipv6.conf.default.router_solicitations=0"]);
  }
}

/** One veth end. */
export interface VethEnd {
  readonly ns: string;
  readonly name: string;
  readonly mac?: string;
  /** CIDR addresses (IPv4 or IPv6). */
  readonly addresses?: readonly string[];
}

/** A veth pair from `a` to `b`, both up. */
export async function veth(a: VethEnd, b: VethEnd): Promise<void> {
  await ip("-n", a.ns, "link", "add", a.name, "type", "veth", "peer", "name", b.name, "netns", b.ns);
  for (const end of [a, b]) {
    if (end.mac) await ip("-n", end.ns, "link", "set", end.name, "address", end.mac);
    for (const address of end.addresses ?? []) await ip("-n", end.ns, "addr", "add", address, "dev", end.name, ...(address.includes(":") ? ["nodad"] : []));
    await ip("-n", end.ns, "link", "set", end.name, "up");
  }
}

/** A started child; `kill()` signals its whole process group. */
export interface Child {
  readonly process: ResultPromise;
  kill(signal?: NodeJS.Signals): void;
  /** Resolves when it has exited. */
  readonly exited: Promise<void>;
}

/** Starts a long-running command in a namespace, in a process group of its own. */
export function spawnIn(ns: string, cmd: string, args: readonly string[], opts: { stdout?: "pipe" | "ignore" | { file: string; append?: boolean }; stderr?: "pipe" | "ignore" | { file: string; append?: boolean }; stdin?: "pipe" | "ignore"; env?: Record<string, string> } = {}): Child {
  const child = execa("ip", ["netns", "exec", ns, cmd, ...args], {
    reject: false,
    detached: true,
    buffer: false,
    stdin: opts.stdin ?? "ignore",
    stdout: opts.stdout ?? "ignore",
    stderr: opts.stderr ?? "ignore",
    ...(opts.env ? { env: opts.env } : {}),
  });
  const exited = child.then(() => undefined, () => undefined);
  return {
    process: child,
    exited,
    kill: (signal = "SIGKILL") => {
      if (child.pid === undefined || child.exitCode !== null) return;
      try {
        process.kill(-child.pid, signal);
      } catch {
        // The group is already gone.
      }
    },
  };
}

/** Kills every process still inside a namespace, then deletes it. */
export async function deleteNamespace(name: string): Promise<void> {
  const r = await execa("ip", ["netns", "pids", name], { reject: false });
  for (const pid of r.stdout.split(/\s+/).filter(Boolean)) {
    try {
      process.kill(Number(pid), "SIGKILL");
    } catch {
      // Already gone.
    }
  }
  await execa("ip", ["netns", "del", name], { reject: false });
}

/** True when `pid` is a live bench process (a pid reused by something else does not count). */
async function isLiveBench(pid: number): Promise<boolean> {
  if (pid === process.pid) return true;
  const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
  return cmdline.includes("bench");
}

/** What an earlier bench run left behind and this run removed. */
export interface Leftovers {
  readonly namespaces: string[];
  readonly runDirs: string[];
}

/**
 * Removes what crashed earlier runs left: namespaces `pirack-bench-<pid>-*` and run directories
 * `<tmp>/pirack-bench-<pid>` whose pid is no longer a bench (the processes inside die with their namespace).
 */
export async function removeLeftovers(tmpDir: string): Promise<Leftovers> {
  const gone: Leftovers = { namespaces: [], runDirs: [] };
  const names = (await execa("ip", ["netns", "list"], { reject: false })).stdout.split("\n").map((l) => l.split(" ")[0] ?? "");
  for (const name of names) {
    const pid = pidOfRunName(name);
    if (pid === undefined || (await isLiveBench(pid))) continue;
    await deleteNamespace(name);
    gone.namespaces.push(name);
  }
  for (const entry of await readdir(tmpDir).catch(() => [] as string[])) {
    const pid = entry.startsWith(RUN_PREFIX) ? pidOfRunName(entry) : undefined;
    if (pid === undefined || (await isLiveBench(pid))) continue;
    const dir = join(tmpDir, entry);
    await unmountUnder(dir);
    await rm(dir, { recursive: true, force: true });
    gone.runDirs.push(dir);
  }
  return gone;
}

/** Lazily unmounts anything mounted at or below `dir` (deepest first). */
export async function unmountUnder(dir: string): Promise<void> {
  const mounts = (await readFile("/proc/self/mounts", "utf8").catch(() => ""))
    .split("\n")
    .map((l) => l.split(" ")[1] ?? "")
    .filter((m) => m === dir || m.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) await execa("umount", ["-l", m], { reject: false });
}
