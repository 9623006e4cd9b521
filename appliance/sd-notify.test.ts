/**
 * sd_notify datagrams checked with a real AF_UNIX datagram receiver we did not write: socat's UNIX-RECV (a path)
 * and ABSTRACT-RECV (the abstract namespace systemd itself uses for NOTIFY_SOCKET on some setups).
 */
import { afterEach, describe, expect, it } from "vitest";
import { execa, type ResultPromise } from "execa";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodeUnixAddress, notifierFromEnv, SdNotifier } from "./sd-notify.ts";

const hasSocat = (await execa("socat", ["-V"], { reject: false })).exitCode === 0;
const receivers: ResultPromise[] = [];
const dirs: string[] = [];

afterEach(async () => {
  for (const r of receivers.splice(0)) {
    r.kill("SIGTERM");
    await r.catch(() => undefined);
  }
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

/** Starts socat receiving datagrams into its stdout; resolves once the socket is bound. */
async function receiver(kind: "path" | "abstract"): Promise<{ address: string; output: () => string }> {
  const dir = await mkdtemp(join(tmpdir(), "pirack-notify-"));
  dirs.push(dir);
  const name = kind === "path" ? join(dir, "notify.sock") : `pirack-test-${process.pid}-${Date.now()}`;
  const child = execa("socat", ["-u", kind === "path" ? `UNIX-RECV:${name}` : `ABSTRACT-RECV:${name}`, "STDOUT"], { reject: false, buffer: false });
  receivers.push(child);
  let out = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString("utf8")));
  if (kind === "path") {
    for (let i = 0; i < 200 && !(await stat(name).then(() => true, () => false)); i++) await new Promise((r) => setTimeout(r, 25));
  }
  return { address: kind === "path" ? name : `@${name}`, output: () => out };
}

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe.skipIf(!hasSocat)("SdNotifier against socat", () => {
  it.each(["path", "abstract"] as const)("delivers READY=1 and a one-line STATUS= to a %s socket", async (kind) => {
    const rx = await receiver(kind);
    const n = new SdNotifier(rx.address);
    // An abstract name leaves no file to wait for: the first send that is not refused is the one received.
    await until(() => {
      try {
        n.notify({ READY: "1", STATUS: "2 Pis: 1 up,\n1 stuck at firmware" });
        return true;
      } catch {
        return false; // ECONNREFUSED until socat has bound the name
      }
    }, "socat to bind");
    await until(() => rx.output().includes("STATUS="), "the datagram");
    expect(rx.output()).toBe("READY=1\nSTATUS=2 Pis: 1 up, 1 stuck at firmware");
    n.close();
  });

  it("sends WATCHDOG=1 at half the interval systemd gives", async () => {
    const rx = await receiver("path");
    const n = new SdNotifier(rx.address);
    expect(n.startWatchdog(400_000, (err) => { throw err; })).toBe(200);
    await until(() => (rx.output().match(/WATCHDOG=1/g) ?? []).length >= 2, "two watchdog pings");
    n.close();
  });
});

describe("SdNotifier without systemd", () => {
  it("is a no-op without NOTIFY_SOCKET and honours WATCHDOG_PID", () => {
    const off = notifierFromEnv({}, 10);
    expect(off.notifier.enabled).toBe(false);
    off.notifier.notify({ READY: "1" });
    expect(notifierFromEnv({ NOTIFY_SOCKET: "/run/x", WATCHDOG_USEC: "30000000", WATCHDOG_PID: "11" }, 10).watchdogUsec).toBe(0);
    expect(notifierFromEnv({ NOTIFY_SOCKET: "/run/x", WATCHDOG_USEC: "30000000", WATCHDOG_PID: "10" }, 10).watchdogUsec).toBe(30_000_000);
  });

  it("refuses a path longer than sun_path and encodes the abstract form without a terminator", () => {
    expect(() => encodeUnixAddress(`/${"x".repeat(120)}`)).toThrow(/longer than sun_path/);
    expect(encodeUnixAddress("@ab").length).toBe(5);
    expect(encodeUnixAddress("/ab").length).toBe(6);
  });

  it("reports a socket nobody listens on", () => {
    const n = new SdNotifier(join(tmpdir(), `pirack-nobody-${process.pid}.sock`));
    expect(() => n.notify({ READY: "1" })).toThrow(/sendto\(NOTIFY_SOCKET\) failed with errno 2/);
    n.close();
  });
});
