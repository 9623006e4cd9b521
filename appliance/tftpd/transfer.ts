/**
 * One read transfer on its own UDP socket (RFC 1350 §4: a new TID per transfer). Receives ACKs and
 * ERRORs, sends OACK/DATA as the send window says, retransmits on the server's sweep tick.
 */
import type { RemoteInfo, Socket } from "node:dgram";
import { DATA_HEADER_BYTES, decodePacket, encodeError, encodeOack, Opcode, TftpErrorCode, writeDataHeader } from "./codec.ts";
import { SendWindow, blockCount, type BlockRange } from "./window.ts";
import type { AbortReason, TimeoutReason, TransferFigures } from "./types.ts";

// Retransmit intervals double after each unanswered retransmission, up to this ceiling (or the base
// timeout, if the client negotiated a longer one). A windowed atftp 0.8 ignores a re-sent window that
// starts before what it already has, sends one "extra ACK" (which may be lost too), and only re-ACKs on
// its own 5 s timer, which every packet it receives restarts: intervals must grow past 5 s for it to
// ever fire (seen in the 5% loss test: with a 4 s ceiling, 1 in ~30 windowed transfers stalled until the
// server gave up). The ceiling is absolute, not a multiple of the base: curl negotiates `timeout 5`
// (--max-time 150), and 5, 10, 20 s left only two retransmissions within the 30 s idle limit, while
// curl's own 5 s re-ACKs of the block before are duplicates the server must ignore (RFC 1123 §4.2.3.1):
// one DATA lost three times in a row ended the transfer (tftpd-loss.test.ts, curl stuck at 24 of 49 blocks).
const MAX_BACKOFF_MS = 8000;
/** Retransmit interval after `retries` unanswered retransmissions: 1, 2, 4, 8, 8 s by default; 5, 8, 8 s for `timeout 5`. */
export const retransmitIntervalMs = (timeoutMs: number, retries: number): number => Math.max(timeoutMs, Math.min(timeoutMs * 2 ** retries, MAX_BACKOFF_MS));

/** How a transfer ended, reported once to the owner. */
export type TransferEnd =
  | { readonly kind: "complete" }
  | { readonly kind: "abort"; readonly reason: AbortReason; readonly errorCode: number | null; readonly errorMessage: string | null }
  | { readonly kind: "timeout"; readonly reason: TimeoutReason };

/** Fixed parameters of one transfer. */
export interface TransferParams {
  readonly clientAddress: string;
  readonly clientPort: number;
  readonly data: Buffer;
  readonly blockSize: number;
  readonly windowSize: number;
  readonly timeoutMs: number;
  /** Accepted options; empty means no OACK, DATA 1 goes out at once (RFC 2347 §3). */
  readonly oack: ReadonlyArray<readonly [string, string]>;
  readonly maxRetransmits: number;
  readonly idleTimeoutMs: number;
}

/** Callbacks into the server (events, metrics, bookkeeping). */
export interface TransferHooks {
  now(): number;
  onEnd(end: TransferEnd, figures: TransferFigures): void;
  /** A packet from another address/port reached this transfer's socket; it was answered with ERROR 5. */
  onWrongTid(from: RemoteInfo): void;
  /** A packet from the client that is neither ACK nor ERROR, or is malformed: ignored. */
  onIgnored(reason: string): void;
  /** The socket reported an error on send; the retransmit timer recovers. */
  onSocketError(err: Error): void;
  /** Called on every acknowledgement that moves the transfer forward (lets a worker tell the server). */
  onProgress?(): void;
}

/** What the server needs of a transfer, whether it runs in this thread or in a worker. */
export interface TransferHandle {
  /** True once the client acknowledged anything (a repeated RRQ then means a new transfer). */
  readonly hasProgressed: boolean;
  /** Clock time (the server's `now()`) of the start or the last forward progress, whichever is later. */
  readonly lastProgressAt: number;
  /** The client repeated its RRQ from the same port. */
  onRepeatedRequest(): void;
  /** Ends the transfer from the server side. */
  abort(reason: AbortReason): void;
}

/** State of one transfer; created by the server (or a transfer worker) once the request is accepted. */
export class Transfer implements TransferHandle {
  private readonly window: SendWindow;
  private readonly startedAt: number;
  private lastSendAt: number;
  private progressAt: number;
  private retries = 0;
  private retransmits = 0;
  private ended = false;
  private progressed = false;
  /**
   * One DATA buffer per window slot, reused for every full block (no allocation or garbage per block). Block b
   * uses slot b % windowSize, so a slot is rewritten only once the window has moved past b, i.e. after the client
   * acknowledged it. A send the kernel could not take at once (EAGAIN) is queued by libuv with the buffer and
   * goes out later with the slot's newer contents: a complete, correct DATA packet of the same length (a
   * duplicate the client ignores), never a mixed one, since JavaScript rewrites the whole buffer before libuv
   * runs. The short final block always has its own buffer, so no queued full-length send can carry it.
   */
  private readonly packets: Buffer[] = [];

  /** Starts serving on `socket`, which must already be bound; sends the OACK or the first window. */
  constructor(
    private readonly socket: Socket,
    private readonly params: TransferParams,
    private readonly hooks: TransferHooks,
  ) {
    this.window = new SendWindow(blockCount(params.data.length, params.blockSize), params.windowSize, params.oack.length > 0);
    this.startedAt = this.lastSendAt = this.progressAt = hooks.now();
    socket.on("message", (msg, rinfo) => this.onMessage(msg, rinfo));
    socket.on("error", (err) => this.hooks.onSocketError(err));
    this.sendCurrent();
  }

  /** True once the client acknowledged anything (ACK 0 of an OACK, or DATA 1). */
  get hasProgressed(): boolean {
    return this.progressed;
  }

  /** Start time, or time of the last acknowledgement that moved the transfer forward. */
  get lastProgressAt(): number {
    return this.progressAt;
  }

  /**
   * Called by the server's sweep: retransmits after the timeout, ends idle or hopeless transfers. The
   * server's idle limit bounds a transfer without progress whatever the client negotiated: a client's
   * `timeout` only spaces the retransmissions, it never keeps a slot longer (issue 9: 16 RRQs with
   * `timeout 255` used to hold a Pi's slots for 31 x 255 s).
   */
  tick(now: number): void {
    if (this.ended) return;
    if (now - this.progressAt >= this.params.idleTimeoutMs) return this.finish({ kind: "timeout", reason: this.idleReason() });
    // The OACK is not re-sent on our timer: atftp aborts the transfer on a second OACK ("unexpected
    // OACK", atftp tftp_file.c S_OACK_RECEIVED), so when the OACK or its ACK 0 is lost the client's
    // own retransmission (RRQ or ACK 0) drives recovery; see `onRepeatedRequest`.
    if (this.window.awaitingOack) return;
    if (now - this.lastSendAt < retransmitIntervalMs(this.params.timeoutMs, this.retries)) return;
    if (this.retries >= this.params.maxRetransmits) return this.finish({ kind: "timeout", reason: this.exhaustedReason() });
    this.retries++;
    this.retransmits++;
    this.sendCurrent();
  }

  /**
   * The client sent its RRQ again from the same port: it has not seen our first packet. Re-send the
   * OACK at once (RFC 1350 §2: the requester's timer drives the request phase; a Pi 4 repeats its RRQ
   * every 2 s, rpi-eeprom#74). Repeats count against the retransmit cap.
   */
  onRepeatedRequest(): void {
    if (this.ended || !this.window.awaitingOack) return;
    if (this.retries >= this.params.maxRetransmits) return this.finish({ kind: "timeout", reason: this.exhaustedReason() });
    this.retries++;
    this.retransmits++;
    this.sendCurrent();
  }

  /**
   * Only the final window unacknowledged (with windowsize 1: only the final block) means the client most likely
   * has the whole file and has gone: RFC 1350 §6, the final ACK may be lost and tftp-hpa exits right after sending
   * it; RFC 7440 §4, a windowed client acknowledges only the last block of each window, so losing that one ACK
   * leaves the whole final window unacknowledged although every block of it arrived.
   */
  private exhaustedReason(): TimeoutReason {
    const outstanding = this.window.totalBlocks - this.window.ackedBlocks;
    return outstanding >= 1 && outstanding <= this.window.windowSize && !this.window.awaitingOack ? "final-ack-missing" : "retransmits-exhausted";
  }

  /** At the idle limit: "final-ack-missing" when only the final window is outstanding, as for the retransmit cap. */
  private idleReason(): TimeoutReason {
    return this.exhaustedReason() === "final-ack-missing" ? "final-ack-missing" : "idle";
  }

  /** Ends the transfer from the server side (shutdown, superseded by a new RRQ from the same TID). */
  abort(reason: AbortReason): void {
    this.finish({ kind: "abort", reason, errorCode: null, errorMessage: null });
  }

  private onMessage(msg: Buffer, rinfo: RemoteInfo): void {
    if (this.ended) return;
    if (rinfo.port !== this.params.clientPort || rinfo.address !== this.params.clientAddress) {
      // RFC 1350 §4: answer a stranger with ERROR 5 and leave the transfer alone.
      this.socket.send(encodeError(TftpErrorCode.UnknownTransferId, "unknown transfer id"), rinfo.port, rinfo.address);
      this.hooks.onWrongTid(rinfo);
      return;
    }
    if (msg.length < 4) return this.hooks.onIgnored("short packet");
    const opcode = msg.readUInt16BE(0);
    if (opcode === Opcode.Ack) {
      // Hot path: read the block number directly rather than through the general decoder.
      const outcome = this.window.onAck(msg.readUInt16BE(2));
      if (outcome.kind === "ignored") return;
      this.progressed = true;
      this.progressAt = this.hooks.now();
      this.hooks.onProgress?.();
      this.retries = 0;
      if (outcome.kind === "complete") return this.finish({ kind: "complete" });
      this.sendRange(outcome.range);
      return;
    }
    if (opcode === Opcode.Error) {
      // A client ERROR after OACK or any block (the Pi's "Early terminate" size probe,
      // pi-netboot.md §2.3; EDK2's "User aborted") ends the transfer quietly: no reply (RFC 1350 §7).
      const packet = decodePacket(msg);
      if (packet.kind === "error") this.finish({ kind: "abort", reason: "client-error", errorCode: packet.code, errorMessage: packet.message });
      return;
    }
    this.hooks.onIgnored(`unexpected opcode ${opcode}`);
  }

  private sendCurrent(): void {
    this.lastSendAt = this.hooks.now();
    if (this.window.awaitingOack) {
      this.socket.send(encodeOack(this.params.oack), this.params.clientPort, this.params.clientAddress);
      return;
    }
    this.sendRange(this.window.current());
  }

  private sendRange(range: BlockRange): void {
    const { data, blockSize, windowSize, clientPort, clientAddress } = this.params;
    for (let block = range.first; block <= range.last; block++) {
      const start = (block - 1) * blockSize;
      const end = Math.min(start + blockSize, data.length);
      // One contiguous datagram: a 4-byte header then the payload (RFC 1350 §5 DATA). A full block goes out of
      // the transfer's own buffer for its window slot (see `packets`); the short final block gets its own.
      const full = end - start === blockSize;
      const packet = full ? (this.packets[block % windowSize] ??= Buffer.allocUnsafeSlow(DATA_HEADER_BYTES + blockSize)) : Buffer.allocUnsafe(DATA_HEADER_BYTES + end - start);
      writeDataHeader(packet, block);
      data.copy(packet, DATA_HEADER_BYTES, start, end);
      this.socket.send(packet, clientPort, clientAddress);
    }
    this.lastSendAt = this.hooks.now();
  }

  private finish(end: TransferEnd): void {
    if (this.ended) return;
    this.ended = true;
    try {
      this.socket.close();
    } catch {
      // Already closed by a socket error: nothing left to release.
    }
    const { data, blockSize, windowSize } = this.params;
    this.hooks.onEnd(end, {
      bytes: Math.min(this.window.ackedBlocks * blockSize, data.length),
      size: data.length,
      durationMs: this.hooks.now() - this.startedAt,
      blockSize,
      windowSize,
      retransmits: this.retransmits,
    });
  }
}
