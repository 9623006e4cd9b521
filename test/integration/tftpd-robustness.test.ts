/**
 * The Raspberry Pi request pattern replayed from a Pi namespace, and fuzzing of the listening and
 * transfer ports: the server must keep serving and never crash. Needs root (namespaces).
 */
import { createHash, randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isRoot, TestBed } from "../support/netns.ts";
import { buildRack, firmwareDir, ServerProcess, type Rack } from "../fixtures/tftpd/rack.ts";

const files: Record<string, Buffer> = {
  "start4.elf": randomBytes(2_249_280),
  "bootcode.bin": randomBytes(52_460),
  // Exactly two 1024-byte blocks: the Pi's blksize 1024 transfer ends with an empty block.
  "fixup4.dat": randomBytes(2048),
};
const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");
const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/tftpd/${name}`, import.meta.url));

describe.skipIf(!isRoot())("tftpd robustness (root: network namespaces)", () => {
  const bed = new TestBed();
  let rack: Rack;
  let server: ServerProcess;

  beforeAll(async () => {
    rack = await buildRack(bed);
    const root = await firmwareDir(bed, files);
    // Short timeouts so the fuzzer's abandoned transfers clear quickly.
    server = await ServerProcess.start(bed, rack.fs, { firmwareRoot: root, idleTimeoutMs: 3000, maxRetransmits: 2 }, rack.pis);
  });
  afterAll(async () => {
    if (server) await server.stop().catch(() => undefined);
    await bed.cleanup();
  });

  it.each(["0660cd37/start4.elf", "fixup4.dat", "0660cd37/cmdline.txt"])("Pi size probe then fetch of %s: OACK tsize, Early terminate, re-RRQ, full file", async (path) => {
    const pi = rack.pis[0];
    const r = await bed.exec(pi.ns, "node", ["--import", "tsx", fixture("pi-replay.ts"), pi.server, path]);
    expect(r.exitCode, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout) as { oack: [string, string][]; size: number; sha256: string; probeExtraPackets: number };
    const expected = path.endsWith("cmdline.txt") ? Buffer.from(pi.view.cmdline) : files[path.replace(/^0660cd37\//, "")]!;
    expect(result).toEqual({ oack: [["tsize", String(expected.length)], ["blksize", "1024"]], size: expected.length, sha256: sha(expected), probeExtraPackets: 0 });
    const file = path.replace(/^0660cd37\//, "");
    const aborts = server.events.filter((e) => e.kind === "abort" && e.file === file);
    expect(aborts.at(-1)).toMatchObject({ reason: "client-error", errorCode: 0, errorMessage: "Early terminate", piPort: 1 });
  });

  it("survives random and mutated packets at the listening and transfer ports", async () => {
    const pi = rack.pis[1];
    for (const seed of [1, 2, 3]) {
      const r = await bed.exec(pi.ns, "node", ["--import", "tsx", fixture("fuzz.ts"), pi.server, "1500", String(seed), "start4.elf"], { timeoutMs: 120_000 });
      expect(r.exitCode, r.stderr).toBe(0);
      const counts = JSON.parse(r.stdout) as { listening: number; transfer: number; wrongTid: number; transfersOpened: number };
      expect(counts.transfersOpened).toBeGreaterThan(0);
    }
    expect(server.exited).toBe(false);
    const text = await server.metrics();
    expect(text).toMatch(/pirack_tftp_dropped_packets_total\{reason="malformed"\} [1-9]/);
    expect(text).toMatch(/pirack_tftp_dropped_packets_total\{reason="wrong_tid"\} [1-9]/);
    // Still serving correctly afterwards, to both Pis, with a real client.
    for (const p of rack.pis) {
      const r = await bed.exec(p.ns, "node", ["--import", "tsx", fixture("pi-replay.ts"), p.server, "start4.elf"]);
      expect(r.exitCode, r.stderr).toBe(0);
      expect((JSON.parse(r.stdout) as { sha256: string }).sha256).toBe(sha(files["start4.elf"]!));
    }
    const stderr = await server.stop();
    expect(stderr).not.toMatch(/request handling failed|uncaught|TypeError|RangeError/i);
  });
});
