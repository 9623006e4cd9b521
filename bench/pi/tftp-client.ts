/**
 * The Pi firmware's TFTP client (RFC 1350 + RFC 2347/2348/2349 options), written from the client's side:
 * one new socket (new source port) per RRQ, `octet` mode, the size probe that reads the OACK and then sends
 * ERROR 0 "Early terminate" (pi-netboot §2.3), lock-step ACKs, block-number rollover, retransmission of the
 * last packet on silence. Packet layout is its own, not pirack's tftpd codec.
 */
import { createHash } from "node:crypto";
import type { TftpProfile } from "./models.ts";
import type { PiSocket } from "./net.ts";

const OP = { rrq: 1, data: 3, ack: 4, error: 5, oack: 6 } as const;

/** RRQ bytes: opcode 1, filename NUL, "octet" NUL, then option/value pairs (RFC 2347 §2). */
export function encodeReadRequest(filename: string, options: readonly (readonly [string, string])[] = []): Buffer {
  const parts = [filename, "octet", ...options.flatMap(([k, v]) => [k, v])].map((s) => Buffer.from(`${s}\0`, "latin1"));
  return Buffer.concat([Buffer.from([0, OP.rrq]), ...parts]);
}

/** ACK bytes for `block` (the low 16 bits: numbers roll over past 65535). */
export const encodeAck = (block: number): Buffer => Buffer.from([0, OP.ack, (block >> 8) & 0xff, block & 0xff]);

/** ERROR bytes: code, message, NUL. The Pi's probe abort is code 0 "Early terminate" (real text, pi-netboot §8.6). */
export const encodeError = (code: number, message: string): Buffer => Buffer.concat([Buffer.from([0, OP.error, code >> 8, code & 0xff]), Buffer.from(`${message}\0`, "latin1")]);

/** A server packet as the client reads it. */
export type ServerPacket =
  | { kind: "data"; block: number; data: Buffer }
  | { kind: "oack"; options: Record<string, string> }
  | { kind: "error"; code: number; message: string }
  | { kind: "other" };

/** Decodes a server packet; anything malformed is `other` (and ignored by the transfer). */
export function decodeServerPacket(bytes: Buffer): ServerPacket {
  if (bytes.length < 4) return { kind: "other" };
  const op = bytes.readUInt16BE(0);
  if (op === OP.data) return { kind: "data", block: bytes.readUInt16BE(2), data: bytes.subarray(4) };
  if (op === OP.error) return { kind: "error", code: bytes.readUInt16BE(2), message: bytes.subarray(4).toString("latin1").replace(/\0.*$/s, "") };
  if (op === OP.oack) {
    const fields = bytes.subarray(2).toString("latin1").split("\0");
    const options: Record<string, string> = {};
    for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i]) options[fields[i]!.toLowerCase()] = fields[i + 1]!;
    return { kind: "oack", options };
  }
  return { kind: "other" };
}

/** Result of one read. `missing`: the server said ERROR 1 (file not found), which the firmware expects often. */
export type ReadResult =
  | { status: "ok"; name: string; size: number; sha256: string; data: Buffer | null; blockSize: number; packets: number; durationMs: number }
  | { status: "probed"; name: string; size: number | null }
  | { status: "missing"; name: string; message: string }
  | { status: "failed"; name: string; reason: string };

/** What the transfer needs from the outside: a fresh socket per RRQ, and time. */
export interface TftpClientDeps {
  openSocket(): Promise<PiSocket>;
  now(): number;
}

/** One read request. `probe`: stop after the OACK with "Early terminate" (the firmware's existence/size check). */
export interface ReadOptions {
  readonly probe?: boolean;
  /** Keep the bytes (config.txt, cmdline.txt, files saved for QEMU); otherwise only size and sha256. */
  readonly keep?: boolean;
}

const TFTP_PORT = 69;

/** Reads one file from `server` with the firmware stage's profile. Never throws for protocol outcomes. */
export async function tftpRead(deps: TftpClientDeps, server: string, name: string, profile: TftpProfile, opts: ReadOptions = {}): Promise<ReadResult> {
  const options: [string, string][] = [];
  if (profile.tsize) options.push(["tsize", "0"]);
  if (profile.blockSize) options.push(["blksize", String(profile.blockSize)]);
  if (opts.probe && options.length === 0) throw new Error(`a size probe of ${name} needs options (the ROM never probes)`);
  const socket = await deps.openSocket();
  const started = deps.now();
  const hash = createHash("sha256");
  const chunks: Buffer[] = [];
  let size = 0;
  let packets = 0;
  let blockSize = 512;
  let expected = 1; // next DATA block, modulo 65536
  let serverPort: number | null = null;
  let last = encodeReadRequest(name, options);
  let lastTo = TFTP_PORT;

  return new Promise<ReadResult>((resolve) => {
    let retry: NodeJS.Timeout | undefined;
    let done = false;
    // `parting`: the last packet (final ACK, "Early terminate") goes out before the socket closes; closing
    // right after dgram's send() would drop it, and the server would keep retransmitting to a gone client.
    const finish = (result: ReadResult, parting?: { bytes: Buffer; port: number }) => {
      if (done) return;
      done = true;
      clearTimeout(retry);
      clearTimeout(budget);
      const sent = parting ? socket.send(parting.bytes, parting.port, server).catch(() => undefined) : Promise.resolve();
      void sent.then(() => {
        socket.close();
        resolve(result);
      });
    };
    const send = (bytes: Buffer, port: number) => {
      last = bytes;
      lastTo = port;
      socket.send(bytes, port, server).catch(() => undefined);
      armRetry();
    };
    const armRetry = () => {
      clearTimeout(retry);
      retry = setTimeout(() => send(last, lastTo), profile.retryMs);
    };
    // The budget is re-armed by every new block (integration with the bench rack, where a 33 MB kernel crosses the
    // OVS userspace datapath in lock-step for longer than fileTimeoutMs): a transfer fails when it stalls.
    const stalled = () => finish({ status: "failed", name, reason: `no new block for ${profile.fileTimeoutMs} ms (${size} bytes so far)` });
    let budget = setTimeout(stalled, profile.fileTimeoutMs);

    socket.onMessage((bytes, from) => {
      if (done || from.address !== server) return;
      if (serverPort === null) serverPort = from.port;
      else if (from.port !== serverPort) {
        // RFC 1350 §4: a packet from another TID gets ERROR 5 and does not disturb this transfer.
        socket.send(encodeError(5, "Unknown transfer ID"), from.port, server).catch(() => undefined);
        return;
      }
      const packet = decodeServerPacket(bytes);
      if (packet.kind === "error") {
        if (packet.code === 1) finish({ status: "missing", name, message: packet.message });
        else finish({ status: "failed", name, reason: `server ERROR ${packet.code} ${packet.message}` });
        return;
      }
      if (packet.kind === "oack") {
        if (expected !== 1) return; // duplicate OACK after DATA started
        const tsize = packet.options["tsize"] === undefined ? null : Number(packet.options["tsize"]);
        if (opts.probe) {
          finish({ status: "probed", name, size: tsize }, { bytes: encodeError(0, "Early terminate"), port: from.port });
          return;
        }
        const granted = packet.options["blksize"] === undefined ? 512 : Number(packet.options["blksize"]);
        if (!Number.isInteger(granted) || granted < 8 || granted > (profile.blockSize ?? 512)) {
          finish({ status: "failed", name, reason: `server granted blksize ${packet.options["blksize"]}` }, { bytes: encodeError(8, "bad blksize"), port: from.port });
          return;
        }
        blockSize = granted;
        send(encodeAck(0), from.port);
        return;
      }
      if (packet.kind !== "data") return;
      if (opts.probe) {
        // A server that ignores options answers with DATA 1 at once; the Pi aborts the same way.
        finish({ status: "probed", name, size: null }, { bytes: encodeError(0, "Early terminate"), port: from.port });
        return;
      }
      if (packet.block !== (expected & 0xffff)) {
        // The previous block again: our ACK was lost, say it once more. Anything else is ignored.
        if (packet.block === ((expected - 1) & 0xffff)) socket.send(encodeAck(packet.block), from.port, server).catch(() => undefined);
        return;
      }
      clearTimeout(budget);
      budget = setTimeout(stalled, profile.fileTimeoutMs);
      packets += 1;
      size += packet.data.length;
      hash.update(packet.data);
      if (opts.keep) chunks.push(Buffer.from(packet.data));
      expected += 1;
      if (packet.data.length < blockSize) {
        finish({ status: "ok", name, size, sha256: hash.digest("hex"), data: opts.keep ? Buffer.concat(chunks) : null, blockSize, packets, durationMs: deps.now() - started }, { bytes: encodeAck(packet.block), port: from.port });
        return;
      }
      send(encodeAck(packet.block), from.port);
    });
    send(last, TFTP_PORT);
  });
}
