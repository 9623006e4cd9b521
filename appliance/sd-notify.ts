/**
 * systemd's readiness protocol (sd_notify(3)): `READY=1`, `STATUS=...` and `WATCHDOG=1` datagrams to the unix
 * socket named by $NOTIFY_SOCKET. Node's dgram has no AF_UNIX, so the socket is made through koffi (libc
 * socket/sendto, no compiler needed); a path starting with "@" is in the abstract namespace.
 */
import { AF_UNIX, errno as lastErrno, libc as loadLibc, MSG_NOSIGNAL, SOCK_CLOEXEC, SOCK_DGRAM } from "../lib/libc.ts";

// Linux constants (<sys/socket.h>, the same on x86-64 and arm64).
/** sizeof(struct sockaddr_un): a 2-byte family and a 108-byte path. */
const SOCKADDR_UN_BYTES = 110;

/** Encodes a sockaddr_un for `path` ("@name": abstract namespace); returns the bytes and the length to pass. */
export function encodeUnixAddress(path: string): { bytes: Buffer; length: number } {
  const abstract = path.startsWith("@");
  const name = Buffer.from(abstract ? path.slice(1) : path, "utf8");
  if (name.length + 1 > SOCKADDR_UN_BYTES - 2) throw new Error(`unix socket path is ${name.length} bytes, longer than sun_path allows (107): ${path}`);
  const bytes = Buffer.alloc(SOCKADDR_UN_BYTES);
  bytes.writeUInt16LE(AF_UNIX, 0); // sun_family, host order (little-endian on every target we run on)
  // Abstract: sun_path[0] = NUL, then the name, and the length counts exactly those bytes (no terminator).
  name.copy(bytes, abstract ? 3 : 2);
  return { bytes, length: abstract ? 3 + name.length : 2 + name.length + 1 };
}

/** Sends sd_notify datagrams; a no-op when the process was not started by systemd with Type=notify. */
export class SdNotifier {
  private fd = -1;
  private readonly address: { bytes: Buffer; length: number } | undefined;
  private watchdog: NodeJS.Timeout | undefined;

  constructor(socketPath: string | undefined) {
    this.address = socketPath ? encodeUnixAddress(socketPath) : undefined;
  }

  /** True when there is a socket to tell. */
  get enabled(): boolean {
    return this.address !== undefined;
  }

  /** Sends `KEY=value` lines in one datagram; throws with errno when the send fails. */
  notify(fields: Readonly<Record<string, string>>): void {
    if (!this.address) return;
    const c = loadLibc();
    if (this.fd < 0) {
      this.fd = c.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      if (this.fd < 0) throw new Error(`socket(AF_UNIX, SOCK_DGRAM) failed with errno ${lastErrno()}`);
    }
    // STATUS= must be one line: a newline would start another assignment.
    const text = Object.entries(fields)
      .map(([k, v]) => `${k}=${v.replace(/\n/g, " ")}`)
      .join("\n");
    const payload = Buffer.from(text, "utf8");
    const sent = c.sendto(this.fd, payload, payload.length, MSG_NOSIGNAL, this.address.bytes, this.address.length);
    if (sent < 0) throw new Error(`sendto(NOTIFY_SOCKET) failed with errno ${lastErrno()}`);
  }

  /** Sends WATCHDOG=1 every half of the watchdog interval systemd gave (WATCHDOG_USEC); returns the interval in ms. */
  startWatchdog(watchdogUsec: number, onError: (err: Error) => void): number | undefined {
    if (!this.address || !(watchdogUsec > 0)) return undefined;
    const everyMs = Math.max(Math.floor(watchdogUsec / 2000), 100);
    this.watchdog = setInterval(() => {
      try {
        this.notify({ WATCHDOG: "1" });
      } catch (err) {
        onError(err as Error);
      }
    }, everyMs);
    this.watchdog.unref();
    return everyMs;
  }

  /** Stops the watchdog and closes the socket. */
  close(): void {
    if (this.watchdog) clearInterval(this.watchdog);
    if (this.fd >= 0) loadLibc().close(this.fd);
    this.fd = -1;
  }
}

/**
 * The notifier systemd asked for through the environment, or a disabled one. WATCHDOG_PID, when set, must be
 * this process (sd_watchdog_enabled(3)); otherwise the watchdog belongs to another process.
 */
export function notifierFromEnv(env: NodeJS.ProcessEnv, pid = process.pid): { notifier: SdNotifier; watchdogUsec: number } {
  const usec = Number(env.WATCHDOG_USEC ?? 0);
  const forUs = env.WATCHDOG_PID === undefined || Number(env.WATCHDOG_PID) === pid;
  return { notifier: new SdNotifier(env.NOTIFY_SOCKET || undefined), watchdogUsec: forUs && usec > 0 ? usec : 0 };
}
