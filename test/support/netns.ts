/**
 * Network-namespace test beds: every namespace, veth and process made here is recorded and removed by
 * `cleanup()`, even when the test failed. Names carry a per-run suffix so parallel runs never collide.
 * Traffic only ever crosses veths between namespaces this module created.
 */
import { execa, type ResultPromise } from "execa";
import { randomBytes } from "node:crypto";

/** True when the process may create namespaces (root); integration suites skip otherwise. */
export const isRoot = (): boolean => process.getuid?.() === 0;

/** Short random suffix for this run's names (interface names are limited to 15 bytes). */
export const runId = (): string => randomBytes(3).toString("hex");

/** Runs `ip` with arguments; throws with stderr on failure. */
export async function ip(...args: string[]): Promise<string> {
  const r = await execa("ip", args);
  return r.stdout;
}

/** A set of namespaces and links owned by one test file. */
export class TestBed {
  readonly id = runId();
  private readonly namespaces: string[] = [];
  private readonly processes: ResultPromise[] = [];
  private readonly cleanups: (() => Promise<void> | void)[] = [];

  /** Creates namespace `<prefix>-<id>` with loopback up, and returns its name. */
  async namespace(prefix: string): Promise<string> {
    const name = `${prefix}-${this.id}`;
    await ip("netns", "add", name);
    this.namespaces.push(name);
    await ip("-n", name, "link", "set", "lo", "up");
    return name;
  }

  /**
   * Creates a veth pair with one end in each namespace, renamed to `leftName` / `rightName`, both up,
   * with optional addresses ("10.0.0.1/30").
   */
  async veth(opts: {
    left: { ns: string; name: string; address?: string; mac?: string };
    right: { ns: string; name: string; address?: string; mac?: string };
  }): Promise<void> {
    const tmpA = `va${randomBytes(4).toString("hex")}`;
    const tmpB = `vb${randomBytes(4).toString("hex")}`;
    await ip("link", "add", tmpA, "type", "veth", "peer", "name", tmpB);
    try {
      for (const [tmp, end] of [
        [tmpA, opts.left],
        [tmpB, opts.right],
      ] as const) {
        await ip("link", "set", tmp, "netns", end.ns);
        await ip("-n", end.ns, "link", "set", tmp, "name", end.name);
        if (end.mac) await ip("-n", end.ns, "link", "set", end.name, "address", end.mac);
        if (end.address) await ip("-n", end.ns, "addr", "add", end.address, "dev", end.name);
        await ip("-n", end.ns, "link", "set", end.name, "up");
      }
    } catch (err) {
      // The pair may still sit in the root namespace if a move failed: remove it there too.
      await execa("ip", ["link", "del", tmpA], { reject: false });
      throw err;
    }
  }

  /** Runs a command inside a namespace and waits for it. */
  exec(ns: string, cmd: string, args: string[], opts: { timeoutMs?: number; input?: string } = {}) {
    return execa("ip", ["netns", "exec", ns, cmd, ...args], {
      reject: false,
      timeout: opts.timeoutMs ?? 30_000,
      ...(opts.input === undefined ? {} : { input: opts.input }),
    });
  }

  /** Starts a long-running command inside a namespace; it is killed by `cleanup()`. */
  spawn(ns: string, cmd: string, args: string[]): ResultPromise {
    const child = execa("ip", ["netns", "exec", ns, cmd, ...args], { reject: false, buffer: true });
    this.processes.push(child);
    return child;
  }

  /** Registers extra teardown (unmount, file removal); run before namespaces are deleted. */
  defer(fn: () => Promise<void> | void): void {
    this.cleanups.push(fn);
  }

  /** Kills every process, runs deferred teardown, deletes every namespace (and so their veths). */
  async cleanup(): Promise<void> {
    for (const p of this.processes.splice(0)) {
      p.kill("SIGKILL");
      await p.catch(() => undefined);
    }
    for (const fn of this.cleanups.splice(0).reverse()) {
      try {
        await fn();
      } catch {
        // Teardown is best-effort: one failing step must not leave the namespaces behind.
      }
    }
    for (const ns of this.namespaces.splice(0).reverse()) {
      // Processes started by others inside the namespace (a daemon under test) die with it.
      await execa("ip", ["netns", "pids", ns], { reject: false }).then(async (r) => {
        for (const pid of r.stdout.split(/\s+/).filter(Boolean)) {
          try {
            process.kill(Number(pid), "SIGKILL");
          } catch {
            // Already gone.
          }
        }
      });
      await execa("ip", ["netns", "del", ns], { reject: false });
    }
  }
}

/** Polls `check` until it returns a value other than undefined, or throws after `timeoutMs`. */
export async function waitFor<T>(check: () => Promise<T | undefined> | T | undefined, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
