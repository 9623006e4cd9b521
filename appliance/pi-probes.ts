/**
 * The two late boot stages, seen from the fileserver: `nfs` when the Pi's root is first mounted and `up` when the
 * Pi answers on its storage address (its sshd banner). What each NFS server offers:
 * - both (kernel nfsd and nfs-ganesha): an established TCP connection from the Pi's address to port 2049 in
 *   /proc/net/tcp of the server's network namespace (NFS over TCP, the rack's `vers=3,tcp`; the Pi mounts
 *   nothing but its root, so its connection is its root mount);
 * - the kernel server also records v3 mounts in /var/lib/nfs/rmtab (`host:path:0x...`, written by rpc.mountd)
 *   and v4 clients in /proc/fs/nfsd/clients/<id>/info (`address: "ip:port"`).
 * nfs-ganesha's own client list is on D-Bus (ClientMgr.ShowClients), which pirack does not read: the TCP
 * table tells the same thing without a bus.
 */
import { connect } from "node:net";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { BootStage } from "./boot-stages.ts";

/** NFS's well-known port (RFC 1813 §1; RFC 7530 §3.1). */
export const NFS_PORT = 2049;
/** TCP state ESTABLISHED as /proc/net/tcp prints it (include/net/tcp_states.h TCP_ESTABLISHED = 1). */
const TCP_ESTABLISHED = "01";

/**
 * Remote IPv4 addresses with an established connection to local port `localPort`, from /proc/net/tcp text.
 * Addresses there are the 32-bit word in host (little-endian) order, in hex: 0100007F is 127.0.0.1.
 */
export function clientsOfPort(procNetTcp: string, localPort: number): Set<string> {
  const out = new Set<string>();
  for (const line of procNetTcp.split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 4 || f[3] !== TCP_ESTABLISHED) continue;
    const [, localPortHex] = f[1]!.split(":");
    if (parseInt(localPortHex ?? "", 16) !== localPort) continue;
    const [remoteHex] = f[2]!.split(":");
    if (!remoteHex || remoteHex.length !== 8) continue;
    const word = parseInt(remoteHex, 16);
    out.add([word & 0xff, (word >>> 8) & 0xff, (word >>> 16) & 0xff, word >>> 24].join("."));
  }
  return out;
}

/** Hosts with a mount in rpc.mountd's rmtab (`host:path:0xcount`). */
export function clientsOfRmtab(text: string): Set<string> {
  const out = new Set<string>();
  for (const line of text.split("\n")) {
    const host = line.split(":")[0]?.trim();
    if (host) out.add(host);
  }
  return out;
}

/** The client address in a kernel NFSv4 /proc/fs/nfsd/clients/<id>/info file. */
export function clientOfNfsdInfo(text: string): string | undefined {
  return /^address:\s*"([\d.]+):\d+"/m.exec(text)?.[1];
}

/** Reads which addresses have an NFS mount now; every source is optional (a missing file is no clients). */
export async function observeNfsClients(opts: { procRoot?: string; rmtab?: string } = {}): Promise<Set<string>> {
  const proc = opts.procRoot ?? "/proc";
  const read = (p: string) => readFile(p, "utf8").catch(() => "");
  const out = clientsOfPort(await read(join(proc, "net/tcp")), NFS_PORT);
  for (const host of clientsOfRmtab(await read(opts.rmtab ?? "/var/lib/nfs/rmtab"))) out.add(host);
  const ids = await readdir(join(proc, "fs/nfsd/clients")).catch(() => [] as string[]);
  for (const id of ids) {
    const address = clientOfNfsdInfo(await read(join(proc, "fs/nfsd/clients", id, "info")));
    if (address) out.add(address);
  }
  return out;
}

/** Connects to `host:port` and resolves true once an SSH identification line ("SSH-", RFC 4253 §4.2) arrives. */
export function answersSsh(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    let got = "";
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.on("data", (d: Buffer) => {
      got += d.toString("latin1");
      if (got.startsWith("SSH-") && got.includes("\n")) done(true);
      else if (got.length >= 4 && !got.startsWith("SSH-")) done(false);
    });
    socket.on("error", () => done(false));
    socket.on("close", () => done(false));
  });
}

/** A Pi port as the probes need it. */
export interface ProbedPort {
  readonly port: number;
  readonly piAddress: string;
  readonly stage: BootStage;
}

/** Dependencies of the probe loop. */
export interface PiProbeDeps {
  readonly ports: () => readonly ProbedPort[];
  readonly record: (port: number, stage: "nfs" | "up") => void;
  readonly nfsClients?: () => Promise<Set<string>>;
  readonly answers?: (address: string) => Promise<boolean>;
  readonly onError?: (err: unknown) => void;
}

/** Polls NFS clients and sshd banners for the Pis that are on their way up. */
export class PiProbes {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly deps: PiProbeDeps,
    private readonly opts: { pollMs: number; sshPort?: number; sshTimeoutMs?: number } = { pollMs: 2000 },
  ) {}

  /** One round: marks `nfs` for Pis with a mount and `up` for Pis whose sshd answers. */
  async once(): Promise<void> {
    const booting = this.deps.ports().filter((p) => p.stage !== "unseen" && p.stage !== "up");
    if (booting.length === 0) return;
    const clients = await (this.deps.nfsClients ?? observeNfsClients)();
    const answers = this.deps.answers ?? ((a: string) => answersSsh(a, this.opts.sshPort ?? 22, this.opts.sshTimeoutMs ?? 1500));
    await Promise.all(
      booting.map(async (p) => {
        if (clients.has(p.piAddress) && p.stage !== "nfs") this.deps.record(p.port, "nfs");
        // Only a Pi whose kernel has started can run sshd; probing earlier only adds traffic.
        if (["kernel", "nfs"].includes(p.stage) || clients.has(p.piAddress)) {
          if (await answers(p.piAddress)) this.deps.record(p.port, "up");
        }
      }),
    );
  }

  /** Starts polling. */
  start(): void {
    const tick = () => {
      this.running = this.once()
        .catch((err: unknown) => this.deps.onError?.(err))
        .finally(() => {
          this.running = undefined;
          if (this.timer !== undefined) this.timer = setTimeout(tick, this.opts.pollMs);
        });
    };
    this.timer = setTimeout(tick, 0);
  }

  /** Stops polling and waits for a round in flight. */
  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
