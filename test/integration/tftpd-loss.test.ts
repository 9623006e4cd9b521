/**
 * 5% packet loss in both directions (nftables random drop on the input hook of every namespace; the
 * kernel here has no netem): 32 concurrent transfers from real clients, lockstep and windowed, all
 * complete byte-identical. Dropping on input, not output: an output drop makes sendto() fail with
 * EPERM, which is not what a lossy wire looks like (dhcp-tftp-libs.md §2.2).
 */
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isRoot, TestBed } from "../support/netns.ts";
import { buildRack, firmwareDir, scratchDir, ServerProcess, type Rack } from "../fixtures/tftpd/rack.ts";

const files: Record<string, Buffer> = {
  "lockstep.bin": randomBytes(64 * 1024),
  "windowed.bin": randomBytes(256 * 1024 + 77),
  "curl.bin": randomBytes(48 * 1024 + 5),
};

/** Installs a 5% random drop of UDP on the input hook of `ns`. */
async function addLoss(bed: TestBed, ns: string): Promise<void> {
  const rules = ["table inet pirack_loss {", "  chain input {", "    type filter hook input priority 0;", "    meta l4proto udp numgen random mod 100 < 5 counter drop", "  }", "}"].join("\n");
  const r = await bed.exec(ns, "nft", ["-f", "-"], { input: rules });
  if (r.exitCode !== 0) throw new Error(`nft failed in ${ns}: ${r.stderr}`);
}

/** Packets the loss rule dropped in `ns`. */
async function dropped(bed: TestBed, ns: string): Promise<number> {
  const r = await bed.exec(ns, "nft", ["list", "table", "inet", "pirack_loss"]);
  return Number(/packets (\d+)/.exec(r.stdout)?.[1] ?? 0);
}

describe.skipIf(!isRoot())("tftpd under 5% packet loss (root: namespaces + nftables)", () => {
  const bed = new TestBed();
  let rack: Rack;
  let server: ServerProcess;
  let out: string;

  beforeAll(async () => {
    rack = await buildRack(bed);
    const root = await firmwareDir(bed, files);
    out = await scratchDir(bed);
    // 32 transfers come from two addresses: allow all of them per client.
    server = await ServerProcess.start(bed, rack.fs, { firmwareRoot: root, maxTransfersPerClient: 32 }, rack.pis);
    for (const ns of [rack.fs, rack.pis[0].ns, rack.pis[1].ns]) await addLoss(bed, ns);
  });
  afterAll(async () => {
    if (server) await server.stop().catch(() => undefined);
    await bed.cleanup();
  });

  it("32 concurrent transfers (tftp-hpa, atftp windowsize 8, curl) all complete intact", async () => {
    const jobs = Array.from({ length: 32 }, (_, i) => {
      const pi = rack.pis[i % 2]!;
      const kind = i % 3;
      const local = join(out, `job-${i}`);
      const [cmd, args, name]: [string, string[], string] =
        kind === 0
          ? ["tftp", ["-m", "binary", pi.server, "-c", "get", "lockstep.bin", local], "lockstep.bin"]
          : kind === 1
            ? ["atftp", ["-g", "-r", "windowed.bin", "-l", local, "--option", "blksize 1468", "--option", "windowsize 8", pi.server, "69"], "windowed.bin"]
            : ["curl", ["-sS", "--max-time", "150", "--tftp-blksize", "1024", "-o", local, `tftp://${pi.server}/curl.bin`], "curl.bin"];
      return { i, name, local, run: bed.exec(pi.ns, cmd, args, { timeoutMs: 170_000 }) };
    });
    const results = await Promise.all(
      jobs.map(async (j) => {
        const r = await j.run;
        const data = await readFile(j.local).catch(() => Buffer.alloc(0));
        const intact = data.equals(files[j.name]!);
        if (!intact && process.env.TFTPD_DEBUG) (await import("node:fs")).writeFileSync(`/tmp/tftpd-loss-${j.i}.txt`, `${r.exitCode}\n${r.stdout}${r.stderr}`);
        return { job: j.i, name: j.name, intact, size: data.length, output: `${r.stdout}${r.stderr}`.slice(-400) };
      }),
    );
    if (process.env.TFTPD_DEBUG) (await import("node:fs")).writeFileSync("/tmp/tftpd-loss-events.json", JSON.stringify(server.events.filter((e) => e.kind !== "complete" && e.kind !== "request" && e.kind !== "oack")));
    expect(results.filter((r) => !r.intact)).toEqual([]);
    // The loss was real: packets were dropped on both sides, and the server had to retransmit.
    expect(await dropped(bed, rack.fs)).toBeGreaterThan(0);
    expect(await dropped(bed, rack.pis[0].ns)).toBeGreaterThan(0);
    // Server side: every transfer completed or still waits for a lost final ACK (the client had the
    // file and left, RFC 1350 §6; the server lets go after its retransmit schedule). None gave up
    // half-way, and the loss made the server retransmit.
    const text = await server.metrics();
    const active = Number(/pirack_tftp_active_transfers (\d+)/.exec(text)?.[1] ?? -1);
    const ends = server.events.filter((e) => e.kind === "complete" || e.kind === "timeout" || e.kind === "abort");
    expect(ends.filter((e) => !(e.kind === "complete" || (e.kind === "timeout" && e.reason === "final-ack-missing")))).toEqual([]);
    expect(ends.length + active).toBe(32);
    expect(Number(/pirack_tftp_retransmits_total (\d+)/.exec(text)?.[1] ?? 0)).toBeGreaterThan(0);
  });
});
